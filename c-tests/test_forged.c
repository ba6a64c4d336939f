/* Forged handles: every exported function that takes a handle refuses a value that was never
 * issued with -EBADF, and touches nothing. The forged values are live handles of every kind
 * with one of their 64 bits flipped (another slot, another generation, another kind byte);
 * the calls come from c-tests/forged_calls.h, generated from include/fdsafe.h by
 * scripts/gen_forged_calls.py (one wrapper per function and handle parameter, with valid
 * values everywhere else). After each forged value the live handles must still be what they
 * were: same kind, same descriptor, same file flags, and working. */
#include "harness.h"

#include "forged_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LIVE 48

struct live_handle {
    fdsafe_handle handle;
    int kind;
    int fd;
    int file_flags;
    const char *what;
};

static struct live_handle live[MAX_LIVE];
static int live_count;

/* The handles the working checks use. */
static struct {
    fdsafe_handle pipe_read, pipe_write, eventfd, stream_a, stream_b, tcp_client, tcp_server, memfd;
    int memfd_seals;
} fx;

static int under_valgrind(void) {
    return getenv("FDSAFE_RACE_OPS") != NULL;
}

static void add_live(fdsafe_handle h, const char *what) {
    assert_true(live_count < MAX_LIVE);
    struct live_handle *l = &live[live_count++];
    l->handle = h;
    l->what = what;
    l->kind = (int)must(fdsafe_handle_kind(h));
    l->fd = (int)must(fdsafe_fd_borrow(h));
    l->file_flags = fcntl(l->fd, F_GETFL);
    assert_true(l->file_flags >= 0);
}

/* Non-blocking, so that a forged call the library wrongly accepted cannot hang the test. */
static void add_live_nonblocking(fdsafe_handle h, const char *what) {
    must(fdsafe_nonblocking_set(h, true));
    add_live(h, what);
}

