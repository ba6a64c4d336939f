/* Closing a handle affects only this process's descriptor: fdsafe_close never shuts a socket
 * down, not even while another thread of this process is blocked in a call on it, since a
 * shutdown reaches every other copy of the socket (a worker's, a forked child's, a
 * duplicate, a copy sent over a Unix socket). A thread blocked in a call on a closed handle
 * stays in it until the call returns by itself; the descriptor is closed then. The way to
 * wake such a thread is through the file itself: an eventfd in its epoll set, or an explicit
 * fdsafe_socket_shutdown on a socket whose only copy we own.
 *
 * "Blocked" means: the thread has entered the call and the kernel shows it sleeping, plus a
 * margin. Every wait is bounded (timeouts, and alarm() as a backstop), so a regression fails
 * instead of hanging. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int slow(void) {
    return getenv("FDSAFE_RACE_OPS") != NULL; /* set for the valgrind run */
}

static void on_alarm(int signo) {
    (void)signo;
    static const char message[] = "test_close_scope: timed out (a blocked call was not woken, or a peer hung)\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    _exit(3);
}

static void bound_test(void) {
    alarm(slow() ? 120 : 20);
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* ---- A thread blocked in one call ---- */

enum call { CALL_RECV, CALL_ACCEPT, CALL_EPOLL_WAIT };

struct blocked {
    enum call call;
    fdsafe_handle handle;
    pthread_t thread;
    atomic_int tid;
    atomic_int done;
    int64_t result;
    char data[64];
    fdsafe_handle accepted;
    struct fdsafe_epoll_event events[4];
};

static void *blocked_main(void *arg) {
    struct blocked *b = arg;
    atomic_store(&b->tid, (int)syscall(SYS_gettid));
    switch (b->call) {
    case CALL_RECV:
        b->result = fdsafe_socket_recv(b->handle, b->data, 1, 0);
        break;
    case CALL_ACCEPT:
        b->result = fdsafe_socket_accept(b->handle, 0, &b->accepted, NULL, 0, NULL);
        break;
    case CALL_EPOLL_WAIT:
        b->result = fdsafe_epoll_wait(b->handle, b->events, 4, slow() ? 60000 : 10000);
        break;
    }
    atomic_store(&b->done, 1);
    return NULL;
}

/* Starts `call` on `handle` in a new thread and returns once it sleeps inside it (or has
 * returned: the caller checks `done`). */
static int start_blocked(struct blocked *b, enum call call, fdsafe_handle handle) {
    memset(b, 0, sizeof *b);
    b->call = call;
    b->handle = handle;
    if (pthread_create(&b->thread, NULL, blocked_main, b) != 0) return -1;
    for (int i = 0; i < 5000 && atomic_load(&b->tid) == 0; i++) sleep_ms(1);
    for (int i = 0; i < 500 && thread_state(atomic_load(&b->tid)) != 'S' && !atomic_load(&b->done); i++) sleep_ms(10);
    sleep_ms(slow() ? 300 : 50); /* the margin: it sleeps in the system call itself */
    return 0;
}

static void join_blocked(struct blocked *b) {
    pthread_join(b->thread, NULL);
}

/* ---- Small helpers ---- */

static void local_address(fdsafe_handle listener, char *out, size_t len) {
    must(fdsafe_socket_local_address(listener, out, len));
}

/* Receives up to and including '\n' (or `cap - 1` bytes), waiting at most `timeout_ms` for
 * each piece. Returns the length, 0 at end of stream (nothing read), or a negative code
 * (-ETIMEDOUT if nothing came in time). */
static int64_t recv_line(fdsafe_handle h, char *buf, size_t cap, int timeout_ms) {
    size_t got = 0;
    while (got + 1 < cap) {
        int ready = fdsafe_wait(h, FDSAFE_EVENT_IN, timeout_ms);
        int64_t n = ready > 0 ? fdsafe_socket_recv(h, buf + got, 1, 0) : ready == 0 ? -ETIMEDOUT : ready;
        if (n <= 0) {
            buf[got] = '\0';
            return got ? (int64_t)got : n;
        }
        got += (size_t)n;
        if (buf[got - 1] == '\n') break;
    }
    buf[got] = '\0';
    return (int64_t)got;
}

static int64_t send_text(fdsafe_handle h, const char *text) {
    return fdsafe_socket_send(h, text, strlen(text), 0);
}

static const char *code_text(int64_t code) {
    return code == 0 ? "end of stream" : code > 0 ? "data" : fdsafe_error_name((int)code);
}

static int wait_exit_code(pid_t child) {
    int status = 0;
    if (waitpid(child, &status, 0) != child) return -1;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "child %d was killed by signal %d\n", (int)child, WTERMSIG(status));
        return 1000 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

/* ---- (1) Hand-off to a worker process ---- */

enum worker_exit {
    WORKER_OK = 0,
    WORKER_NO_HANDLE = 10,
    WORKER_NO_ACK = 11,
    WORKER_NO_GO = 12,
    WORKER_EOF_TOO_SOON = 14, /* the connection ended before the client's two lines */
    WORKER_IO_ERROR = 15,
};

/* The worker: receives the connection over `control`, acknowledges, waits for "go", then
 * echoes everything the client sends until the client closes. */
static int worker_main(fdsafe_handle control) {
    alarm(slow() ? 120 : 10);
    char byte;
    fdsafe_handle got[1];
    struct fdsafe_recv_info info;
    if (fdsafe_socket_recv_handles(control, &byte, 1, 0, got, 1, &info) != 1 || info.handle_count != 1)
        return WORKER_NO_HANDLE;
    fdsafe_handle connection = got[0];
    if (fdsafe_socket_send(control, "r", 1, 0) != 1) return WORKER_NO_ACK;
    if (fdsafe_socket_recv(control, &byte, 1, 0) != 1 || byte != 'g') return WORKER_NO_GO;
    int lines = 0;
    for (;;) {
        char buf[64];
        int64_t n = fdsafe_socket_recv(connection, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) return WORKER_IO_ERROR;
        for (int64_t i = 0; i < n; i++) lines += buf[i] == '\n';
        if (fdsafe_socket_send(connection, buf, (size_t)n, 0) != n) return WORKER_IO_ERROR;
    }
    fdsafe_close(connection);
    return lines >= 2 ? WORKER_OK : WORKER_EOF_TOO_SOON;
}

/* The parent accepts a TCP connection, gives it to a worker process over a Unix socket, and
 * closes its own handle while one of its threads is blocked receiving on it: the worker
 * goes on serving the client (no end of stream anywhere). */
static void test_handoff_worker_keeps_serving_after_the_parent_closes(void **state) {
    (void)state;
    bound_test();
    fdsafe_handle listener, parent_control, worker_control;
    char address[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &listener));
    local_address(listener, address, sizeof address);
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &parent_control, &worker_control));
    pid_t worker = fork();
    assert_true(worker >= 0);
    if (worker == 0) _exit(worker_main(worker_control));

    fdsafe_handle client, connection;
    must(fdsafe_tcp_connect(address, 5000, 0, &client));
    must(fdsafe_socket_accept(listener, 0, &connection, NULL, 0, NULL));
    int connection_fd = (int)must(fdsafe_fd_borrow(connection));
    expect_code(fdsafe_socket_send_handles(parent_control, "h", 1, &connection, 1, 0), 1);
    char ack[4] = {0};
    expect_code(recv_line(parent_control, ack, 2, 5000), 1); /* the worker has its copy */
    assert_int_equal(ack[0], 'r');

    struct blocked reader;
    assert_int_equal(start_blocked(&reader, CALL_RECV, connection), 0);
    int blocked_before_close = !atomic_load(&reader.done);
    int64_t closed = fdsafe_close(connection);

    /* Unblock the parent's reader through the connection itself: the client sends a byte
     * (which it takes, unless its call already returned). The worker is not reading yet. */
    int64_t woke = send_text(client, "w");
    join_blocked(&reader);
    int parent_fd_open = fd_is_open(connection_fd);

    /* Now the worker serves the client: two lines, each echoed back whole. */
    char line[64], expected[64];
    snprintf(expected, sizeof expected, "%shello\n", reader.result == 1 ? "" : "w");
    expect_code(fdsafe_socket_send(parent_control, "g", 1, 0), 1);
    int64_t sent1 = send_text(client, "hello\n");
    int64_t echo1 = recv_line(client, line, sizeof line, 5000);
    int first_ok = echo1 > 0 && strcmp(line, expected) == 0;
    int64_t sent2 = send_text(client, "again\n");
    int64_t echo2 = recv_line(client, line, sizeof line, 5000);
    int second_ok = echo2 > 0 && strcmp(line, "again\n") == 0;
    must(fdsafe_close(client));
    int worker_exit = wait_exit_code(worker);
    must(fdsafe_close(listener));
    must(fdsafe_close(parent_control));
    must(fdsafe_close(worker_control));
    alarm(0);

    assert_true(blocked_before_close);
    expect_code(closed, 0);
    expect_code(woke, 1);
    assert_false(parent_fd_open); /* the parent's descriptor went when its receive returned */
    if (sent1 != 6 || !first_ok)
        fail_msg("after the parent closed its handle (its blocked receive returned %s), the client's first line "
                 "was sent with %s and came back as %s: the parent's close shut the worker's copy down",
                 code_text(reader.result), code_text(sent1), echo1 > 0 ? line : code_text(echo1));
    expect_code(sent2, 6);
    assert_true(second_ok);
    assert_int_equal(worker_exit, WORKER_OK);
}

