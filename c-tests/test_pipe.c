/* Pipes: creation flags, packet mode, capacity, and writes that never raise SIGPIPE. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The set holding SIGPIPE alone. */
static sigset_t sigpipe_only(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return set;
}

static void test_create_and_round_trip(void **state) {
    (void)state;
    fdsafe_handle r = 0, w = 0;
    must(fdsafe_pipe_create(0, &r, &w));
    assert_true(r != 0 && w != 0 && r != w);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(r))), 1);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(w))), 1);
    expect_code(fdsafe_write(w, "abc", 3), 3);
    char buf[8];
    expect_code(fdsafe_read(r, buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    must(fdsafe_close(w));
    expect_code(fdsafe_read(r, buf, sizeof buf), 0); /* end of file */
    must(fdsafe_close(r));
}

static void test_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle r = 0, w = 0;
    expect_code(fdsafe_pipe_create(0, NULL, &w), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pipe_create(0, &r, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pipe_create(1u << 7, &r, &w), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pipe_create(UINT32_MAX, &r, &w), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(r == 0 && w == 0);
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_pipe_get_capacity(e), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_pipe_set_capacity(e, 4096), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_pipe_get_capacity(0), -EBADF);
    must(fdsafe_close(e));
    expect_code(fdsafe_pipe_get_capacity(e), -EBADF);
}

static void test_packet_mode_keeps_message_boundaries(void **state) {
    (void)state;
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(FDSAFE_PIPE_PACKET, &r, &w));
    expect_code(fdsafe_write(w, "one", 3), 3);
    expect_code(fdsafe_write(w, "second", 6), 6);
    char buf[64];
    expect_code(fdsafe_read(r, buf, sizeof buf), 3);
    expect_code(fdsafe_read(r, buf, sizeof buf), 6);
    assert_memory_equal(buf, "second", 6);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_capacity_get_and_set(void **state) {
    (void)state;
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_pipe_get_capacity(r), 65536);
    expect_code(fdsafe_pipe_set_capacity(w, 100000), 131072); /* rounded up to pages, power of 2 */
    expect_code(fdsafe_pipe_get_capacity(r), 131072);
    /* 0 is the smallest request, as fcntl(F_SETPIPE_SZ) takes it: one page. */
    int raw[2];
    assert_int_equal(pipe2(raw, O_CLOEXEC), 0);
    int64_t page = fcntl(raw[1], F_SETPIPE_SZ, 0);
    close(raw[0]);
    close(raw[1]);
    assert_int_equal(page, sysconf(_SC_PAGESIZE));
    expect_code(fdsafe_pipe_set_capacity(w, 0), page);
    expect_code(fdsafe_pipe_set_capacity(w, 100000), 131072);
    expect_code(fdsafe_pipe_set_capacity(w, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    /* Above /proc/sys/fs/pipe-max-size (1 MiB) the kernel wants CAP_SYS_RESOURCE. */
    int64_t big = fdsafe_pipe_set_capacity(w, 16u << 20);
    if (big == -EPERM) {
        expect_code(fdsafe_pipe_get_capacity(r), 131072); /* unchanged */
    } else {
        assert_true(big >= (16 << 20));
    }
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_write_to_a_pipe_without_readers_is_epipe_not_a_signal(void **state) {
    (void)state;
    /* SIGPIPE keeps its default action (terminate) in this process. */
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_close(r));
    expect_code(fdsafe_write(w, "x", 1), -EPIPE);
    struct iovec iov = {"y", 1};
    expect_code(fdsafe_writev(w, &iov, 1), -EPIPE);
    sigset_t pending, mask;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    assert_false(sigismember(&mask, SIGPIPE)); /* the thread's mask is restored */
    must(fdsafe_close(w));
}

/* The kernel raises SIGPIPE also when the last reader leaves while a blocking write waits
 * for room after part of it went in; the write then returns that count. A child holds the
 * only read end, reads a little and exits while each write below waits: the count comes back,
 * no signal (this process would die of it), then -EPIPE. */
static int64_t write_some(int how, fdsafe_handle w, char *buf, size_t len) {
    struct iovec iov = {buf, len};
    switch (how) {
    case 0: return fdsafe_write(w, buf, len);
    case 1: return fdsafe_writev(w, &iov, 1);
    default: return fdsafe_vmsplice(w, &iov, 1, 0);
    }
}

static void test_a_reader_leaving_mid_write_raises_no_sigpipe(void **state) {
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    static char buf[1 << 20];
    for (int how = 0; how < 3; how++) {
        fdsafe_handle r, w;
        must(fdsafe_pipe_create(0, &r, &w));
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            char some[100];
            _exit(fdsafe_read(r, some, sizeof some) == (int64_t)sizeof some ? 0 : 1);
        }
        must(fdsafe_close(r)); /* the child's copy is the pipe's only reader */
        int64_t n = write_some(how, w, buf, sizeof buf);
        assert_true(n > 0 && n < (int64_t)sizeof buf);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        expect_code(write_some(how, w, buf, sizeof buf), -EPIPE);
        sigset_t pending, mask;
        sigpending(&pending);
        assert_false(sigismember(&pending, SIGPIPE));
        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        assert_false(sigismember(&mask, SIGPIPE));
        must(fdsafe_close(w));
    }
}

/* A write end made with its read end skips the SIGPIPE guard while it can hold the read end
 * (the pipe then has a reader). Closing the read end in another thread while a writer
 * writes must still never raise SIGPIPE (default action: this process would die). */
struct pipe_writer {
    fdsafe_handle w;
    int epipe;
};

static void *write_until_epipe(void *arg) {
    struct pipe_writer *pw = arg;
    char buf[512] = {0};
    for (;;) {
        int64_t n = fdsafe_write(pw->w, buf, sizeof buf);
        if (n == -EPIPE) {
            pw->epipe = 1;
            return NULL;
        }
        assert_true(n > 0 || n == -EAGAIN);
    }
}

static void test_closing_the_read_end_under_a_writer_never_raises_sigpipe(void **state) {
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    for (int round = 0; round < 200; round++) {
        fdsafe_handle r;
        struct pipe_writer pw = {0, 0};
        must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &pw.w));
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, write_until_epipe, &pw), 0);
        char buf[4096];
        for (int i = 0; i < round % 7; i++) (void)fdsafe_read(r, buf, sizeof buf);
        must(fdsafe_close(r));
        pthread_join(t, NULL);
        assert_true(pw.epipe);
        must(fdsafe_close(pw.w));
    }
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* A blocking writer stuck on a full pipe must be woken by closing the read end, as with raw
 * descriptors: its write returns (the bytes it wrote, then -EPIPE), never blocks for ever on
 * a read end kept open for it, and raises no SIGPIPE. */
