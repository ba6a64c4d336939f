/* Error names, descriptions and the thread-local last error message. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void test_names_and_descriptions(void **state) {
    (void)state;
    assert_string_equal(fdsafe_error_name(-EAGAIN), "EAGAIN");
    assert_string_equal(fdsafe_error_name(-EBADF), "EBADF");
    assert_string_equal(fdsafe_error_name(FDSAFE_E_WRONG_KIND), "FDSAFE_E_WRONG_KIND");
    assert_string_equal(fdsafe_error_name(FDSAFE_E_INVALID_ARGUMENT), "FDSAFE_E_INVALID_ARGUMENT");
    assert_string_equal(fdsafe_error_name(FDSAFE_E_BUFFER_TOO_SMALL), "FDSAFE_E_BUFFER_TOO_SMALL");
    assert_string_equal(fdsafe_error_name(FDSAFE_E_INTERNAL), "FDSAFE_E_INTERNAL");
    assert_string_equal(fdsafe_error_name(0), "OK");
    assert_string_equal(fdsafe_error_name(17), "OK");
    assert_string_equal(fdsafe_error_name(-4095), "UNKNOWN");
    assert_string_equal(fdsafe_error_name(-20000), "UNKNOWN");
    assert_string_equal(fdsafe_error_name(INT32_MIN), "UNKNOWN");
    assert_string_equal(fdsafe_strerror(-EBADF), "Bad file descriptor");
    assert_string_equal(fdsafe_strerror(FDSAFE_E_WRONG_KIND), "Handle of the wrong kind for this operation");
    assert_string_equal(fdsafe_strerror(0), "Success");
    assert_string_equal(fdsafe_strerror(-20000), "Unknown error");
    /* Library codes stay clear of the errno range. */
    assert_true(FDSAFE_E_WRONG_KIND < -4095 && FDSAFE_E_INTERNAL < -4095);
}

static void test_last_error_names_the_call_and_truncates_safely(void **state) {
    (void)state;
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_eventfd_write(r, 1), FDSAFE_E_WRONG_KIND);
    int needed = (int)must(fdsafe_last_error(NULL, 0));
    char full[256];
    expect_code(fdsafe_last_error(full, sizeof full), needed);
    assert_int_equal((int)strlen(full) + 1, needed);
    assert_string_equal(full,
        "fdsafe_eventfd_write: wrong kind of handle: this is a pipe handle, the operation needs an eventfd");
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    expect_code(fdsafe_last_error(tiny, sizeof tiny), needed);
    assert_string_equal(tiny, "fdsafe_"); /* truncated, still terminated */
    /* A misuse of fdsafe_last_error itself leaves the message to be read. */
    expect_code(fdsafe_last_error(NULL, 5), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_last_error(NULL, 0), needed);
    /* Success leaves the message alone; the next failure replaces it. */
    must(fdsafe_write(w, "x", 1));
    expect_code(fdsafe_last_error(full, sizeof full), needed);
    expect_code(fdsafe_close(0), -EBADF);
    fdsafe_last_error(full, sizeof full);
    assert_non_null(strstr(full, "fdsafe_close: "));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void *fail_in_thread(void *arg) {
    (void)arg;
    fdsafe_close(0);
    static char message[128];
    fdsafe_last_error(message, sizeof message);
    return message;
}

static void test_each_thread_has_its_own_message(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    uint64_t v;
    expect_code(fdsafe_eventfd_read(e, NULL), FDSAFE_E_INVALID_ARGUMENT);
    pthread_t thread;
    void *theirs;
    assert_int_equal(pthread_create(&thread, NULL, fail_in_thread, NULL), 0);
    pthread_join(thread, &theirs);
    assert_string_equal((char *)theirs, "fdsafe_close: the invalid handle 0 (FDSAFE_INVALID_HANDLE)");
    char mine[128];
    fdsafe_last_error(mine, sizeof mine);
    assert_string_equal(mine, "fdsafe_eventfd_read: invalid argument: value_out is NULL");
    (void)v;
    must(fdsafe_close(e));
}

/* The message of a kernel error, which fdsafe keeps unformatted until asked for it: the
 * errno's text, with the context the call gave (here a path), as strerror words it. */
static void test_kernel_errors_read_as_the_kernel_words_them(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &e));
    uint64_t v;
    expect_code(fdsafe_eventfd_read(e, &v), -EAGAIN);
    must(fdsafe_eventfd_write(e, 1)); /* a success in between changes nothing */
    char message[256];
    fdsafe_last_error(message, sizeof message);
    char expected[256];
    snprintf(expected, sizeof expected, "fdsafe_eventfd_read: %s (os error %d)", strerror(EAGAIN), EAGAIN);
    assert_string_equal(message, expected);
    fdsafe_handle f;
    expect_code(fdsafe_file_open("/nonexistent-fdsafe-dir/x", FDSAFE_O_RDONLY, 0, &f), -ENOENT);
    fdsafe_last_error(message, sizeof message);
    assert_non_null(strstr(message, "/nonexistent-fdsafe-dir/x"));
    assert_non_null(strstr(message, strerror(ENOENT)));
    must(fdsafe_close(e));
}

static void test_loaded_version_matches_the_header(void **state) {
    (void)state;
    assert_int_equal(fdsafe_version_number(), FDSAFE_VERSION_NUMBER);
    assert_string_equal(fdsafe_version_string(), FDSAFE_VERSION_STRING);
    assert_int_equal(FDSAFE_VERSION_NUMBER,
                     FDSAFE_VERSION_MAJOR * 10000 + FDSAFE_VERSION_MINOR * 100 + FDSAFE_VERSION_PATCH);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_names_and_descriptions),
        FD_TEST(test_last_error_names_the_call_and_truncates_safely),
        FD_TEST(test_each_thread_has_its_own_message),
        FD_TEST(test_kernel_errors_read_as_the_kernel_words_them),
        FD_TEST(test_loaded_version_matches_the_header),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
