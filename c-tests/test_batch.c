/* The calls added for speed: fdsafe_io_batch (many reads and writes in one call) and
 * fdsafe_socket_recv_handles_as (descriptor passing without per-descriptor kind detection). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fdsafe_handle closed_handle(void) {
    fdsafe_handle h;
    must(fdsafe_eventfd_create(0, 0, &h));
    must(fdsafe_close(h));
    return h;
}

static fdsafe_io_op op(fdsafe_handle h, uint32_t kind, void *buf, size_t len) {
    fdsafe_io_op o = {.handle = h, .op = kind, .reserved = 0, .buf = buf, .len = len, .result = 12345};
    return o;
}

/* ------------------------------------------------------------ fdsafe_io_batch */

static void test_batch_runs_in_order(void **state) {
    (void)state;
    fdsafe_handle e, r, w;
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_pipe_create(0, &r, &w));
    uint64_t one = 1, two = 2, got = 0;
    char out[8] = {0};
    fdsafe_io_op ops[] = {
        op(e, FDSAFE_IO_WRITE, &one, 8), op(e, FDSAFE_IO_WRITE, &two, 8), op(e, FDSAFE_IO_READ, &got, 8),
        op(w, FDSAFE_IO_WRITE, "abc", 3), op(r, FDSAFE_IO_READ, out, sizeof out), op(w, FDSAFE_IO_WRITE, NULL, 0),
    };
    expect_code(fdsafe_io_batch(ops, 6, 0), 6);
    assert_int_equal(got, 3); /* both writes happened before the read */
    assert_memory_equal(out, "abc", 3);
    int64_t results[] = {8, 8, 8, 3, 3, 0};
    for (int i = 0; i < 6; i++) assert_int_equal(ops[i].result, results[i]);
    /* Nothing to do is fine. */
    expect_code(fdsafe_io_batch(NULL, 0, 0), 0);
    must(fdsafe_close(e));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_batch_stops_at_first_failure(void **state) {
    (void)state;
    fdsafe_handle e, r, w;
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &e));
    must(fdsafe_pipe_create(0, &r, &w));
    uint64_t one = 1, got = 0;
    fdsafe_handle dead = closed_handle();
    /* A stale handle: the operations before it ran, the ones after did not. */
    fdsafe_io_op ops[] = {op(e, FDSAFE_IO_WRITE, &one, 8), op(dead, FDSAFE_IO_WRITE, &one, 8),
                          op(e, FDSAFE_IO_READ, &got, 8)};
    expect_code(fdsafe_io_batch(ops, 3, 0), 1);
    assert_int_equal(ops[0].result, 8);
    assert_int_equal(ops[1].result, -EBADF);
    assert_int_equal(ops[2].result, 12345);
    assert_int_equal(got, 0);
    /* The kernel's refusal: a 4-byte eventfd write is EINVAL; EAGAIN from an empty counter. */
    must(fdsafe_eventfd_read(e, &got));
    fdsafe_io_op bad[] = {op(e, FDSAFE_IO_WRITE, &one, 4)};
    expect_code(fdsafe_io_batch(bad, 1, 0), 0);
    assert_int_equal(bad[0].result, -EINVAL);
    fdsafe_io_op empty[] = {op(e, FDSAFE_IO_READ, &got, 8)};
    expect_code(fdsafe_io_batch(empty, 1, 0), 0);
    assert_int_equal(empty[0].result, -EAGAIN);
    /* A pipe without readers: -EPIPE, and the process lives (no SIGPIPE). */
    must(fdsafe_close(r));
    fdsafe_io_op broken[] = {op(w, FDSAFE_IO_WRITE, "x", 1)};
    expect_code(fdsafe_io_batch(broken, 1, 0), 0);
    assert_int_equal(broken[0].result, -EPIPE);
    must(fdsafe_close(w));
    must(fdsafe_close(e));
}