static void fixture_open(void) {
    char path[128];
    live_count = 0;
    fdsafe_handle a, b, c;

    must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &fx.pipe_read, &fx.pipe_write));
    add_live(fx.pipe_read, "pipe read end");
    add_live(fx.pipe_write, "pipe write end");
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &fx.eventfd));
    add_live(fx.eventfd, "eventfd");
    must(fdsafe_dup(fx.eventfd, &a));
    add_live(a, "eventfd duplicate");
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, FDSAFE_NONBLOCK, &a));
    add_live(a, "timerfd");
    struct fdsafe_sigset set;
    must(fdsafe_sigset_empty(&set));
    must(fdsafe_sigset_add(&set, SIGUSR1));
    must(fdsafe_signalfd_create(&set, FDSAFE_NONBLOCK, &a));
    add_live(a, "signalfd");
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &a));
    add_live(a, "inotify");
    must(fdsafe_epoll_create(&a));
    add_live(a, "epoll");
    forged_live.epoll = a;
    must(fdsafe_memfd_create("forged", FDSAFE_MEMFD_ALLOW_SEALING, &fx.memfd));
    add_live(fx.memfd, "memfd");
    fx.memfd_seals = (int)must(fdsafe_memfd_get_seals(fx.memfd));
    temp_path(path, sizeof path, "file");
    must(fdsafe_file_open(path, FDSAFE_O_RDWR | FDSAFE_O_CREAT, 0600, &a));
    add_live(a, "file");
    forged_live.file = a;
    must(fdsafe_file_pwrite(a, "0123456789abcdef0123456789abcdef", 32, 0));
    temp_path(path, sizeof path, "file2");
    must(fdsafe_file_open(path, FDSAFE_O_RDWR | FDSAFE_O_CREAT, 0600, &a));
    add_live(a, "second file");
    forged_live.file2 = a;
    must(fdsafe_file_open(temp_dir, FDSAFE_O_DIRECTORY, 0, &a));
    add_live(a, "directory");
    temp_path(path, sizeof path, "fifo");
    must(fdsafe_fifo_create(path, 0600, FDSAFE_FIFO_REUSE));
    must(fdsafe_fifo_open(path, FDSAFE_O_RDWR | FDSAFE_NONBLOCK, &a));
    add_live(a, "fifo");
    must(fdsafe_chardev_open("/dev/null", FDSAFE_O_RDWR, &a));
    add_live(a, "/dev/null");
    must(fdsafe_stdio_open(FDSAFE_STDERR, 0, &a)); /* blocking: its mode is standard error's */
    add_live(a, "stdio");

    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, FDSAFE_NONBLOCK, &fx.stream_a, &fx.stream_b));
    add_live(fx.stream_a, "unix stream");
    add_live(fx.stream_b, "unix stream peer");
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, FDSAFE_NONBLOCK, &a, &b));
    add_live(a, "unix datagram");
    add_live(b, "unix datagram peer");
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, FDSAFE_NONBLOCK, &a, &b));
    add_live(a, "unix seqpacket");
    add_live(b, "unix seqpacket peer");
    struct fdsafe_unix_bind_options nonblocking = {.flags = FDSAFE_NONBLOCK};
    must(fdsafe_unix_listen(NULL, FDSAFE_SOCK_STREAM, 4, &nonblocking, &a));
    add_live(a, "unix listener");
    must(fdsafe_unix_listen(NULL, FDSAFE_SOCK_SEQPACKET, 4, &nonblocking, &a));
    add_live(a, "unix seqpacket listener");
    must(fdsafe_unix_bind(NULL, &nonblocking, &a));
    add_live(a, "bound unix datagram");

    char address[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, FDSAFE_NONBLOCK, &a));
    add_live(a, "tcp listener");
    must(fdsafe_socket_local_address(a, address, sizeof address));
    must(fdsafe_tcp_connect(address, 5000, 0, &fx.tcp_client));
    add_live_nonblocking(fx.tcp_client, "tcp client");
    expect_code(fdsafe_wait(a, FDSAFE_EVENT_IN, 5000), FDSAFE_EVENT_IN);
    must(fdsafe_socket_accept(a, FDSAFE_NONBLOCK, &fx.tcp_server, NULL, 0, NULL));
    add_live(fx.tcp_server, "accepted tcp stream");
    must(fdsafe_udp_bind("127.0.0.1:0", FDSAFE_NONBLOCK, &a));
    add_live(a, "udp");

    static int no_pidfd = -1; /* asked once: valgrind 3.19 has no pidfd_open */
    if (no_pidfd < 0) no_pidfd = syscall_missing(SYS_pidfd_open, "pidfd_open");
    if (!no_pidfd) {
        must(fdsafe_pidfd_open(getpid(), FDSAFE_NONBLOCK, &a));
        add_live(a, "pidfd");
    }
    char name[64];
    snprintf(name, sizeof name, "/fdsafe-forged-%d", (int)getpid());
    struct fdsafe_mq_attr attr = {.max_messages = 4, .message_size = 64};
    if (fdsafe_mq_open(name, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_NONBLOCK, 0600, &attr,
                       &a) == 0) {
        fdsafe_mq_unlink(name);
        add_live(a, "mqueue");
    }
    if (fdsafe_pty_open(FDSAFE_NONBLOCK, &a, &b) == 0) {
        add_live(a, "pty master");
        add_live(b, "pty slave");
    }
    if (fdsafe_fanotify_init(FDSAFE_FAN_NONBLOCK, &a) == 0) add_live(a, "fanotify");
    int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    must(fdsafe_fd_adopt(dir, FDSAFE_KIND_OTHER, &c));
    add_live(c, "other (a directory)");

    forged_live.any = fx.eventfd;
    forged_live.eventfd = fx.eventfd;
    forged_live.pipe_read = fx.pipe_read;
    forged_live.pipe_write = fx.pipe_write;
    forged_live_list[0] = fx.eventfd;
    forged_live_fds[0] = (int)must(fdsafe_fd_borrow(fx.eventfd));
}

static void fixture_close(void) {
    for (int i = 0; i < live_count; i++) fdsafe_close(live[i].handle); /* -EBADF if a forged call closed it */
    live_count = 0;
    memset(&forged_live, 0, sizeof forged_live);
}

