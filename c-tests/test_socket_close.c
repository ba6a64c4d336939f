/* Closing a socket handle while another thread is blocked in it: no socket is ever shut down
 * by a close, since the shutdown would reach every other copy (a child's, a receiver's, a
 * duplicate's); the blocked call returns by itself and the descriptor closes then. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct blocked_recv {
    fdsafe_handle handle;
    atomic_int done;
    int64_t result;
    char byte;
};

static void *receive(void *arg) {
    struct blocked_recv *b = arg;
    b->result = fdsafe_socket_recv(b->handle, &b->byte, 1, 0);
    atomic_store(&b->done, 1);
    return NULL;
}

/* Closing a socket fdsafe created does not shut it down either: the blocked receive stays
 * blocked until the peer sends, and the descriptor closes once it returns. The explicit
 * shutdown is the documented way to wake it. */
static void test_closing_a_created_socket_leaves_a_blocked_receive_waiting(void **state) {
    (void)state;
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    int fd = (int)must(fdsafe_fd_borrow(a));
    struct blocked_recv r = {.handle = a};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, receive, &r), 0);
    usleep(100000); /* let it block in recv */
    assert_false(atomic_load(&r.done));
    expect_code(fdsafe_close(a), 0);
    usleep(100000);
    assert_false(atomic_load(&r.done)); /* not shut down */
    assert_true(fd_is_open(fd));         /* still in use by the receive */
    expect_code(fdsafe_socket_send(b, "x", 1, 0), 1);
    pthread_join(thread, NULL);
    expect_code(r.result, 1);
    assert_false(fd_is_open(fd)); /* closed once the receive returned */
    must(fdsafe_close(b));
}

static void test_closing_an_adopted_socket_leaves_other_copies_alone(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int other_copy = fcntl(sv[0], F_DUPFD_CLOEXEC, 0); /* as a service manager would keep */
    fdsafe_handle h;
    must(fdsafe_fd_adopt(sv[0], FDSAFE_KIND_UNIX_STREAM, &h));
    struct blocked_recv r = {.handle = h};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, receive, &r), 0);
    usleep(100000);
    expect_code(fdsafe_close(h), 0);
    usleep(100000);
    assert_false(atomic_load(&r.done)); /* not shut down: still waiting for real data */
    assert_int_equal(send(sv[1], "x", 1, 0), 1);
    pthread_join(thread, NULL);
    expect_code(r.result, 1);
    assert_int_equal(r.byte, 'x');
    assert_false(fd_is_open(sv[0])); /* the handle's descriptor is gone now */
    assert_int_equal(send(other_copy, "y", 1, 0), 1); /* the other copy still works both ways */
    char c = 0;
    assert_int_equal(recv(sv[1], &c, 1, 0), 1);
    assert_int_equal(c, 'y');
    close(other_copy);
    close(sv[1]);
}

/* A forked child closing its inherited copy of a listener must not remove the parent's path. */
static void test_a_child_closing_its_copy_keeps_the_parents_socket_path(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-fork-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/l.sock", dir);
    fdsafe_handle l;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, NULL, &l));
    pid_t child = fork();
    if (child == 0) _exit(fdsafe_close(l) == 0 ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(access(path, F_OK), 0); /* still there for the parent */
    fdsafe_handle c;
    must(fdsafe_unix_connect(path, FDSAFE_SOCK_STREAM, 0, &c));
    must(fdsafe_close(c));
    must(fdsafe_close(l));
    assert_int_equal(access(path, F_OK), -1); /* the binding process removes it */
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_closing_a_created_socket_leaves_a_blocked_receive_waiting),
        FD_TEST(test_closing_an_adopted_socket_leaves_other_copies_alone),
        FD_TEST(test_a_child_closing_its_copy_keeps_the_parents_socket_path),
    };
    return cmocka_run_group_tests_name("socket_close", tests, NULL, NULL);
}