struct blocked_writer {
    fdsafe_handle w;
    int epipe;
    atomic_int done;
};

static void *write_a_lot_until_epipe(void *arg) {
    struct blocked_writer *bw = arg;
    static char big[1 << 20];
    for (;;) {
        int64_t n = fdsafe_write(bw->w, big, sizeof big);
        if (n == -EPIPE) {
            bw->epipe = 1;
            break;
        }
        if (n <= 0) break;
    }
    atomic_store(&bw->done, 1);
    return NULL;
}

static void test_closing_the_read_end_wakes_a_writer_blocked_on_a_full_pipe(void **state) {
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    for (int round = 0; round < 3; round++) {
        fdsafe_handle r;
        struct blocked_writer bw = {.w = 0, .epipe = 0};
        atomic_init(&bw.done, 0);
        must(fdsafe_pipe_create(0, &r, &bw.w));
        int read_fd = fdsafe_fd_borrow(r);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, write_a_lot_until_epipe, &bw), 0);
        usleep(50000); /* the writer has filled the pipe and waits for room */
        must(fdsafe_close(r));
        for (int i = 0; i < 500 && !atomic_load(&bw.done); i++) usleep(10000);
        int woken = atomic_load(&bw.done);
        if (!woken) {
            /* Unstick the writer so the test can end: drain through a second reader until
             * the read end's descriptor is gone, then close that reader too (the last one:
             * the writer gets EPIPE). */
            char path[64], buf[65536];
            snprintf(path, sizeof path, "/proc/self/fd/%d", read_fd);
            int drain = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            struct stat ours, now;
            assert_int_equal(fstat(drain, &ours), 0);
            while (fstat(read_fd, &now) == 0 && now.st_ino == ours.st_ino) {
                if (read(drain, buf, sizeof buf) <= 0) usleep(1000);
            }
            close(drain);
        }
        pthread_join(t, NULL);
        must(fdsafe_close(bw.w));
        assert_true(woken);
        assert_true(bw.epipe);
    }
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