/* ---- (2) Prefork: a child closes its inherited listener mid-accept ---- */

enum listener_type { TCP_LISTENER, UNIX_LISTENER };

static int child_closes_listener_mid_accept(fdsafe_handle listener) {
    alarm(slow() ? 120 : 10);
    struct blocked acceptor;
    if (start_blocked(&acceptor, CALL_ACCEPT, listener) != 0) return 20;
    if (atomic_load(&acceptor.done)) return 21; /* accept returned by itself: nothing was pending */
    if (fdsafe_close(listener) != 0) return 22;
    /* The acceptor is still inside accept on the (shared) listener; it ends with the process.
     * Leave before any client comes, so that the parent is the one to accept it. */
    _exit(0);
}

static void prefork_case(enum listener_type type) {
    bound_test();
    fdsafe_handle listener;
    char address[FDSAFE_ADDRESS_TEXT_MAX];
    if (type == TCP_LISTENER) {
        must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &listener));
        local_address(listener, address, sizeof address);
    } else {
        temp_path(address, sizeof address, "prefork.sock");
        must(fdsafe_unix_listen(address, FDSAFE_SOCK_STREAM, 8, NULL, &listener));
    }
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(child_closes_listener_mid_accept(listener));
    int child_exit = wait_exit_code(child);

    /* The parent's listener still listens. */
    fdsafe_handle client = 0, accepted = 0;
    int connected = type == TCP_LISTENER ? fdsafe_tcp_connect(address, 5000, 0, &client)
                                         : fdsafe_unix_connect(address, FDSAFE_SOCK_STREAM, 0, &client);
    int ready = fdsafe_wait(listener, FDSAFE_EVENT_IN, 5000);
    int accept_result = ready > 0 ? fdsafe_socket_accept(listener, FDSAFE_NONBLOCK, &accepted, NULL, 0, NULL) : ready;
    char byte = 0;
    int64_t got = -1;
    if (connected == 0 && accept_result == 0 && send_text(client, "x") == 1) {
        if (fdsafe_wait(accepted, FDSAFE_EVENT_IN, 5000) > 0) got = fdsafe_socket_recv(accepted, &byte, 1, 0);
    }
    if (client) fdsafe_close(client);
    if (accepted) fdsafe_close(accepted);
    must(fdsafe_close(listener));
    alarm(0);

    assert_int_equal(child_exit, 0); /* the child's close returned 0 while its thread was in accept */
    if (connected != 0)
        fail_msg("connecting to the parent's listener after the child closed its copy failed with %s: the child's "
                 "close shut the listener down",
                 fdsafe_error_name(connected));
    expect_code(ready, FDSAFE_EVENT_IN);
    expect_code(accept_result, 0);
    expect_code(got, 1);
    assert_int_equal(byte, 'x');
}

