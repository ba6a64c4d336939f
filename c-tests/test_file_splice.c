/* Files (open flags, openat2 resolution, positioned I/O, size, truncate, sync, seek, adopt)
 * and zero-copy moves (splice, vmsplice, tee, sendfile, copy_file_range), with misuse. */
#include "harness.h"

#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A file in the test directory holding `text`, opened read-write. */
static fdsafe_handle file_with(const char *name, const char *text) {
    char p[128];
    temp_path(p, sizeof p, name);
    fdsafe_handle h;
    must(fdsafe_file_open(p, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_TRUNC, 0600, &h));
    expect_code(fdsafe_file_pwrite(h, text, strlen(text), 0), (int64_t)strlen(text));
    return h;
}

static void test_open_create_exclusive_and_positioned_io(void **state) {
    (void)state;
    char p[128];
    temp_path(p, sizeof p, "a");
    fdsafe_handle h, h2;
    must(fdsafe_file_open(p, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0640, &h));
    expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_FILE);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(h))), 1);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640 & ~umask(022));
    umask(022);
    expect_code(fdsafe_file_open(p, FDSAFE_O_WRONLY | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, &h2), -EEXIST);

    expect_code(fdsafe_write(h, "hello world", 11), 11);
    expect_code(fdsafe_file_size(h), 11);
    char buf[32] = {0};
    expect_code(fdsafe_file_pread(h, buf, 5, 6), 5);
    assert_memory_equal(buf, "world", 5);
    expect_code(fdsafe_file_pwrite(h, "HELLO", 5, 0), 5);
    expect_code(fdsafe_file_seek(h, 0, FDSAFE_SEEK_CUR), 11); /* positioned I/O left it */
    expect_code(fdsafe_file_seek(h, 0, FDSAFE_SEEK_SET), 0);
    memset(buf, 0, sizeof buf);
    expect_code(fdsafe_read(h, buf, sizeof buf), 11);
    assert_string_equal(buf, "HELLO world");
    expect_code(fdsafe_file_pread(h, buf, sizeof buf, 100), 0);
    expect_code(fdsafe_file_truncate(h, 5), 0);
    expect_code(fdsafe_file_size(h), 5);
    expect_code(fdsafe_file_truncate(h, 4096), 0);
    expect_code(fdsafe_file_seek(h, 0, FDSAFE_SEEK_END), 4096);
    expect_code(fdsafe_file_sync(h, 0), 0);
    expect_code(fdsafe_file_sync(h, FDSAFE_FILE_SYNC_DATA), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4096);
    must(fdsafe_close(h));

    /* Read-only, append, truncate. */
    must(fdsafe_file_open(p, FDSAFE_O_RDONLY, 0, &h));
    expect_code(fdsafe_write(h, "x", 1), -EBADF);
    expect_code(fdsafe_file_truncate(h, 0), -EINVAL);
    must(fdsafe_close(h));
    must(fdsafe_file_open(p, FDSAFE_O_WRONLY | FDSAFE_O_TRUNC, 0, &h));
    expect_code(fdsafe_file_size(h), 0);
    must(fdsafe_close(h));
    must(fdsafe_file_open(p, FDSAFE_O_WRONLY | FDSAFE_O_APPEND, 0, &h));
    expect_code(fdsafe_write(h, "ab", 2), 2);
    expect_code(fdsafe_file_pwrite(h, "cd", 2, 0), 2); /* appends regardless of the offset */
    must(fdsafe_close(h));
    must(fdsafe_file_open(p, FDSAFE_O_RDONLY, 0, &h));
    expect_code(fdsafe_file_pread(h, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "abcd", 4);
    must(fdsafe_close(h));
    unlink(p);
}

static void test_nofollow_tmpfile_and_directories(void **state) {
    (void)state;
    char target[128], link[128];
    temp_path(target, sizeof target, "t");
    temp_path(link, sizeof link, "l");
    fdsafe_handle h = file_with("t", "x");
    must(fdsafe_close(h));
    assert_int_equal(symlink(target, link), 0);
    expect_code(fdsafe_file_open(link, FDSAFE_O_RDONLY | FDSAFE_O_NOFOLLOW, 0, &h), -ELOOP);
    must(fdsafe_file_open(link, FDSAFE_O_RDONLY, 0, &h));
    must(fdsafe_close(h));

    /* O_TMPFILE: a file without a name. */
    must(fdsafe_file_open(temp_dir, FDSAFE_O_RDWR | FDSAFE_O_TMPFILE, 0600, &h));
    expect_code(fdsafe_write(h, "tmp", 3), 3);
    expect_code(fdsafe_file_size(h), 3);
    must(fdsafe_close(h));
    expect_code(fdsafe_file_open(temp_dir, FDSAFE_O_RDONLY | FDSAFE_O_TMPFILE, 0600, &h), FDSAFE_E_INVALID_ARGUMENT);

    /* A directory handle is a file handle; reading it is the kernel's -EISDIR. */
    must(fdsafe_file_open(temp_dir, FDSAFE_O_DIRECTORY, 0, &h));
    char c;
    expect_code(fdsafe_read(h, &c, 1), -EISDIR);
    must(fdsafe_close(h));
    expect_code(fdsafe_file_open(target, FDSAFE_O_DIRECTORY, 0, &h), -ENOTDIR);
    unlink(link);
    unlink(target);
}