static void test_batch_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    uint64_t one = 1;
    fdsafe_io_op ops[2] = {op(e, FDSAFE_IO_WRITE, &one, 8), op(e, FDSAFE_IO_WRITE, &one, 8)};
    expect_code(fdsafe_io_batch(NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_io_batch(ops, 2, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_io_batch(ops, (size_t)FDSAFE_IO_BATCH_MAX + 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_io_batch(ops, SIZE_MAX, 0), FDSAFE_E_INVALID_ARGUMENT);
    /* A bad second operation: refused before the first runs. */
    ops[1].op = 3;
    expect_code(fdsafe_io_batch(ops, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    ops[1] = op(e, FDSAFE_IO_WRITE, &one, 8);
    ops[1].reserved = 1;
    expect_code(fdsafe_io_batch(ops, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    ops[1] = op(e, FDSAFE_IO_READ, NULL, 8);
    expect_code(fdsafe_io_batch(ops, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    ops[1] = op(e, FDSAFE_IO_WRITE, &one, SIZE_MAX);
    expect_code(fdsafe_io_batch(ops, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(ops[0].result, 12345); /* nothing was written back */
    uint64_t v = 99;
    must(fdsafe_eventfd_write(e, 5));
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 5); /* and nothing ran */
    /* Handle 0 fails that operation with -EBADF, like fdsafe_write. */
    fdsafe_io_op zero[] = {op(0, FDSAFE_IO_WRITE, &one, 8)};
    expect_code(fdsafe_io_batch(zero, 1, 0), 0);
    assert_int_equal(zero[0].result, -EBADF);
    must(fdsafe_close(e));
}

/* ------------------------------------------------------------ fdsafe_socket_recv_handles_as */

static void send_three(fdsafe_handle a, fdsafe_handle *r, fdsafe_handle *w, fdsafe_handle *x, fdsafe_handle *y) {
    must(fdsafe_pipe_create(0, r, w));
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, x, y));
    fdsafe_handle list[3] = {*r, *x, *w};
    expect_code(fdsafe_socket_send_handles(a, "m", 1, list, 3, 0), 1);
}

static void test_recv_as_other_skips_detection(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w, x, y;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    send_three(a, &r, &w, &x, &y);
    fdsafe_handle got[4];
    fdsafe_recv_info info;
    char c;
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 4, &info), 1);
    assert_int_equal(info.handle_count, 3);
    assert_int_equal(info.flags, 0);
    for (int i = 0; i < 3; i++) {
        expect_code(fdsafe_handle_kind(got[i]), FDSAFE_KIND_OTHER);
        assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(got[i]))), 1);
    }
    /* Generic calls work through them; kind-specific ones refuse them. */
    expect_code(fdsafe_write(got[2], "hi", 2), 2);
    char buf[2];
    expect_code(fdsafe_read(r, buf, 2), 2);
    assert_memory_equal(buf, "hi", 2);
    expect_code(fdsafe_pipe_get_capacity(got[0]), FDSAFE_E_WRONG_KIND);
    /* A write through a generic handle to a pipe with no reader: -EPIPE, no SIGPIPE. */
    must(fdsafe_close(r));
    must(fdsafe_close(got[0]));
    expect_code(fdsafe_write(got[2], "x", 1), -EPIPE);
    for (int i = 1; i < 3; i++) must(fdsafe_close(got[i]));
    fdsafe_handle all[] = {a, b, w, x, y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_recv_as_expected_kind(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w, x, y;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    send_three(a, &r, &w, &x, &y);
    fdsafe_handle got[4];
    fdsafe_recv_info info;
    char c;
    /* Expecting Unix stream sockets: the socket passes the check, the pipe ends do not and
     * get their true kind from full detection. */
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_UNIX_STREAM, got, 4, &info), 1);
    assert_int_equal(info.handle_count, 3);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_PIPE);
    expect_code(fdsafe_handle_kind(got[1]), FDSAFE_KIND_UNIX_STREAM);
    expect_code(fdsafe_handle_kind(got[2]), FDSAFE_KIND_PIPE);
    /* The received socket is a working socket handle. */
    expect_code(fdsafe_socket_send(got[1], "s", 1, 0), 1);
    expect_code(fdsafe_socket_recv(y, &c, 1, 0), 1);
    assert_int_equal(c, 's');
    for (int i = 0; i < 3; i++) must(fdsafe_close(got[i]));
    fdsafe_handle all[] = {a, b, r, w, x, y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

/* Every expected kind, on a message of many kinds: each handle gets its true kind, whether
 * the quick check for the expected kind confirms it or full detection runs. */
static void test_recv_as_every_expected_kind_gives_true_kinds(void **state) {
    (void)state;
    fdsafe_handle a, b, e, t, r, w, x, y, l, ul, tc, uc, uu, p = 0;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_timerfd_create(CLOCK_MONOTONIC, 0, &t));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &x, &y));
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, 0, &l));
    char name[64];
    snprintf(name, sizeof name, "@fdsafe-test-recv-as-%d", (int)getpid());
    must(fdsafe_unix_listen(name, FDSAFE_SOCK_STREAM, 4, NULL, &ul));
    /* Connected sockets (detected through getpeername) beside unconnected ones. */
    char address[64];
    must(fdsafe_socket_local_address(l, address, sizeof address));
    must(fdsafe_tcp_connect(address, -1, 0, &tc));
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &uc));
    must(fdsafe_socket_connect(uc, address));
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &uu));
    int rc = fdsafe_pidfd_open(getpid(), 0, &p);
    int have_pidfd = rc == 0;
    if (!have_pidfd) printf("pidfd_open refused here (%s): no pidfd in the message\n", fdsafe_strerror(rc));
    fdsafe_handle list[12] = {e, t, r, x, l, ul, a, w, tc, uc, uu, p};
    int truth[12] = {FDSAFE_KIND_EVENTFD, FDSAFE_KIND_TIMERFD, FDSAFE_KIND_PIPE, FDSAFE_KIND_UNIX_SEQPACKET,
                     FDSAFE_KIND_TCP_LISTENER, FDSAFE_KIND_UNIX_LISTENER, FDSAFE_KIND_UNIX_STREAM, FDSAFE_KIND_PIPE,
                     FDSAFE_KIND_TCP_STREAM, FDSAFE_KIND_UDP, FDSAFE_KIND_UDP, FDSAFE_KIND_PIDFD};
    size_t n = have_pidfd ? 12 : 11;
    uint32_t expected[] = {FDSAFE_KIND_UNIX_STREAM, FDSAFE_KIND_UNIX_SEQPACKET, FDSAFE_KIND_UNIX_LISTENER,
                           FDSAFE_KIND_UNIX_DATAGRAM, FDSAFE_KIND_TCP_STREAM, FDSAFE_KIND_TCP_LISTENER,
                           FDSAFE_KIND_UDP, FDSAFE_KIND_EVENTFD, FDSAFE_KIND_TIMERFD, FDSAFE_KIND_SIGNALFD,
                           FDSAFE_KIND_EPOLL, FDSAFE_KIND_PIDFD, FDSAFE_KIND_PIPE, FDSAFE_KIND_FILE};
    for (size_t k = 0; k < sizeof expected / sizeof *expected; k++) {
        expect_code(fdsafe_socket_send_handles(a, "m", 1, list, n, 0), 1);
        fdsafe_handle got[12];
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, expected[k], got, 12, &info), 1);
        assert_int_equal(info.handle_count, n);
        assert_int_equal(info.flags, 0);
        for (size_t i = 0; i < n; i++) {
            if (fdsafe_handle_kind(got[i]) != truth[i])
                fail_msg("expected kind %u: handle %zu is kind %d, truly %d", expected[k], i, fdsafe_handle_kind(got[i]),
                         truth[i]);
            assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(got[i]))), 1);
        }
        expect_code(fdsafe_close_many(got, n), (int64_t)n);
        for (size_t i = 0; i < n; i++) expect_code(fdsafe_handle_kind(got[i]), -EBADF);
    }
    fdsafe_handle all[] = {a, b, e, t, r, w, x, y, l, ul, tc, uc, uu, p};
    expect_code(fdsafe_close_many(all, have_pidfd ? 14 : 13), have_pidfd ? 14 : 13);
}