static int is_live_value(fdsafe_handle v) {
    for (int i = 0; i < live_count; i++)
        if (live[i].handle == v) return 1;
    return 0;
}

static int round_trip(fdsafe_handle from, fdsafe_handle to, char byte) {
    if (fdsafe_write(from, &byte, 1) != 1) return 0;
    if (fdsafe_wait(to, FDSAFE_EVENT_IN, 2000) <= 0) return 0;
    char got = 0;
    return fdsafe_read(to, &got, 1) == 1 && got == byte;
}

/* Whether every live handle is as it was and still works; says what is wrong if not. */
static int fixture_intact(char *why, size_t len) {
    for (int i = 0; i < live_count; i++) {
        struct live_handle *l = &live[i];
        int kind = fdsafe_handle_kind(l->handle), fd = fdsafe_fd_borrow(l->handle);
        if (kind != l->kind || fd != l->fd) {
            snprintf(why, len, "the %s handle now has kind %d and descriptor %d (was %d and %d)", l->what, kind, fd,
                     l->kind, l->fd);
            return 0;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags != l->file_flags || fd_is_cloexec(fd) != 1) {
            snprintf(why, len, "the %s handle's descriptor %d changed: flags %#x (were %#x), cloexec %d", l->what, fd,
                     (unsigned)flags, (unsigned)l->file_flags, fd_is_cloexec(fd));
            return 0;
        }
    }
    uint64_t value = 0;
    if (fdsafe_eventfd_write(fx.eventfd, 1) != 0 || fdsafe_eventfd_read(fx.eventfd, &value) != 0 || value < 1) {
        snprintf(why, len, "the eventfd no longer counts");
        return 0;
    }
    if (!round_trip(fx.pipe_write, fx.pipe_read, 'p')) {
        snprintf(why, len, "the pipe no longer carries a byte");
        return 0;
    }
    if (!round_trip(fx.stream_a, fx.stream_b, 'a') || !round_trip(fx.stream_b, fx.stream_a, 'b')) {
        snprintf(why, len, "the unix stream pair no longer carries bytes both ways");
        return 0;
    }
    if (!round_trip(fx.tcp_client, fx.tcp_server, 'c') || !round_trip(fx.tcp_server, fx.tcp_client, 's')) {
        snprintf(why, len, "the tcp connection no longer carries bytes both ways");
        return 0;
    }
    if (fdsafe_memfd_get_seals(fx.memfd) != fx.memfd_seals) {
        snprintf(why, len, "the memfd's seals changed to %d (were %d)", fdsafe_memfd_get_seals(fx.memfd),
                 fx.memfd_seals);
        return 0;
    }
    return 1;
}

/* What the sweep found, per wrapper. */
struct finding {
    long accepted;          /* returned >= 0 */
    long other_code;        /* returned a negative code other than -EBADF */
    long wrote_on_failure;  /* refused, but wrote a handle to an out-parameter */
    int64_t first_code;
    int first_kind, first_bit;
};

static struct {
    int done;
    struct finding found[FORGED_CALL_COUNT];
    long calls, values, skipped, touched;
    char first_touch[1024];
} sweep;

static _Alignas(4096) unsigned char scratch[FORGED_SCRATCH_SIZE];

static void note(struct finding *f, int64_t code, int kind, int bit) {
    if (f->accepted + f->other_code + f->wrote_on_failure == 0) {
        f->first_code = code;
        f->first_kind = kind;
        f->first_bit = bit;
    }
}

/* Closes whatever a wrongly accepted call made, and zeroes the scratch again. */
static void clean_up_after(const struct forged_call *c, int64_t result) {
    for (int k = 0; k < c->handle_outs; k++) {
        fdsafe_handle made;
        memcpy(&made, scratch + c->handle_out_offsets[k], sizeof made);
        if (made != 0) fdsafe_close(made);
    }
    if (result >= 0 && strcmp(c->function, "fdsafe_fd_release") == 0) close((int)result);
    memset(scratch, 0, sizeof scratch);
}

