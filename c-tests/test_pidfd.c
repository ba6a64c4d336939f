/* pidfd: fork with a pidfd, open by pid, exit waiting through fdsafe_wait, collecting the
 * status, signals, pidfd_getfd from another process, adopt, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_fork_wait_for_exit_and_collect_status(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h;
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(7);
    expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_PIDFD);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(h))), 1);
    expect_code(fdsafe_wait(h, FDSAFE_EVENT_IN, 10000), FDSAFE_EVENT_IN);
    struct fdsafe_pidfd_exit e = {0, 0, 0};
    expect_code(fdsafe_pidfd_wait(h, 0, &e), 1);
    assert_int_equal(e.pid, pid);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 7);
    expect_code(fdsafe_pidfd_wait(h, 0, &e), -ECHILD); /* reaped already */
    expect_code(fdsafe_pidfd_get_pid(h), -ESRCH);
    must(fdsafe_close(h));
}

static void test_signals_and_nohang(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h;
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    expect_code(fdsafe_pidfd_get_pid(h), pid);
    struct fdsafe_pidfd_exit e = {-1, -1, -1};
    expect_code(fdsafe_pidfd_wait(h, FDSAFE_PIDFD_WAIT_NOHANG, &e), 0);
    assert_int_equal(e.pid, -1); /* untouched */
    expect_code(fdsafe_wait(h, FDSAFE_EVENT_IN, 0), 0); /* still running */
    expect_code(fdsafe_pidfd_send_signal(h, 0, 0), 0);
    expect_code(fdsafe_pidfd_send_signal(h, SIGTERM, 0), 0);
    expect_code(fdsafe_wait(h, FDSAFE_EVENT_IN, 10000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_pidfd_wait(h, 0, &e), 1);
    assert_int_equal(e.code, FDSAFE_PIDFD_KILLED);
    assert_int_equal(e.status, SIGTERM);
    expect_code(fdsafe_pidfd_send_signal(h, SIGTERM, 0), -ESRCH);
    must(fdsafe_close(h));
}

static void test_open_by_pid(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle self, child, nb;
    must(fdsafe_pidfd_open(getpid(), 0, &self));
    expect_code(fdsafe_pidfd_get_pid(self), getpid());
    struct fdsafe_pidfd_exit e;
    expect_code(fdsafe_pidfd_wait(self, FDSAFE_PIDFD_WAIT_NOHANG, &e), -ECHILD); /* not a child */
    must(fdsafe_close(self));

    int pid = fdsafe_pidfd_fork(&child);
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    must(fdsafe_pidfd_open(pid, FDSAFE_NONBLOCK, &nb));
    expect_code(fdsafe_nonblocking_get(nb), 1);
    expect_code(fdsafe_pidfd_wait(nb, 0, &e), -EAGAIN);
    expect_code(fdsafe_pidfd_send_signal(nb, SIGKILL, 0), 0);
    expect_code(fdsafe_wait(child, FDSAFE_EVENT_IN, 10000), FDSAFE_EVENT_IN);
    expect_code(fdsafe_pidfd_wait(child, 0, &e), 1);
    assert_int_equal(e.code, FDSAFE_PIDFD_KILLED);
    assert_int_equal(e.status, SIGKILL);
    must(fdsafe_close(nb));
    must(fdsafe_close(child));
}

static void test_getfd_copies_a_descriptor_out_of_another_process(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    int report[2];
    assert_int_equal(pipe2(report, O_CLOEXEC), 0);
    fdsafe_handle h;
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0) {
        int m = memfd_create("from-child", MFD_CLOEXEC);
        if (m < 0 || write(m, "secret", 6) != 6)
            _exit(1);
        if (write(report[1], &m, sizeof m) != sizeof m)
            _exit(2);
        for (;;)
            pause();
    }
    int target = -1;
    assert_int_equal(read(report[0], &target, sizeof target), sizeof target);
    close(report[0]);
    close(report[1]);
    fdsafe_handle copy, r, w;
    must(fdsafe_pidfd_getfd(h, target, FDSAFE_KIND_MEMFD, &copy));
    expect_code(fdsafe_handle_kind(copy), FDSAFE_KIND_MEMFD);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(copy))), 1);
    char buf[8] = {0};
    expect_code(fdsafe_file_pread(copy, buf, sizeof buf, 0), 6);
    assert_string_equal(buf, "secret");
    /* The wrong kind: refused, and the copy is not leaked (checked by the harness). */
    expect_code(fdsafe_pidfd_getfd(h, target, FDSAFE_KIND_PIPE, &r), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_getfd(h, 999, FDSAFE_KIND_MEMFD, &r), -EBADF);
    expect_code(fdsafe_pidfd_getfd(h, -1, FDSAFE_KIND_MEMFD, &r), -EBADF);
    expect_code(fdsafe_pidfd_getfd(h, target, 0, &r), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_getfd(h, target, FDSAFE_KIND_MEMFD, NULL), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_pidfd_getfd(r, target, FDSAFE_KIND_MEMFD, &copy), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    struct fdsafe_pidfd_exit e;
    must(fdsafe_pidfd_send_signal(h, SIGKILL, 0));
    expect_code(fdsafe_pidfd_wait(h, 0, &e), 1);
    expect_code(fdsafe_pidfd_getfd(h, target, FDSAFE_KIND_MEMFD, &r), -ESRCH);
    must(fdsafe_close(copy));
    must(fdsafe_close(h));
}

