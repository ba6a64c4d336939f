/* eventfd: counter, semaphore mode, non-blocking mode, adoption, misuse. */
#include "harness.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_counter_adds_and_resets),
        FD_TEST(test_semaphore_mode_takes_one_at_a_time),
        FD_TEST(test_kernel_limits_pass_through),
        FD_TEST(test_bad_arguments),
        FD_TEST(test_generic_io_works_on_eventfd),
        FD_TEST(test_adopting_a_raw_eventfd),
    };
    return cmocka_run_group_tests_name("eventfd", tests, NULL, NULL);
}
