/* POSIX message queues: open/create/exclusive with mode and attributes, priorities, timed
 * send and receive, attributes and non-blocking mode, unlink, signal notification read from
 * a signalfd, polling in epoll, name validation and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static char qname[64];

static int make_name(void **state) {
    static int counter;
    snprintf(qname, sizeof qname, "/fdsafe-test-%d-%d", (int)getpid(), ++counter);
    return fd_snapshot(state);
}

static int drop_queue(void **state) {
    fdsafe_mq_unlink(qname); /* may already be gone */
    return fd_check(state);
}

#define MQ_TEST(fn) cmocka_unit_test_setup_teardown(fn, make_name, drop_queue)

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static fdsafe_handle open_new(uint32_t extra, int64_t maxmsg, int64_t msgsize) {
    fdsafe_mq_attr attr = {.max_messages = maxmsg, .message_size = msgsize};
    fdsafe_handle q;
    must(fdsafe_mq_open(qname, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_EXCL | extra,
                        0600, &attr, &q));
    return q;
}

static void test_create_send_receive_priorities(void **state) {
    (void)state;
    fdsafe_handle q = open_new(0, 4, 64);
    expect_code(fdsafe_handle_kind(q), FDSAFE_KIND_MQUEUE);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(q))), 1);
    fdsafe_mq_attr a;
    must(fdsafe_mq_get_attr(q, &a));
    assert_true(a.max_messages == 4 && a.message_size == 64 && a.current_messages == 0 && a.nonblocking == 0);

    expect_code(fdsafe_mq_send(q, "low", 3, 1, -1), 0);
    expect_code(fdsafe_mq_send(q, "high", 4, 9, -1), 0);
    expect_code(fdsafe_mq_send(q, "low2", 4, 1, -1), 0);
    must(fdsafe_mq_get_attr(q, &a));
    assert_true(a.current_messages == 3);
    char buf[64];
    unsigned prio = 0;
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, &prio, -1), 4);
    assert_memory_equal(buf, "high", 4);
    assert_int_equal(prio, 9);
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, &prio, -1), 3);
    assert_memory_equal(buf, "low", 3);
    assert_int_equal(prio, 1);
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1), 4);
    assert_memory_equal(buf, "low2", 4);

    /* A second opener, write-only, reaches the same queue; exclusive create refuses. */
    fdsafe_handle w, again = 0;
    must(fdsafe_mq_open(qname, FDSAFE_O_WRONLY, 0, NULL, &w));
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, NULL, &again), -EEXIST);
    assert_true(again == 0);
    expect_code(fdsafe_mq_send(w, "", 0, 0, -1), 0); /* empty messages are fine */
    expect_code(fdsafe_mq_receive(w, buf, sizeof buf, NULL, 0), -EBADF); /* not opened for reading */
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1), 0);
    char big[65] = {0};
    expect_code(fdsafe_mq_send(q, big, sizeof big, 0, -1), -EMSGSIZE); /* above the message size */
    expect_code(fdsafe_mq_receive(q, buf, 63, NULL, 0), -EMSGSIZE); /* buffer below message size */
    must(fdsafe_close(w));

    expect_code(fdsafe_mq_unlink(qname), 0);
    expect_code(fdsafe_mq_unlink(qname), -ENOENT);
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY, 0, NULL, &again), -ENOENT);
    expect_code(fdsafe_mq_send(q, "still", 5, 0, -1), 0); /* open descriptors keep it alive */
    must(fdsafe_close(q));
}

static void test_kernel_limit_on_message_count(void **state) {
    (void)state;
    fdsafe_mq_attr attr = {.max_messages = 11, .message_size = 16};
    fdsafe_handle q = 0;
    int rc = fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_CREAT, 0600, &attr, &q);
    if (rc == 0) {
        printf("this kernel allows more than 10 messages (fs.mqueue.msg_max raised)\n");
        must(fdsafe_close(q));
        return;
    }
    expect_code(rc, -EINVAL); /* fs.mqueue.msg_max is 10 here, even for root */
    assert_true(q == 0);
    attr.max_messages = 10;
    must(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_CREAT, 0600, &attr, &q));
    must(fdsafe_close(q));
}