static void test_open_at_beneath(void **state) {
    (void)state;
    if (syscall_missing(SYS_openat2, "openat2")) skip();
    fdsafe_handle d, h, r, w;
    must(fdsafe_file_open(temp_dir, FDSAFE_O_DIRECTORY, 0, &d));
    must(fdsafe_file_open_at(d, "inside", FDSAFE_O_WRONLY | FDSAFE_O_CREAT, 0600, FDSAFE_RESOLVE_BENEATH, &h));
    must(fdsafe_close(h));
    must(fdsafe_file_open_at(d, "inside", FDSAFE_O_RDONLY, 0, 0, &h)); /* plain openat */
    must(fdsafe_close(h));
    expect_code(fdsafe_file_open_at(d, "../etc/passwd", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_BENEATH, &h), -EXDEV);
    expect_code(fdsafe_file_open_at(d, "/etc/passwd", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_BENEATH, &h), -EXDEV);
    char link[128];
    temp_path(link, sizeof link, "out");
    assert_int_equal(symlink("/etc/passwd", link), 0);
    expect_code(fdsafe_file_open_at(d, "out", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_BENEATH, &h), -EXDEV);
    expect_code(fdsafe_file_open_at(d, "out", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_NO_SYMLINKS, &h), -ELOOP);
    must(fdsafe_file_open_at(d, "out", FDSAFE_O_RDONLY, 0, 0, &h)); /* without limits it resolves */
    must(fdsafe_close(h));
    expect_code(fdsafe_file_open_at(d, "inside", FDSAFE_O_RDONLY, 0, 0x100, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_file_open_at(r, "inside", FDSAFE_O_RDONLY, 0, 0, &h), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(d));
    expect_code(fdsafe_file_open_at(d, "inside", FDSAFE_O_RDONLY, 0, 0, &h), -EBADF);
    unlink(link);
    temp_path(link, sizeof link, "inside");
    unlink(link);
}

/* A read-only open never empties the file (Linux would, for O_RDONLY | O_TRUNC), and the
 * flags fcntl(F_GETFL) reads back from a descriptor (the kernel's O_LARGEFILE bit with them)
 * open the file again. */
static void test_file_flags_as_read_back_and_no_read_only_truncate(void **state) {
    (void)state;
    fdsafe_handle f = file_with("keep", "data"), again;
    int flags = fcntl((int)must(fdsafe_fd_borrow(f)), F_GETFL);
    assert_true(flags >= 0);
    char p[128];
    temp_path(p, sizeof p, "keep");
    expect_code(fdsafe_file_open(p, O_RDONLY | O_TRUNC, 0, &again), FDSAFE_E_INVALID_ARGUMENT);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 4);
    must(fdsafe_file_open(p, (uint32_t)flags & ~(uint32_t)FDSAFE_NONBLOCK, 0, &again));
    char buf[4];
    expect_code(fdsafe_file_pread(again, buf, 4, 0), 4);
    must(fdsafe_close(again));
    must(fdsafe_close(f));
    unlink(p);
}

