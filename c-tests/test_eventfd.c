/* eventfd: counter, semaphore mode, non-blocking mode, adoption, misuse. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void test_counter_adds_and_resets(void **state) {
    (void)state;
    fdsafe_handle e = 0;
    must(fdsafe_eventfd_create(5, 0, &e));
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(e))), 1);
    must(fdsafe_eventfd_write(e, 10));
    uint64_t v = 0;
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 15);
    expect_code(fdsafe_wait(e, FDSAFE_EVENT_IN, 0), 0); /* read emptied it */
    must(fdsafe_close(e));
}

static void test_semaphore_mode_takes_one_at_a_time(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(2, FDSAFE_EVENTFD_SEMAPHORE | FDSAFE_NONBLOCK, &e));
    uint64_t v = 0;
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 1);
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 1);
    v = 99;
    expect_code(fdsafe_eventfd_read(e, &v), -EAGAIN);
    assert_int_equal(v, 99); /* out-param untouched on failure */
    must(fdsafe_close(e));
}

static void test_kernel_limits_pass_through(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &e));
    expect_code(fdsafe_eventfd_write(e, UINT64_MAX), -EINVAL);
    must(fdsafe_eventfd_write(e, UINT64_MAX - 1));
    expect_code(fdsafe_eventfd_write(e, 1), -EAGAIN); /* would overflow */
    must(fdsafe_close(e));
}

static void test_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle e = 0, r, w;
    expect_code(fdsafe_eventfd_create(0, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_eventfd_create(0, 1u << 9, &e), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_eventfd_create(0, UINT32_MAX, &e), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(e, 0);
    must(fdsafe_eventfd_create(1, 0, &e));
    expect_code(fdsafe_eventfd_read(e, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_wait(e, FDSAFE_EVENT_IN, 0), FDSAFE_EVENT_IN); /* nothing consumed */
    must(fdsafe_pipe_create(0, &r, &w));
    uint64_t v;
    expect_code(fdsafe_eventfd_read(r, &v), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_eventfd_write(w, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_eventfd_read(0, &v), -EBADF);
    must(fdsafe_close(e));
    expect_code(fdsafe_eventfd_read(e, &v), -EBADF);
    expect_code(fdsafe_eventfd_write(e, 1), -EBADF);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_generic_io_works_on_eventfd(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    uint64_t one = 1, got = 0;
    expect_code(fdsafe_write(e, &one, sizeof one), 8);
    expect_code(fdsafe_read(e, &got, sizeof got), 8);
    assert_int_equal(got, 1);
    expect_code(fdsafe_write(e, &one, 4), -EINVAL); /* the kernel wants 8 bytes */
    must(fdsafe_close(e));
}

static void test_adopting_a_raw_eventfd(void **state) {
    (void)state;
    int raw = eventfd(7, 0);
    assert_true(raw >= 0);
    assert_int_equal(fd_is_cloexec(raw), 0);
    fdsafe_handle e;
    must(fdsafe_fd_adopt(raw, FDSAFE_KIND_EVENTFD, &e));
    assert_int_equal(fd_is_cloexec(raw), 1);
    uint64_t v;
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 7);
    must(fdsafe_close(e));
    assert_false(fd_is_open(raw));
}

/* A signal handler wakes an event loop with fdsafe_eventfd_write (documented as
 * async-signal-safe), and creates and closes handles of its own, while the thread it interrupts
 * creates, uses and closes handles: every wake-up arrives, and no handle of either names
 * another's slot. (A handler that interrupted the table's per-thread cache of freed slots
 * used to take the slot being taken, and both handles died with their descriptors leaked.) */
static fdsafe_handle wake;
static atomic_int handler_runs, handler_failures;
static fdsafe_handle handler_ring[4];

static void waking_handler(int sig) {
    (void)sig;
    int run = atomic_fetch_add(&handler_runs, 1);
    if (fdsafe_eventfd_write(wake, 1) != 0) atomic_fetch_add(&handler_failures, 1);
    fdsafe_handle *mine = &handler_ring[run % 4];
    if (*mine && fdsafe_close(*mine) != 0) atomic_fetch_add(&handler_failures, 1);
    *mine = 0;
    if (fdsafe_eventfd_create(0, 0, mine) != 0) atomic_fetch_add(&handler_failures, 1);
}

struct signaller {
    pthread_t target;
    atomic_int done;
};

static void *signal_for_a_while(void *arg) {
    struct signaller *s = arg;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int sent = 0; sent < 200000; sent++) {
        pthread_kill(s->target, SIGUSR1);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 2) break;
    }
    atomic_store(&s->done, 1);
    return NULL;
}

static void test_a_signal_handler_wakes_a_loop_and_makes_handles(void **state) {
    (void)state;
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &wake));
    struct sigaction on = {.sa_handler = waking_handler, .sa_flags = SA_RESTART}, old;
    sigemptyset(&on.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &on, &old), 0);
    struct signaller s = {.target = pthread_self()};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, signal_for_a_while, &s), 0);
    uint64_t woken = 0, made = 0;
    while (!atomic_load(&s.done)) {
        fdsafe_handle e;
        uint64_t v = 0;
        must(fdsafe_eventfd_create((uint32_t)(made % 1000 + 1), FDSAFE_NONBLOCK, &e));
        must(fdsafe_eventfd_read(e, &v));
        assert_true(v == made % 1000 + 1); /* its own eventfd, not the handler's */
        must(fdsafe_close(e));
        made++;
        if (fdsafe_eventfd_read(wake, &v) == 0) woken += v;
    }
    pthread_join(t, NULL);
    assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
    uint64_t v;
    if (fdsafe_eventfd_read(wake, &v) == 0) woken += v;
    assert_int_equal(atomic_load(&handler_failures), 0);
    assert_true(woken == (uint64_t)atomic_load(&handler_runs));
    for (int i = 0; i < 4; i++)
        if (handler_ring[i]) must(fdsafe_close(handler_ring[i]));
    must(fdsafe_close(wake));
    printf("    %llu handles made and closed by the loop, %d handler runs\n", (unsigned long long)made,
           atomic_load(&handler_runs));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_counter_adds_and_resets),
        FD_TEST(test_semaphore_mode_takes_one_at_a_time),
        FD_TEST(test_kernel_limits_pass_through),
        FD_TEST(test_bad_arguments),
        FD_TEST(test_generic_io_works_on_eventfd),
        FD_TEST(test_adopting_a_raw_eventfd),
        FD_TEST(test_a_signal_handler_wakes_a_loop_and_makes_handles),
    };
    return cmocka_run_group_tests_name("eventfd", tests, NULL, NULL);
}