static void test_timed_and_nonblocking(void **state) {
    (void)state;
    fdsafe_handle q = open_new(0, 1, 16);
    char buf[16];
    int64_t start = now_ns();
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, NULL, 20 * MS), -ETIMEDOUT);
    assert_true(now_ns() - start >= 20 * MS);
    must(fdsafe_mq_send(q, "a", 1, 0, 0));
    start = now_ns();
    expect_code(fdsafe_mq_send(q, "b", 1, 0, 20 * MS), -ETIMEDOUT); /* full */
    assert_true(now_ns() - start >= 20 * MS);

    fdsafe_mq_attr nb = {.nonblocking = 1}, old;
    must(fdsafe_mq_set_attr(q, &nb, &old));
    assert_int_equal(old.nonblocking, 0);
    assert_true(old.current_messages == 1);
    expect_code(fdsafe_mq_send(q, "b", 1, 0, -1), -EAGAIN);
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1), 1);
    expect_code(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1), -EAGAIN);
    fdsafe_mq_attr now;
    must(fdsafe_mq_get_attr(q, &now));
    assert_int_equal(now.nonblocking, 1);
    expect_code(fdsafe_nonblocking_get(q), 1); /* the same flag as the generic one */
    fdsafe_mq_attr block = {0};
    must(fdsafe_mq_set_attr(q, &block, NULL));
    expect_code(fdsafe_nonblocking_get(q), 0);
    must(fdsafe_close(q));

    fdsafe_handle q2;
    must(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_NONBLOCK, 0, NULL, &q2));
    expect_code(fdsafe_mq_receive(q2, buf, sizeof buf, NULL, -1), -EAGAIN);
    must(fdsafe_close(q2));
}

static void test_in_epoll(void **state) {
    (void)state;
    fdsafe_handle q = open_new(0, 2, 16), ep;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_epoll_add(ep, q, FDSAFE_EPOLL_IN, 0x3e));
    fdsafe_epoll_event ev[1];
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 0);
    must(fdsafe_mq_send(q, "ping", 4, 0, -1));
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 1000), 1);
    assert_true(ev[0].handle == q && ev[0].user == 0x3e && ev[0].events == FDSAFE_EPOLL_IN);
    must(fdsafe_epoll_modify(ep, q, FDSAFE_EPOLL_OUT, 0x3f));
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 1); /* room for one more */
    must(fdsafe_mq_send(q, "pong", 4, 0, -1));
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 0); /* full: not writable */
    must(fdsafe_close(q));
    expect_code(fdsafe_epoll_count(ep), 0);
    must(fdsafe_close(ep));
}

static void test_signal_notification_via_signalfd(void **state) {
    (void)state;
    sigset_t saved;
    pthread_sigmask(SIG_BLOCK, NULL, &saved);
    fdsafe_sigset s;
    must(fdsafe_sigset_empty(&s));
    must(fdsafe_sigset_add(&s, SIGUSR1));
    fdsafe_handle sfd, q = open_new(0, 2, 16);
    must(fdsafe_signalfd_create(&s, FDSAFE_NONBLOCK, &sfd));
    expect_code(fdsafe_mq_notify_signal(q, SIGUSR1, 77), 0);
    expect_code(fdsafe_mq_notify_signal(q, SIGUSR1, 78), -EBUSY); /* one registration per queue */
    must(fdsafe_mq_send(q, "x", 1, 0, -1));
    fdsafe_siginfo info[2];
    expect_code(fdsafe_signalfd_read(sfd, info, 2), 1);
    assert_int_equal(info[0].signo, SIGUSR1);
    assert_int_equal(info[0].code, SI_MESGQ);
    assert_int_equal(info[0].int_value, 77);
    assert_true((pid_t)info[0].pid == getpid());
    /* Used up: another arrival (on a non-empty queue, too) sends nothing. */
    char buf[16];
    must(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1));
    must(fdsafe_mq_send(q, "y", 1, 0, -1));
    expect_code(fdsafe_signalfd_read(sfd, info, 2), -EAGAIN);
    must(fdsafe_mq_receive(q, buf, sizeof buf, NULL, -1));
    /* Register, then remove: nothing comes. */
    must(fdsafe_mq_notify_signal(q, SIGUSR1, 79));
    expect_code(fdsafe_mq_notify_none(q), 0);
    must(fdsafe_mq_send(q, "z", 1, 0, -1));
    expect_code(fdsafe_signalfd_read(sfd, info, 2), -EAGAIN);
    must(fdsafe_close(sfd));
    must(fdsafe_close(q));
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
}