static void test_prefork_child_closing_tcp_listener_mid_accept_keeps_parent_listening(void **state) {
    (void)state;
    prefork_case(TCP_LISTENER);
}

static void test_prefork_child_closing_unix_listener_mid_accept_keeps_parent_listening(void **state) {
    (void)state;
    prefork_case(UNIX_LISTENER);
}

/* ---- (3) and (4): another handle on the same socket in this process ---- */

/* Closes `original` while a thread is blocked receiving on it, wakes that thread through the
 * peer, and checks that `other` (a duplicate, or a received copy) still works both ways.
 * Returns NULL, or what went wrong (the caller closes its handles, then fails). */
static const char *close_original_while_blocked(fdsafe_handle original, fdsafe_handle other, fdsafe_handle peer) {
    static char why[512];
    bound_test();
    int original_fd = (int)must(fdsafe_fd_borrow(original));
    struct blocked reader;
    assert_int_equal(start_blocked(&reader, CALL_RECV, original), 0);
    int blocked_before_close = !atomic_load(&reader.done);
    int64_t closed = fdsafe_close(original);
    int64_t woke = send_text(peer, "w"); /* taken by the blocked receive, unless it returned already */
    join_blocked(&reader);
    int original_fd_open = fd_is_open(original_fd);

    char byte = 0;
    int64_t leftover = 1;
    if (reader.result != 1 && woke == 1) { /* the wake byte is still there for the other copy */
        leftover = fdsafe_wait(other, FDSAFE_EVENT_IN, 5000) > 0 ? fdsafe_socket_recv(other, &byte, 1, 0) : -ETIMEDOUT;
        if (leftover == 1 && byte != 'w') leftover = -EPROTO;
    }
    char line[16] = "";
    int64_t sent_out = send_text(other, "ping\n");
    int64_t got_out = recv_line(peer, line, sizeof line, 5000);
    int out_ok = got_out == 5 && strcmp(line, "ping\n") == 0;
    int64_t sent_back = send_text(peer, "pong\n");
    int64_t got_back = recv_line(other, line, sizeof line, 5000);
    int back_ok = got_back == 5 && strcmp(line, "pong\n") == 0;
    alarm(0);

    if (!blocked_before_close) return "the receive returned before the close (nothing to test)";
    if (closed != 0) {
        snprintf(why, sizeof why, "fdsafe_close returned %s", code_text(closed));
        return why;
    }
    if (original_fd_open) return "the original's descriptor is still open after its blocked receive returned";
    if (woke != 1) {
        snprintf(why, sizeof why,
                 "the peer's send failed with %s after the original was closed (its blocked receive returned %s): "
                 "the close shut the socket down for the other copy too",
                 code_text(woke), code_text(reader.result));
        return why;
    }
    if (leftover != 1) {
        snprintf(why, sizeof why, "the other copy did not get the wake byte: %s", code_text(leftover));
        return why;
    }
    if (sent_out != 5 || !out_ok) {
        snprintf(why, sizeof why, "the other copy's send gave %s and the peer got %s instead of \"ping\"",
                 code_text(sent_out), code_text(got_out));
        return why;
    }
    if (sent_back != 5 || !back_ok) {
        snprintf(why, sizeof why, "the peer's send gave %s and the other copy got %s instead of \"pong\"",
                 code_text(sent_back), code_text(got_back));
        return why;
    }
    return NULL;
}

