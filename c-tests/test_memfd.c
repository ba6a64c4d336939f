/* memfd: create (names, flags), file operations on it, seals (add, read, enforced in
 * another process), huge pages, adopt, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/memfd.h> /* MFD_HUGE_* */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_create_and_use_as_a_file(void **state) {
    (void)state;
    fdsafe_handle m, r, w;
    must(fdsafe_memfd_create("fdsafe-test", FDSAFE_MEMFD_ALLOW_SEALING, &m));
    expect_code(fdsafe_handle_kind(m), FDSAFE_KIND_MEMFD);
    int fd = (int)must(fdsafe_fd_borrow(m));
    assert_int_equal(fd_is_cloexec(fd), 1);
    char link[64], target[128] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    assert_true(readlink(link, target, sizeof target - 1) > 0);
    assert_non_null(strstr(target, "/memfd:fdsafe-test"));
    expect_code(fdsafe_write(m, "in memory", 9), 9);
    expect_code(fdsafe_file_size(m), 9);
    char buf[16] = {0};
    expect_code(fdsafe_file_pread(m, buf, sizeof buf, 3), 6);
    assert_memory_equal(buf, "memory", 6);
    expect_code(fdsafe_file_truncate(m, 2), 0);
    expect_code(fdsafe_file_size(m), 2);
    expect_code(fdsafe_memfd_get_seals(m), 0);
    /* sendfile from a memfd to a pipe. */
    must(fdsafe_pipe_create(0, &r, &w));
    int64_t off = 0;
    expect_code(fdsafe_sendfile(m, &off, w, 100), 2);
    expect_code(fdsafe_read(r, buf, sizeof buf), 2);
    assert_memory_equal(buf, "in", 2);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(m));
    /* An empty name is allowed by the kernel. */
    must(fdsafe_memfd_create("", 0, &m));
    must(fdsafe_close(m));
}

static void test_without_allow_sealing_it_is_sealed_shut(void **state) {
    (void)state;
    fdsafe_handle m;
    must(fdsafe_memfd_create("noseal", 0, &m));
    expect_code(fdsafe_memfd_get_seals(m), FDSAFE_SEAL_SEAL);
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_WRITE), -EPERM);
    expect_code(fdsafe_write(m, "still writable", 14), 14);
    must(fdsafe_close(m));
}

static void test_seals_hold_in_this_and_another_process(void **state) {
    (void)state;
    fdsafe_handle m;
    must(fdsafe_memfd_create("sealed", FDSAFE_MEMFD_ALLOW_SEALING, &m));
    expect_code(fdsafe_write(m, "frozen", 6), 6);
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_SHRINK | FDSAFE_SEAL_GROW | FDSAFE_SEAL_WRITE), 0);
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_SEAL), 0);
    expect_code(fdsafe_memfd_get_seals(m),
                FDSAFE_SEAL_SHRINK | FDSAFE_SEAL_GROW | FDSAFE_SEAL_WRITE | FDSAFE_SEAL_SEAL);
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_EXEC), -EPERM);
    expect_code(fdsafe_write(m, "x", 1), -EPERM);
    expect_code(fdsafe_file_pwrite(m, "x", 1, 0), -EPERM);
    expect_code(fdsafe_file_truncate(m, 0), -EPERM);
    expect_code(fdsafe_file_truncate(m, 100), -EPERM);

    /* A child process gets the descriptor and tries everything; each must fail with EPERM. */
    int fd = (int)must(fdsafe_fd_borrow(m));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int failures = 0;
        if (pwrite(fd, "X", 1, 0) != -1 || errno != EPERM) failures |= 1;
        if (ftruncate(fd, 0) != -1 || errno != EPERM) failures |= 2;
        if (ftruncate(fd, 4096) != -1 || errno != EPERM) failures |= 4;
        void *p = mmap(NULL, 6, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED || errno != EPERM) failures |= 8;
        if (fcntl(fd, F_ADD_SEALS, 0) != -1 || errno != EPERM) failures |= 16; /* SEAL_SEAL */
        _exit(failures);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char buf[8] = {0};
    expect_code(fdsafe_file_pread(m, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "frozen", 6);
    must(fdsafe_close(m));
}

