/* Standard streams as handles: duplicates that never close 0, 1, 2 unless asked. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_handles_are_duplicates_above_2(void **state) {
    (void)state;
    for (int stream = FDSAFE_STDIN; stream <= FDSAFE_STDERR; stream++) {
        fdsafe_handle h;
        must(fdsafe_stdio_open(stream, 0, &h));
        expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_STDIO);
        int fd = (int)must(fdsafe_fd_borrow(h));
        assert_true(fd > 2);
        assert_int_equal(fd_is_cloexec(fd), 1);
        struct stat a, b;
        fstat(fd, &a);
        fstat(stream, &b);
        assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        must(fdsafe_close(h));
        assert_true(fd_is_open(stream));
    }
}

static void test_bad_arguments(void **state) {
    (void)state;
    fdsafe_handle h = 0;
    expect_code(fdsafe_stdio_open(3, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_stdio_open(-1, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_stdio_open(FDSAFE_STDOUT, 1u << 5, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_stdio_open(FDSAFE_STDOUT, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(h, 0);
}

/* Runs `body` in a child (so that this process keeps its standard output) whose standard
 * output is a pipe; asserts that it exits with 0 (`body`'s result: nonzero names the failed
 * step) and copies what it wrote, up to end of file, into `got` (NUL-terminated). */
static void in_child_writing_to_a_pipe(int (*body)(void), char *got, size_t len) {
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        _exit(body());
    }
    close(out[1]);
    size_t have = 0;
    ssize_t n;
    while (have < len - 1 && (n = read(out[0], got + have, len - 1 - have)) > 0) have += (size_t)n;
    got[have] = '\0';
    close(out[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int close_stream_body(void) {
    fdsafe_handle h;
    if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &h) < 0) return 10;
    if (fdsafe_write(h, "via handle\n", 11) != 11) return 11;
    if (fdsafe_close(h) != 0) return 12;
    char target[64] = {0};
    if (readlink("/proc/self/fd/1", target, sizeof target - 1) < 0) return 13;
    if (strcmp(target, "/dev/null") != 0) return 14;
    if (write(STDOUT_FILENO, "lost\n", 5) != 5) return 15; /* goes to /dev/null */
    return 0;
}

static void test_close_stream_points_it_at_dev_null(void **state) {
    (void)state;
    char got[64];
    in_child_writing_to_a_pipe(close_stream_body, got, sizeof got);
    assert_string_equal(got, "via handle\n");
}

static int close_stream_at_the_limit_body(void) {
    fdsafe_handle h;
    if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &h) < 0) return 10;
    struct rlimit few = {64, 64};
    if (setrlimit(RLIMIT_NOFILE, &few) != 0) return 11;
    while (dup(STDERR_FILENO) >= 0) {} /* every slot taken */
    if (errno != EMFILE) return 12;
    if (fdsafe_close(h) != 0) return 13;
    char target[64] = {0};
    if (readlink("/proc/self/fd/1", target, sizeof target - 1) < 0) return 14;
    return strcmp(target, "/dev/null") != 0 ? 15 : 0;
}

/* At the descriptor limit the redirect still happens: there is no room to open /dev/null
 * until the handle's own duplicate is closed, so that makes the room. Before, the close
 * returned 0 and left the stream open, and a reader waiting for its end waited for ever. */
static void test_close_stream_at_the_descriptor_limit(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE, which valgrind emulates")) skip();
    char got[8];
    in_child_writing_to_a_pipe(close_stream_at_the_limit_body, got, sizeof got);
    assert_string_equal(got, "");
}

static void test_stdout_handle_writes_to_stdout(void **state) {
    (void)state;
    fdsafe_handle h;
    must(fdsafe_stdio_open(FDSAFE_STDERR, 0, &h));
    expect_code(fdsafe_write(h, "(stderr through an fdsafe handle)\n", 34), 34);
    expect_code(fdsafe_wait(h, FDSAFE_EVENT_OUT, 0) & FDSAFE_EVENT_OUT, FDSAFE_EVENT_OUT);
    must(fdsafe_close(h));
}

/* Once the program has given up the stream itself (here: adopted descriptor 1 and closed
 * that handle), the number may be a live handle's: closing a CLOSE_STREAM handle then must
 * not point that handle's descriptor at /dev/null. In a child, whose descriptor 1 is free to
 * lose. */
static void test_close_stream_leaves_a_number_another_handle_took(void **state) {
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        fdsafe_handle out, adopted, ev;
        uint64_t value = 0;
        if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &out) != 0) _exit(1);
        if (fdsafe_fd_adopt(1, FDSAFE_KIND_FILE, &adopted) != 0 && fdsafe_fd_adopt(1, FDSAFE_KIND_OTHER, &adopted) != 0)
            _exit(2);
        if (fdsafe_close(adopted) != 0) _exit(3);
        if (fdsafe_eventfd_create(0, 0, &ev) != 0 || fdsafe_fd_borrow(ev) != 1) _exit(4); /* the lowest number */
        if (fdsafe_close(out) != 0) _exit(5);
        if (fdsafe_eventfd_write(ev, 7) != 0 || fdsafe_eventfd_read(ev, &value) != 0 || value != 7) _exit(6);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0); /* 6: the eventfd handle was pointed at /dev/null */
}

/* The program closed descriptor 1 and a handle's descriptor took the number: that is no
 * standard stream any more, so fdsafe_stdio_open refuses it (a CLOSE_STREAM handle on it
 * would send the other handle to /dev/null when closed). */
