/* FIFOs (create, reuse, open ends blocking and non-blocking, ENXIO), mknod for FIFOs and
 * device nodes, character devices (/dev/null, /dev/zero, /dev/urandom), with misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void test_fifo_create_and_reuse(void **state) {
    (void)state;
    char p[128], f[128];
    temp_path(p, sizeof p, "fifo");
    temp_path(f, sizeof f, "regular");
    expect_code(fdsafe_fifo_create(p, 0640, 0), 0);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0640);
    expect_code(fdsafe_fifo_create(p, 0640, 0), -EEXIST);
    expect_code(fdsafe_fifo_create(p, 0640, FDSAFE_FIFO_REUSE), 1);
    int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    expect_code(fdsafe_fifo_create(f, 0600, FDSAFE_FIFO_REUSE), -EEXIST);
    assert_int_equal(lstat(f, &st), 0);
    assert_true(S_ISREG(st.st_mode)); /* left alone */
    /* Misuse. */
    expect_code(fdsafe_fifo_create(NULL, 0600, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_create("", 0600, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_create(p, 0600, 2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_create(p, 010600, FDSAFE_FIFO_REUSE), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_create("/nonexistent-dir/fifo", 0600, 0), -ENOENT);
    unlink(p);
    unlink(f);
}

static void test_fifo_nonblocking_open_and_enxio(void **state) {
    (void)state;
    char p[128];
    temp_path(p, sizeof p, "nb");
    must(fdsafe_fifo_create(p, 0600, 0));
    fdsafe_handle r, w, pr, pw;
    w = 0x77;
    expect_code(fdsafe_fifo_open(p, FDSAFE_O_WRONLY | FDSAFE_NONBLOCK, &w), -ENXIO);
    assert_int_equal(w, 0x77);
    must(fdsafe_fifo_open(p, FDSAFE_O_RDONLY | FDSAFE_NONBLOCK, &r));
    expect_code(fdsafe_handle_kind(r), FDSAFE_KIND_FIFO);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(r))), 1);
    expect_code(fdsafe_nonblocking_get(r), 1);
    must(fdsafe_fifo_open(p, FDSAFE_O_WRONLY | FDSAFE_NONBLOCK, &w));
    expect_code(fdsafe_write(w, "fifo", 4), 4);
    char buf[8];
    expect_code(fdsafe_read(r, buf, sizeof buf), 4);
    assert_memory_equal(buf, "fifo", 4);
    expect_code(fdsafe_read(r, buf, sizeof buf), -EAGAIN);
    /* A FIFO takes part in splice like a pipe. */
    must(fdsafe_pipe_create(0, &pr, &pw));
    expect_code(fdsafe_write(pw, "spl", 3), 3);
    expect_code(fdsafe_splice(pr, NULL, w, NULL, 3, 0), 3);
    expect_code(fdsafe_read(r, buf, sizeof buf), 3);
    assert_memory_equal(buf, "spl", 3);
    /* A FIFO is a pipe with a name: its capacity is the pipe's, through either end. */
    int64_t got = fdsafe_pipe_set_capacity(w, 1 << 20);
    assert_true(got >= 1 << 20);
    expect_code(fdsafe_pipe_get_capacity(r), got);
    /* Reader gone: -EPIPE, no signal. */
    must(fdsafe_close(r));
    expect_code(fdsafe_write(w, "x", 1), -EPIPE);
    must(fdsafe_close(w));
    /* A read-write end never waits. */
    must(fdsafe_fifo_open(p, FDSAFE_O_RDWR, &r));
    expect_code(fdsafe_nonblocking_get(r), 0);
    must(fdsafe_close(r));
    must(fdsafe_close(pr));
    must(fdsafe_close(pw));
    unlink(p);
}

struct opener {
    const char *path;
    fdsafe_handle h;
    int rc;
};

static void *open_writer(void *arg) {
    struct opener *o = arg;
    o->rc = fdsafe_fifo_open(o->path, FDSAFE_O_WRONLY, &o->h);
    if (o->rc == 0)
        o->rc = (int)fdsafe_write(o->h, "blocking", 8);
    return NULL;
}

static void test_fifo_blocking_open_meets_the_other_end(void **state) {
    (void)state;
    char p[128];
    temp_path(p, sizeof p, "blk");
    must(fdsafe_fifo_create(p, 0600, 0));
    struct opener o = {p, 0, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_writer, &o), 0);
    fdsafe_handle r;
    must(fdsafe_fifo_open(p, FDSAFE_O_RDONLY, &r)); /* waits for the writer */
    expect_code(fdsafe_nonblocking_get(r), 0);
    char buf[16] = {0};
    expect_code(fdsafe_read(r, buf, 8), 8);
    assert_string_equal(buf, "blocking");
    pthread_join(t, NULL);
    assert_int_equal(o.rc, 8);
    must(fdsafe_close(o.h));
    expect_code(fdsafe_read(r, buf, sizeof buf), 0); /* end of file */
    must(fdsafe_close(r));
    unlink(p);
}

