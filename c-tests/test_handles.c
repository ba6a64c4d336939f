/* Generic handle operations: close, kind, borrow, release, adopt, dup, non-blocking mode,
 * wait, read/write/readv/writev, and their misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <mqueue.h>
#include <pty.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <stdio.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void make_pipe(fdsafe_handle *r, fdsafe_handle *w) {
    must(fdsafe_pipe_create(0, r, w));
}

static void test_close_twice_is_ebadf_and_closes_nothing_else(void **state) {
    (void)state;
    fdsafe_handle r, w, r2, w2;
    make_pipe(&r, &w);
    int fd = (int)must(fdsafe_fd_borrow(r));
    expect_code(fdsafe_close(r), 0);
    assert_false(fd_is_open(fd));
    make_pipe(&r2, &w2); /* likely reuses the number */
    expect_code(fdsafe_close(r), -EBADF);
    expect_code(fdsafe_handle_kind(r2), FDSAFE_KIND_PIPE);
    expect_code(fdsafe_write(w2, "x", 1), 1);
    expect_code(fdsafe_close(w), 0);
    expect_code(fdsafe_close(r2), 0);
    expect_code(fdsafe_close(w2), 0);
}

static void test_old_handles_stay_dead_across_reuse(void **state) {
    (void)state;
    enum { ROUNDS = 20000 };
    static fdsafe_handle old[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        fdsafe_handle h;
        must(fdsafe_eventfd_create(0, 0, &h));
        must(fdsafe_close(h));
        old[i] = h;
    }
    fdsafe_handle live;
    must(fdsafe_eventfd_create(0, 0, &live));
    for (int i = 0; i < ROUNDS; i++) {
        assert_true(old[i] != live);
        expect_code(fdsafe_eventfd_write(old[i], 1), -EBADF);
        expect_code(fdsafe_close(old[i]), -EBADF);
    }
    expect_code(fdsafe_eventfd_write(live, 1), 0);
    must(fdsafe_close(live));
}

static void test_invalid_and_forged_handles(void **state) {
    (void)state;
    expect_code(fdsafe_close(FDSAFE_INVALID_HANDLE), -EBADF);
    expect_code(fdsafe_handle_kind(0), -EBADF);
    expect_code(fdsafe_fd_borrow(0), -EBADF);
    expect_code(fdsafe_close(UINT64_MAX), -EBADF);
    expect_code(fdsafe_write(0x0100000100000000ull, "x", 1), -EBADF);
    char message[256];
    fdsafe_close(0);
    must(fdsafe_last_error(message, sizeof message));
    assert_non_null(strstr(message, "invalid handle 0"));
    fdsafe_close(UINT64_MAX);
    fdsafe_last_error(message, sizeof message);
    assert_non_null(strstr(message, "never issued"));
}

static void test_kind_and_kind_name(void **state) {
    (void)state;
    fdsafe_handle r, w, e;
    make_pipe(&r, &w);
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_handle_kind(r), FDSAFE_KIND_PIPE);
    expect_code(fdsafe_handle_kind(e), FDSAFE_KIND_EVENTFD);
    assert_string_equal(fdsafe_kind_name(FDSAFE_KIND_PIPE), "pipe");
    assert_string_equal(fdsafe_kind_name(FDSAFE_KIND_TCP_STREAM), "tcp_stream");
    assert_string_equal(fdsafe_kind_name(0), "unknown");
    assert_string_equal(fdsafe_kind_name(9999), "unknown");
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(e));
    expect_code(fdsafe_handle_kind(e), -EBADF);
}

static void test_wrong_kind_does_nothing(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    uint64_t value = 7;
    expect_code(fdsafe_eventfd_write(w, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_eventfd_read(r, &value), FDSAFE_E_WRONG_KIND);
    assert_int_equal(value, 7);
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 0), 0); /* nothing was written */
    char message[256];
    fdsafe_last_error(message, sizeof message);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_borrow_lends_without_giving(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(3, 0, &e));
    int fd = (int)must(fdsafe_fd_borrow(e));
    assert_int_equal(fd_is_cloexec(fd), 1);
    uint64_t v = 0;
    assert_int_equal(read(fd, &v, 8), 8);
    assert_int_equal(v, 3);
    expect_code(fdsafe_fd_borrow(e), fd);
    must(fdsafe_close(e));
    expect_code(fdsafe_fd_borrow(e), -EBADF);
}