static int handle_outs_written(const struct forged_call *c) {
    for (int k = 0; k < c->handle_outs; k++) {
        fdsafe_handle made;
        memcpy(&made, scratch + c->handle_out_offsets[k], sizeof made);
        if (made != 0) return 1;
    }
    return 0;
}

static void run_sweep(void) {
    if (sweep.done) return;
    static const int few_bits[] = {0, 7, 23, 24, 40, 56, 59, 63};
    int bits[64], nbits = 0;
    if (under_valgrind()) {
        for (size_t i = 0; i < sizeof few_bits / sizeof few_bits[0]; i++) bits[nbits++] = few_bits[i];
    } else {
        for (int b = 0; b < 64; b++) bits[nbits++] = b;
    }
    alarm(under_valgrind() ? 600 : 120); /* a wrongly accepted call that blocks fails, not hangs */
    memset(scratch, 0, sizeof scratch);
    fixture_open();
    int initial = live_count;
    char why[400];
    assert_true(fixture_intact(why, sizeof why));
    for (int i = 0; i < initial; i++) {
        for (int bi = 0; bi < nbits; bi++) {
            int bit = bits[bi], kind = live[i].kind;
            fdsafe_handle forged = live[i].handle ^ (1ull << bit);
            if (is_live_value(forged)) {
                sweep.skipped++;
                continue;
            }
            sweep.values++;
            for (size_t k = 0; k < FORGED_CALL_COUNT; k++) {
                const struct forged_call *c = &forged_calls[k];
                struct finding *f = &sweep.found[k];
                int64_t result = c->call(forged, scratch);
                sweep.calls++;
                if (result == -EBADF) {
                    if (c->handle_outs && handle_outs_written(c)) {
                        note(f, result, kind, bit);
                        f->wrote_on_failure++;
                        clean_up_after(c, result);
                    }
                    continue;
                }
                note(f, result, kind, bit);
                if (result >= 0) {
                    f->accepted++;
                    clean_up_after(c, result);
                } else {
                    f->other_code++;
                    if (c->handle_outs && handle_outs_written(c)) {
                        f->wrote_on_failure++;
                        clean_up_after(c, result);
                    }
                }
            }
            if (!fixture_intact(why, sizeof why)) {
                if (sweep.touched++ == 0)
                    snprintf(sweep.first_touch, sizeof sweep.first_touch,
                             "after the forged value %#018llx (the %s handle with bit %d flipped): %s",
                             (unsigned long long)forged, live[i].what, bit, why);
                fixture_close();
                fixture_open();
                assert_int_equal(live_count, initial);
            }
        }
    }
    fixture_close();
    alarm(0);
    sweep.done = 1;
    printf("forged: %d live handles, %d bit positions: %ld forged values (%ld left out, each equal to another live handle), "
           "%zu wrappers, %ld calls\n",
           initial, nbits, sweep.values, sweep.skipped, (size_t)FORGED_CALL_COUNT, sweep.calls);
}

static void print_findings(int accepted_only) {
    for (size_t k = 0; k < FORGED_CALL_COUNT; k++) {
        const struct forged_call *c = &forged_calls[k];
        const struct finding *f = &sweep.found[k];
        long shown = accepted_only ? f->accepted + f->wrote_on_failure : f->other_code;
        if (!shown) continue;
        printf("  %s(%s = forged): accepted %ld, other code %ld, out-handle written on failure %ld; first: %lld (%s) "
               "for a %s handle with bit %d flipped\n",
               c->function, c->parameter, f->accepted, f->other_code, f->wrote_on_failure, (long long)f->first_code,
               f->first_code < 0 ? fdsafe_error_name((int)f->first_code) : "success",
               fdsafe_kind_name((fdsafe_kind)f->first_kind), f->first_bit);
    }
}

/* No function does anything with a forged handle: none returns success, none writes a
 * handle, and every live handle is left as it was. */