static void test_fifo_open_refuses_other_files_and_bad_input(void **state) {
    (void)state;
    char p[128], f[128];
    temp_path(p, sizeof p, "x");
    temp_path(f, sizeof f, "plain");
    must(fdsafe_fifo_create(p, 0600, 0));
    close(open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    fdsafe_handle h = 0x55;
    expect_code(fdsafe_fifo_open(f, FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_open("/dev/null", FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_open(NULL, FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_open(p, FDSAFE_O_RDONLY, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_open(p, 3, &h), FDSAFE_E_INVALID_ARGUMENT); /* access mode 3 */
    expect_code(fdsafe_fifo_open(p, 0x80, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fifo_open("/nonexistent", FDSAFE_O_RDONLY, &h), -ENOENT);
    assert_int_equal(h, 0x55);
    /* Adopting: a FIFO the caller opened is a FIFO, not a pipe (as detection names it); an
     * anonymous pipe is not a FIFO. */
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_PIPE, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(fd_is_open(fd));
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_FIFO, &h));
    assert_int_equal(fd_is_cloexec(fd), 1);
    fdsafe_handle d;
    must(fdsafe_dup(h, &d));
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_FIFO);
    must(fdsafe_close(d));
    must(fdsafe_close(h));
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    expect_code(fdsafe_fd_adopt(pp[0], FDSAFE_KIND_FIFO, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(fd_is_open(pp[0]));
    close(pp[0]);
    close(pp[1]);
    unlink(p);
    unlink(f);
}

static void test_mknod_fifo_char_and_block(void **state) {
    (void)state;
    char p[128], c[128], b[128];
    temp_path(p, sizeof p, "nodefifo");
    temp_path(c, sizeof c, "null");
    temp_path(b, sizeof b, "blk");
    struct stat st;
    expect_code(fdsafe_mknod(p, FDSAFE_NODE_FIFO, 0600, 0, 0), 0);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    expect_code(fdsafe_mknod(p, FDSAFE_NODE_FIFO, 0600, 0, 0), -EEXIST);
    expect_code(fdsafe_mknod(c, FDSAFE_NODE_CHAR, 0666, 1, 3), 0); /* a second /dev/null */
    assert_int_equal(lstat(c, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
    fdsafe_handle h;
    uint32_t maj = 0, min = 0;
    must(fdsafe_chardev_open(c, FDSAFE_O_RDWR, &h));
    expect_code(fdsafe_write(h, "gone", 4), 4);
    must(fdsafe_chardev_numbers(h, &maj, &min));
    assert_int_equal(maj, 1);
    assert_int_equal(min, 3);
    must(fdsafe_close(h));
    expect_code(fdsafe_mknod(b, FDSAFE_NODE_BLOCK, 0600, 7, 0), 0);
    assert_int_equal(lstat(b, &st), 0);
    assert_true(S_ISBLK(st.st_mode));
    assert_int_equal(major(st.st_rdev), 7);
    expect_code(fdsafe_chardev_open(b, FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    /* Misuse. */
    char q[128];
    temp_path(q, sizeof q, "never");
    expect_code(fdsafe_mknod(q, FDSAFE_NODE_FIFO, 0600, 1, 3), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mknod(q, 9, 0600, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mknod(q, 0, 0600, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mknod(q, FDSAFE_NODE_CHAR, S_IFREG | 0600, 1, 3), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mknod(NULL, FDSAFE_NODE_FIFO, 0600, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_mknod("", FDSAFE_NODE_FIFO, 0600, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(access(q, F_OK), -1);
    unlink(p);
    unlink(c);
    unlink(b);
}

static void test_chardev_null_zero_urandom(void **state) {
    (void)state;
    fdsafe_handle n, z, u;
    uint32_t maj, min;
    must(fdsafe_chardev_open("/dev/null", FDSAFE_O_RDWR, &n));
    expect_code(fdsafe_handle_kind(n), FDSAFE_KIND_CHARDEV);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(n))), 1);
    expect_code(fdsafe_write(n, "discard", 7), 7);
    char buf[64];
    expect_code(fdsafe_read(n, buf, sizeof buf), 0);
    must(fdsafe_chardev_numbers(n, &maj, &min));
    assert_int_equal(maj, 1);
    assert_int_equal(min, 3);

    must(fdsafe_chardev_open("/dev/zero", FDSAFE_O_RDONLY, &z));
    memset(buf, 0xAA, sizeof buf);
    expect_code(fdsafe_read(z, buf, sizeof buf), 64);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
    must(fdsafe_chardev_numbers(z, &maj, &min));
    assert_int_equal(min, 5);
    expect_code(fdsafe_write(z, "x", 1), -EBADF); /* opened read-only */

    must(fdsafe_chardev_open("/dev/urandom", FDSAFE_O_RDONLY | FDSAFE_NONBLOCK, &u));
    char a[32], b[32];
    expect_code(fdsafe_read(u, a, sizeof a), 32);
    expect_code(fdsafe_read(u, b, sizeof b), 32);
    assert_memory_not_equal(a, b, sizeof a);
    must(fdsafe_chardev_numbers(u, &maj, &min));
    assert_int_equal(maj, 1);
    assert_int_equal(min, 9);

    /* Adopt a caller's /dev/null descriptor; a file is not a character device. */
    int fd = open("/dev/null", O_RDONLY);
    fdsafe_handle h;
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_CHARDEV, &h));
    must(fdsafe_close(h));
    fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_CHARDEV, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(fd);
    must(fdsafe_close(n));
    must(fdsafe_close(z));
    must(fdsafe_close(u));
}

static void test_chardev_bad_input(void **state) {
    (void)state;
    fdsafe_handle h = 0x42, r, w;
    uint32_t maj = 77, min = 77;
    expect_code(fdsafe_chardev_open("/etc/passwd", FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_open("/tmp", FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_open("/dev/nonexistent", FDSAFE_O_RDONLY, &h), -ENOENT);
    expect_code(fdsafe_chardev_open(NULL, FDSAFE_O_RDONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_open("/dev/null", FDSAFE_O_RDONLY, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_open("/dev/null", 3, &h), FDSAFE_E_INVALID_ARGUMENT); /* access mode 3 */
    expect_code(fdsafe_chardev_open("/dev/null", 1u << 9, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(h, 0x42);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_chardev_numbers(r, &maj, &min), FDSAFE_E_WRONG_KIND);
    must(fdsafe_chardev_open("/dev/null", FDSAFE_O_RDONLY, &h));
    expect_code(fdsafe_chardev_numbers(h, NULL, &min), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_chardev_numbers(h, &maj, NULL), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(h));
    expect_code(fdsafe_chardev_numbers(h, &maj, &min), -EBADF);
    expect_code(fdsafe_chardev_numbers(0, &maj, &min), -EBADF);
    assert_int_equal(maj, 77);
    assert_int_equal(min, 77);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

/* Reopening an anonymous pipe's end through /proc is not opening a FIFO: fdsafe_fifo_open
 * refuses it, as fdsafe_fd_adopt refuses a pipe as FDSAFE_KIND_FIFO, before opening it. And
 * exclusive creation over an existing FIFO says EEXIST, as open(2) does. */
static void test_fifo_open_refuses_an_anonymous_pipe_and_excl_says_eexist(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    fdsafe_handle h = 0;
    expect_code(fdsafe_fifo_open(path, FDSAFE_O_WRONLY, &h), FDSAFE_E_INVALID_ARGUMENT);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    expect_code(fdsafe_fifo_open(path, FDSAFE_O_RDONLY | FDSAFE_NONBLOCK, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fd_adopt(p[0], FDSAFE_KIND_FIFO, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(p[0]);
    close(p[1]);

    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/excl.fifo", temp_dir);
    must(fdsafe_fifo_create(fifo, 0600, 0));
    expect_code(fdsafe_file_open(fifo, FDSAFE_O_WRONLY | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, &h), -EEXIST);
    expect_code(fdsafe_file_open(fifo, FDSAFE_O_WRONLY | FDSAFE_O_CREAT, 0600, &h), FDSAFE_E_INVALID_ARGUMENT);
    unlink(fifo);
}

int main(void) {
    umask(022);
    const struct CMUnitTest tests[] = {
        FD_TEST(test_fifo_create_and_reuse),
        FD_TEST(test_fifo_nonblocking_open_and_enxio),
        FD_TEST(test_fifo_open_refuses_an_anonymous_pipe_and_excl_says_eexist),
        FD_TEST(test_fifo_blocking_open_meets_the_other_end),
        FD_TEST(test_fifo_open_refuses_other_files_and_bad_input),
        FD_TEST(test_mknod_fifo_char_and_block),
        FD_TEST(test_chardev_null_zero_urandom),
        FD_TEST(test_chardev_bad_input),
    };
    return cmocka_run_group_tests(tests, temp_dir_create, temp_dir_remove);
}
