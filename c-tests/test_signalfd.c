/* signalfd: signal sets, blocking, records of signals sent by another process (sender pid and
 * uid, code, value, child status), merging of standard signals, queued real-time signals,
 * updating the set, polling in epoll, the process-wide blocking helper, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static sigset_t saved_mask;

static void save_mask(void) {
    pthread_sigmask(SIG_BLOCK, NULL, &saved_mask);
}

/* Discards whatever the test left pending, then restores the mask. */
static void restore_mask(int a, int b, int c) {
    sigset_t pending;
    sigemptyset(&pending);
    if (a) sigaddset(&pending, a);
    if (b) sigaddset(&pending, b);
    if (c) sigaddset(&pending, c);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pending, NULL, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
}

static fdsafe_sigset set_of(int a, int b, int c) {
    fdsafe_sigset s;
    must(fdsafe_sigset_empty(&s));
    if (a) must(fdsafe_sigset_add(&s, a));
    if (b) must(fdsafe_sigset_add(&s, b));
    if (c) must(fdsafe_sigset_add(&s, c));
    return s;
}

static void test_records_from_another_process(void **state) {
    (void)state;
    save_mask();
    fdsafe_sigset s = set_of(SIGUSR1, SIGCHLD, 0);
    fdsafe_handle sfd;
    must(fdsafe_signalfd_create(&s, 0, &sfd));
    expect_code(fdsafe_handle_kind(sfd), FDSAFE_KIND_SIGNALFD);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(sfd))), 1);
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    assert_int_equal(sigismember(&now, SIGUSR1), 1); /* create blocked them */

    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        union sigval value = {.sival_int = 1234};
        sigqueue(parent, SIGUSR1, value);
        _exit(7);
    }
    fdsafe_siginfo info[4];
    int have_usr1 = 0, have_chld = 0;
    while (!(have_usr1 && have_chld)) {
        int n = (int)must(fdsafe_signalfd_read(sfd, info, 4));
        for (int i = 0; i < n; i++) {
            assert_true((pid_t)info[i].pid == child);
            assert_true(info[i].uid == getuid());
            if (info[i].signo == SIGUSR1) {
                have_usr1 = 1;
                assert_int_equal(info[i].code, SI_QUEUE);
                assert_int_equal(info[i].int_value, 1234);
            } else {
                assert_int_equal(info[i].signo, SIGCHLD);
                have_chld = 1;
                assert_int_equal(info[i].code, CLD_EXITED);
                assert_int_equal(info[i].status, 7);
            }
        }
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    must(fdsafe_close(sfd));
    restore_mask(SIGUSR1, SIGCHLD, 0);
}

static void test_standard_signals_merge_realtime_ones_queue(void **state) {
    (void)state;
    save_mask();
    int rt = SIGRTMIN + 1;
    fdsafe_sigset s = set_of(SIGUSR2, rt, 0);
    fdsafe_handle sfd;
    must(fdsafe_signalfd_create(&s, FDSAFE_NONBLOCK, &sfd));
    fdsafe_siginfo info[8];
    expect_code(fdsafe_signalfd_read(sfd, info, 8), -EAGAIN);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        kill(parent, SIGUSR2);
        kill(parent, SIGUSR2);
        union sigval one = {.sival_int = 1}, two = {.sival_int = 2};
        sigqueue(parent, rt, one);
        sigqueue(parent, rt, two);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child); /* all four were sent */
    int n = (int)must(fdsafe_signalfd_read(sfd, info, 8));
    int usr2 = 0, rts = 0;
    for (int i = 0; i < n; i++) {
        if (info[i].signo == SIGUSR2) {
            usr2++;
            assert_int_equal(info[i].code, SI_USER);
        } else {
            assert_int_equal(info[i].signo, rt);
            assert_int_equal(info[i].int_value, ++rts); /* in order: 1, then 2 */
        }
    }
    assert_int_equal(usr2, 1); /* two sent, one record: the kernel merges standard signals */
    assert_int_equal(rts, 2);
    expect_code(fdsafe_signalfd_read(sfd, info, 8), -EAGAIN);
    must(fdsafe_close(sfd));
    restore_mask(SIGUSR2, rt, 0);
}