/* Writes keep the end's own mode although they first try without waiting: a blocking write
 * larger than the pipe returns only when all of it is written (a reader drains meanwhile),
 * a non-blocking one returns what fitted, and one into a full non-blocking pipe -EAGAIN. */
struct drainer {
    fdsafe_handle r;
    size_t want, got;
};

static void *drain_all(void *arg) {
    struct drainer *d = arg;
    static char buf[65536];
    while (d->got < d->want) {
        int64_t n = fdsafe_read(d->r, buf, sizeof buf);
        if (n <= 0) break;
        d->got += (size_t)n;
    }
    return NULL;
}

static void test_writes_keep_the_ends_mode(void **state) {
    (void)state;
    static char big[1 << 20];
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    struct drainer d = {r, 2 * sizeof big, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_all, &d), 0);
    expect_code(fdsafe_write(w, big, sizeof big), (int64_t)sizeof big);
    struct iovec halves[2] = {{big, sizeof big / 2}, {big + sizeof big / 2, sizeof big / 2}};
    expect_code(fdsafe_writev(w, halves, 2), (int64_t)sizeof big);
    pthread_join(t, NULL);
    assert_int_equal(d.got, 2 * sizeof big);
    must(fdsafe_close(r));
    must(fdsafe_close(w));

    must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w));
    int64_t capacity = fdsafe_pipe_get_capacity(w);
    assert_true(capacity > 0);
    expect_code(fdsafe_write(w, big, sizeof big), capacity);
    expect_code(fdsafe_write(w, big, 1), -EAGAIN);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

/* A thread that blocks SIGPIPE itself keeps its mask and the SIGPIPE it has pending: the
 * write neither unblocks it nor discards a signal that is not the write's. (Whether the write
 * adds one depends on the kernel: with RWF_NOSIGNAL, Linux 6.18, it raises none, as a socket
 * send with MSG_NOSIGNAL; before, the raw write's signal stays pending, as with write(2).
 * Standard signals do not queue, so either way one SIGPIPE is pending after.) */
static void test_a_thread_that_blocks_sigpipe_itself_keeps_its_signal(void **state) {
    (void)state;
    sigset_t pipe_only = sigpipe_only();
    sigset_t old, pending, mask;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    assert_int_equal(pthread_kill(pthread_self(), SIGPIPE), 0); /* the thread's own signal */
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_close(r));
    expect_code(fdsafe_write(w, "x", 1), -EPIPE);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    assert_true(sigismember(&mask, SIGPIPE)); /* still blocked */
    sigpending(&pending);
    assert_true(sigismember(&pending, SIGPIPE)); /* theirs to handle */
    struct timespec zero = {0, 0};
    assert_int_equal(sigtimedwait(&pipe_only, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    must(fdsafe_close(w));
}

/* A splice (guarded: it has no RWF_NOSIGNAL) into a pipe whose reader is gone: -EPIPE, and
 * the kernel raises SIGPIPE for the calling thread. Closes what it made. */
static void splice_into_a_pipe_without_reader(void) {
    fdsafe_handle in_r, in_w, out_r, out_w;
    must(fdsafe_pipe_create(0, &in_r, &in_w));
    must(fdsafe_pipe_create(0, &out_r, &out_w));
    must(fdsafe_close(out_r));
    expect_code(fdsafe_write(in_w, "abc", 3), 3);
    expect_code(fdsafe_splice(in_r, NULL, out_w, NULL, 3, 0), -EPIPE);
    fdsafe_handle all[] = {in_r, in_w, out_w};
    expect_code(fdsafe_close_many(all, 3), 3);
}

/* A thread that blocks SIGPIPE, with none pending: a guarded call (splice has no
 * RWF_NOSIGNAL) that meets no reader raises one, and fdsafe discards it, so none is pending
 * after and the mask is as it was. Unblocking after would otherwise kill the process. */
static void test_a_guarded_call_in_a_blocking_thread_leaves_no_sigpipe(void **state) {
    (void)state;
    sigset_t pipe_only = sigpipe_only();
    sigset_t old, pending, mask;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    splice_into_a_pipe_without_reader();
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    assert_true(sigismember(&mask, SIGPIPE)); /* still blocked */
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE)); /* the call's own was discarded */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static volatile sig_atomic_t sigpipes_handled;
static void count_sigpipe(int sig) {
    (void)sig;
    sigpipes_handled++;
}