/* A full message of 253 generic handles, closed with one fdsafe_close_many: every handle is
 * dead afterwards and every received descriptor closed (FD_TEST checks the descriptors), and
 * the freed slots serve the next message. */
static void test_recv_as_other_253_and_close_many(void **state) {
    (void)state;
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    static fdsafe_handle sent[253], got[253], first[253];
    for (int i = 0; i < 253; i++) must(fdsafe_eventfd_create(0, 0, &sent[i]));
    for (int round = 0; round < 3; round++) {
        expect_code(fdsafe_socket_send_handles(a, "m", 1, sent, 253, 0), 1);
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 253, &info), 1);
        assert_int_equal(info.handle_count, 253);
        /* The generic handle reaches the same eventfd. */
        expect_code(fdsafe_write(got[round], "\1\0\0\0\0\0\0\0", 8), 8);
        uint64_t v;
        must(fdsafe_eventfd_read(sent[round], &v));
        assert_int_equal(v, 1);
        if (round == 0) memcpy(first, got, sizeof got);
        expect_code(fdsafe_close_many(got, 253), 253);
        for (int i = 0; i < 253; i++) expect_code(fdsafe_handle_kind(got[i]), -EBADF);
        /* Handles of the first round stay dead when their slots are reused. */
        for (int i = 0; i < 253; i++) expect_code(fdsafe_handle_kind(first[i]), -EBADF);
    }
    expect_code(fdsafe_close_many(sent, 253), 253);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