static void test_noexec_seal_and_future_write(void **state) {
    (void)state;
    fdsafe_handle m;
    must(fdsafe_memfd_create("noexec", FDSAFE_MEMFD_NOEXEC_SEAL, &m));
    assert_true(must(fdsafe_memfd_get_seals(m)) & FDSAFE_SEAL_EXEC);
    struct stat st;
    assert_int_equal(fstat((int)must(fdsafe_fd_borrow(m)), &st), 0);
    assert_int_equal(st.st_mode & 0111, 0);
    assert_int_equal(fchmod((int)must(fdsafe_fd_borrow(m)), 0755), -1);
    assert_int_equal(errno, EPERM);
    expect_code(fdsafe_write(m, "ok", 2), 2);
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_FUTURE_WRITE), 0);
    expect_code(fdsafe_write(m, "no", 2), -EPERM);
    must(fdsafe_close(m));
}

static void test_huge_pages(void **state) {
    (void)state;
    fdsafe_handle m;
    int rc = fdsafe_memfd_create("huge", FDSAFE_MEMFD_HUGETLB, &m);
    if (rc == -EINVAL || rc == -ENOMEM || rc == -ENOENT) {
        printf("skipped: the kernel refused MFD_HUGETLB: %s\n", fdsafe_strerror(rc));
        skip();
    }
    must(rc);
    struct stat st;
    assert_int_equal(fstat((int)must(fdsafe_fd_borrow(m)), &st), 0);
    assert_true(st.st_blksize >= 2 * 1024 * 1024); /* hugetlbfs reports the huge page size */
    must(fdsafe_close(m));
    /* A page size, as the kernel's MFD_HUGE_* name it: the same answer as the raw call. */
    assert_int_equal(FDSAFE_MEMFD_HUGE_2MB, MFD_HUGE_2MB);
    assert_int_equal(FDSAFE_MEMFD_HUGE_1GB, MFD_HUGE_1GB);
    const unsigned sizes[] = {MFD_HUGE_2MB, MFD_HUGE_1GB, 12u << MFD_HUGE_SHIFT /* 4 KiB: no such huge page */};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        int raw = memfd_create("raw", MFD_CLOEXEC | MFD_HUGETLB | sizes[i]);
        int raw_errno = errno;
        rc = fdsafe_memfd_create("huge", FDSAFE_MEMFD_HUGETLB | sizes[i], &m);
        if (raw >= 0) {
            must(rc);
            assert_int_equal(fstat(raw, &st), 0);
            struct stat ours;
            assert_int_equal(fstat((int)must(fdsafe_fd_borrow(m)), &ours), 0);
            assert_int_equal(ours.st_blksize, st.st_blksize); /* the page size asked for */
            must(fdsafe_close(m));
            close(raw);
        } else {
            expect_code(rc, -raw_errno);
        }
    }
    /* A page size without FDSAFE_MEMFD_HUGETLB names nothing: refused. */
    expect_code(fdsafe_memfd_create("huge", FDSAFE_MEMFD_HUGE_2MB, &m), FDSAFE_E_INVALID_ARGUMENT);
}