static void test_forged_handles_are_refused_and_touch_nothing(void **state) {
    (void)state;
    run_sweep();
    long bad = 0;
    for (size_t k = 0; k < FORGED_CALL_COUNT; k++) bad += sweep.found[k].accepted + sweep.found[k].wrote_on_failure;
    if (bad || sweep.touched) {
        printf("forged values accepted:\n");
        print_findings(1);
        if (sweep.touched) printf("live handles touched %ld time(s), first %s\n", sweep.touched, sweep.first_touch);
        fail_msg("%ld forged call(s) accepted, live handles touched %ld time(s)", bad, sweep.touched);
    }
}

/* And each refuses it as the header says: -EBADF, "never issued" (not FDSAFE_E_WRONG_KIND
 * for a changed kind byte, which would tell a prober that the slot and generation are live). */
static void test_forged_handles_get_ebadf(void **state) {
    (void)state;
    run_sweep();
    long other = 0;
    for (size_t k = 0; k < FORGED_CALL_COUNT; k++) other += sweep.found[k].other_code;
    if (other) {
        printf("forged values refused with another code than -EBADF:\n");
        print_findings(0);
        fail_msg("%ld forged call(s) returned another code than -EBADF", other);
    }
}

/* The wrappers' other arguments are valid, so that -EBADF in the sweep is the forged
 * handle's refusal and nothing else: with a live handle in the forged position, each
 * wrapper gets past argument checking for at least one kind (any answer but
 * FDSAFE_E_INVALID_ARGUMENT and FDSAFE_E_WRONG_KIND). A fresh set of live handles for each
 * wrapper, since these calls really run (close, release, shutdown...). A wrapper for which
 * no live handle is of a kind it takes (pidfds under valgrind) is reported, not failed. */
static void test_wrapper_arguments_are_valid(void **state) {
    (void)state;
    int verbose = getenv("FORGED_VERBOSE") != NULL, unusable = 0, untested = 0;
    alarm(under_valgrind() ? 600 : 120);
    for (size_t k = 0; k < FORGED_CALL_COUNT; k++) {
        const struct forged_call *c = &forged_calls[k];
        memset(scratch, 0, sizeof scratch);
        fixture_open();
        int usable = 0, refused = 0;
        if (verbose) printf("%s(%s):", c->function, c->parameter);
        for (int i = 0; i < live_count; i++) {
            if (live[i].kind == FDSAFE_KIND_STDIO) continue; /* a read could wait on a terminal */
            int64_t result = c->call(live[i].handle, scratch);
            clean_up_after(c, result);
            if (result == FDSAFE_E_INVALID_ARGUMENT) refused = 1;
            else if (result != FDSAFE_E_WRONG_KIND) usable = 1;
            if (verbose && result != FDSAFE_E_WRONG_KIND) printf(" %s=%lld", live[i].what, (long long)result);
        }
        if (verbose) printf("\n");
        fixture_close();
        if (!usable && refused) {
            printf("%s(%s = live handle) is refused with FDSAFE_E_INVALID_ARGUMENT for every kind it takes: its "
                   "other arguments are not valid (fix the rules in scripts/gen_forged_calls.py)\n",
                   c->function, c->parameter);
            unusable++;
        } else if (!usable) {
            printf("not checked: %s(%s): no live handle of a kind it takes\n", c->function, c->parameter);
            untested++;
        }
    }
    alarm(0);
    assert_int_equal(unusable, 0);
}

static fdsafe_handle with_kind_byte(fdsafe_handle h, unsigned kind) {
    return (h & ~(0xffull << 56)) | ((uint64_t)kind << 56);
}

/* fdsafe_fd_borrow takes no reference, but it must still check the whole value. */
static void test_borrow_refuses_a_changed_kind_byte(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &e));
    int fd = (int)must(fdsafe_fd_borrow(e));
    int lent = 0;
    for (unsigned kind = 0; kind < 256; kind++) {
        if (kind == FDSAFE_KIND_EVENTFD) continue;
        fdsafe_handle forged = with_kind_byte(e, kind);
        int got = fdsafe_fd_borrow(forged);
        if (got != -EBADF) {
            if (lent++ < 3) printf("fdsafe_fd_borrow(%#018llx, kind byte %u) returned %d\n", (unsigned long long)forged, kind, got);
        }
        expect_code(fdsafe_handle_kind(forged), -EBADF);
    }
    expect_code(fdsafe_fd_borrow(e), fd);
    must(fdsafe_close(e));
    assert_int_equal(lent, 0);
}

