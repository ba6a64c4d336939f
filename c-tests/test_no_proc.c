/* Without /proc: handles are created, used and closed without it (a pipe is two descriptors,
 * with no reopened third one), and where kind detection of a received descriptor needs it
 * (the anonymous-inode kinds: eventfd, timerfd, signalfd, inotify, fanotify, epoll), the
 * result is the generic FDSAFE_KIND_OTHER, never a wrong kind. Each case runs in a child in
 * its own mount namespace with /proc unmounted; where the kernel refuses the namespace, the
 * case is skipped with the kernel's reason. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: a private mount namespace without /proc. Returns 0, or the errno that refused. */
static int leave_proc(void *unused) {
    (void)unused;
    if (unshare(CLONE_NEWNS) != 0) return errno;
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) return errno;
    if (umount2("/proc", MNT_DETACH) != 0) return errno;
    struct stat st;
    return stat("/proc/self/fd", &st) == 0 ? EEXIST : 0;
}

static void child_body(void *unused) {
    (void)unused;
    /* Creating, using and closing need no /proc. */
    fdsafe_handle r, w, e;
    CHILD_CHECK(fdsafe_pipe_create(0, &r, &w) == 0);
    int rfd = fdsafe_fd_borrow(r), wfd = fdsafe_fd_borrow(w);
    CHILD_CHECK(fdsafe_write(w, "x", 1) == 1);
    char c;
    CHILD_CHECK(fdsafe_read(r, &c, 1) == 1 && c == 'x');
    CHILD_CHECK(fdsafe_close(r) == 0);
    CHILD_CHECK(fdsafe_write(w, "y", 1) == -EPIPE); /* the guard, not a signal */
    CHILD_CHECK(fdsafe_close(w) == 0);
    CHILD_CHECK(fcntl(rfd, F_GETFD) < 0 && fcntl(wfd, F_GETFD) < 0);

    /* Received descriptors: sockets are told by socket options; an eventfd, which only the
     * /proc link names, comes out as FDSAFE_KIND_OTHER, still usable generically. */
    fdsafe_handle tx, rx, pair_a, pair_b, got[2];
    CHILD_CHECK(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &tx, &rx) == 0);
    CHILD_CHECK(fdsafe_eventfd_create(0, 0, &e) == 0);
    CHILD_CHECK(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &pair_a, &pair_b) == 0);
    fdsafe_handle sent[2] = {e, pair_a};
    CHILD_CHECK(fdsafe_socket_send_handles(tx, "m", 1, sent, 2, 0) == 1);
    fdsafe_recv_info info;
    CHILD_CHECK(fdsafe_socket_recv_handles(rx, &c, 1, 0, got, 2, &info) == 1);
    CHILD_CHECK(info.handle_count == 2);
    CHILD_CHECK(fdsafe_handle_kind(got[0]) == FDSAFE_KIND_OTHER);
    CHILD_CHECK(fdsafe_handle_kind(got[1]) == FDSAFE_KIND_UNIX_DATAGRAM);
    uint64_t one = 1;
    CHILD_CHECK(fdsafe_write(got[0], &one, 8) == 8); /* the same counter, through the generic call */
    uint64_t value = 0;
    CHILD_CHECK(fdsafe_eventfd_read(e, &value) == 0 && value == 1);
    /* Adopting as an eventfd needs the link too: refused clearly, the descriptor untouched. */
    int raw = fdsafe_fd_release(got[0]);
    CHILD_CHECK(raw >= 0);
    fdsafe_handle adopted;
    CHILD_CHECK(fdsafe_fd_adopt(raw, FDSAFE_KIND_EVENTFD, &adopted) == FDSAFE_E_INVALID_ARGUMENT);
    CHILD_CHECK(fcntl(raw, F_GETFD) >= 0);
    close(raw);
    fdsafe_handle all[] = {got[1], e, pair_a, pair_b, tx, rx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) CHILD_CHECK(fdsafe_close(all[i]) == 0);
    _exit(0);
}

static void test_handles_work_and_detection_says_other_without_proc(void **state) {
    (void)state;
    run_in_child(leave_proc, child_body, NULL, "a mount namespace without /proc");
}

/* The SIGPIPE guard asks /proc whose a pending SIGPIPE is; without it, the call's own is
 * still taken. The thread blocks SIGPIPE, one is pending for the process (its own kill), and
 * a splice meets no reader: afterwards the process's alone is pending, once. Before, the
 * guard took none when one was pending already, and the call's stayed too. */
static void sigpipe_body(void *unused) {
    (void)unused;
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    CHILD_CHECK(pthread_sigmask(SIG_BLOCK, &pipe_only, NULL) == 0);
    CHILD_CHECK(kill(getpid(), SIGPIPE) == 0);
    fdsafe_handle in_r, in_w, out_r, out_w;
    CHILD_CHECK(fdsafe_pipe_create(0, &in_r, &in_w) == 0 && fdsafe_pipe_create(0, &out_r, &out_w) == 0);
    CHILD_CHECK(fdsafe_close(out_r) == 0 && fdsafe_write(in_w, "abc", 3) == 3);
    CHILD_CHECK(fdsafe_splice(in_r, NULL, out_w, NULL, 3, 0) == -EPIPE);
    struct timespec zero = {0, 0};
    CHILD_CHECK(sigtimedwait(&pipe_only, NULL, &zero) == SIGPIPE);
    CHILD_CHECK(sigtimedwait(&pipe_only, NULL, &zero) == -1); /* no second one */
    _exit(0);
}

static void test_the_sigpipe_guard_without_proc(void **state) {
    (void)state;
    run_in_child(leave_proc, sigpipe_body, NULL, "a mount namespace without /proc");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_handles_work_and_detection_says_other_without_proc),
        FD_TEST(test_the_sigpipe_guard_without_proc),
    };
    return cmocka_run_group_tests_name("no_proc", tests, NULL, NULL);
}