static void test_adopt_and_bad_input(void **state) {
    (void)state;
    fdsafe_handle m = 0x99, r, w;
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    expect_code(fdsafe_memfd_create(NULL, 0, &m), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_memfd_create("x", 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_memfd_create("x", 0x100, &m), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_memfd_create(long_name, 0, &m), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_memfd_create("x", FDSAFE_MEMFD_EXEC | FDSAFE_MEMFD_NOEXEC_SEAL, &m), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(m, 0x99);
    must(fdsafe_memfd_create("x", FDSAFE_MEMFD_ALLOW_SEALING, &m));
    expect_code(fdsafe_memfd_add_seals(m, 0x40), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_memfd_get_seals(m), 0);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_memfd_add_seals(r, FDSAFE_SEAL_GROW), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_memfd_get_seals(w), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(m));
    expect_code(fdsafe_memfd_add_seals(m, FDSAFE_SEAL_GROW), -EBADF);
    expect_code(fdsafe_memfd_get_seals(m), -EBADF);
    expect_code(fdsafe_memfd_get_seals(0), -EBADF);

    int fd = memfd_create("raw", 0); /* no MFD_CLOEXEC: adopt sets it */
    assert_true(fd >= 0);
    must(fdsafe_fd_adopt(fd, FDSAFE_KIND_MEMFD, &m));
    assert_int_equal(fd_is_cloexec(fd), 1);
    must(fdsafe_close(m));
    fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
    expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_MEMFD, &m), FDSAFE_E_INVALID_ARGUMENT);
    close(fd);
}

/* A memfd reached through /proc/self/fd/N (as a program handed only a path would) is still a
 * memfd: same contents, seal calls work, seals hold; tmpfs offers keep-size and holes. */
static void test_reopened_by_path_keeps_the_memfd_kind(void **state) {
    (void)state;
    fdsafe_handle m, again;
    must(fdsafe_memfd_create("reopen", FDSAFE_MEMFD_ALLOW_SEALING, &m));
    expect_code(fdsafe_write(m, "shared", 6), 6);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", (int)must(fdsafe_fd_borrow(m)));
    must(fdsafe_file_open(path, FDSAFE_O_RDWR, 0, &again));
    expect_code(fdsafe_handle_kind(again), FDSAFE_KIND_MEMFD);
    char buf[8] = {0};
    expect_code(fdsafe_file_pread(again, buf, sizeof buf, 0), 6);
    assert_string_equal(buf, "shared");
    expect_code(fdsafe_memfd_get_seals(again), 0);
    must(fdsafe_memfd_add_seals(again, FDSAFE_SEAL_GROW));
    expect_code(fdsafe_memfd_get_seals(m), FDSAFE_SEAL_GROW); /* one file, one set of seals */
    expect_code(fdsafe_file_pwrite(m, "x", 1, 100), -EPERM);
    expect_code(fdsafe_file_allocate(again, FDSAFE_FALLOC_PUNCH_HOLE | FDSAFE_FALLOC_KEEP_SIZE, 0, 2), 0);
    expect_code(fdsafe_file_pread(m, buf, sizeof buf, 0), 6);
    assert_memory_equal(buf, "\0\0ared", 6);
    fdsafe_file_status st;
    must(fdsafe_file_stat(again, &st));
    assert_int_equal(st.size, 6);
    must(fdsafe_close(again));
    /* A plain file on tmpfs stays a file. */
    fdsafe_handle shm;
    char name[64];
    snprintf(name, sizeof name, "/dev/shm/fdsafe-memfd-test-%d", (int)getpid());
    if (access("/dev/shm", W_OK) == 0) {
        must(fdsafe_file_open(name, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, &shm));
        expect_code(fdsafe_handle_kind(shm), FDSAFE_KIND_FILE);
        expect_code(fdsafe_memfd_get_seals(shm), FDSAFE_E_WRONG_KIND);
        must(fdsafe_close(shm));
        unlink(name);
    } else {
        printf("skipped the tmpfs file: /dev/shm is not writable here\n");
    }
    must(fdsafe_close(m));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_create_and_use_as_a_file),
        FD_TEST(test_without_allow_sealing_it_is_sealed_shut),
        FD_TEST(test_seals_hold_in_this_and_another_process),
        FD_TEST(test_noexec_seal_and_future_write),
        FD_TEST(test_huge_pages),
        FD_TEST(test_adopt_and_bad_input),
        FD_TEST(test_reopened_by_path_keeps_the_memfd_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
