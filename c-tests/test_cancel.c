/* Thread cancellation: a cancelled thread inside an fdsafe call is not unwound there (which
 * would abort the process: Rust frames cannot be unwound by a cancellation). The call finishes
 * normally, and the cancellation acts at the thread's next cancellation point outside fdsafe. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <stdatomic.h>
#include <unistd.h>

/* The thread bodies are left out of AddressSanitizer's instrumentation: a cancellation
 * unwinds their frames without running the code that lifts the guard zones around their
 * locals, and ASan then reports the stale zones when the thread exits (a false positive). */
#define UNWOUND_BY_CANCELLATION __attribute__((no_sanitize_address))

struct blocked_call {
    fdsafe_handle handle;
    atomic_int entered;
    int64_t result;
};

/* recvmsg through libc: a cancellation point, had fdsafe not disabled cancellation. */
UNWOUND_BY_CANCELLATION static void *receive_then_test_cancel(void *arg) {
    struct blocked_call *call = arg;
    char byte;
    fdsafe_handle got[4];
    fdsafe_recv_info info;
    atomic_store(&call->entered, 1);
    call->result = fdsafe_socket_recv_handles(call->handle, &byte, 1, 0, got, 4, &info);
    if (call->result == 1) fdsafe_close_many(got, info.handle_count);
    pthread_testcancel(); /* the pending cancellation acts here */
    return NULL;
}

/* A direct read: never a cancellation point. */
UNWOUND_BY_CANCELLATION static void *read_then_test_cancel(void *arg) {
    struct blocked_call *call = arg;
    char byte;
    atomic_store(&call->entered, 1);
    call->result = fdsafe_read(call->handle, &byte, 1);
    pthread_testcancel();
    return NULL;
}

static void cancel_while_blocked(void *(*body)(void *), fdsafe_handle waiting_on, fdsafe_handle wake_with,
                                 fdsafe_handle pass) {
    struct blocked_call call = {waiting_on, 0, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, body, &call), 0);
    while (!atomic_load(&call.entered)) usleep(1000);
    usleep(50000); /* inside the call, blocked */
    assert_int_equal(pthread_cancel(t), 0);
    usleep(50000); /* the process is still here: nothing was unwound through fdsafe */
    if (pass) assert_int_equal(fdsafe_socket_send_handles(wake_with, "x", 1, &pass, 1, 0), 1);
    else assert_int_equal(fdsafe_write(wake_with, "x", 1), 1);
    void *status = NULL;
    assert_int_equal(pthread_join(t, &status), 0);
    assert_int_equal(call.result, 1); /* the call finished normally... */
    assert_ptr_equal(status, PTHREAD_CANCELED); /* ...and the cancellation acted after it */
}

static void test_cancelled_inside_a_libc_wait_finishes_the_call(void **state) {
    (void)state;
    fdsafe_handle a, b, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    cancel_while_blocked(receive_then_test_cancel, a, b, e);
    must(fdsafe_close(e));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

static void test_cancelled_inside_a_direct_read_finishes_the_call(void **state) {
    (void)state;
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    cancel_while_blocked(read_then_test_cancel, r, w, 0);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

/* close(2) through libc is a cancellation point too: a cancellation already pending when
 * fdsafe closes must not act inside it. */
UNWOUND_BY_CANCELLATION static void *close_with_cancellation_pending(void *arg) {
    int *closed = arg;
    fdsafe_handle r, w, many[2], plain;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_pipe_create(0, &many[0], &many[1]));
    /* A generic handle is closed by the system call itself, the others through libc. */
    must(fdsafe_fd_adopt(eventfd(0, EFD_CLOEXEC), FDSAFE_KIND_OTHER, &plain));
    pthread_cancel(pthread_self()); /* pending: deferred cancellation */
    *closed = fdsafe_close(r) == 0 && fdsafe_close(w) == 0 && fdsafe_close_many(many, 2) == 2 &&
              fdsafe_close(plain) == 0;
    pthread_testcancel();
    return NULL;
}

static void test_a_pending_cancellation_does_not_act_inside_close(void **state) {
    (void)state;
    int closed = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, close_with_cancellation_pending, &closed), 0);
    void *status = NULL;
    assert_int_equal(pthread_join(t, &status), 0);
    assert_true(closed);
    assert_ptr_equal(status, PTHREAD_CANCELED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_cancelled_inside_a_libc_wait_finishes_the_call),
        FD_TEST(test_cancelled_inside_a_direct_read_finishes_the_call),
        FD_TEST(test_a_pending_cancellation_does_not_act_inside_close),
    };
    return cmocka_run_group_tests_name("cancel", tests, NULL, NULL);
}