static void test_closing_a_socket_keeps_its_duplicate_working(void **state) {
    (void)state;
    fdsafe_handle a, b, duplicate;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_dup(a, &duplicate));
    const char *failure = close_original_while_blocked(a, duplicate, b);
    must(fdsafe_close(duplicate));
    must(fdsafe_close(b));
    if (failure) fail_msg("%s", failure);
}

static void test_closing_an_accepted_tcp_socket_keeps_its_duplicate_working(void **state) {
    (void)state;
    fdsafe_handle listener, client, accepted, duplicate;
    char address[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &listener));
    local_address(listener, address, sizeof address);
    must(fdsafe_tcp_connect(address, 5000, 0, &client));
    must(fdsafe_socket_accept(listener, 0, &accepted, NULL, 0, NULL));
    must(fdsafe_dup(accepted, &duplicate));
    const char *failure = close_original_while_blocked(accepted, duplicate, client);
    must(fdsafe_close(duplicate));
    must(fdsafe_close(client));
    must(fdsafe_close(listener));
    if (failure) fail_msg("%s", failure);
}

static void test_closing_a_socket_sent_to_ourselves_keeps_the_received_copy_working(void **state) {
    (void)state;
    fdsafe_handle a, b, s1, s2, received[1];
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &s1, &s2));
    expect_code(fdsafe_socket_send_handles(s1, "h", 1, &a, 1, 0), 1);
    char byte;
    struct fdsafe_recv_info info;
    expect_code(fdsafe_socket_recv_handles(s2, &byte, 1, 0, received, 1, &info), 1);
    assert_int_equal(info.handle_count, 1);
    expect_code(fdsafe_handle_kind(received[0]), FDSAFE_KIND_UNIX_STREAM);
    assert_int_not_equal(must(fdsafe_fd_borrow(received[0])), must(fdsafe_fd_borrow(a)));
    const char *failure = close_original_while_blocked(a, received[0], b);
    must(fdsafe_close(received[0]));
    must(fdsafe_close(b));
    must(fdsafe_close(s1));
    must(fdsafe_close(s2));
    if (failure) fail_msg("%s", failure);
}

