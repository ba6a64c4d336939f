/* At the descriptor limit (RLIMIT_NOFILE), every call that makes descriptors returns -EMFILE,
 * as documented, and leaves the descriptor table exactly as it was: a call that needs two
 * descriptors and gets one closes the one it got. Runs in a child whose limit is lowered. */
#include "harness.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct maker {
    const char *name;
    int (*make)(fdsafe_handle *first, fdsafe_handle *second);
};

static fdsafe_handle eventfd_h, master_h, tcp_listener_h, unix_listener_h;
static char tcp_address[64];
static const char unix_address[] = "@fdsafe-test-descriptor-limit";

static int make_eventfd(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_eventfd_create(0, 0, a); }
static int make_pipe(fdsafe_handle *a, fdsafe_handle *b) { return fdsafe_pipe_create(0, a, b); }
static int make_unix_pair(fdsafe_handle *a, fdsafe_handle *b) { return fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, a, b); }
static int make_pty(fdsafe_handle *a, fdsafe_handle *b) { return fdsafe_pty_open(0, a, b); }
static int make_pty_peer(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_pty_peer(master_h, 0, a); }
static int make_stdio(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_stdio_open(FDSAFE_STDERR, 0, a); }
static int make_dup(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_dup(eventfd_h, a); }
static int make_epoll(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_epoll_create(a); }
static int make_file(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_file_open("/etc/passwd", FDSAFE_O_RDONLY, 0, a); }
static int make_memfd(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_memfd_create("limit", 0, a); }
static int make_timerfd(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_timerfd_create(CLOCK_MONOTONIC, 0, a); }
static int make_inotify(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_inotify_create(0, a); }
static int make_pidfd(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_pidfd_open(getpid(), 0, a); }
static int make_tcp_connect(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_tcp_connect(tcp_address, 1000, 0, a); }
static int make_tcp_listen(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_tcp_listen("127.0.0.1:0", 4, 0, a); }
static int make_udp(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_udp_bind("127.0.0.1:0", 0, a); }
static int make_unix_connect(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_unix_connect(unix_address, FDSAFE_SOCK_STREAM, 0, a); }
static int make_unix_listen(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_unix_listen("@fdsafe-limit-other", FDSAFE_SOCK_STREAM, 4, NULL, a); }
static int make_socket(fdsafe_handle *a, fdsafe_handle *b) { (void)b; return fdsafe_socket_create(AF_INET, SOCK_DGRAM, 0, 0, a); }
static int make_signalfd(fdsafe_handle *a, fdsafe_handle *b) {
    (void)b;
    fdsafe_sigset set;
    fdsafe_sigset_empty(&set);
    fdsafe_sigset_add(&set, SIGURG);
    return fdsafe_signalfd_create(&set, 0, a);
}

static const struct maker makers[] = {
    {"eventfd_create", make_eventfd}, {"pipe_create", make_pipe}, {"unix_pair", make_unix_pair},
    {"pty_open", make_pty}, {"pty_peer", make_pty_peer}, {"stdio_open", make_stdio}, {"dup", make_dup},
    {"epoll_create", make_epoll}, {"file_open", make_file}, {"memfd_create", make_memfd},
    {"timerfd_create", make_timerfd}, {"inotify_create", make_inotify}, {"pidfd_open", make_pidfd},
    {"tcp_connect", make_tcp_connect}, {"tcp_listen", make_tcp_listen}, {"udp_bind", make_udp},
    {"unix_connect", make_unix_connect}, {"unix_listen", make_unix_listen}, {"socket_create", make_socket},
    {"signalfd_create", make_signalfd},
};

/* The descriptor numbers this test looks at: the child's limit is set just above the highest
 * open one below SCANNED / 2 (an inherited stray descriptor may be as high as that), so every
 * filler and everything a maker makes lies below SCANNED. */
#define SCANNED 2048

/* A bitmap of the open descriptors below SCANNED. */
static void open_set(unsigned char set[SCANNED / 8]) {
    memset(set, 0, SCANNED / 8);
    for (int fd = 0; fd < SCANNED; fd++)
        if (fcntl(fd, F_GETFD) >= 0) set[fd / 8] |= (unsigned char)(1u << (fd % 8));
}

/* Fills every free number under the limit but `left`; returns how many it filled. */
static int fill(int source, int *fillers, int room, int left) {
    int n = 0;
    while (n < room) {
        int fd = fcntl(source, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) break;
        fillers[n++] = fd;
    }
    for (int i = 0; i < left && n > 0; i++) close(fillers[--n]);
    return n;
}

/* In the child: each maker with 0 and then 1 number free. Returns 0, or the maker's index + 1. */
static int check_all_at_the_limit(void) {
    static int fillers[SCANNED];
    int source = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < sizeof makers / sizeof makers[0]; i++) {
        for (int left = 0; left < 2; left++) {
            unsigned char before[SCANNED / 8], after[SCANNED / 8];
            int n = fill(source, fillers, SCANNED, left);
            open_set(before);
            fdsafe_handle a = 0, b = 0;
            int rc = makers[i].make(&a, &b);
            open_set(after);
            int leaked = memcmp(before, after, sizeof before) != 0;
            if (a) fdsafe_close(a);
            if (b) fdsafe_close(b);
            while (n > 0) close(fillers[--n]);
            /* With no number free nothing is made; with one, only what needs one number. */
            int ok = rc >= 0 ? left == 1 && b == 0 : rc == -EMFILE && !leaked;
            if (!ok) {
                fprintf(stderr, "%s with %d free: %d (%s), descriptors %s\n", makers[i].name, left, rc,
                        rc >= 0 ? "made" : fdsafe_error_name(rc), leaked ? "changed" : "unchanged");
                return (int)i + 1;
            }
        }
    }
    return 0;
}

static void test_creating_calls_at_the_limit_are_emfile_and_leave_nothing(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE is emulated (valgrind keeps descriptors of its own above the soft limit)")) skip();
    must(fdsafe_eventfd_create(0, 0, &eventfd_h));
    fdsafe_handle slave;
    must(fdsafe_pty_open(0, &master_h, &slave));
    must(fdsafe_close(slave));
    must(fdsafe_tcp_listen("127.0.0.1:0", 64, 0, &tcp_listener_h));
    must(fdsafe_socket_local_address(tcp_listener_h, tcp_address, sizeof tcp_address));
    must(fdsafe_unix_listen(unix_address, FDSAFE_SOCK_STREAM, 64, NULL, &unix_listener_h));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        alarm(60);
        int highest = 0;
        for (int fd = 0; fd < SCANNED / 2; fd++)
            if (fcntl(fd, F_GETFD) >= 0) highest = fd;
        struct rlimit limit;
        getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = (rlim_t)highest + 40; /* room for the fillers, all taken in turn */
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(100);
        _exit(check_all_at_the_limit());
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) fail_msg("maker %d failed at the limit (see above)", WEXITSTATUS(status));
    must(fdsafe_close(unix_listener_h));
    must(fdsafe_close(tcp_listener_h));
    must(fdsafe_close(master_h));
    must(fdsafe_close(eventfd_h));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_creating_calls_at_the_limit_are_emfile_and_leave_nothing),
    };
    return cmocka_run_group_tests_name("descriptor_limit", tests, NULL, NULL);
}
