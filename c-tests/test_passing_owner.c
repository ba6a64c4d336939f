/* Descriptor passing on the creating thread's path (fdsafe_socket_send_handles, and
 * fdsafe_socket_recv_handles_as with FDSAFE_KIND_OTHER): the kernel's errors come back as
 * they are, and a receive whose socket handle is closed while it waits still registers
 * what it received. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static void test_send_to_a_closed_peer_is_epipe_and_keeps_the_handles(void **state) {
    (void)state;
    fdsafe_handle a, b, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(5, 0, &e));
    must(fdsafe_close(b));
    expect_code(fdsafe_socket_send_handles(a, "x", 1, &e, 1, 0), -EPIPE);
    expect_code(fdsafe_socket_send_handles(a, "x", 1, &e, 1, 0), -EPIPE); /* nothing was left held */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    uint64_t v = 0;
    must(fdsafe_eventfd_read(e, &v));
    assert_int_equal(v, 5);
    must(fdsafe_close(e));
    must(fdsafe_close(a));
}

static void test_receive_errors_and_end_of_stream(void **state) {
    (void)state;
    fdsafe_handle a, b, e, got[4];
    fdsafe_recv_info info;
    char c;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, FDSAFE_NONBLOCK, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 4, &info), -EAGAIN);
    expect_code(fdsafe_socket_send_handles(a, "m", 1, &e, 1, 0), 1);
    memset(&info, 0xff, sizeof info);
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 4, &info), 1);
    assert_int_equal(c, 'm');
    assert_int_equal(info.handle_count, 1);
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.closed_count, 0);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_OTHER);
    must(fdsafe_close(got[0]));
    must(fdsafe_close(e));
    must(fdsafe_close(a));
    expect_code(fdsafe_socket_recv_handles_as(b, &c, 1, 0, FDSAFE_KIND_OTHER, got, 4, &info), 0);
    assert_int_equal(info.handle_count, 0);
    must(fdsafe_close(b));
}

/* The receiving thread created the pair, so it receives on its own path. A signal handler
 * on that thread, while it waits, sends it a message with a descriptor and closes the
 * receiving handle: the interrupted receive resumes, gets the message, and finds the close
 * under way as it leaves. The descriptor must come back as a handle (not lost, not received
 * twice), and the socket's descriptor close after the receive. */
static struct {
    fdsafe_handle a, b, passed;
    int close_result;
    int64_t send_result, recv_result;
    char byte;
    size_t handle_count;
    uint64_t value;
    atomic_int waiting;
} run;

static void send_then_close(int sig) {
    (void)sig;
    run.send_result = fdsafe_socket_send_handles(run.a, "s", 1, &run.passed, 1, 0);
    run.close_result = fdsafe_close(run.b);
}

/* Records what it sees; the test asserts on the main thread. */
static void *receiver(void *arg) {
    (void)arg;
    if (fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &run.a, &run.b) != 0) return NULL;
    fdsafe_handle got[4];
    fdsafe_recv_info info = {0};
    atomic_store(&run.waiting, 1);
    run.recv_result = fdsafe_socket_recv_handles_as(run.b, &run.byte, 1, 0, FDSAFE_KIND_OTHER, got, 4, &info);
    run.handle_count = info.handle_count;
    if (run.recv_result == 1 && info.handle_count == 1) {
        fdsafe_read(got[0], &run.value, sizeof run.value); /* the very eventfd that was sent */
        fdsafe_close(got[0]);
    }
    return NULL;
}

static void test_a_receive_closed_under_it_registers_what_it_got(void **state) {
    (void)state;
    struct sigaction sa = {.sa_handler = send_then_close, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    memset(&run, 0, sizeof run);
    run.recv_result = -1;
    must(fdsafe_eventfd_create(9, 0, &run.passed));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, receiver, NULL), 0);
    while (!atomic_load(&run.waiting)) usleep(1000);
    usleep(50000); /* the receiver waits in recvmsg */
    assert_int_equal(pthread_kill(t, SIGUSR1), 0);
    pthread_join(t, NULL);
    signal(SIGUSR1, SIG_DFL);
    expect_code(run.send_result, 1);
    assert_int_equal(run.close_result, 0);
    expect_code(run.recv_result, 1);
    assert_int_equal(run.byte, 's');
    assert_int_equal(run.handle_count, 1);
    assert_int_equal(run.value, 9);
    expect_code(fdsafe_close(run.b), -EBADF); /* closed once the receive returned */
    must(fdsafe_close(run.a));
    must(fdsafe_close(run.passed));
}

int main(void) {
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: fdsafe must never raise one */
    const struct CMUnitTest tests[] = {
        FD_TEST(test_send_to_a_closed_peer_is_epipe_and_keeps_the_handles),
        FD_TEST(test_receive_errors_and_end_of_stream),
        FD_TEST(test_a_receive_closed_under_it_registers_what_it_got),
    };
    return cmocka_run_group_tests_name("passing_owner", tests, NULL, NULL);
}
