/* pidfd: fork with a pidfd, open by pid, exit waiting through fdsafe_wait, collecting the
 * status, signals, pidfd_getfd from another process, adopt, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
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
    expect_code(fdsafe_pidfd_get_pid(h), pid); /* exited, not reaped: it keeps its pid */
    struct fdsafe_pidfd_exit e = {0, 0, 0};
    expect_code(fdsafe_pidfd_wait(h, 0, &e), 1);
    assert_int_equal(e.pid, pid);
    assert_int_equal(e.code, FDSAFE_PIDFD_EXITED);
    assert_int_equal(e.status, 7);
    expect_code(fdsafe_pidfd_wait(h, 0, &e), -ECHILD); /* reaped already */
    expect_code(fdsafe_pidfd_get_pid(h), -ESRCH);
    must(fdsafe_close(h));
}

/* Runs `body` in a child process, whose state it may change for good (its limits, its signal
 * dispositions), and expects it to exit with 0: a nonzero status says which check failed. */
static void expect_child_exits_zero(int (*body)(void)) {
    pid_t tester = fork();
    assert_true(tester >= 0);
    if (tester == 0) _exit(body());
    int status;
    assert_int_equal(waitpid(tester, &status, 0), tester);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The pidfd names the child even when something reaps children as they exit. In a process
 * where SIGCHLD is ignored (the kernel reaps at once), a fork handler of the caller's delays
 * the parent after each fork, so a child that exits at once is gone, and its pid free, before
 * a pidfd opened after fork() could name it: opened that way, nearly every fork here failed
 * with -ESRCH (or named another process). Runs in a child: the disposition and the handler
 * stay for the life of the process. */
static volatile int delay_parent_after_fork;

static void slow_parent(void) {
    if (delay_parent_after_fork) usleep(3000);
}

static int fork_while_children_are_reaped_at_once(void) {
    if (signal(SIGCHLD, SIG_IGN) == SIG_ERR || pthread_atfork(NULL, slow_parent, NULL) != 0) return 1;
    delay_parent_after_fork = 1;
    for (int i = 0; i < 50; i++) {
        fdsafe_handle h;
        int pid = fdsafe_pidfd_fork(&h);
        if (pid == 0) _exit(0);
        if (pid < 0) return 2;                 /* the fork happened but the parent was told it failed */
        int64_t named = fdsafe_pidfd_get_pid(h); /* the child's pid, or -ESRCH once it is reaped */
        if (named != pid && named != -ESRCH) return 3; /* another process */
        if (fdsafe_close(h) != 0) return 4;
    }
    return 0;
}

static void test_fork_pidfd_names_the_child_when_children_are_reaped_at_once(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    expect_child_exits_zero(fork_while_children_are_reaped_at_once);
}

/* When the pidfd cannot be made (no descriptor left for it), the child never returns from the
 * fork: it cannot run the caller's child code for a parent that was told the fork failed, and
 * it is reaped. */
static int fork_with_no_descriptor_for_the_pidfd(void) {
    int marker[2];
    if (pipe2(marker, O_CLOEXEC | O_NONBLOCK) != 0) return 1;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1;
    limit.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 1;
    int spare[2] = {-1, -1}, fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) { /* fill the table, keep the last two */
        if (spare[0] >= 0 && spare[1] >= 0) continue;
        spare[spare[0] < 0 ? 0 : 1] = fd;
    }
    close(spare[0]);
    close(spare[1]); /* two free numbers: the pipe takes them, the pidfd finds none */
    fdsafe_handle h = 0;
    int pid = fdsafe_pidfd_fork(&h);
    if (pid == 0) {
        (void)!write(marker[1], "x", 1); /* the caller's child code */
        _exit(0);
    }
    if (pid != -EMFILE) return 2;
    char c;
    if (read(marker[0], &c, 1) != -1 || errno != EAGAIN) return 3; /* the child ran */
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) return 4; /* a child left to reap */
    return 0;
}

static void test_fork_that_cannot_make_the_pidfd_runs_no_child_code(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    expect_child_exits_zero(fork_with_no_descriptor_for_the_pidfd);
}