/* Counts SIGPIPEs in sigpipes_handled from 0; returns the action to put back. */
static struct sigaction start_counting_sigpipes(void) {
    struct sigaction count = {0}, old_action;
    count.sa_handler = count_sigpipe;
    sigemptyset(&count.sa_mask);
    sigaction(SIGPIPE, &count, &old_action);
    sigpipes_handled = 0;
    return old_action;
}

/* While a guarded call (a splice waiting for input) runs, a SIGPIPE is sent to the process,
 * by another process or by another thread of this one (kill, not pthread_kill, with every
 * thread blocking it, so it stays pending for the process). Then the input comes and the call
 * returns short, which may come with a SIGPIPE of its own, so fdsafe looks. The sent one is
 * the user's, though its sender may be this process (the kernel queues a write's own for the
 * thread alone): the handler runs once. Before, the guard took it as the call's. */
struct sigpipe_sender {
    pid_t splicer_pid, splicer_tid;
    int feed;
};

static void send_sigpipe_then_feed(const struct sigpipe_sender *k) {
    for (int i = 0; i < 2000 && task_state(k->splicer_pid, k->splicer_tid) != 'S'; i++) usleep(1000);
    usleep(20000);
    kill(k->splicer_pid, SIGPIPE);
    usleep(20000);
    if (write(k->feed, "abc", 3) != 3) abort();
}

static void *sender_thread(void *arg) {
    sigset_t pipe_only = sigpipe_only();
    pthread_sigmask(SIG_BLOCK, &pipe_only, NULL); /* so no thread takes it at once */
    send_sigpipe_then_feed(arg);
    return NULL;
}

static void splice_while_a_sigpipe_is_sent(int from_another_process) {
    struct sigaction old_action = start_counting_sigpipes();
    fdsafe_handle in_r, in_w, out_r, out_w;
    must(fdsafe_pipe_create(0, &in_r, &in_w));
    must(fdsafe_pipe_create(0, &out_r, &out_w));
    struct sigpipe_sender k = {getpid(), gettid(), (int)must(fdsafe_fd_borrow(in_w))};
    pid_t child = -1;
    pthread_t thread;
    if (from_another_process) {
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            send_sigpipe_then_feed(&k);
            _exit(0);
        }
    } else {
        assert_int_equal(pthread_create(&thread, NULL, sender_thread, &k), 0);
    }
    expect_code(fdsafe_splice(in_r, NULL, out_w, NULL, 100, 0), 3); /* short: 3 of 100 */
    if (from_another_process) {
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_int_equal(WEXITSTATUS(status), 0);
    } else {
        pthread_join(thread, NULL);
    }
    assert_int_equal(sigpipes_handled, 1);
    sigaction(SIGPIPE, &old_action, NULL);
    fdsafe_handle all[] = {in_r, in_w, out_r, out_w};
    expect_code(fdsafe_close_many(all, 4), 4);
}

static void test_a_sigpipe_another_process_sends_during_a_guarded_call_is_kept(void **state) {
    (void)state;
    splice_while_a_sigpipe_is_sent(1);
}