static void test_release_gives_the_fd_and_kills_the_handle(void **state) {
    (void)state;
    fdsafe_handle e;
    must(fdsafe_eventfd_create(5, 0, &e));
    int fd = (int)must(fdsafe_fd_release(e));
    expect_code(fdsafe_handle_kind(e), -EBADF);
    expect_code(fdsafe_fd_release(e), -EBADF);
    assert_true(fd_is_open(fd));
    assert_int_equal(fd_is_cloexec(fd), 1);
    uint64_t v = 0;
    assert_int_equal(read(fd, &v, 8), 8);
    assert_int_equal(v, 5);
    close(fd);
}

static void test_adopt_checks_the_kind_with_the_kernel(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0); /* deliberately without O_CLOEXEC */
    int efd = eventfd(0, 0);
    fdsafe_handle h = 0;

    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_EVENTFD, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_PIPE, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(fds[0], 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(fds[0], 9999, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(-1, FDSAFE_KIND_PIPE, &h), -EBADF); /* as the kernel says for -1 */
    assert_int_equal(h, 0); /* out-param untouched on failure */
    assert_int_equal(fd_is_cloexec(fds[0]), 0); /* refused: still the caller's, unchanged */

    fdsafe_handle r, w, e;
    must(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, &r));
    must(fdsafe_fd_adopt(fds[1], FDSAFE_KIND_PIPE, &w));
    must(fdsafe_fd_adopt(efd, FDSAFE_KIND_EVENTFD, &e));
    assert_int_equal(fd_is_cloexec(fds[0]), 1);
    assert_int_equal(fd_is_cloexec(efd), 1);

    /* The same descriptor cannot get a second owner. */
    fdsafe_handle again = 0;
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, &again), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(again, 0);

    expect_code(fdsafe_write(w, "hi", 2), 2);
    char buf[4] = {0};
    expect_code(fdsafe_read(r, buf, sizeof buf), 2);
    assert_memory_equal(buf, "hi", 2);
    must(fdsafe_eventfd_write(e, 2));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(e));
    assert_false(fd_is_open(fds[0]));
    assert_false(fd_is_open(efd));

    /* A closed descriptor is refused with the kernel's answer. */
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, &h), -EBADF);
}

static void test_dup_shares_the_file_with_a_new_descriptor(void **state) {
    (void)state;
    fdsafe_handle e, d = 0;
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_dup(e, NULL), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_dup(e, &d));
    assert_true(d != e);
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_EVENTFD);
    int a = (int)must(fdsafe_fd_borrow(e)), b = (int)must(fdsafe_fd_borrow(d));
    assert_int_not_equal(a, b);
    assert_int_equal(fd_is_cloexec(b), 1);
    must(fdsafe_eventfd_write(e, 4));
    must(fdsafe_close(e));
    uint64_t v = 0;
    must(fdsafe_eventfd_read(d, &v));
    assert_int_equal(v, 4);
    must(fdsafe_close(d));
    expect_code(fdsafe_dup(e, &d), -EBADF);
}

static void test_nonblocking_mode(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    expect_code(fdsafe_nonblocking_get(r), 0);
    must(fdsafe_nonblocking_set(r, true));
    expect_code(fdsafe_nonblocking_get(r), 1);
    char c;
    expect_code(fdsafe_read(r, &c, 1), -EAGAIN);
    must(fdsafe_nonblocking_set(r, false));
    expect_code(fdsafe_nonblocking_get(r), 0);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    expect_code(fdsafe_nonblocking_get(r), -EBADF);
    expect_code(fdsafe_nonblocking_set(r, true), -EBADF);

    must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w));
    expect_code(fdsafe_nonblocking_get(r), 1);
    expect_code(fdsafe_nonblocking_get(w), 1);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_wait_reports_readiness(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 0), 0);
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 20), 0);
    expect_code(fdsafe_wait(w, FDSAFE_EVENT_OUT, 0), FDSAFE_EVENT_OUT);
    must(fdsafe_write(w, "z", 1));
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, -1), FDSAFE_EVENT_IN);
    must(fdsafe_close(w));
    int ev = (int)must(fdsafe_wait(r, FDSAFE_EVENT_IN, 0));
    assert_true(ev & FDSAFE_EVENT_HUP);
    expect_code(fdsafe_wait(r, 0x40000000u, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, -2), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(r));
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 0), -EBADF);
}

