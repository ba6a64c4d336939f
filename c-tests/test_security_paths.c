/* Security-sensitive paths not covered elsewhere:
 * - SIGPIPE: with SIGPIPE at its default action (which ends the process), every way fdsafe
 *   writes to a pipe, FIFO or socket whose reader is gone returns -EPIPE, and no SIGPIPE is
 *   left pending;
 * - received descriptors never leak: messages mixing SCM_CREDENTIALS with several SCM_RIGHTS
 *   messages, received with room for none, some or all of the descriptors, from stream,
 *   datagram and seqpacket sockets, including truncated datagrams; every handle received is
 *   the file that was sent, and everything else is closed;
 * - a receive refused for bad arguments consumes nothing. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static void assert_no_sigpipe_pending(void) {
    sigset_t pending;
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
}

static void test_no_write_path_raises_sigpipe(void **state) {
    (void)state;
    /* Default disposition: a SIGPIPE would end this test program. */
    void (*previous)(int) = signal(SIGPIPE, SIG_DFL);
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    int checked = 0;

    /* Pipes: write and writev. */
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_close(r));
    expect_code(fdsafe_write(w, "x", 1), -EPIPE);
    expect_code(fdsafe_writev(w, &iov, 1), -EPIPE);
    checked += 2;
    must(fdsafe_close(w));

    /* Unix sockets of the three types, every send function and the generic writes. */
    uint32_t types[] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_SEQPACKET};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        fdsafe_handle a, b, e;
        must(fdsafe_unix_pair(types[t], 0, &a, &b));
        must(fdsafe_eventfd_create(0, 0, &e));
        must(fdsafe_close(b));
        int efd = (int)must(fdsafe_fd_borrow(e));
        fdsafe_credentials mine = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
        expect_code(fdsafe_write(a, "x", 1), -EPIPE);
        expect_code(fdsafe_writev(a, &iov, 1), -EPIPE);
        expect_code(fdsafe_socket_send(a, "x", 1, 0), -EPIPE);
        expect_code(fdsafe_socket_send_handles(a, "x", 1, &e, 1, 0), -EPIPE);
        expect_code(fdsafe_socket_send_fds(a, "x", 1, &efd, 1, 0), -EPIPE);
        expect_code(fdsafe_socket_send_credentials(a, "x", 1, &mine, 0), -EPIPE);
        checked += 6;
        must(fdsafe_close(a));
        must(fdsafe_close(e));
    }
    /* A datagram socket whose peer is gone: -ECONNREFUSED, never a signal. */
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    must(fdsafe_close(b));
    int64_t rc = fdsafe_socket_send(a, "x", 1, 0);
    assert_true(rc == -ECONNREFUSED || rc == -ENOTCONN);
    must(fdsafe_close(a));

    /* After a shutdown for writing, on our own side. */
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_socket_shutdown(a, FDSAFE_SHUT_WR));
    expect_code(fdsafe_socket_send(a, "x", 1, 0), -EPIPE);
    expect_code(fdsafe_write(a, "x", 1), -EPIPE);
    checked += 2;
    must(fdsafe_close(a));
    must(fdsafe_close(b));

    assert_no_sigpipe_pending();
    printf("SIGPIPE: %d writes to a reader-less pipe or socket returned -EPIPE, no signal\n", checked);
    signal(SIGPIPE, previous);
}

/* ---------------------------------------------------------------- mixed control messages */

#define SENT 5

struct sent_files {
    int fds[SENT];
    dev_t dev[SENT];
    ino_t ino[SENT];
};

static void make_files(struct sent_files *f) {
    for (int i = 0; i < SENT; i++) {
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[1]);
        f->fds[i] = p[0];
        struct stat st;
        assert_int_equal(fstat(p[0], &st), 0);
        f->dev[i] = st.st_dev;
        f->ino[i] = st.st_ino;
    }
}

static void close_files(struct sent_files *f) {
    for (int i = 0; i < SENT; i++) close(f->fds[i]);
}

/* One sendmsg with SCM_CREDENTIALS, SCM_RIGHTS (3 descriptors) and SCM_RIGHTS (2 more). */
static void send_mixed(int sock, const struct sent_files *f, const char *data, size_t len) {
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(3 * sizeof(int)) + CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    memcpy(CMSG_DATA(c), &cred, sizeof cred);
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(3 * sizeof(int));
    memcpy(CMSG_DATA(c), f->fds, 3 * sizeof(int));
    c = CMSG_NXTHDR(&msg, c);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), f->fds + 3, 2 * sizeof(int));
    assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* Is `h` one of the files sent? Returns its index, or -1. */