static void test_recv_as_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle a, b, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_handle list[1] = {e};
    expect_code(fdsafe_socket_send_handles(a, "m", 1, list, 1, 0), 1);
    fdsafe_handle got[2] = {0, 0};
    fdsafe_recv_info info;
    memset(&info, 0x5a, sizeof info);
    char c;
    /* Each refused before anything is received: the message stays queued. */
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, 999, got, 2, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_STDIO, got, 2, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, 0, got, 2, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 1u << 20, FDSAFE_KIND_OTHER, got, 2, &info),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, NULL, 1, 0, FDSAFE_KIND_OTHER, got, 2, &info),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, NULL, 2, &info),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 254, &info),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, SIZE_MAX, 0, FDSAFE_KIND_OTHER, got, 2, &info),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 2, NULL),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles_as(0, &c, 1, 0, FDSAFE_KIND_OTHER, got, 2, &info), -EBADF);
    expect_code(fdsafe_socket_recv_handles_as(closed_handle(), &c, 1, 0, FDSAFE_KIND_OTHER, got, 2, &info), -EBADF);
    expect_code(fdsafe_socket_recv_handles_as(e, &c, 1, 0, FDSAFE_KIND_OTHER, got, 2, &info), FDSAFE_E_WRONG_KIND);
    assert_int_equal(got[0], 0);
    assert_int_equal(info.handle_count, 0x5a5a5a5a5a5a5a5aULL); /* out-params untouched */
    /* The message is still there, and an expected kind that matches gives that kind. */
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_EVENTFD, got, 2, &info), 1);
    assert_int_equal(info.handle_count, 1);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_EVENTFD);
    must(fdsafe_eventfd_write(got[0], 4));
    uint64_t v;
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 4);
    must(fdsafe_close(got[0]));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(e));
}

/* ------------------------------------------------------------ fdsafe_close_many */

static void test_close_many(void **state) {
    (void)state;
    fdsafe_handle e, r, w;
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_pipe_create(0, &r, &w));
    int rf = (int)must(fdsafe_fd_borrow(r));
    fdsafe_handle dead = closed_handle();
    /* Live ones are closed; 0, a closed handle and a repeat are skipped. */
    fdsafe_handle list[] = {e, 0, r, dead, e, w};
    expect_code(fdsafe_close_many(list, 6), 3);
    expect_code(fdsafe_handle_kind(e), -EBADF);
    expect_code(fdsafe_handle_kind(r), -EBADF);
    expect_code(fdsafe_handle_kind(w), -EBADF);
    assert_false(fd_is_open(rf));
    expect_code(fdsafe_close_many(list, 6), 0); /* closing twice is harmless */
    expect_code(fdsafe_close_many(NULL, 0), 0);
}

static void test_close_many_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_handle list[1] = {e};
    expect_code(fdsafe_close_many(NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_close_many(list, (size_t)FDSAFE_IO_BATCH_MAX + 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_close_many(list, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_handle_kind(e), FDSAFE_KIND_EVENTFD); /* nothing was closed */
    must(fdsafe_close(e));
}

/* ------------------------------------------------------------ fdsafe_close_all_except */

/* A worker after fork keeps what it serves with and closes everything else it inherited,
 * without naming it; the parent's copies are untouched. */
static void test_close_all_except_in_a_forked_worker(void **state) {
    (void)state;
    fdsafe_handle control, worker_end, e, r, w, ep;
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &control, &worker_end));
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 7));
    int raw[] = {(int)must(fdsafe_fd_borrow(control)), (int)must(fdsafe_fd_borrow(e)),
                 (int)must(fdsafe_fd_borrow(r)), (int)must(fdsafe_fd_borrow(ep))};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fdsafe_handle keep[] = {worker_end, w, w};
        /* Exit codes say which check failed. */
        if (fdsafe_close_all_except(keep, 3) != 4) _exit(10);
        for (int i = 0; i < 4; i++)
            if (fd_is_open(raw[i])) _exit(11 + i);
        if (fdsafe_handle_kind(e) != -EBADF || fdsafe_handle_kind(control) != -EBADF) _exit(15);
        if (fdsafe_socket_send(worker_end, "hi", 2, 0) != 2) _exit(16);
        if (fdsafe_write(w, "x", 1) != 1) _exit(17);
        if (fdsafe_close_all_except(keep, 3) != 0) _exit(18); /* nothing else is left */
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's handles all work: what the child sent and wrote arrives, the set reports. */
    char buf[4];
    expect_code(fdsafe_socket_recv(control, buf, sizeof buf, 0), 2);
    expect_code(fdsafe_read(r, buf, sizeof buf), 1);
    must(fdsafe_eventfd_write(e, 1));
    fdsafe_epoll_event ev[2];
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 1000), 1);
    assert_true(ev[0].handle == e && ev[0].user == 7);
    fdsafe_handle all[] = {control, worker_end, e, r, w, ep};
    expect_code(fdsafe_close_many(all, 6), 6);
}