static void test_names_are_validated(void **state) {
    (void)state;
    char long_name[300];
    long_name[0] = '/';
    memset(long_name + 1, 'q', 256);
    long_name[257] = 0; /* 256 characters after the slash: one too many */
    const char *bad[] = {"noslash", "/", "/a/b", "//", "/.", "/..", long_name, ""};
    fdsafe_handle q = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_code(fdsafe_mq_open(bad[i], FDSAFE_O_RDONLY | FDSAFE_O_CREAT, 0600, NULL, &q), FDSAFE_E_INVALID_ARGUMENT);
        expect_code(fdsafe_mq_unlink(bad[i]), FDSAFE_E_INVALID_ARGUMENT);
    }
    assert_true(q == 0);
    long_name[256] = 0; /* 255: the longest allowed */
    must(fdsafe_mq_open(long_name, FDSAFE_O_RDONLY | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, NULL, &q));
    must(fdsafe_close(q));
    expect_code(fdsafe_mq_unlink(long_name), 0);
}

static void test_bad_input(void **state) {
    (void)state;
    fdsafe_handle q = open_new(FDSAFE_NONBLOCK, 2, 16), closed, e, h = 0;
    must(fdsafe_mq_open(qname, FDSAFE_O_RDONLY, 0, NULL, &closed));
    must(fdsafe_close(closed));
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_mq_attr attr = {.max_messages = 2, .message_size = 16}, zero = {0};
    expect_code(fdsafe_mq_open(NULL, FDSAFE_O_RDONLY, 0, NULL, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY, 0, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_open(qname, 0x100, 0, NULL, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_open(qname, 3, 0, NULL, &h), FDSAFE_E_INVALID_ARGUMENT); /* access mode 3 */
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_EXCL, 0, NULL, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_CREAT, 010000, &attr, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_open(qname, FDSAFE_O_RDONLY | FDSAFE_O_CREAT, 0600, &zero, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);
    /* Without FDSAFE_O_CREAT the mode and attributes are ignored, as by mq_open(3). */
    must(fdsafe_mq_open(qname, FDSAFE_O_RDONLY, 010000, &zero, &h));
    must(fdsafe_close(h));
    h = 0;
    expect_code(fdsafe_mq_unlink(NULL), FDSAFE_E_INVALID_ARGUMENT);

    char buf[16];
    expect_code(fdsafe_mq_send(q, NULL, 1, 0, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_send(q, buf, SIZE_MAX, 0, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_send(q, "x", 1, 1u << 20, -1), -EINVAL); /* priority too high */
    expect_code(fdsafe_mq_send(0, "x", 1, 0, -1), -EBADF);
    expect_code(fdsafe_mq_send(closed, "x", 1, 0, -1), -EBADF);
    expect_code(fdsafe_mq_send(e, "x", 1, 0, -1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_mq_receive(q, NULL, 16, NULL, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_receive(q, buf, SIZE_MAX, NULL, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_receive(0, buf, 16, NULL, -1), -EBADF);
    expect_code(fdsafe_mq_receive(closed, buf, 16, NULL, -1), -EBADF);
    expect_code(fdsafe_mq_receive(e, buf, 16, NULL, -1), FDSAFE_E_WRONG_KIND);
    fdsafe_mq_attr a = {.nonblocking = 2};
    expect_code(fdsafe_mq_get_attr(q, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_get_attr(0, &a), -EBADF);
    expect_code(fdsafe_mq_get_attr(closed, &a), -EBADF);
    expect_code(fdsafe_mq_set_attr(0, &zero, NULL), -EBADF);
    expect_code(fdsafe_mq_notify_signal(closed, SIGUSR1, 0), -EBADF);
    expect_code(fdsafe_mq_notify_none(0), -EBADF);
    expect_code(fdsafe_mq_get_attr(e, &a), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_mq_set_attr(q, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_set_attr(q, &a, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_set_attr(closed, &zero, NULL), -EBADF);
    expect_code(fdsafe_mq_set_attr(e, &zero, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_mq_notify_signal(q, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_notify_signal(q, 65, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mq_notify_signal(0, SIGUSR1, 0), -EBADF);
    expect_code(fdsafe_mq_notify_signal(e, SIGUSR1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_mq_notify_none(closed), -EBADF);
    expect_code(fdsafe_mq_notify_none(e), FDSAFE_E_WRONG_KIND);
    int efd = eventfd(0, EFD_CLOEXEC);
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_MQUEUE, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(efd);
    fdsafe_handle copy;
    must(fdsafe_dup(q, &copy));
    expect_code(fdsafe_handle_kind(copy), FDSAFE_KIND_MQUEUE);
    /* Nothing changed: still non-blocking and empty, and it works. */
    expect_code(fdsafe_mq_receive(copy, buf, 16, NULL, -1), -EAGAIN);
    must(fdsafe_mq_send(q, "ok", 2, 0, -1));
    expect_code(fdsafe_mq_receive(copy, buf, 16, NULL, -1), 2);
    must(fdsafe_close(copy));
    must(fdsafe_close(e));
    must(fdsafe_close(q));
}

/* In a child: a private mount namespace with an mqueue file system mounted on a new
 * directory, whose path goes to `dir`. Returns 0, or the errno that refused. */
static int mount_mqueue(void *dir) {
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
        mkdtemp(dir) == NULL || mount("none", dir, "mqueue", 0, NULL) != 0)
        return errno;
    return 0;
}

static void open_queue_by_path(void *dir) {
    fdsafe_handle q, by_path;
    char path[160], got[16384] = {0}; /* room for the default message size */
    snprintf(path, sizeof path, "%s%s", (char *)dir, qname);
    int created = fdsafe_mq_open(qname, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, NULL, &q) == 0;
    int opened = created && fdsafe_file_open(path, FDSAFE_O_RDWR, 0, &by_path) == 0;
    int is_queue = opened && fdsafe_handle_kind(by_path) == FDSAFE_KIND_MQUEUE;
    int works = is_queue && fdsafe_mq_send(by_path, "hi", 2, 0, -1) == 0 &&
                fdsafe_mq_receive(q, got, sizeof got, NULL, 0) == 2 && memcmp(got, "hi", 2) == 0;
    /* The queue outlives this mount namespace: clean up before any check can exit. */
    fdsafe_mq_unlink(qname);
    umount2(dir, MNT_DETACH);
    rmdir(dir);
    CHILD_CHECK(created);
    CHILD_CHECK(opened);
    CHILD_CHECK(is_queue);
    CHILD_CHECK(works);
}

/* A queue reached by path through a mounted mqueue file system is a message queue (fstat
 * calls it a regular file): fdsafe_file_open gives an FDSAFE_KIND_MQUEUE handle. Mounting
 * needs a mount namespace of its own, made in a child; where the kernel refuses one, the test
 * skips with its reason. */
static void test_a_queue_opened_by_path_is_a_message_queue(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-mq-XXXXXX";
    run_in_child(mount_mqueue, open_queue_by_path, dir, "a mount namespace with an mqueue file system");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MQ_TEST(test_create_send_receive_priorities),
        MQ_TEST(test_kernel_limit_on_message_count),
        MQ_TEST(test_timed_and_nonblocking),
        MQ_TEST(test_in_epoll),
        MQ_TEST(test_signal_notification_via_signalfd),
        MQ_TEST(test_names_are_validated),
        MQ_TEST(test_bad_input),
        MQ_TEST(test_a_queue_opened_by_path_is_a_message_queue),
    };
    return cmocka_run_group_tests_name("mqueue", tests, NULL, NULL);
}