/* ---- (5) The documented ways to wake a blocked thread ---- */

/* A thread waiting in fdsafe_epoll_wait on a set with an eventfd is woken by writing it. */
static void test_an_eventfd_in_the_set_wakes_an_epoll_wait(void **state) {
    (void)state;
    bound_test();
    fdsafe_handle epoll, wake;
    must(fdsafe_epoll_create(&epoll));
    must(fdsafe_eventfd_create(0, 0, &wake));
    must(fdsafe_epoll_add(epoll, wake, FDSAFE_EPOLL_IN, 42));
    struct blocked waiter;
    assert_int_equal(start_blocked(&waiter, CALL_EPOLL_WAIT, epoll), 0);
    int blocked = !atomic_load(&waiter.done);
    must(fdsafe_eventfd_write(wake, 1));
    join_blocked(&waiter);
    alarm(0);
    assert_true(blocked);
    expect_code(waiter.result, 1);
    assert_true(waiter.events[0].handle == wake);
    assert_int_equal(waiter.events[0].user, 42);
    assert_true(waiter.events[0].events & FDSAFE_EPOLL_IN);
    must(fdsafe_close(wake));
    must(fdsafe_close(epoll));
}

/* A thread receiving on a socket whose only copy we own is woken by an explicit shutdown
 * (end of stream), and the peer sees end of stream too; then the handle closes normally. */