static void test_a_sigpipe_this_process_sends_during_a_guarded_call_is_kept(void **state) {
    (void)state;
    splice_while_a_sigpipe_is_sent(0);
}

/* A thread that blocks SIGPIPE, with one pending for the process (another process's kill):
 * a guarded call that meets no reader adds its own for the thread, and discards just that
 * one. Afterwards exactly the other process's SIGPIPE is pending, once. */
static void test_a_guarded_call_leaves_the_process_sigpipe_alone(void **state) {
    (void)state;
    sigset_t pipe_only = sigpipe_only();
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(kill(getppid(), SIGPIPE) == 0 ? 0 : 1);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    splice_into_a_pipe_without_reader();
    struct timespec zero = {0, 0};
    siginfo_t info;
    assert_int_equal(sigtimedwait(&pipe_only, &info, &zero), SIGPIPE);
    assert_int_equal(info.si_pid, child); /* the other process's */
    assert_int_equal(sigtimedwait(&pipe_only, &info, &zero), -1); /* and no other */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int sigpipe_disposition_is(void (*handler)(int)) {
    struct sigaction now;
    sigaction(SIGPIPE, NULL, &now);
    return now.sa_handler == handler;
}

/* The mode changes a process-wide disposition, so it runs in a child. */
static void test_sigpipe_ignore_mode_and_back(void **state) {
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        fdsafe_handle r, w;
        if (fdsafe_pipe_create(0, &r, &w) != 0 || fdsafe_close(r) != 0) _exit(1);
        if (fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_IGNORE) != FDSAFE_SIGPIPE_GUARD) _exit(2);
        if (!sigpipe_disposition_is(SIG_IGN)) _exit(3);
        if (fdsafe_write(w, "x", 1) != -EPIPE) _exit(4); /* unguarded, and alive */
        if (fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_IGNORE) != FDSAFE_SIGPIPE_IGNORE) _exit(5);
        if (fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_GUARD) != FDSAFE_SIGPIPE_IGNORE) _exit(6);
        if (!sigpipe_disposition_is(SIG_DFL)) _exit(7); /* the replaced disposition is back */
        if (fdsafe_write(w, "x", 1) != -EPIPE) _exit(8); /* guarded again */
        if (fdsafe_sigpipe_mode(2) != FDSAFE_E_INVALID_ARGUMENT) _exit(9);
        if (fdsafe_sigpipe_mode(UINT32_MAX) != FDSAFE_E_INVALID_ARGUMENT) _exit(10);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status)); /* not killed by SIGPIPE */
    assert_int_equal(WEXITSTATUS(status), 0);
    /* And in this process, a bad mode changes nothing. */
    expect_code(fdsafe_sigpipe_mode(7), FDSAFE_E_INVALID_ARGUMENT);
}

/* A thread that blocks SIGPIPE keeps the ones raised while ignored pending; back in guard
 * mode (SIG_DFL) they would kill it when it unblocks. The switch discards them, as
 * installing SIG_IGN does in the kernel (valgrind's emulation keeps them: skipped there). */
static void test_leaving_ignore_mode_discards_pending_sigpipes(void **state) {
    (void)state;
    if (skipped_under_valgrind("valgrind keeps pending signals when SIG_IGN is installed; the kernel discards them")) skip();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        fdsafe_handle r, w;
        if (fdsafe_pipe_create(0, &r, &w) != 0 || fdsafe_close(r) != 0) _exit(1);
        sigset_t pipe_only = sigpipe_only();
        sigset_t pending;
        pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
        if (fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_IGNORE) != FDSAFE_SIGPIPE_GUARD) _exit(11);
        fdsafe_handle in_r, in_w; /* a splice, unguarded in this mode (a forked child's writes take the guard) */
        if (fdsafe_pipe_create(0, &in_r, &in_w) != 0 || fdsafe_write(in_w, "x", 1) != 1) _exit(12);
        if (fdsafe_splice(in_r, NULL, w, NULL, 1, 0) != -EPIPE) _exit(16);
        sigpending(&pending);
        if (!sigismember(&pending, SIGPIPE)) _exit(15); /* raised, blocked, so pending */
        if (fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_GUARD) != FDSAFE_SIGPIPE_IGNORE) _exit(13);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) _exit(14);
        pthread_sigmask(SIG_UNBLOCK, &pipe_only, NULL); /* alive */
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status)); /* not killed by SIGPIPE */
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A slot that held a pipe's write end (which knew its read end) is reused for another write
 * end: writes to the new one must take the SIGPIPE guard (its reader is gone: a SIGPIPE would
 * end the test), not trust the old read end, which still lives. */