static void test_close_all_except_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    /* A keep list naming a dead or forged handle is wrong: nothing is closed. */
    fdsafe_handle stale[] = {e, closed_handle()};
    expect_code(fdsafe_close_all_except(stale, 2), -EBADF);
    fdsafe_handle zero[] = {e, 0};
    expect_code(fdsafe_close_all_except(zero, 2), -EBADF);
    fdsafe_handle forged[] = {e ^ 1};
    expect_code(fdsafe_close_all_except(forged, 1), -EBADF);
    expect_code(fdsafe_close_all_except(NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_handle_kind(e), FDSAFE_KIND_EVENTFD); /* nothing was closed */
    must(fdsafe_close(e));
}

/* Datagram batches take at most 1024 entries per call, so a larger count reads only the
 * first 1024 (and allocates for no more). The entries end at an inaccessible page: reading
 * past the 1024th would crash. Before, every entry of `count` was read and allocated for,
 * and a large count aborted the process (out of memory) or read past the caller's array. */
static void test_datagram_batches_read_only_what_one_call_takes(void **state) {
    (void)state;
    enum { TAKEN = 1024 };
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = (TAKEN * sizeof(fdsafe_datagram) + page - 1) / page * page;
    char *area = mmap(NULL, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(area != MAP_FAILED);
    assert_int_equal(mprotect(area + bytes, page, PROT_NONE), 0);
    fdsafe_datagram *msgs = (fdsafe_datagram *)(area + bytes) - TAKEN; /* the last ends at the guard */
    static char data[TAKEN];
    for (int i = 0; i < TAKEN; i++) msgs[i] = (fdsafe_datagram){.data = &data[i], .len = 1};
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    size_t huge = (size_t)1 << 40;
    int64_t sent = fdsafe_socket_send_batch(a, msgs, huge, FDSAFE_MSG_DONTWAIT);
    assert_true(sent > 0 && sent <= TAKEN);
    for (int i = 0; i < TAKEN; i++) msgs[i] = (fdsafe_datagram){.data = &data[i], .len = 1};
    int64_t received = fdsafe_socket_recv_batch(b, msgs, huge, FDSAFE_MSG_DONTWAIT);
    expect_code(received, sent);
    expect_code(fdsafe_socket_recv_batch(b, msgs, huge, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    /* An absurd count is refused whole, before any entry is read. */
    size_t absurd = PTRDIFF_MAX / sizeof(fdsafe_datagram) + 1;
    fdsafe_datagram *last = msgs + TAKEN - 1;
    expect_code(fdsafe_socket_send_batch(a, last, absurd, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_batch(b, last, absurd, 0), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    munmap(area, bytes + page);
}

/* A keep list is checked where it lies before anything is copied: a list of 2^36 entries
 * (512 GiB of zero pages, reserved, not backed) whose second entry is no live handle gives
 * -EBADF. Before, the list was copied first, and the copy aborted the process. */
static void test_close_all_except_checks_a_huge_list_in_place(void **state) {
    (void)state;
    if (skipped_under_valgrind("a 512 GiB reservation")) skip();
    size_t count = (size_t)1 << 36, bytes = count * sizeof(fdsafe_handle);
    fdsafe_handle *keep = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (keep == MAP_FAILED) {
        printf("skipped: the kernel refused a 512 GiB reservation: %s\n", strerror(errno));
        skip();
    }
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    keep[0] = e;
    expect_code(fdsafe_close_all_except(keep, count), -EBADF);
    expect_code(fdsafe_handle_kind(e), FDSAFE_KIND_EVENTFD); /* nothing was closed */
    munmap(keep, bytes);
    must(fdsafe_close(e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_batch_runs_in_order),
        FD_TEST(test_batch_stops_at_first_failure),
        FD_TEST(test_batch_bad_arguments),
        FD_TEST(test_recv_as_other_skips_detection),
        FD_TEST(test_recv_as_expected_kind),
        FD_TEST(test_recv_as_every_expected_kind_gives_true_kinds),
        FD_TEST(test_recv_as_other_253_and_close_many),
        FD_TEST(test_recv_as_bad_arguments),
        FD_TEST(test_close_many),
        FD_TEST(test_close_many_bad_arguments),
        FD_TEST(test_close_all_except_in_a_forked_worker),
        FD_TEST(test_close_all_except_bad_arguments),
        FD_TEST(test_datagram_batches_read_only_what_one_call_takes),
        FD_TEST(test_close_all_except_checks_a_huge_list_in_place),
    };
    return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