static void test_update_and_epoll(void **state) {
    (void)state;
    save_mask();
    fdsafe_sigset s1 = set_of(SIGUSR1, 0, 0), s2 = set_of(SIGUSR2, 0, 0);
    fdsafe_handle sfd, ep;
    must(fdsafe_signalfd_create(&s1, FDSAFE_NONBLOCK, &sfd));
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_epoll_add(ep, sfd, FDSAFE_EPOLL_IN, 0x516));
    fdsafe_epoll_event ev[1];
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 0);
    must(fdsafe_signalfd_update(sfd, &s2));
    raise(SIGUSR1); /* still blocked (update unblocks nothing), no longer read */
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 0);
    raise(SIGUSR2);
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 1000), 1);
    assert_true(ev[0].handle == sfd && ev[0].user == 0x516);
    fdsafe_siginfo info[2];
    expect_code(fdsafe_signalfd_read(sfd, info, 2), 1);
    assert_int_equal(info[0].signo, SIGUSR2);
    assert_true((pid_t)info[0].pid == getpid());
    assert_int_equal(info[0].code, SI_TKILL);
    sigset_t pending;
    sigpending(&pending);
    assert_int_equal(sigismember(&pending, SIGUSR1), 1);
    must(fdsafe_close(ep));
    must(fdsafe_close(sfd));
    restore_mask(SIGUSR1, SIGUSR2, 0);
}

static void test_block_process_helper(void **state) {
    (void)state;
    save_mask();
    fdsafe_sigset s = set_of(SIGHUP, SIGTERM, 0);
    expect_code(fdsafe_signal_block_process(&s), 1); /* one thread: the whole process */
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    assert_int_equal(sigismember(&now, SIGHUP), 1);
    assert_int_equal(sigismember(&now, SIGTERM), 1);
    expect_code(fdsafe_signal_block_process(NULL), FDSAFE_E_INVALID_ARGUMENT);
    restore_mask(SIGHUP, SIGTERM, 0);
}

static void test_bad_input(void **state) {
    (void)state;
    save_mask();
    fdsafe_sigset s = set_of(SIGUSR1, 0, 0);
    fdsafe_handle sfd, closed, e, h = 0;
    must(fdsafe_signalfd_create(&s, FDSAFE_NONBLOCK, &sfd));
    must(fdsafe_signalfd_create(&s, 0, &closed));
    must(fdsafe_close(closed));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_signalfd_create(NULL, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_create(&s, 0x10, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_create(&s, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);
    expect_code(fdsafe_signalfd_update(sfd, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_update(0, &s), -EBADF);
    expect_code(fdsafe_signalfd_update(closed, &s), -EBADF);
    expect_code(fdsafe_signalfd_update(e, &s), FDSAFE_E_WRONG_KIND);
    fdsafe_siginfo info[1];
    expect_code(fdsafe_signalfd_read(sfd, NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_read(sfd, info, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_read(sfd, info, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signalfd_read(0, info, 1), -EBADF);
    expect_code(fdsafe_signalfd_read(closed, info, 1), -EBADF);
    expect_code(fdsafe_signalfd_read(e, info, 1), FDSAFE_E_WRONG_KIND);
    int efd = eventfd(0, EFD_CLOEXEC);
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_SIGNALFD, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(efd);
    fdsafe_handle copy;
    must(fdsafe_dup(sfd, &copy));
    expect_code(fdsafe_handle_kind(copy), FDSAFE_KIND_SIGNALFD);
    must(fdsafe_close(copy));
    /* Still working after all that. */
    expect_code(fdsafe_signalfd_read(sfd, info, 1), -EAGAIN);
    raise(SIGUSR1);
    expect_code(fdsafe_signalfd_read(sfd, info, 1), 1);
    must(fdsafe_close(e));
    must(fdsafe_close(sfd));
    restore_mask(SIGUSR1, 0, 0);
}

/* A creation that fails leaves the thread's mask as it was: at the descriptor limit
 * signalfd(2) refuses, and the signals it blocked first are unblocked again. */
static void test_failed_create_restores_the_mask(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE is emulated (valgrind keeps descriptors of its own above the soft limit)")) skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = 64;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(2);
        while (fcntl(0, F_DUPFD_CLOEXEC, 0) >= 0) {} /* every number below the limit taken */
        if (errno != EMFILE) _exit(3);
        fdsafe_sigset s = set_of(SIGUSR2, 0, 0);
        fdsafe_handle h = 0;
        if (fdsafe_signalfd_create(&s, 0, &h) != -EMFILE || h != 0) _exit(4);
        sigset_t now;
        pthread_sigmask(SIG_BLOCK, NULL, &now);
        _exit(sigismember(&now, SIGUSR2) ? 5 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_records_from_another_process),
        FD_TEST(test_standard_signals_merge_realtime_ones_queue),
        FD_TEST(test_update_and_epoll),
        FD_TEST(test_block_process_helper),
        FD_TEST(test_bad_input),
        FD_TEST(test_failed_create_restores_the_mask),
    };
    return cmocka_run_group_tests_name("signalfd", tests, NULL, NULL);
}