static void test_file_bad_input(void **state) {
    (void)state;
    fdsafe_handle h = 0x1234, r, w;
    char p[128];
    temp_path(p, sizeof p, "bad");
    expect_code(fdsafe_file_open(NULL, FDSAFE_O_RDONLY, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open("", FDSAFE_O_RDONLY, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(p, FDSAFE_O_RDONLY, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(p, 1u << 30, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(p, 3, 0, &h), FDSAFE_E_INVALID_ARGUMENT); /* access mode 3 */
    expect_code(fdsafe_file_open(p, FDSAFE_O_APPEND, 0, &h), FDSAFE_E_INVALID_ARGUMENT); /* append, read-only */
    expect_code(fdsafe_file_open(p, FDSAFE_O_TRUNC, 0, &h), FDSAFE_E_INVALID_ARGUMENT);  /* would empty it */
    expect_code(fdsafe_file_open(p, FDSAFE_O_WRONLY | FDSAFE_O_EXCL, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(p, FDSAFE_O_WRONLY | FDSAFE_O_CREAT, 010000, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(p, FDSAFE_O_RDONLY, 0, &h), -ENOENT);
    assert_int_equal(h, 0x1234); /* out-params untouched on failure */
    assert_int_equal(access(p, F_OK), -1);

    fdsafe_handle f = file_with("bad", "data");
    char buf[8];
    expect_code(fdsafe_file_pread(f, NULL, 4, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_pread(f, buf, SIZE_MAX, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_pread(f, buf, 4, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_pwrite(f, NULL, 4, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_pwrite(f, "x", 1, -5), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_truncate(f, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_sync(f, 2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_seek(f, 0, 7), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_seek(f, -10, FDSAFE_SEEK_SET), -EINVAL);
    expect_code(fdsafe_file_size(f), 4); /* nothing changed */

    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_file_pread(r, buf, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_pwrite(w, "x", 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_size(r), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_truncate(w, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_sync(w, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_seek(r, 0, FDSAFE_SEEK_SET), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(f));
    expect_code(fdsafe_file_pread(f, buf, 1, 0), -EBADF);
    expect_code(fdsafe_file_pwrite(f, "x", 1, 0), -EBADF);
    expect_code(fdsafe_file_size(f), -EBADF);
    expect_code(fdsafe_file_size(0), -EBADF);
    expect_code(fdsafe_file_truncate(f, 0), -EBADF);
    expect_code(fdsafe_file_sync(f, 0), -EBADF);
    expect_code(fdsafe_file_seek(f, 0, FDSAFE_SEEK_SET), -EBADF);
    unlink(p);
}

/* Reads `len` bytes at `offset` and checks that every one is `byte`. */
static void expect_bytes(fdsafe_handle h, int64_t offset, size_t len, char byte) {
    char buf[8192];
    assert_true(len <= sizeof buf);
    expect_code(fdsafe_file_pread(h, buf, len, offset), (int64_t)len);
    for (size_t i = 0; i < len; i++)
        assert_int_equal(buf[i], byte);
}

/* 1 if fallocate `mode` gave -EOPNOTSUPP here (after printing why the check is skipped). */
static int unsupported(int64_t rc, const char *mode) {
    if (rc != -EOPNOTSUPP) return 0;
    printf("skipped: this file system refuses fallocate %s (%s)\n", mode, fdsafe_strerror((int)rc));
    return 1;
}

static void test_allocate_punch_and_zero(void **state) {
    (void)state;
    fdsafe_handle f = file_with("alloc", "");
    char data[8192];
    memset(data, 'x', sizeof data);
    /* Mode 0 reserves and grows the file. */
    expect_code(fdsafe_file_allocate(f, 0, 0, 4096), 0);
    expect_code(fdsafe_file_size(f), 4096);
    expect_bytes(f, 0, 4096, 0);
    /* Keep size: blocks reserved beyond the end, the size unchanged. */
    fdsafe_file_status before, after;
    must(fdsafe_file_stat(f, &before));
    int64_t rc = fdsafe_file_allocate(f, FDSAFE_FALLOC_KEEP_SIZE, 4096, 65536);
    if (!unsupported(rc, "KEEP_SIZE")) {
        expect_code(rc, 0);
        expect_code(fdsafe_file_size(f), 4096);
        must(fdsafe_file_stat(f, &after));
        assert_true(after.blocks >= before.blocks + 65536 / 512);
    }
    /* Punch a hole into written data: it reads as zeros, the size stays. */
    expect_code(fdsafe_file_pwrite(f, data, sizeof data, 0), (int64_t)sizeof data);
    rc = fdsafe_file_allocate(f, FDSAFE_FALLOC_PUNCH_HOLE | FDSAFE_FALLOC_KEEP_SIZE, 0, 4096);
    if (!unsupported(rc, "PUNCH_HOLE")) {
        expect_code(rc, 0);
        expect_code(fdsafe_file_size(f), 8192);
        expect_bytes(f, 0, 4096, 0);
        expect_bytes(f, 4096, 4096, 'x');
        expect_code(fdsafe_file_seek(f, 0, FDSAFE_SEEK_HOLE), 0);
        expect_code(fdsafe_file_seek(f, 0, FDSAFE_SEEK_DATA), 4096);
    }
    /* The kernel wants keep-size with a hole. */
    expect_code(fdsafe_file_allocate(f, FDSAFE_FALLOC_PUNCH_HOLE, 0, 4096), -EOPNOTSUPP);
    /* Zero a range in the middle of data. */
    expect_code(fdsafe_file_pwrite(f, data, sizeof data, 0), (int64_t)sizeof data);
    rc = fdsafe_file_allocate(f, FDSAFE_FALLOC_ZERO_RANGE, 1000, 2000);
    if (!unsupported(rc, "ZERO_RANGE")) {
        expect_code(rc, 0);
        expect_bytes(f, 0, 1000, 'x');
        expect_bytes(f, 1000, 2000, 0);
        expect_bytes(f, 3000, 5192, 'x');
        /* Beyond the end, it grows the file unless asked to keep the size. */
        expect_code(fdsafe_file_allocate(f, FDSAFE_FALLOC_ZERO_RANGE, 8192, 100), 0);
        expect_code(fdsafe_file_size(f), 8292);
    }
    /* Bad input. */
    expect_code(fdsafe_file_allocate(f, 0x8, 0, 1), FDSAFE_E_INVALID_ARGUMENT); /* COLLAPSE_RANGE: not offered */
    expect_code(fdsafe_file_allocate(f, 0x1000, 0, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_allocate(f, 0, -1, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_allocate(f, 0, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_allocate(f, 0, 0, -4), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(f));
    expect_code(fdsafe_file_allocate(f, 0, 0, 1), -EBADF);
    expect_code(fdsafe_file_allocate(f, 0x8, 0, 1), FDSAFE_E_INVALID_ARGUMENT); /* bad mode first */
    /* Read-only: the kernel says EBADF; a directory: ENODEV; another kind: wrong kind. */
    char p[128];
    temp_path(p, sizeof p, "alloc");
    must(fdsafe_file_open(p, FDSAFE_O_RDONLY, 0, &f));
    expect_code(fdsafe_file_allocate(f, 0, 0, 1), -EBADF);
    must(fdsafe_close(f));
    must(fdsafe_file_open(temp_dir, FDSAFE_O_RDONLY | FDSAFE_O_DIRECTORY, 0, &f));
    expect_code(fdsafe_file_allocate(f, 0, 0, 1), -EBADF); /* read-only first */
    must(fdsafe_close(f));
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_file_allocate(w, 0, 0, 1), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    unlink(p);
}

static void test_chmod_chown_and_stat(void **state) {
    (void)state;
    fdsafe_handle f = file_with("meta", "twelve bytes");
    int fd = (int)must(fdsafe_fd_borrow(f));
    struct stat st;
    fdsafe_file_status s;
    memset(&s, 0xff, sizeof s);
    must(fdsafe_file_stat(f, &s));
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(s.mode, st.st_mode);
    assert_true(S_ISREG(s.mode));
    assert_int_equal(s.size, 12);
    assert_int_equal(s.ino, st.st_ino);
    assert_int_equal(s.nlink, 1);
    assert_int_equal(s.uid, st.st_uid);
    assert_int_equal(s.gid, st.st_gid);
    assert_int_equal(s.blocks, st.st_blocks);
    assert_int_equal(s.blksize, st.st_blksize);
    assert_int_equal(makedev(s.dev_major, s.dev_minor), st.st_dev);
    assert_int_equal(s.mtime_sec, st.st_mtim.tv_sec);
    assert_int_equal(s.mtime_nsec, st.st_mtim.tv_nsec);
    assert_int_equal(s.ctime_sec, st.st_ctim.tv_sec);
    assert_int_equal(s.atime_sec, st.st_atim.tv_sec);
    if (s.mask & FDSAFE_STATX_BTIME)
        assert_true(s.btime_sec > 0 && s.btime_sec <= s.ctime_sec);
    else
        assert_true(s.btime_sec == 0 && s.btime_nsec == 0);

    expect_code(fdsafe_file_chmod(f, 0640), 0);
    must(fdsafe_file_stat(f, &s));
    assert_int_equal(s.mode & 07777, 0640);
    expect_code(fdsafe_file_chmod(f, 04755), 0);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    expect_code(fdsafe_file_chmod(f, 010000), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755); /* unchanged */

    /* To its own owner, always allowed; (uid_t)-1 leaves one unchanged. */
    expect_code(fdsafe_file_chown(f, getuid(), getgid()), 0);
    expect_code(fdsafe_file_chown(f, UINT32_MAX, UINT32_MAX), 0);
    if (geteuid() == 0) {
        expect_code(fdsafe_file_chown(f, 65534, UINT32_MAX), 0);
        must(fdsafe_file_stat(f, &s));
        assert_int_equal(s.uid, 65534);
        assert_int_equal(s.gid, getgid());
        expect_code(fdsafe_file_chown(f, UINT32_MAX, 65534), 0);
        must(fdsafe_file_stat(f, &s));
        assert_int_equal(s.uid, 65534);
        assert_int_equal(s.gid, 65534);
        expect_code(fdsafe_file_chown(f, getuid(), getgid()), 0);
    } else {
        printf("skipped: giving a file away needs root (euid %d)\n", (int)geteuid());
        expect_code(fdsafe_file_chown(f, 0, UINT32_MAX), -EPERM);
    }
    expect_code(fdsafe_file_stat(f, NULL), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_file_stat(r, &s), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_chmod(r, 0600), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_file_chown(r, UINT32_MAX, UINT32_MAX), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(f));
    expect_code(fdsafe_file_stat(f, &s), -EBADF);
    expect_code(fdsafe_file_chmod(f, 0600), -EBADF);
    expect_code(fdsafe_file_chown(f, UINT32_MAX, UINT32_MAX), -EBADF);
    /* A directory. */
    must(fdsafe_file_open(temp_dir, FDSAFE_O_RDONLY | FDSAFE_O_DIRECTORY, 0, &f));
    must(fdsafe_file_stat(f, &s));
    assert_true(S_ISDIR(s.mode));
    must(fdsafe_close(f));
    char p[128];
    temp_path(p, sizeof p, "meta");
    unlink(p);
}

static void test_adopt_and_dup_a_file_the_caller_opened(void **state) {
    (void)state;
    char p[128];
    temp_path(p, sizeof p, "adopt");
    int fd = open(p, O_RDWR | O_CREAT, 0600); /* deliberately without O_CLOEXEC */
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    fdsafe_handle h, d, r, w;
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_FILE, &h));
    assert_int_equal(fd_is_cloexec(fd), 1);
    expect_code(fdsafe_file_size(h), 3);
    must(fdsafe_dup(h, &d));
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_FILE);
    must(fdsafe_close(h));
    expect_code(fdsafe_file_size(d), 3);
    must(fdsafe_close(d));
    /* A pipe is not a file: refused, and still the caller's. */
    must(fdsafe_pipe_create(0, &r, &w));
    int pfd = fdsafe_fd_release(r);
    expect_code(fdsafe_fd_adopt(pfd, FDSAFE_KIND_FILE, &h), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(fd_is_open(pfd));
    close(pfd);
    must(fdsafe_close(w));
    unlink(p);
}

/* ---- zero-copy moves ---- */

static void test_splice_file_to_pipe_to_file_with_offsets(void **state) {
    (void)state;
    fdsafe_handle src = file_with("src", "0123456789");
    fdsafe_handle dst = file_with("dst", "");
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    int64_t off = 3;
    expect_code(fdsafe_splice(src, &off, w, NULL, 4, FDSAFE_SPLICE_MOVE | FDSAFE_SPLICE_MORE), 4);
    assert_int_equal(off, 7);
    expect_code(fdsafe_file_seek(src, 0, FDSAFE_SEEK_CUR), 0); /* position untouched */
    int64_t out_off = 2;
    expect_code(fdsafe_splice(r, NULL, dst, &out_off, 4, 0), 4);
    assert_int_equal(out_off, 6);
    char buf[16] = {0};
    expect_code(fdsafe_file_pread(dst, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "\0\0" "3456", 6);
    /* Without offsets the file position is used and moved. */
    expect_code(fdsafe_splice(src, NULL, w, NULL, 2, 0), 2);
    expect_code(fdsafe_file_seek(src, 0, FDSAFE_SEEK_CUR), 2);
    expect_code(fdsafe_read(r, buf, sizeof buf), 2);
    assert_memory_equal(buf, "01", 2);
    /* End of input. */
    off = 10;
    expect_code(fdsafe_splice(src, &off, w, NULL, 4, 0), 0);
    /* Empty pipe, non-blocking: -EAGAIN. */
    expect_code(fdsafe_splice(r, NULL, dst, NULL, 4, FDSAFE_SPLICE_NONBLOCK), -EAGAIN);
    must(fdsafe_close(src));
    must(fdsafe_close(dst));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_splice_pipe_to_pipe_and_errors(void **state) {
    (void)state;
    fdsafe_handle r1, w1, r2, w2, f;
    must(fdsafe_pipe_create(0, &r1, &w1));
    must(fdsafe_pipe_create(0, &r2, &w2));
    expect_code(fdsafe_write(w1, "pipe", 4), 4);
    expect_code(fdsafe_splice(r1, NULL, w2, NULL, 100, 0), 4);
    char buf[8];
    expect_code(fdsafe_read(r2, buf, sizeof buf), 4);
    assert_memory_equal(buf, "pipe", 4);

    /* Misuse, each refused before anything moved. */
    int64_t off = 0, neg = -1;
    expect_code(fdsafe_write(w1, "zz", 2), 2);
    expect_code(fdsafe_splice(r1, NULL, w2, NULL, 2, 0x100), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_splice(r1, NULL, w2, NULL, 2, FDSAFE_SPLICE_GIFT), FDSAFE_E_INVALID_ARGUMENT);
    f = file_with("e", "abc");
    expect_code(fdsafe_splice(f, &neg, w2, NULL, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_splice(f, (int64_t *)((char *)&off + 1), w2, NULL, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_splice(r1, &off, w2, NULL, 2, 0), -ESPIPE); /* offset on a pipe */
    expect_code(fdsafe_splice(f, NULL, f, NULL, 2, 0), -EINVAL);   /* no pipe on either side */
    expect_code(fdsafe_splice(0, NULL, w2, NULL, 2, 0), -EBADF);
    expect_code(fdsafe_splice(r1, NULL, 0, NULL, 2, 0), -EBADF);
    expect_code(fdsafe_read(r1, buf, sizeof buf), 2); /* the data is still there */
    must(fdsafe_close(f));
    expect_code(fdsafe_splice(f, NULL, w2, NULL, 2, 0), -EBADF);

    /* Into a pipe without readers: -EPIPE and no SIGPIPE left pending. */
    must(fdsafe_close(r2));
    f = file_with("e", "abc");
    expect_code(fdsafe_splice(f, NULL, w2, NULL, 3, 0), -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    must(fdsafe_close(f));
    must(fdsafe_close(w2));
    must(fdsafe_close(r1));
    must(fdsafe_close(w1));
    char p[128];
    temp_path(p, sizeof p, "e");
    unlink(p);
}

static void test_vmsplice_and_tee(void **state) {
    (void)state;
    fdsafe_handle r1, w1, r2, w2;
    must(fdsafe_pipe_create(0, &r1, &w1));
    must(fdsafe_pipe_create(0, &r2, &w2));
    char a[] = "vm", b[] = "splice";
    struct iovec iov[2] = {{a, 2}, {b, 6}};
    expect_code(fdsafe_vmsplice(w1, iov, 2, 0), 8);
    /* tee copies without consuming. */
    expect_code(fdsafe_tee(r1, w2, 100, 0), 8);
    char buf[16] = {0};
    expect_code(fdsafe_read(r2, buf, sizeof buf), 8);
    assert_memory_equal(buf, "vmsplice", 8);
    memset(buf, 0, sizeof buf);
    expect_code(fdsafe_read(r1, buf, sizeof buf), 8);
    assert_memory_equal(buf, "vmsplice", 8);
    /* tee on an empty pipe, non-blocking. */
    expect_code(fdsafe_tee(r1, w2, 8, FDSAFE_SPLICE_NONBLOCK), -EAGAIN);

    /* Raw-descriptor variants, borrowed for the call. */
    int raw[2];
    assert_int_equal(pipe2(raw, O_CLOEXEC), 0);
    expect_code(fdsafe_vmsplice_fd(raw[1], iov, 1, 0), 2);
    expect_code(fdsafe_tee_fd(raw[0], (int)must(fdsafe_fd_borrow(w2)), 2, 0), 2);
    expect_code(fdsafe_read(r2, buf, sizeof buf), 2);
    assert_memory_equal(buf, "vm", 2);
    assert_true(fd_is_open(raw[0]) && fd_is_open(raw[1])); /* still the caller's */
    close(raw[0]);
    close(raw[1]);

    /* Misuse. */
    expect_code(fdsafe_vmsplice(w1, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_vmsplice(w1, iov, -1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_vmsplice(w1, iov, 5000, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_vmsplice(w1, iov, 1, 0x40), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_vmsplice(w1, iov, 1, FDSAFE_SPLICE_MORE), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_vmsplice(r1, iov, 1, 0), FDSAFE_E_INVALID_ARGUMENT); /* a read end */
    expect_code(fdsafe_vmsplice(0, iov, 1, 0), -EBADF);
    expect_code(fdsafe_vmsplice_fd(-1, iov, 1, 0), -EBADF);
    expect_code(fdsafe_tee(r1, w2, 8, FDSAFE_SPLICE_GIFT), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tee(r1, w1, 8, 0), -EINVAL); /* the same pipe */
    expect_code(fdsafe_tee(r1, r1, 8, 0), -EBADF);   /* out not writable */
    expect_code(fdsafe_tee(0, w2, 8, 0), -EBADF);
    expect_code(fdsafe_tee_fd(1 << 20, 1, 8, 0), -EBADF);
    expect_code(fdsafe_wait(r1, FDSAFE_EVENT_IN, 0), 0); /* nothing was placed */
    must(fdsafe_close(r1));
    must(fdsafe_close(w1));
    must(fdsafe_close(r2));
    must(fdsafe_close(w2));
    expect_code(fdsafe_tee(r1, w2, 8, 0), -EBADF);
}

static void test_sendfile_to_pipe_file_and_socket(void **state) {
    (void)state;
    fdsafe_handle src = file_with("s", "sendfile data");
    fdsafe_handle dst = file_with("d", "");
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    char buf[32] = {0};
    /* To a pipe, from the file position. */
    expect_code(fdsafe_sendfile(src, NULL, w, 8), 8);
    expect_code(fdsafe_read(r, buf, sizeof buf), 8);
    assert_memory_equal(buf, "sendfile", 8);
    expect_code(fdsafe_file_seek(src, 0, FDSAFE_SEEK_CUR), 8);
    /* To a file, at an offset. */
    int64_t off = 9;
    expect_code(fdsafe_sendfile(src, &off, dst, 100), 4);
    assert_int_equal(off, 13);
    expect_code(fdsafe_file_pread(dst, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "data", 4);
    /* To a socket (raw, from socketpair: borrowed for the call). */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    off = 0;
    expect_code(fdsafe_sendfile_fd((int)must(fdsafe_fd_borrow(src)), &off, sv[0], 100), 13);
    memset(buf, 0, sizeof buf);
    assert_int_equal(recv(sv[1], buf, sizeof buf, 0), 13);
    assert_string_equal(buf, "sendfile data");
    /* To a socket whose peer is gone: -EPIPE, no signal. */
    close(sv[1]);
    off = 0;
    expect_code(fdsafe_sendfile_fd((int)must(fdsafe_fd_borrow(src)), &off, sv[0], 100), -EPIPE);
    assert_int_equal(off, 0); /* untouched on failure */
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    close(sv[0]);

    /* Misuse. */
    expect_code(fdsafe_write(w, "p", 1), 1);
    expect_code(fdsafe_sendfile(r, NULL, dst, 1), -EINVAL); /* a pipe cannot be mapped */
    int64_t neg = -3;
    expect_code(fdsafe_sendfile(src, &neg, w, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sendfile(0, NULL, w, 1), -EBADF);
    expect_code(fdsafe_sendfile(src, NULL, 0, 1), -EBADF);
    expect_code(fdsafe_sendfile_fd(-1, NULL, 1, 1), -EBADF);
    expect_code(fdsafe_sendfile_fd(1 << 20, NULL, 1, 1), -EBADF);
    expect_code(fdsafe_read(r, buf, sizeof buf), 1);
    must(fdsafe_close(src));
    expect_code(fdsafe_sendfile(src, NULL, w, 1), -EBADF);
    must(fdsafe_close(dst));
    must(fdsafe_close(r));
    must(fdsafe_close(w));
}

static void test_copy_file_range(void **state) {
    (void)state;
    fdsafe_handle a = file_with("cfa", "abcdefgh");
    fdsafe_handle b = file_with("cfb", "");
    int64_t oi = 2, oo = 1;
    expect_code(fdsafe_copy_file_range(a, &oi, b, &oo, 4, 0), 4);
    assert_int_equal(oi, 6);
    assert_int_equal(oo, 5);
    char buf[16] = {0};
    expect_code(fdsafe_file_pread(b, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "\0cdef", 5);
    /* Raw variant, using the positions. */
    expect_code(fdsafe_copy_file_range_fd((int)must(fdsafe_fd_borrow(a)), NULL, (int)must(fdsafe_fd_borrow(b)), NULL, 3, 0), 3);
    expect_code(fdsafe_file_pread(b, buf, 3, 0), 3);
    assert_memory_equal(buf, "abc", 3);
    /* End of input. */
    oi = 8;
    expect_code(fdsafe_copy_file_range(a, &oi, b, NULL, 4, 0), 0);
    /* Misuse. */
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_copy_file_range(a, NULL, b, NULL, 4, 1), FDSAFE_E_INVALID_ARGUMENT);
    oi = -1;
    expect_code(fdsafe_copy_file_range(a, &oi, b, NULL, 4, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_copy_file_range(r, NULL, b, NULL, 4, 0), -EINVAL);
    expect_code(fdsafe_copy_file_range(0, NULL, b, NULL, 4, 0), -EBADF);
    expect_code(fdsafe_copy_file_range_fd(-1, NULL, 1, NULL, 4, 0), -EBADF);
    expect_code(fdsafe_file_size(b), 5);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    expect_code(fdsafe_copy_file_range(a, NULL, b, NULL, 4, 0), -EBADF);
}

static void test_stdin_handle_splices_to_a_socket(void **state) {
    (void)state;
    /* Point standard input at a pipe for the length of the test. */
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
    assert_true(saved >= 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(dup2(p[0], 0), 0);
    close(p[0]);
    assert_int_equal(write(p[1], "from stdin", 10), 10);
    fdsafe_handle in;
    must(fdsafe_stdio_open(0, 0, &in));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    expect_code(fdsafe_splice_fd((int)must(fdsafe_fd_borrow(in)), NULL, sv[0], NULL, 100, 0), 10);
    char buf[16] = {0};
    assert_int_equal(recv(sv[1], buf, sizeof buf, 0), 10);
    assert_string_equal(buf, "from stdin");
    /* Socket to pipe. */
    assert_int_equal(send(sv[1], "sock", 4, 0), 4);
    int pr[2];
    assert_int_equal(pipe2(pr, O_CLOEXEC), 0);
    expect_code(fdsafe_splice_fd(sv[0], NULL, pr[1], NULL, 100, 0), 4);
    assert_int_equal(read(pr[0], buf, sizeof buf), 4);
    assert_memory_equal(buf, "sock", 4);
    /* Bad input to the raw variant: refused, nothing moved. */
    assert_int_equal(send(sv[1], "left", 4, 0), 4);
    expect_code(fdsafe_splice_fd(sv[0], NULL, pr[1], NULL, 100, 1u << 30), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_splice_fd(-1, NULL, pr[1], NULL, 100, 0), -EBADF);
    expect_code(fdsafe_splice_fd(sv[0], NULL, 100000, NULL, 100, 0), -EBADF);
    expect_code(fdsafe_splice_fd(sv[0], NULL, pr[1], NULL, SIZE_MAX, 0), -EINVAL); /* the kernel refuses */
    expect_code(fdsafe_splice_fd(sv[0], NULL, pr[1], NULL, 100, 0), 4); /* the data waited */
    close(pr[0]);
    close(pr[1]);
    /* And with handles only: stdin to a pipe handle. */
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    assert_int_equal(write(p[1], "again", 5), 5);
    expect_code(fdsafe_splice(in, NULL, w, NULL, 100, 0), 5);
    expect_code(fdsafe_read(r, buf, sizeof buf), 5);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(in));
    close(sv[0]);
    close(sv[1]);
    close(p[1]);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

/* A file handle is only ever a regular file or a directory: its writes are not guarded against
 * SIGPIPE, so a FIFO (or a device, or a socket) must come through its own kind. */
static void test_file_open_refuses_fifos_devices_and_sockets(void **state) {
    (void)state;
    char fifo[128];
    temp_path(fifo, sizeof fifo, "a-fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    fdsafe_handle h = 0;
    /* Refused before opening: a blocking open of a FIFO without a writer would never return. */
    expect_code(fdsafe_file_open(fifo, FDSAFE_O_RDONLY, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open(fifo, FDSAFE_O_WRONLY | FDSAFE_NONBLOCK, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_file_open("/dev/null", FDSAFE_O_WRONLY, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle d;
    must(fdsafe_file_open(temp_dir, FDSAFE_O_DIRECTORY, 0, &d));
    expect_code(fdsafe_file_open_at(d, "a-fifo", FDSAFE_O_RDONLY, 0, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(d));
    assert_int_equal(h, 0);
    char message[256];
    fdsafe_last_error(message, sizeof message);
    assert_non_null(strstr(message, "fdsafe_fifo_open"));
    /* The FIFO kind opens it, and its writes keep SIGPIPE away. */
    fdsafe_handle r, w;
    must(fdsafe_fifo_open(fifo, FDSAFE_O_RDONLY | FDSAFE_NONBLOCK, &r));
    must(fdsafe_fifo_open(fifo, FDSAFE_O_WRONLY, &w));
    must(fdsafe_close(r));
    expect_code(fdsafe_write(w, "x", 1), -EPIPE);
    must(fdsafe_close(w));
    unlink(fifo);
}

/* The path is checked before it is opened, but it can change in between: a FIFO renamed over
 * it meanwhile must not make the open wait for a peer (the open had no O_NONBLOCK: in a
 * stranger's run it waited for ever within seconds). Opens race a thread swapping a regular
 * file and a FIFO at one path, in a child an alarm kills if an open waits. Every open gives a
 * file handle, in blocking mode, or the refusal. */
static const char *swapped_path, *swap_other;
static volatile int stop_swapping;

/* Each exchange turns the path from the file into the FIFO or back, in one system call. */
static void *swap_path(void *arg) {
    (void)arg;
    while (!stop_swapping) renameat2(AT_FDCWD, swapped_path, AT_FDCWD, swap_other, RENAME_EXCHANGE);
    return NULL;
}

static int open_while_the_path_changes(void) {
    pthread_t swapper;
    if (pthread_create(&swapper, NULL, swap_path, NULL) != 0) return 1;
    alarm(10); /* an open that waits kills the child: the test fails */
    int files = 0, refused = 0;
    for (time_t start = time(NULL); time(NULL) - start < 3;) {
        fdsafe_handle h;
        int rc = fdsafe_file_open(swapped_path, FDSAFE_O_RDONLY, 0, &h);
        if (rc == FDSAFE_E_INVALID_ARGUMENT) {
            refused++;
            continue;
        }
        if (rc != 0 || fdsafe_handle_kind(h) != FDSAFE_KIND_FILE) return 2;
        if (fcntl((int)fdsafe_fd_borrow(h), F_GETFL) & O_NONBLOCK) return 3; /* blocking, as asked */
        files++;
        fdsafe_close(h);
    }
    stop_swapping = 1;
    pthread_join(swapper, NULL);
    return files > 0 && refused > 0 ? 0 : 4;
}

static void test_file_open_never_waits_on_a_fifo_swapped_in(void **state) {
    (void)state;
    /* The starved opener would only meet the alarm. */
    if (skipped_under_valgrind("threads run one at a time, so the opener never races the swapper")) skip();
    char path[128], other[128];
    temp_path(path, sizeof path, "swapped");
    temp_path(other, sizeof other, "swapped-other");
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    assert_int_equal(mkfifo(other, 0600), 0);
    swapped_path = path, swap_other = other;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(open_while_the_path_changes());
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_false(WIFSIGNALED(status)); /* SIGALRM: an open waited on the FIFO */
    assert_int_equal(WEXITSTATUS(status), 0);
    unlink(path), unlink(other);
}

/* The type check follows the RESOLVE_* limits the open follows: under RESOLVE_IN_ROOT,
 * "dev/null" is the root's own regular file (the host's /dev/null, a device, is not looked
 * at), and a path escaping RESOLVE_BENEATH is -EXDEV whatever lies outside, so the answer
 * tells nothing of files beyond the limits. */
static void test_open_at_judges_the_file_the_limits_reach(void **state) {
    (void)state;
    if (syscall_missing(SYS_openat2, "openat2")) skip();
    char root[128], dev[128], null[128];
    temp_path(root, sizeof root, "jail");
    temp_path(dev, sizeof dev, "jail/dev");
    temp_path(null, sizeof null, "jail/dev/null");
    assert_int_equal(mkdir(root, 0700), 0);
    assert_int_equal(mkdir(dev, 0700), 0);
    close(open(null, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    fdsafe_handle jail, h;
    must(fdsafe_file_open(root, FDSAFE_O_DIRECTORY, 0, &jail));
    must(fdsafe_file_open_at(jail, "dev/null", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_IN_ROOT, &h));
    expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_FILE);
    must(fdsafe_close(h));
    must(fdsafe_file_open_at(jail, "/dev/null", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_IN_ROOT, &h));
    must(fdsafe_close(h));
    expect_code(fdsafe_file_open_at(jail, "../../../../dev/null", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_BENEATH, &h), -EXDEV);
    expect_code(fdsafe_file_open_at(jail, "/dev/null", FDSAFE_O_RDONLY, 0, FDSAFE_RESOLVE_BENEATH, &h), -EXDEV);
    expect_code(fdsafe_file_open_at(jail, "/dev/null", FDSAFE_O_RDONLY, 0, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(jail));
    unlink(null), rmdir(dev), rmdir(root);
}

/* O_NOCTTY, which a file handle always has in force, is accepted as open(2) takes it. */
static void test_open_accepts_o_noctty(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/noctty", temp_dir);
    fdsafe_handle h;
    must(fdsafe_file_open(path, FDSAFE_O_RDWR | FDSAFE_O_CREAT | O_NOCTTY, 0600, &h));
    expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_FILE);
    must(fdsafe_close(h));
    unlink(path);
}

/* Limits the kernel enforces, with the codes the header lists for them: a length past the
 * largest file size, a copy whose range passes the largest offset, a path past PATH_MAX. */
static void test_errors_at_the_kernels_limits(void **state) {
    (void)state;
    char path[128], other[128];
    snprintf(path, sizeof path, "%s/limits", temp_dir);
    snprintf(other, sizeof other, "%s/limits-copy", temp_dir);
    fdsafe_handle f, g, in, t;
    must(fdsafe_file_open(path, FDSAFE_O_RDWR | FDSAFE_O_CREAT, 0600, &f));
    must(fdsafe_file_open(other, FDSAFE_O_RDWR | FDSAFE_O_CREAT, 0600, &g));
    expect_code(fdsafe_file_pwrite(f, "0123456789", 10, 0), 10);
    expect_code(fdsafe_file_truncate(f, INT64_MAX), -EFBIG);
    int64_t off_in = 5, off_out = 0;
    expect_code(fdsafe_copy_file_range(f, &off_in, g, &off_out, SIZE_MAX, 0), -EOVERFLOW);
    assert_int_equal(off_in, 5); /* unchanged on failure */
    static char long_path[5000];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    int32_t wd;
    must(fdsafe_inotify_create(0, &in));
    expect_code(fdsafe_inotify_add_watch(in, long_path, FDSAFE_IN_CREATE, &wd), -ENAMETOOLONG);
    expect_code(fdsafe_terminal_open(long_path, FDSAFE_O_RDWR, &t), -ENAMETOOLONG);
    must(fdsafe_close(in));
    must(fdsafe_close(f));
    must(fdsafe_close(g));
    unlink(path);
    unlink(other);
}

int main(void) {
    umask(022);
    const struct CMUnitTest tests[] = {
        FD_TEST(test_open_create_exclusive_and_positioned_io),
        FD_TEST(test_open_accepts_o_noctty),
        FD_TEST(test_errors_at_the_kernels_limits),
        FD_TEST(test_nofollow_tmpfile_and_directories),
        FD_TEST(test_open_at_beneath),
        FD_TEST(test_file_flags_as_read_back_and_no_read_only_truncate),
        FD_TEST(test_file_bad_input),
        FD_TEST(test_allocate_punch_and_zero),
        FD_TEST(test_chmod_chown_and_stat),
        FD_TEST(test_adopt_and_dup_a_file_the_caller_opened),
        FD_TEST(test_splice_file_to_pipe_to_file_with_offsets),
        FD_TEST(test_splice_pipe_to_pipe_and_errors),
        FD_TEST(test_vmsplice_and_tee),
        FD_TEST(test_sendfile_to_pipe_file_and_socket),
        FD_TEST(test_copy_file_range),
        FD_TEST(test_stdin_handle_splices_to_a_socket),
        FD_TEST(test_file_open_refuses_fifos_devices_and_sockets),
        FD_TEST(test_file_open_never_waits_on_a_fifo_swapped_in),
        FD_TEST(test_open_at_judges_the_file_the_limits_reach),
    };
    return cmocka_run_group_tests(tests, temp_dir_create, temp_dir_remove);
}