static int which_file(const struct sent_files *f, fdsafe_handle h) {
    struct stat st;
    if (fstat((int)fdsafe_fd_borrow(h), &st) != 0) return -1;
    for (int i = 0; i < SENT; i++)
        if (st.st_dev == f->dev[i] && st.st_ino == f->ino[i]) return i;
    return -1;
}

static void test_mixed_credentials_and_rights_never_leak(void **state) {
    (void)state;
    uint32_t types[] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_DGRAM, FDSAFE_SOCK_SEQPACKET};
    size_t caps[] = {0, 1, 3, 4, 5, 253};
    struct sent_files f;
    make_files(&f);
    int received_total = 0, rounds = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        for (size_t k = 0; k < sizeof caps / sizeof *caps; k++) {
            for (int passcred = 0; passcred <= 1; passcred++) {
                fdsafe_handle a, b;
                must(fdsafe_unix_pair(types[t], 0, &a, &b));
                if (passcred) must(fdsafe_socket_option_set(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, 1));
                send_mixed((int)must(fdsafe_fd_borrow(a)), &f, "hello", 5);
                fdsafe_handle got[253];
                fdsafe_recv_info info;
                /* Datagrams: a 2-byte buffer truncates the message too. */
                char buf[8];
                size_t len = types[t] == FDSAFE_SOCK_STREAM ? sizeof buf : 2;
                int64_t n = fdsafe_socket_recv_handles(b, buf, len, 0, caps[k] ? got : NULL, caps[k], &info);
                assert_true(n == 5 || n == 2);
                size_t expect = caps[k] < SENT ? caps[k] : SENT;
                /* Where two SCM_RIGHTS messages arrive, the kernel may deliver them merged or the
                 * first only; what fdsafe reports must be exactly what arrived. */
                assert_true(info.handle_count <= expect);
                if (caps[k] >= SENT) assert_int_equal(info.handle_count, SENT);
                /* Descriptors beyond the room: dropped by the kernel (CTRUNC) or, where the
                 * control buffer's room for credentials let them in, closed by fdsafe (CLOSED,
                 * counted). Either way none is left open (FD_TEST checks). */
                if (info.handle_count < SENT)
                    assert_true(info.flags & (FDSAFE_RECV_INFO_CTRUNC | FDSAFE_RECV_INFO_CLOSED));
                if (!(info.flags & FDSAFE_RECV_INFO_CTRUNC)) assert_int_equal(info.handle_count + info.closed_count, SENT);
                if (len == 2) assert_true(info.flags & FDSAFE_RECV_INFO_TRUNC);
                if (passcred) {
                    assert_true(info.flags & FDSAFE_RECV_INFO_CREDENTIALS);
                    assert_int_equal(info.credentials.pid, getpid());
                }
                int seen[SENT] = {0};
                for (size_t i = 0; i < info.handle_count; i++) {
                    int which = which_file(&f, got[i]);
                    assert_true(which >= 0);
                    seen[which]++;
                    assert_int_equal(fd_is_cloexec((int)fdsafe_fd_borrow(got[i])), 1);
                    expect_code(fdsafe_handle_kind(got[i]), FDSAFE_KIND_PIPE);
                    must(fdsafe_close(got[i]));
                }
                /* In order, each at most once. */
                for (size_t i = 0; i < info.handle_count; i++) assert_int_equal(seen[i], 1);
                received_total += (int)info.handle_count;
                rounds++;
                must(fdsafe_close(a));
                must(fdsafe_close(b));
            }
        }
    }
    close_files(&f);
    printf("mixed control messages: %d rounds, %d descriptors received, none leaked\n", rounds, received_total);
}

static void test_refused_receive_consumes_nothing(void **state) {
    (void)state;
    fdsafe_handle a, b, e, got[4];
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &a, &b));
    must(fdsafe_eventfd_create(42, 0, &e));
    expect_code(fdsafe_socket_send_handles(a, "m", 1, &e, 1, 0), 1);
    char c = 0;
    fdsafe_recv_info info;
    /* NULL info, NULL handles with room, too much room, unknown flags: refused before receiving. */
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 4, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, NULL, 4, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 254, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0x80000000u, got, 4, &info), FDSAFE_E_INVALID_ARGUMENT);
    /* The message and its descriptor are still there. */
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 4, &info), 1);
    assert_int_equal(c, 'm');
    assert_int_equal(info.handle_count, 1);
    uint64_t value = 0;
    must(fdsafe_eventfd_read(got[0], &value));
    assert_int_equal(value, 42); /* the very eventfd that was sent */
    must(fdsafe_close(got[0]));
    must(fdsafe_close(e));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_no_write_path_raises_sigpipe),
        FD_TEST(test_mixed_credentials_and_rights_never_leak),
        FD_TEST(test_refused_receive_consumes_nothing),
    };
    return cmocka_run_group_tests_name("security_paths", tests, NULL, NULL);
}