/* Handles inside lists and structs are checked as well: a forged one is skipped or refused
 * and the live ones are left alone. */
static void test_forged_handles_in_lists(void **state) {
    (void)state;
    fdsafe_handle r, w, a, b, got[1];
    must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w));
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, FDSAFE_NONBLOCK, &a, &b));
    fdsafe_handle forged_w = with_kind_byte(w, FDSAFE_KIND_EVENTFD);
    fdsafe_handle forged_r = r ^ (1ull << 30);

    fdsafe_handle list[2] = {forged_w, forged_r};
    expect_code(fdsafe_close_many(list, 2), 0);

    char byte = 'x';
    struct fdsafe_io_op op = {.handle = forged_w, .op = FDSAFE_IO_WRITE, .buf = &byte, .len = 1, .result = 1234};
    expect_code(fdsafe_io_batch(&op, 1, 0), 0);
    expect_code(op.result, -EBADF);

    expect_code(fdsafe_socket_send_handles(a, "h", 1, &forged_w, 1, 0), -EBADF);
    struct fdsafe_recv_info info;
    expect_code(fdsafe_socket_recv_handles(b, &byte, 1, 0, got, 1, &info), -EAGAIN); /* nothing was sent */

    /* All still live and working. */
    expect_code(fdsafe_handle_kind(w), FDSAFE_KIND_PIPE);
    expect_code(fdsafe_write(w, "y", 1), 1);
    expect_code(fdsafe_read(r, &byte, 1), 1);
    assert_int_equal(byte, 'y');
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* Release frees everything an object held, for every kind (the ASan and valgrind builds of
 * this test fail on a leak): each handle of the fixture, plus a path-bound listener, an
 * inotify set with a watch and an epoll set with registrations, is released; the descriptor
 * comes back open, the handle is dead, and the path of the released listener stays. */
static void test_release_frees_every_kind(void **state) {
    (void)state;
    fixture_open();
    char path[128];
    fdsafe_handle listener, watcher, set;
    temp_path(path, sizeof path, "released.sock");
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 4, NULL, &listener));
    add_live(listener, "path-bound unix listener");
    must(fdsafe_inotify_create(0, &watcher));
    int32_t wd;
    must(fdsafe_inotify_add_watch(watcher, temp_dir, FDSAFE_IN_CREATE, &wd));
    add_live(watcher, "inotify with a watch");
    must(fdsafe_epoll_create(&set));
    must(fdsafe_epoll_add(set, fx.eventfd, FDSAFE_EVENT_IN, 1));
    must(fdsafe_epoll_add(set, fx.pipe_read, FDSAFE_EVENT_IN, 2));
    add_live(set, "epoll with registrations");
    for (int i = 0; i < live_count; i++) {
        int fd = fdsafe_fd_release(live[i].handle);
        if (fd < 0) fail_msg("release of %s: %s", live[i].what, fdsafe_error_name(fd));
        assert_int_equal(fd, live[i].fd);
        assert_true(fd_is_open(fd));
        expect_code(fdsafe_handle_kind(live[i].handle), -EBADF);
        close(fd);
    }
    struct stat st;
    assert_int_equal(lstat(path, &st), 0); /* a released listener's path is the caller's now */
    unlink(path);
    live_count = 0;
}

int main(void) {
    /* The signalfd reads SIGUSR1: keep it blocked (threads inherit the mask). */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    const struct CMUnitTest tests[] = {
        FD_TEST(test_forged_handles_are_refused_and_touch_nothing),
        FD_TEST(test_forged_handles_get_ebadf),
        FD_TEST(test_wrapper_arguments_are_valid),
        FD_TEST(test_borrow_refuses_a_changed_kind_byte),
        FD_TEST(test_forged_handles_in_lists),
        FD_TEST(test_release_frees_every_kind),
    };
    return cmocka_run_group_tests_name("forged", tests, temp_dir_create, temp_dir_remove);
}