static void test_an_explicit_shutdown_wakes_a_blocked_receive(void **state) {
    (void)state;
    bound_test();
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    int fd = (int)must(fdsafe_fd_borrow(a));
    struct blocked reader;
    assert_int_equal(start_blocked(&reader, CALL_RECV, a), 0);
    int blocked = !atomic_load(&reader.done);
    expect_code(fdsafe_socket_shutdown(a, FDSAFE_SHUT_RDWR), 0);
    join_blocked(&reader);
    alarm(0);
    assert_true(blocked);
    expect_code(reader.result, 0);
    char byte;
    assert_true(fdsafe_wait(b, FDSAFE_EVENT_IN, 5000) > 0);
    expect_code(fdsafe_socket_recv(b, &byte, 1, 0), 0);
    must(fdsafe_close(a));
    assert_false(fd_is_open(fd));
    must(fdsafe_close(b));
}

/* Closing a non-socket handle with a thread blocked in it: the thread stays in its call until
 * the file wakes it, and the descriptor is closed when it returns. */
static void *read_eventfd(void *arg) {
    struct blocked *b = arg;
    atomic_store(&b->tid, (int)syscall(SYS_gettid));
    uint64_t value = 0;
    b->result = fdsafe_eventfd_read(b->handle, &value);
    atomic_store(&b->done, 1);
    return NULL;
}

static void test_closing_an_eventfd_under_a_blocked_read_closes_it_when_the_read_returns(void **state) {
    (void)state;
    bound_test();
    fdsafe_handle e, duplicate;
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_dup(e, &duplicate)); /* to wake the reader after the close */
    int fd = (int)must(fdsafe_fd_borrow(e));
    struct blocked reader;
    memset(&reader, 0, sizeof reader);
    reader.handle = e;
    assert_int_equal(pthread_create(&reader.thread, NULL, read_eventfd, &reader), 0);
    for (int i = 0; i < 5000 && atomic_load(&reader.tid) == 0; i++) sleep_ms(1);
    for (int i = 0; i < 500 && thread_state(atomic_load(&reader.tid)) != 'S'; i++) sleep_ms(10);
    sleep_ms(slow() ? 300 : 50);
    int blocked = !atomic_load(&reader.done);
    expect_code(fdsafe_close(e), 0);
    expect_code(fdsafe_eventfd_write(e, 1), -EBADF);
    must(fdsafe_eventfd_write(duplicate, 1));
    join_blocked(&reader);
    alarm(0);
    assert_true(blocked);
    assert_true(reader.result == 0 || reader.result < 0); /* either is allowed; no crash, no hang */
    assert_false(fd_is_open(fd));
    must(fdsafe_close(duplicate));
}

static int group_teardown(void **state) {
    alarm(0); /* a test that failed before disarming its bound */
    return temp_dir_remove(state);
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    sigaction(SIGALRM, &action, NULL);
    const struct CMUnitTest tests[] = {
        FD_TEST(test_handoff_worker_keeps_serving_after_the_parent_closes),
        FD_TEST(test_prefork_child_closing_tcp_listener_mid_accept_keeps_parent_listening),
        FD_TEST(test_prefork_child_closing_unix_listener_mid_accept_keeps_parent_listening),
        FD_TEST(test_closing_a_socket_keeps_its_duplicate_working),
        FD_TEST(test_closing_an_accepted_tcp_socket_keeps_its_duplicate_working),
        FD_TEST(test_closing_a_socket_sent_to_ourselves_keeps_the_received_copy_working),
        FD_TEST(test_an_eventfd_in_the_set_wakes_an_epoll_wait),
        FD_TEST(test_an_explicit_shutdown_wakes_a_blocked_receive),
        FD_TEST(test_closing_an_eventfd_under_a_blocked_read_closes_it_when_the_read_returns),
    };
    return cmocka_run_group_tests_name("close_scope", tests, temp_dir_create, group_teardown);
}
