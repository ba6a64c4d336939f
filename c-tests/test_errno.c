/* errno: no fdsafe call changes it, failing or succeeding (the return value is the whole
 * answer). Each call below runs with errno set to a value no system call uses, then again
 * with errno 0, and must leave it exactly so. The failures chosen are those whose system
 * calls set errno inside fdsafe: a refused adoption (fcntl says EBADF), socket calls the
 * kernel refuses, a write to a pipe without a reader (EPIPE, and a SIGPIPE discarded). */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* No errno value is this large: a call that writes errno cannot leave it by chance. */
#define SENTINEL 4242

/* Runs `call` once with each preset errno and asserts the code and the unchanged errno. */
#define expect_errno_kept(call, expected)                                   \
    do {                                                                      \
        const int presets[2] = {SENTINEL, 0};                                 \
        for (int i = 0; i < 2; i++) {                                         \
            errno = presets[i];                                               \
            int64_t rc_ = (int64_t)(call);                                    \
            int after_ = errno;                                               \
            expect_code(rc_, expected);                                       \
            if (after_ != presets[i])                                         \
                fail_msg("%s changed errno from %d to %d (%s)", #call,        \
                         presets[i], after_, strerror(after_));               \
        }                                                                     \
    } while (0)

/* As above for a call that succeeds with any value >= 0. */
#define expect_success_errno_kept(call)                                       \
    do {                                                                      \
        const int presets[2] = {SENTINEL, 0};                                 \
        for (int i = 0; i < 2; i++) {                                         \
            errno = presets[i];                                               \
            int64_t rc_ = (int64_t)(call);                                    \
            int after_ = errno;                                               \
            must(rc_);                                                        \
            if (after_ != presets[i])                                         \
                fail_msg("%s changed errno from %d to %d", #call, presets[i], after_); \
        }                                                                     \
    } while (0)

static void test_failed_adoption_keeps_errno(void **state) {
    (void)state;
    fdsafe_handle h = 0;
    int closed = dup(0);
    assert_true(closed >= 0);
    close(closed); /* a number that is not open: fcntl inside the call fails with EBADF */
    expect_errno_kept(fdsafe_fd_adopt(closed, FDSAFE_KIND_PIPE, &h), -EBADF);
    expect_errno_kept(fdsafe_fd_adopt(-1, FDSAFE_KIND_PIPE, &h), -EBADF);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    /* A pipe is not a socket: the kernel's ENOTSOCK becomes fdsafe's refusal. */
    expect_errno_kept(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_UNIX_STREAM, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_errno_kept(fdsafe_fd_adopt(fds[0], 9999, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_errno_kept(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(h, 0);
    close(fds[0]);
    close(fds[1]);
}

static void test_failed_socket_calls_keep_errno(void **state) {
    (void)state;
    fdsafe_handle h = 0;
    expect_errno_kept(fdsafe_unix_connect("/nonexistent-fdsafe-dir/sock", SOCK_STREAM, 0, &h), -ENOENT);
    /* Port 1 on the loopback: nothing listens there in a test machine. */
    expect_errno_kept(fdsafe_tcp_connect("127.0.0.1:1", 1000, 0, &h), -ECONNREFUSED);
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(SOCK_STREAM, 0, &a, &b));
    must(fdsafe_nonblocking_set(a, true));
    char buf[8];
    expect_errno_kept(fdsafe_socket_recv(a, buf, sizeof buf, 0), -EAGAIN);
    expect_errno_kept(fdsafe_socket_recv(a, NULL, 8, 0), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(b));
    expect_errno_kept(fdsafe_socket_send(a, "x", 1, 0), -EPIPE);
    expect_errno_kept(fdsafe_socket_send(b, "x", 1, 0), -EBADF);
    expect_errno_kept(fdsafe_tcp_listen("not an address", 8, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(a));
}

static void test_failed_handle_calls_keep_errno(void **state) {
    (void)state;
    fdsafe_handle r, w, e;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_eventfd_create(0, 0, &e));
    char byte;
    expect_errno_kept(fdsafe_eventfd_write(e, UINT64_MAX), -EINVAL);
    expect_errno_kept(fdsafe_eventfd_write(r, 1), FDSAFE_E_WRONG_KIND);
    expect_errno_kept(fdsafe_read(FDSAFE_INVALID_HANDLE, &byte, 1), -EBADF);
    expect_errno_kept(fdsafe_write(r, "x", 1), -EBADF); /* the read end is not open for writing */
    expect_errno_kept(fdsafe_fd_release(FDSAFE_INVALID_HANDLE), -EBADF);
    must(fdsafe_close(r));
    /* No reader left: EPIPE, the SIGPIPE blocked and discarded inside the call. */
    expect_errno_kept(fdsafe_write(w, "x", 1), -EPIPE);
    expect_errno_kept(fdsafe_close(r), -EBADF);
    must(fdsafe_close(w));
    must(fdsafe_close(e));
}

static void test_successful_calls_keep_errno(void **state) {
    (void)state;
    fdsafe_handle r = 0, w = 0, e = 0, d = 0, a = 0, b = 0, ep = 0;
    errno = SENTINEL;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_eventfd_create(1, 0, &e));
    must(fdsafe_unix_pair(SOCK_STREAM, 0, &a, &b));
    must(fdsafe_epoll_create(&ep));
    assert_int_equal(errno, SENTINEL);
    char buf[4];
    expect_success_errno_kept(fdsafe_write(w, "ab", 2));
    expect_success_errno_kept(fdsafe_read(r, buf, 1));
    expect_success_errno_kept(fdsafe_socket_send(a, "x", 1, 0));
    expect_success_errno_kept(fdsafe_socket_recv(b, buf, 1, 0));
    expect_success_errno_kept(fdsafe_wait(r, FDSAFE_EVENT_IN, 0)); /* 0: nothing to read */
    expect_success_errno_kept(fdsafe_handle_kind(e));
    expect_success_errno_kept(fdsafe_fd_borrow(e));
    expect_success_errno_kept(fdsafe_nonblocking_get(e));
    expect_success_errno_kept(fdsafe_last_error(NULL, 0));
    errno = SENTINEL;
    must(fdsafe_epoll_add(ep, e, FDSAFE_EVENT_IN, 7));
    struct fdsafe_epoll_event ev[2];
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 0), 1);
    must(fdsafe_dup(e, &d));
    assert_non_null(fdsafe_strerror(-EBADF));
    assert_non_null(fdsafe_error_name(FDSAFE_E_WRONG_KIND));
    assert_non_null(fdsafe_kind_name(FDSAFE_KIND_PIPE));
    must(fdsafe_close(d));
    must(fdsafe_close(ep));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(e));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    assert_int_equal(errno, SENTINEL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_failed_adoption_keeps_errno),
        FD_TEST(test_failed_socket_calls_keep_errno),
        FD_TEST(test_failed_handle_calls_keep_errno),
        FD_TEST(test_successful_calls_keep_errno),
    };
    return cmocka_run_group_tests_name("errno", tests, NULL, NULL);
}
