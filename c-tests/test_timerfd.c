/* timerfd: clocks, relative and absolute arming, interval timers, time left, expiration
 * counts, cancel-on-set for the realtime clock, polling in epoll, and misuse. */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static int64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_one_shot_relative(void **state) {
    (void)state;
    fdsafe_handle t;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &t));
    expect_code(fdsafe_handle_kind(t), FDSAFE_KIND_TIMERFD);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(t))), 1);
    fdsafe_timer_value v = {-1, -1};
    must(fdsafe_timerfd_get(t, &v));
    assert_true(v.value_ns == 0 && v.interval_ns == 0); /* created disarmed */

    int64_t start = clock_ns(CLOCK_MONOTONIC);
    expect_code(fdsafe_timerfd_set(t, 0, 20 * MS, 0, NULL), 0);
    must(fdsafe_timerfd_get(t, &v));
    assert_true(v.value_ns > 0 && v.value_ns <= 20 * MS && v.interval_ns == 0);
    uint64_t count = 0;
    expect_code(fdsafe_timerfd_read(t, &count), 0); /* blocks until it fires */
    assert_true(count == 1);
    assert_true(clock_ns(CLOCK_MONOTONIC) - start >= 20 * MS);
    must(fdsafe_timerfd_get(t, &v));
    assert_true(v.value_ns == 0); /* one-shot: disarmed again */
    must(fdsafe_close(t));
}

static void test_interval_counts_and_old_value(void **state) {
    (void)state;
    fdsafe_handle t;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_BOOTTIME, FDSAFE_NONBLOCK, &t));
    uint64_t count = 99;
    expect_code(fdsafe_timerfd_read(t, &count), -EAGAIN);
    assert_true(count == 99);
    must(fdsafe_timerfd_set(t, 0, 5 * MS, 5 * MS, NULL));
    usleep(40 * 1000);
    expect_code(fdsafe_timerfd_read(t, &count), 0);
    assert_true(count >= 5); /* at least 7 periods passed; allow scheduling slack */
    fdsafe_timer_value old = {0, 0};
    must(fdsafe_timerfd_set(t, 0, 0, 0, &old)); /* disarm, and learn the previous setting */
    assert_true(old.interval_ns == 5 * MS);
    assert_true(old.value_ns > 0 && old.value_ns <= 5 * MS);
    usleep(10 * 1000);
    expect_code(fdsafe_timerfd_read(t, &count), -EAGAIN);
    must(fdsafe_close(t));
}

static void test_absolute_arming(void **state) {
    (void)state;
    fdsafe_handle t;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &t));
    int64_t at = clock_ns(CLOCK_MONOTONIC) + 15 * MS;
    must(fdsafe_timerfd_set(t, FDSAFE_TIMERFD_ABSTIME, at, 0, NULL));
    uint64_t count;
    expect_code(fdsafe_timerfd_read(t, &count), 0);
    assert_true(count == 1);
    assert_true(clock_ns(CLOCK_MONOTONIC) >= at);
    /* A time in the past fires at once. */
    must(fdsafe_timerfd_set(t, FDSAFE_TIMERFD_ABSTIME, 1, 0, NULL));
    expect_code(fdsafe_timerfd_read(t, &count), 0);
    assert_true(count == 1);
    must(fdsafe_close(t));
}

static void test_cancel_on_set_is_its_own_result(void **state) {
    (void)state;
    fdsafe_handle t;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_REALTIME, FDSAFE_NONBLOCK, &t));
    expect_code(fdsafe_timerfd_set(t, FDSAFE_TIMERFD_CANCEL_ON_SET, 3600000 * MS, 0, NULL), FDSAFE_E_INVALID_ARGUMENT); /* needs ABSTIME */
    must(fdsafe_timerfd_set(t, FDSAFE_TIMERFD_ABSTIME | FDSAFE_TIMERFD_CANCEL_ON_SET,
                            clock_ns(CLOCK_REALTIME) + 3600000 * MS, 0, NULL));
    /* Setting the clock to what it reads (a jump of microseconds) counts as a change. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (clock_settime(CLOCK_REALTIME, &now) != 0) {
        printf("skipping cancel-on-set: clock_settime: %s (needs CAP_SYS_TIME)\n", strerror(errno));
        must(fdsafe_close(t));
        skip();
    }
    uint64_t count = 77;
    expect_code(fdsafe_timerfd_read(t, &count), FDSAFE_TIMERFD_CANCELED);
    assert_true(count == 0);
    /* A monotonic timer refuses the flag (the kernel would take it and never cancel). */
    fdsafe_handle m;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &m));
    expect_code(fdsafe_timerfd_set(m, FDSAFE_TIMERFD_ABSTIME | FDSAFE_TIMERFD_CANCEL_ON_SET, 1, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(m));
    must(fdsafe_close(t));
}