static void test_pidfd_bad_input_and_adopt(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h = 0x31, r, w;
    struct fdsafe_pidfd_exit e = {-1, -1, -1};
    expect_code(fdsafe_pidfd_open(0, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_open(-1, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_open(getpid(), 2, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_open(getpid(), 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_open(0x3fffffff, 0, &h), -ESRCH);
    expect_code(fdsafe_pidfd_fork(NULL), FDSAFE_E_INVALID_ARGUMENT); /* nothing forked */
    assert_int_equal(h, 0x31);
    must(fdsafe_pidfd_open(getpid(), 0, &h));
    expect_code(fdsafe_pidfd_send_signal(h, 0, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_send_signal(h, 1000, 0), -EINVAL);
    expect_code(fdsafe_pidfd_wait(h, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_wait(h, 4, &e), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_pidfd_send_signal(r, 0, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_pidfd_wait(r, 0, &e), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_pidfd_get_pid(w), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(h));
    expect_code(fdsafe_pidfd_send_signal(h, 0, 0), -EBADF);
    expect_code(fdsafe_pidfd_wait(h, 0, &e), -EBADF);
    expect_code(fdsafe_pidfd_get_pid(h), -EBADF);
    expect_code(fdsafe_pidfd_getfd(h, 0, FDSAFE_KIND_STDIO, &r), -EBADF);
    assert_int_equal(e.pid, -1);

    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    assert_true(fd >= 0);
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_PIDFD, &h));
    expect_code(fdsafe_pidfd_get_pid(h), getpid());
    must(fdsafe_close(h));
    fd = eventfd(0, EFD_CLOEXEC);
    expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_PIDFD, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(fd);
}

/* A job-control supervisor: stop and continue a child through its pidfd and see each state
 * change once, then its death; WNOWAIT leaves a state to be collected again. */
static void test_waitid_reports_stopped_continued_and_killed(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h;
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    const uint32_t all = FDSAFE_PIDFD_WAIT_EXITED | FDSAFE_PIDFD_WAIT_STOPPED | FDSAFE_PIDFD_WAIT_CONTINUED;
    struct fdsafe_pidfd_exit e = {-1, -1, -1};
    expect_code(fdsafe_pidfd_waitid(h, all | FDSAFE_PIDFD_WAIT_NOHANG, &e), 0);
    assert_int_equal(e.pid, -1); /* untouched */

    must(fdsafe_pidfd_send_signal(h, SIGSTOP, 0));
    /* Only exits asked for: the stop is not reported. */
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED | FDSAFE_PIDFD_WAIT_NOHANG, &e), 0);
    /* Peek without consuming, then collect. */
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_STOPPED | FDSAFE_PIDFD_WAIT_NOWAIT, &e), 1);
    assert_int_equal(e.pid, pid);
    assert_int_equal(e.code, FDSAFE_PIDFD_STOPPED);
    assert_int_equal(e.status, SIGSTOP);
    e.code = -1;
    expect_code(fdsafe_pidfd_waitid(h, all, &e), 1);
    assert_int_equal(e.code, FDSAFE_PIDFD_STOPPED);
    assert_int_equal(e.status, SIGSTOP);
    /* Reported once. */
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_STOPPED | FDSAFE_PIDFD_WAIT_NOHANG, &e), 0);

    must(fdsafe_pidfd_send_signal(h, SIGCONT, 0));
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_CONTINUED, &e), 1);
    assert_int_equal(e.pid, pid);
    assert_int_equal(e.code, FDSAFE_PIDFD_CONTINUED);
    assert_int_equal(e.status, SIGCONT);
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_CONTINUED | FDSAFE_PIDFD_WAIT_NOHANG, &e), 0);

    must(fdsafe_pidfd_send_signal(h, SIGKILL, 0));
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED | FDSAFE_PIDFD_WAIT_NOWAIT, &e), 1);
    assert_int_equal(e.code, FDSAFE_PIDFD_KILLED);
    expect_code(fdsafe_pidfd_waitid(h, all, &e), 1); /* still there to collect: reaps */
    assert_int_equal(e.code, FDSAFE_PIDFD_KILLED);
    assert_int_equal(e.status, SIGKILL);
    expect_code(fdsafe_pidfd_waitid(h, all, &e), -ECHILD);
    must(fdsafe_close(h));
}

static void test_waitid_exit_status_and_bad_input(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h, r, w;
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(42);
    struct fdsafe_pidfd_exit e = {-1, -1, -1};
    expect_code(fdsafe_pidfd_waitid(h, 0, &e), FDSAFE_E_INVALID_ARGUMENT); /* no state asked */
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_NOHANG, &e), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED | 0x10, &e), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED | 0x80000000u, &e), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(e.pid, -1);
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED, &e), 1);
    assert_int_equal(e.pid, pid);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 42);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_pidfd_waitid(r, FDSAFE_PIDFD_WAIT_EXITED, &e), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(h));
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED, &e), -EBADF);
    expect_code(fdsafe_pidfd_waitid(h, 0, &e), FDSAFE_E_INVALID_ARGUMENT); /* bad flags first */
    /* Not our child. */
    must(fdsafe_pidfd_open(getpid(), 0, &h));
    expect_code(fdsafe_pidfd_waitid(h, FDSAFE_PIDFD_WAIT_EXITED | FDSAFE_PIDFD_WAIT_NOHANG, &e), -ECHILD);
    must(fdsafe_close(h));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_fork_wait_for_exit_and_collect_status),
        FD_TEST(test_signals_and_nohang),
        FD_TEST(test_open_by_pid),
        FD_TEST(test_getfd_copies_a_descriptor_out_of_another_process),
        FD_TEST(test_pidfd_bad_input_and_adopt),
        FD_TEST(test_waitid_reports_stopped_continued_and_killed),
        FD_TEST(test_waitid_exit_status_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