static void test_stdio_open_refuses_a_number_a_handle_owns(void **state) {
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        fdsafe_handle ev, h = 0;
        close(STDOUT_FILENO);
        if (fdsafe_eventfd_create(0, 0, &ev) != 0 || fdsafe_fd_borrow(ev) != 1) _exit(1);
        if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &h) != FDSAFE_E_INVALID_ARGUMENT || h != 0) _exit(2);
        if (fdsafe_stdio_open(FDSAFE_STDOUT, 0, &h) != FDSAFE_E_INVALID_ARGUMENT) _exit(3);
        uint64_t value = 0;
        if (fdsafe_eventfd_write(ev, 7) != 0 || fdsafe_eventfd_read(ev, &value) != 0 || value != 7) _exit(4);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static int handle_sharing_the_stream_body(void) {
    fdsafe_handle h, tx, rx, got[1];
    fdsafe_recv_info info;
    char c;
    if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &h) != 0) return 1;
    if (fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &tx, &rx) != 0) return 2;
    close(STDOUT_FILENO);
    if (fdsafe_socket_send_handles(tx, "m", 1, &h, 1, 0) != 1) return 3;
    if (fdsafe_socket_recv_handles(rx, &c, 1, 0, got, 1, &info) != 1 || info.handle_count != 1) return 4;
    if (fdsafe_fd_borrow(got[0]) != STDOUT_FILENO) return 5; /* the lowest free number */
    if (fdsafe_close(h) != 0) return 6;
    return fdsafe_write(got[0], "kept\n", 5) != 5 ? 7 : 0; /* to the pipe, not /dev/null */
}

/* The number may even name the stream's own open file through another handle: here the
 * program closed descriptor 1, and a received copy of the stream (the same open file, as
 * fdsafe_pidfd_getfd would also make) took it. Closing the CLOSE_STREAM handle must leave it:
 * the received handle still writes to the stream's pipe. */
static void test_close_stream_leaves_a_handle_sharing_the_streams_file(void **state) {
    (void)state;
    char got[16];
    in_child_writing_to_a_pipe(handle_sharing_the_stream_body, got, sizeof got);
    assert_string_equal(got, "kept\n");
}

/* One thread closes a CLOSE_STREAM handle of descriptor 1 while another adopts descriptor 1:
 * whichever comes first, an adopted handle keeps its own file (the redirect never points a
 * number that has just become a handle's at /dev/null). Rounds until 2 s or 3,000; before,
 * about one adoption in 1,500 was redirected. */
struct close_and_adopt {
    pthread_barrier_t start;
    fdsafe_handle stdio_handle, adopted;
    int adopt_rc;
};

static void *close_the_stream_handle(void *arg) {
    struct close_and_adopt *r = arg;
    pthread_barrier_wait(&r->start);
    fdsafe_close(r->stdio_handle);
    return NULL;
}

static void *adopt_descriptor_1(void *arg) {
    struct close_and_adopt *r = arg;
    pthread_barrier_wait(&r->start);
    r->adopt_rc = fdsafe_fd_adopt(STDOUT_FILENO, FDSAFE_KIND_PIPE, &r->adopted);
    return NULL;
}

static int close_and_adopt_rounds(void) {
    struct timespec begin, now;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (int round = 0; round < 3000; round++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - begin.tv_sec >= 2) break;
        int p[2];
        if (pipe(p) != 0 || dup2(p[1], STDOUT_FILENO) != STDOUT_FILENO) return 1;
        close(p[1]);
        struct stat pipe_end;
        if (fstat(STDOUT_FILENO, &pipe_end) != 0) return 2;
        struct close_and_adopt r = {.adopt_rc = -1};
        pthread_barrier_init(&r.start, NULL, 2);
        if (fdsafe_stdio_open(FDSAFE_STDOUT, FDSAFE_STDIO_CLOSE_STREAM, &r.stdio_handle) != 0) return 3;
        pthread_t a, b;
        pthread_create(&a, NULL, close_the_stream_handle, &r);
        pthread_create(&b, NULL, adopt_descriptor_1, &r);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_barrier_destroy(&r.start);
        if (r.adopt_rc == 0) {
            struct stat held;
            if (fstat((int)fdsafe_fd_borrow(r.adopted), &held) != 0) return 4;
            if (held.st_ino != pipe_end.st_ino || held.st_dev != pipe_end.st_dev) return 5; /* sent to /dev/null */
            if (fdsafe_close(r.adopted) != 0) return 6;
        } else {
            close(STDOUT_FILENO); /* /dev/null (the redirect came first) */
        }
        close(p[0]);
    }
    return 0;
}

static void test_close_stream_racing_an_adoption_of_the_number(void **state) {
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(close_and_adopt_rounds());
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_handles_are_duplicates_above_2),
        FD_TEST(test_bad_arguments),
        FD_TEST(test_close_stream_points_it_at_dev_null),
        FD_TEST(test_close_stream_at_the_descriptor_limit),
        FD_TEST(test_close_stream_leaves_a_number_another_handle_took),
        FD_TEST(test_stdio_open_refuses_a_number_a_handle_owns),
        FD_TEST(test_close_stream_leaves_a_handle_sharing_the_streams_file),
        FD_TEST(test_close_stream_racing_an_adoption_of_the_number),
        FD_TEST(test_stdout_handle_writes_to_stdout),
    };
    return cmocka_run_group_tests_name("stdio", tests, NULL, NULL);
}
