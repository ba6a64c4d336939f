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

/* A listener's path goes only with the socket's last descriptor: a close while a copy lives
 * (a child's, a duplicate, a worker's it was sent to) would cut that copy off from clients. */
static void make_listener(char *dir, char *path, size_t size, fdsafe_handle *l) {
    assert_non_null(mkdtemp(dir));
    snprintf(path, size, "%s/l.sock", dir);
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, NULL, l));
}

/* Connects to `path` and has `listener` accept it: the path reaches that socket. */
static void expect_reachable(const char *path, fdsafe_handle listener) {
    fdsafe_handle c, a;
    must(fdsafe_unix_connect(path, FDSAFE_SOCK_STREAM, 0, &c));
    must(fdsafe_socket_accept(listener, 0, &a, NULL, 0, NULL));
    must(fdsafe_close(a));
    must(fdsafe_close(c));
}

static void test_a_child_closing_its_copy_keeps_the_parents_socket_path(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-fork-XXXXXX", path[64];
    fdsafe_handle l;
    make_listener(dir, path, sizeof path, &l);
    pid_t child = fork();
    if (child == 0) _exit(fdsafe_close(l) == 0 ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(access(path, F_OK), 0); /* still there for the parent */
    expect_reachable(path, l);
    must(fdsafe_close(l));
    assert_int_equal(access(path, F_OK), -1); /* the last descriptor removes it */
    rmdir(dir);
}

static void test_a_parent_closing_its_listener_keeps_the_childs_path(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-fork-XXXXXX", path[64];
    fdsafe_handle l;
    make_listener(dir, path, sizeof path, &l);
    int go[2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t child = fork();
    if (child == 0) {
        alarm(10); /* never outlive a failed parent */
        char c;
        if (read(go[0], &c, 1) != 1) _exit(2);
        fdsafe_handle a;
        if (fdsafe_socket_accept(l, 0, &a, NULL, 0, NULL) < 0) _exit(3);
        fdsafe_close(a);
        _exit(fdsafe_close(l) == 0 && access(path, F_OK) == -1 ? 0 : 4); /* the child was last */
    }
    must(fdsafe_close(l));
    assert_int_equal(access(path, F_OK), 0); /* the child still listens there */
    fdsafe_handle c;
    must(fdsafe_unix_connect(path, FDSAFE_SOCK_STREAM, 0, &c));
    assert_int_equal(write(go[1], "g", 1), 1);
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    must(fdsafe_close(c));
    close(go[0]);
    close(go[1]);
    rmdir(dir);
}

static void test_a_duplicate_keeps_the_path_and_removes_it_last(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-dup-XXXXXX", path[64];
    fdsafe_handle l, copy;
    make_listener(dir, path, sizeof path, &l);
    must(fdsafe_dup(l, &copy));
    must(fdsafe_close(l));
    assert_int_equal(access(path, F_OK), 0);
    expect_reachable(path, copy);
    must(fdsafe_close(copy));
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
}

static void test_a_listener_sent_to_a_worker_stays_reachable(void **state) {
    (void)state;
    char dir[] = "/tmp/fdsafe-send-XXXXXX", path[64];
    fdsafe_handle l, to_worker, from_parent;
    make_listener(dir, path, sizeof path, &l);
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &to_worker, &from_parent));
    pid_t child = fork();
    if (child == 0) {
        alarm(10);
        fdsafe_close(to_worker);
        fdsafe_close(l);
        char byte;
        fdsafe_handle got = 0, a;
        struct fdsafe_recv_info info;
        if (fdsafe_socket_recv_handles(from_parent, &byte, 1, 0, &got, 1, &info) != 1) _exit(2);
        if (fdsafe_socket_accept(got, 0, &a, NULL, 0, NULL) < 0) _exit(3);
        fdsafe_close(a);
        _exit(0);
    }
    must(fdsafe_close(from_parent));
    expect_code(fdsafe_socket_send_handles(to_worker, "L", 1, &l, 1, 0), 1);
    must(fdsafe_close(l)); /* the hand-off: the worker's copy is the listener now */
    fdsafe_handle c;
    must(fdsafe_unix_connect(path, FDSAFE_SOCK_STREAM, 0, &c));
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    must(fdsafe_close(c));
    must(fdsafe_close(to_worker));
    /* The worker's copy knew no path: a stale file stays, and the next listen replaces it. */
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, NULL, &l));
    must(fdsafe_close(l));
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_closing_a_created_socket_leaves_a_blocked_receive_waiting),
        FD_TEST(test_closing_an_adopted_socket_leaves_other_copies_alone),
        FD_TEST(test_a_child_closing_its_copy_keeps_the_parents_socket_path),
        FD_TEST(test_a_parent_closing_its_listener_keeps_the_childs_path),
        FD_TEST(test_a_duplicate_keeps_the_path_and_removes_it_last),
        FD_TEST(test_a_listener_sent_to_a_worker_stays_reachable),
    };
    return cmocka_run_group_tests_name("socket_close", tests, NULL, NULL);
}