static void test_a_reused_slot_forgets_the_old_write_ends_read_end(void **state) {
    (void)state;
    assert_true(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    fdsafe_handle r1, w1, w2;
    must(fdsafe_pipe_create(0, &r1, &w1));
    must(fdsafe_close(w1)); /* its descriptor is free again */
    int raw[2];
    assert_int_equal(pipe2(raw, O_CLOEXEC), 0); /* takes the freed numbers */
    close(raw[0]);
    must(fdsafe_fd_adopt(raw[1], FDSAFE_KIND_OTHER, &w2));
    assert_int_equal(w2 & 0xffffff, w1 & 0xffffff); /* the same slot */
    expect_code(fdsafe_write(w2, "x", 1), -EPIPE);
    struct iovec iov = {"y", 1};
    expect_code(fdsafe_writev(w2, &iov, 1), -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    must(fdsafe_close(w2));
    must(fdsafe_close(r1));
}

/* Open descriptors of this process (the directory's own one not counted). */
static int open_fd_count(void) {
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    int count = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) count += e->d_name[0] != '.';
    closedir(dir);
    return count - 1;
}

/* A pipe is two descriptors: nothing hidden counts against RLIMIT_NOFILE, and releasing the
 * read end never fails with EBUSY because of the write end. */
static void test_a_pipe_is_two_descriptors(void **state) {
    (void)state;
    int before = open_fd_count();
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    assert_int_equal(open_fd_count() - before, 2);
    assert_int_equal(fdsafe_write(w, "x", 1), 1);
    int raw = fdsafe_fd_release(r);
    assert_true(raw >= 0);
    /* The read end is gone from fdsafe; the write end falls back to the guard. */
    char c;
    assert_int_equal(read(raw, &c, 1), 1);
    close(raw);
    expect_code(fdsafe_write(w, "y", 1), -EPIPE);
    must(fdsafe_close(w));
    assert_int_equal(open_fd_count(), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_create_and_round_trip),
        FD_TEST(test_bad_arguments),
        FD_TEST(test_packet_mode_keeps_message_boundaries),
        FD_TEST(test_capacity_get_and_set),
        FD_TEST(test_write_to_a_pipe_without_readers_is_epipe_not_a_signal),
        FD_TEST(test_a_reader_leaving_mid_write_raises_no_sigpipe),
        FD_TEST(test_closing_the_read_end_under_a_writer_never_raises_sigpipe),
        FD_TEST(test_closing_the_read_end_wakes_a_writer_blocked_on_a_full_pipe),
        FD_TEST(test_writes_keep_the_ends_mode),
        FD_TEST(test_a_thread_that_blocks_sigpipe_itself_keeps_its_signal),
    FD_TEST(test_a_guarded_call_in_a_blocking_thread_leaves_no_sigpipe),
    FD_TEST(test_a_sigpipe_another_process_sends_during_a_guarded_call_is_kept),
    FD_TEST(test_a_sigpipe_this_process_sends_during_a_guarded_call_is_kept),
    FD_TEST(test_a_guarded_call_leaves_the_process_sigpipe_alone),
        FD_TEST(test_sigpipe_ignore_mode_and_back),
        FD_TEST(test_leaving_ignore_mode_discards_pending_sigpipes),
        FD_TEST(test_a_reused_slot_forgets_the_old_write_ends_read_end),
        FD_TEST(test_a_pipe_is_two_descriptors),
    };
    return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