static void test_alarm_clocks(void **state) {
    (void)state;
    int clocks[] = {FDSAFE_CLOCK_BOOTTIME_ALARM, FDSAFE_CLOCK_REALTIME_ALARM};
    for (int i = 0; i < 2; i++) {
        fdsafe_handle t;
        int rc = fdsafe_timerfd_create(clocks[i], 0, &t);
        if (rc == -EPERM) {
            printf("alarm clock %d: EPERM (no CAP_WAKE_ALARM); creation refused as documented\n", clocks[i]);
            continue;
        }
        expect_code(rc, 0);
        must(fdsafe_timerfd_set(t, 0, 5 * MS, 0, NULL));
        uint64_t count;
        expect_code(fdsafe_timerfd_read(t, &count), 0);
        assert_true(count == 1);
        must(fdsafe_close(t));
    }
}

static void test_in_epoll(void **state) {
    (void)state;
    fdsafe_handle ep, t;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &t));
    must(fdsafe_epoll_add(ep, t, FDSAFE_EPOLL_IN, 0x7117));
    fdsafe_epoll_event ev[1];
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 0), 0);
    must(fdsafe_timerfd_set(t, 0, 5 * MS, 0, NULL));
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 2000), 1);
    assert_true(ev[0].handle == t && ev[0].user == 0x7117);
    must(fdsafe_close(t));
    must(fdsafe_close(ep));
}

static void test_adopt_and_dup(void **state) {
    (void)state;
    fdsafe_handle t, t2;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &t));
    must(fdsafe_dup(t, &t2));
    expect_code(fdsafe_handle_kind(t2), FDSAFE_KIND_TIMERFD);
    must(fdsafe_timerfd_set(t, 0, 3600000 * MS, 0, NULL));
    fdsafe_timer_value v;
    must(fdsafe_timerfd_get(t2, &v)); /* the same timer */
    assert_true(v.value_ns > 0);
    /* The duplicate learned its clock from the kernel: monotonic, so no cancel-on-set. */
    expect_code(fdsafe_timerfd_set(t2, FDSAFE_TIMERFD_ABSTIME | FDSAFE_TIMERFD_CANCEL_ON_SET, 1, 0, NULL),
                FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle rt, rt2;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_REALTIME, 0, &rt));
    must(fdsafe_dup(rt, &rt2));
    expect_code(fdsafe_timerfd_set(rt2, FDSAFE_TIMERFD_ABSTIME | FDSAFE_TIMERFD_CANCEL_ON_SET,
                                   clock_ns(CLOCK_REALTIME) + 3600000 * MS, 0, NULL), 0);
    must(fdsafe_close(rt2));
    must(fdsafe_close(rt));
    must(fdsafe_close(t2));
    int efd = eventfd(0, EFD_CLOEXEC);
    fdsafe_handle bad = 0;
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_TIMERFD, &bad), FDSAFE_E_INVALID_ARGUMENT);
    close(efd);
    must(fdsafe_close(t));
}

static void test_bad_input(void **state) {
    (void)state;
    fdsafe_handle t, closed, e;
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, FDSAFE_NONBLOCK, &t));
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &closed));
    must(fdsafe_close(closed));
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_handle h = 0;
    expect_code(fdsafe_timerfd_create(2 /* CLOCK_PROCESS_CPUTIME_ID */, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_create(-1, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0x10, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);

    fdsafe_timer_value v = {123, 456};
    expect_code(fdsafe_timerfd_set(t, 0x8, 1 * MS, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_set(t, 0, -1, 0, &v), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_set(t, 0, 1 * MS, -5, &v), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(v.value_ns == 123 && v.interval_ns == 456);
    expect_code(fdsafe_timerfd_set(0, 0, 1 * MS, 0, NULL), -EBADF);
    expect_code(fdsafe_timerfd_set(closed, 0, 1 * MS, 0, NULL), -EBADF);
    expect_code(fdsafe_timerfd_set(e, 0, 1 * MS, 0, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_timerfd_get(t, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_get(0, &v), -EBADF);
    expect_code(fdsafe_timerfd_get(closed, &v), -EBADF);
    expect_code(fdsafe_timerfd_get(e, &v), FDSAFE_E_WRONG_KIND);
    uint64_t count = 5;
    expect_code(fdsafe_timerfd_read(t, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_timerfd_read(0, &count), -EBADF);
    expect_code(fdsafe_timerfd_set(t, 0, 1 * MS, 0, (fdsafe_timer_value *)((char *)&v + 1)), FDSAFE_E_INVALID_ARGUMENT); /* misaligned */
    expect_code(fdsafe_timerfd_read(closed, &count), -EBADF);
    expect_code(fdsafe_timerfd_read(e, &count), FDSAFE_E_WRONG_KIND);
    assert_true(count == 5);
    /* Nothing was armed by the refused calls. */
    must(fdsafe_timerfd_get(t, &v));
    assert_true(v.value_ns == 0 && v.interval_ns == 0);
    must(fdsafe_close(e));
    must(fdsafe_close(t));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_one_shot_relative),
        FD_TEST(test_interval_counts_and_old_value),
        FD_TEST(test_absolute_arming),
        FD_TEST(test_cancel_on_set_is_its_own_result),
        FD_TEST(test_alarm_clocks),
        FD_TEST(test_in_epoll),
        FD_TEST(test_adopt_and_dup),
        FD_TEST(test_bad_input),
    };
    return cmocka_run_group_tests_name("timerfd", tests, NULL, NULL);
}