static void test_vectored_io(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    char a[] = "hello ", b[] = "world";
    struct iovec out[2] = {{a, 6}, {b, 5}};
    expect_code(fdsafe_writev(w, out, 2), 11);
    char x[4], y[16] = {0};
    struct iovec in[2] = {{x, 4}, {y, sizeof y}};
    expect_code(fdsafe_readv(r, in, 2), 11);
    assert_memory_equal(x, "hell", 4);
    assert_string_equal(y, "o world");
    expect_code(fdsafe_writev(w, NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_writev(w, out, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_writev(w, out, 5000), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_readv(r, NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_readv(r, in, 0), 0);
    /* Every buffer is checked as a single one is: none NULL with a length, and lengths that
     * add up to at most SSIZE_MAX (the kernel said -EINVAL or -EFAULT, undocumented). */
    struct iovec huge[2] = {{a, SIZE_MAX}, {b, 5}}, halves[2] = {{a, SIZE_MAX / 2}, {b, SIZE_MAX / 2}};
    struct iovec null_entry[2] = {{a, 6}, {NULL, 5}};
    struct iovec *bad[] = {huge, halves, null_entry};
    for (size_t i = 0; i < 3; i++) {
        expect_code(fdsafe_writev(w, bad[i], 2), FDSAFE_E_INVALID_ARGUMENT);
        expect_code(fdsafe_readv(r, bad[i], 2), FDSAFE_E_INVALID_ARGUMENT);
    }
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 0), 0); /* nothing was written */
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    expect_code(fdsafe_writev(w, out, 2), -EBADF);
    expect_code(fdsafe_readv(r, in, 2), -EBADF);
}

static void test_bad_buffers_are_refused_before_io(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    char buf[8];
    expect_code(fdsafe_write(w, NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_write(w, buf, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_read(r, NULL, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_read(r, buf, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_write(w, NULL, 0), 0);
    expect_code(fdsafe_wait(r, FDSAFE_EVENT_IN, 0), 0); /* nothing reached the pipe */
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    expect_code(fdsafe_read(r, buf, 1), -EBADF);
    expect_code(fdsafe_write(w, buf, 1), -EBADF);
}

static int wait_child(pid_t child) {
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_exec_inherits_no_fdsafe_descriptor(void **state) {
    (void)state;
    fdsafe_handle r, w, e, s, d;
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_stdio_open(FDSAFE_STDOUT, 0, &s));
    must(fdsafe_dup(e, &d));
    char script[256];
    snprintf(script, sizeof script, "for fd in %d %d %d %d %d; do [ -e /proc/self/fd/$fd ] && exit 1; done; exit 0",
             (int)must(fdsafe_fd_borrow(r)), (int)must(fdsafe_fd_borrow(w)), (int)must(fdsafe_fd_borrow(e)),
             (int)must(fdsafe_fd_borrow(s)), (int)must(fdsafe_fd_borrow(d)));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(wait_child(child), 0);
    fdsafe_handle all[] = {r, w, e, s, d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) must(fdsafe_close(all[i]));
}

static void test_handles_work_in_a_forked_child_independently(void **state) {
    (void)state;
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* The child's copy of the table: its close affects only its own descriptor. */
        if (fdsafe_write(w, "c", 1) != 1) _exit(1);
        if (fdsafe_close(w) != 0) _exit(2);
        if (fdsafe_close(w) != -EBADF) _exit(3);
        _exit(0);
    }
    assert_int_equal(wait_child(child), 0);
    char c = 0;
    expect_code(fdsafe_read(r, &c, 1), 1);
    assert_int_equal(c, 'c');
    expect_code(fdsafe_write(w, "p", 1), 1); /* the parent's handle is still open */
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_any_descriptor_can_be_adopted_as_other(void **state) {
    (void)state;
    int dir = open("/", O_RDONLY | O_DIRECTORY); /* no kind of its own in fdsafe */
    assert_true(dir >= 0);
    fdsafe_handle h = 0;
    expect_code(fdsafe_fd_adopt(dir, FDSAFE_KIND_PIPE, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_fd_adopt(dir, FDSAFE_KIND_OTHER, &h));
    expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_OTHER);
    assert_string_equal(fdsafe_kind_name(FDSAFE_KIND_OTHER), "other");
    assert_int_equal(fd_is_cloexec(dir), 1);
    expect_code(fdsafe_eventfd_write(h, 1), FDSAFE_E_WRONG_KIND);
    char c;
    expect_code(fdsafe_read(h, &c, 1), -EISDIR); /* generic calls reach the kernel */
    must(fdsafe_close(h));
    assert_false(fd_is_open(dir));
}

/* Files and character devices are told by file type, which other kinds share: adopted as the
 * wider kind, a memfd would lose its seal calls and a terminal its settings. Each is refused
 * with the kind to use, and stays the caller's, unchanged; an O_PATH descriptor (every read
 * and write gives EBADF) is taken only as OTHER. */
static void refuse_then_adopt(int fd, fdsafe_kind wrong, fdsafe_kind right) {
    fdsafe_handle h = 0;
    int cloexec = fd_is_cloexec(fd);
    expect_code(fdsafe_fd_adopt(fd, wrong, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(h, 0);
    assert_int_equal(fd_is_cloexec(fd), cloexec);
    must(fdsafe_fd_adopt(fd, right, &h));
    assert_int_equal(fd_is_cloexec(fd), 1);
    expect_code(fdsafe_handle_kind(h), right);
    must(fdsafe_close(h));
    assert_false(fd_is_open(fd));
}

static void test_adoption_refuses_the_wider_kind_of_a_file_type(void **state) {
    (void)state;
    int memfd = memfd_create("adopt", MFD_ALLOW_SEALING);
    assert_true(memfd >= 0);
    refuse_then_adopt(memfd, FDSAFE_KIND_FILE, FDSAFE_KIND_MEMFD);
    char why[256];
    int again = memfd_create("adopt", 0);
    fdsafe_handle none;
    expect_code(fdsafe_fd_adopt(again, FDSAFE_KIND_FILE, &none), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_last_error(why, sizeof why);
    assert_non_null(strstr(why, "adopt it as FDSAFE_KIND_MEMFD")); /* the kind to use, by its name */
    close(again);

    char name[64];
    snprintf(name, sizeof name, "/fdsafe-adopt-%d", getpid());
    mqd_t queue = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, NULL);
    assert_true(queue >= 0);
    mq_unlink(name);
    refuse_then_adopt(queue, FDSAFE_KIND_FILE, FDSAFE_KIND_MQUEUE);

    int master, slave;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    refuse_then_adopt(slave, FDSAFE_KIND_CHARDEV, FDSAFE_KIND_TERMINAL);
    refuse_then_adopt(master, FDSAFE_KIND_CHARDEV, FDSAFE_KIND_TERMINAL);

    int path_only = open("/etc/passwd", O_PATH);
    assert_true(path_only >= 0);
    refuse_then_adopt(path_only, FDSAFE_KIND_FILE, FDSAFE_KIND_OTHER);

    /* What the narrower check accepts is still taken. */
    int null = open("/dev/null", O_RDWR);
    int file = open("/etc/passwd", O_RDONLY);
    assert_true(null >= 0 && file >= 0);
    refuse_then_adopt(null, FDSAFE_KIND_TERMINAL, FDSAFE_KIND_CHARDEV);
    refuse_then_adopt(file, FDSAFE_KIND_MEMFD, FDSAFE_KIND_FILE);
}

static void *close_from_here(void *arg) {
    must(fdsafe_close(*(fdsafe_handle *)arg));
    return NULL;
}

/* A handle closed by another thread than its creator works up to the close and is closed
 * after it: one reference protocol for every thread. */
static void test_close_from_another_thread_than_the_creator(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    assert_int_equal(fdsafe_write(w, "ab", 2), 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, close_from_here, &w), 0);
    pthread_join(t, NULL);
    expect_code(fdsafe_write(w, "c", 1), -EBADF);
    char buf[4];
    assert_int_equal(fdsafe_read(r, buf, sizeof buf), 2);
    assert_int_equal(fdsafe_read(r, buf, sizeof buf), 0); /* the write end really closed */
    must(fdsafe_close(r));
}

/* Adoption proves the kind for every kind; a stdio handle never comes from adoption, so
 * closing an adopted descriptor 1 cannot close standard output behind the program's back. */
static void test_adopting_as_stdio_is_refused(void **state) {
    (void)state;
    fdsafe_handle h = 0;
    expect_code(fdsafe_fd_adopt(1, FDSAFE_KIND_STDIO, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);
    assert_true(fcntl(1, F_GETFD) >= 0); /* standard output untouched */
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_STDIO, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_EVENTFD, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_PIPE, &h));
    must(fdsafe_close(h));
    close(fds[1]);
}

/* fdsafe_fd_borrow checks the whole value: a changed kind byte is refused like any other
 * forged value. */
static void test_borrow_refuses_a_changed_kind_byte(void **state) {
    (void)state;
    fdsafe_handle r, w;
    make_pipe(&r, &w);
    assert_true(fdsafe_fd_borrow(r) >= 0);
    for (int bit = 56; bit < 64; bit++) {
        expect_code(fdsafe_fd_borrow(r ^ ((fdsafe_handle)1 << bit)), -EBADF);
        expect_code(fdsafe_handle_kind(r ^ ((fdsafe_handle)1 << bit)), -EBADF);
    }
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

/* A close that waits for a call in progress leaves the descriptor open, and fdsafe closes it
 * when the call returns: until then the number is still fdsafe's, and adopting it would give
 * it two owners (fdsafe would close it under the new handle, which would then reach and close
 * whatever file took the number). */
static int blocked_read_result;

static void *read_one_byte(void *handle) {
    char byte;
    blocked_read_result = (int)fdsafe_read(*(fdsafe_handle *)handle, &byte, 1);
    return NULL;
}

static void test_adopting_the_number_of_a_closing_handle_is_refused(void **state) {
    (void)state;
    fdsafe_handle r, w, stolen = 0;
    must(fdsafe_pipe_create(0, &r, &w));
    int number = fdsafe_fd_borrow(r);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, read_one_byte, &r), 0);
    usleep(50 * 1000); /* the reader is blocked in the read */
    must(fdsafe_close(r));
    assert_true(fcntl(number, F_GETFD) >= 0); /* still open: the read holds it */
    expect_code(fdsafe_fd_adopt(number, FDSAFE_KIND_PIPE, &stolen), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_write(w, "x", 1), 1);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_int_equal(blocked_read_result, 1);
    assert_true(fcntl(number, F_GETFD) < 0); /* fdsafe closed it once the read returned */
    must(fdsafe_close(w));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_close_twice_is_ebadf_and_closes_nothing_else),
        FD_TEST(test_old_handles_stay_dead_across_reuse),
        FD_TEST(test_invalid_and_forged_handles),
        FD_TEST(test_kind_and_kind_name),
        FD_TEST(test_wrong_kind_does_nothing),
        FD_TEST(test_borrow_lends_without_giving),
        FD_TEST(test_release_gives_the_fd_and_kills_the_handle),
        FD_TEST(test_adopt_checks_the_kind_with_the_kernel),
        FD_TEST(test_dup_shares_the_file_with_a_new_descriptor),
        FD_TEST(test_nonblocking_mode),
        FD_TEST(test_wait_reports_readiness),
        FD_TEST(test_vectored_io),
        FD_TEST(test_bad_buffers_are_refused_before_io),
        FD_TEST(test_exec_inherits_no_fdsafe_descriptor),
        FD_TEST(test_handles_work_in_a_forked_child_independently),
        FD_TEST(test_any_descriptor_can_be_adopted_as_other),
        FD_TEST(test_adoption_refuses_the_wider_kind_of_a_file_type),
        FD_TEST(test_close_from_another_thread_than_the_creator),
        FD_TEST(test_adopting_as_stdio_is_refused),
        FD_TEST(test_borrow_refuses_a_changed_kind_byte),
        FD_TEST(test_adopting_the_number_of_a_closing_handle_is_refused),
    };
    return cmocka_run_group_tests_name("handles", tests, NULL, NULL);
}