static void test_signals_and_nohang(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    fdsafe_handle h;
    /* The child dies of SIGTERM even where this test inherited it ignored (nohup). */
    struct sigaction by_default = {.sa_handler = SIG_DFL}, inherited;
    assert_int_equal(sigaction(SIGTERM, &by_default, &inherited), 0);
    int pid = fdsafe_pidfd_fork(&h);
    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    assert_int_equal(sigaction(SIGTERM, &inherited, NULL), 0);
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

static void *report_tid_and_wait(void *arg) {
    atomic_int *tid = arg;
    atomic_store(tid, (int)syscall(SYS_gettid));
    while (atomic_load(tid) != -1) sched_yield();
    return NULL;
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
    /* A thread that is not the process's main thread: the kernel's answer, as raw. */
    pthread_t thread;
    atomic_int tid = 0;
    assert_int_equal(pthread_create(&thread, NULL, report_tid_and_wait, &tid), 0);
    while (atomic_load(&tid) == 0) sched_yield();
    long raw = syscall(SYS_pidfd_open, atomic_load(&tid), 0);
    int raw_errno = errno;
    assert_int_equal(raw, -1);
    expect_code(fdsafe_pidfd_open(atomic_load(&tid), 0, &self), -raw_errno);
    expect_code(fdsafe_pidfd_open(atomic_load(&tid), 0, &self), -ENOENT); /* as documented */
    atomic_store(&tid, -1);
    pthread_join(thread, NULL);

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

/* After the main thread exits (pthread_exit, the process living on in another thread),
 * /proc/self/fd and /proc/self/fdinfo are gone. The calls that read /proc must still work:
 * the pid of a pidfd, adoption's kind check, a terminal's path, receiving with detection.
 * Run in a child, whose main thread exits; its worker reports one bit per failed check. */
static fdsafe_handle self_pidfd;

static void *check_with_the_main_thread_gone(void *unused) {
    (void)unused;
    usleep(50 * 1000); /* the main thread has exited by now */
    int failed = 0;
    if (fdsafe_pidfd_get_pid(self_pidfd) != getpid()) failed |= 1;
    int efd = eventfd(0, EFD_CLOEXEC);
    fdsafe_handle adopted = 0;
    if (fdsafe_fd_adopt(efd, FDSAFE_KIND_EVENTFD, &adopted) != 0) failed |= 2;
    fdsafe_handle master, slave;
    char path[64];
    if (fdsafe_pty_open(0, &master, &slave) != 0 || fdsafe_terminal_path(slave, 0, path, sizeof path) <= 0 ||
        strncmp(path, "/dev/pts/", 9) != 0)
        failed |= 4;
    fdsafe_handle a, b, got[1] = {0};
    struct fdsafe_recv_info info;
    char byte = 'x';
    if (fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b) != 0 ||
        fdsafe_socket_send_handles(a, &byte, 1, &adopted, 1, 0) != 1 ||
        fdsafe_socket_recv_handles(b, &byte, 1, 0, got, 1, &info) != 1 || info.handle_count != 1 ||
        fdsafe_handle_kind(got[0]) != FDSAFE_KIND_EVENTFD)
        failed |= 8;
    _exit(failed);
}

static void test_calls_that_read_proc_work_after_the_main_thread_exits(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open")) skip();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (fdsafe_pidfd_open(getpid(), 0, &self_pidfd) != 0) _exit(100);
        pthread_t worker;
        if (pthread_create(&worker, NULL, check_with_the_main_thread_gone, NULL) != 0) _exit(101);
        pthread_exit(NULL);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* 1 pid, 2 adopt, 4 terminal path, 8 receive */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_fork_wait_for_exit_and_collect_status),
        FD_TEST(test_fork_pidfd_names_the_child_when_children_are_reaped_at_once),
        FD_TEST(test_fork_that_cannot_make_the_pidfd_runs_no_child_code),
        FD_TEST(test_signals_and_nohang),
        FD_TEST(test_open_by_pid),
        FD_TEST(test_getfd_copies_a_descriptor_out_of_another_process),
        FD_TEST(test_pidfd_bad_input_and_adopt),
        FD_TEST(test_waitid_reports_stopped_continued_and_killed),
        FD_TEST(test_waitid_exit_status_and_bad_input),
        FD_TEST(test_calls_that_read_proc_work_after_the_main_thread_exits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
