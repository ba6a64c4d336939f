#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 4096

struct fd_set_snapshot {
    int count;
    int fds[MAX_FDS];
};

static int int_compare(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

static void take_snapshot(struct fd_set_snapshot *snap) {
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    int own = dirfd(dir);
    snap->count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        int fd = atoi(entry->d_name);
        if (fd != own && snap->count < MAX_FDS) snap->fds[snap->count++] = fd;
    }
    closedir(dir);
    qsort(snap->fds, (size_t)snap->count, sizeof(int), int_compare);
}

static void describe(int fd, char *out, size_t len) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, len - 1);
    out[n < 0 ? 0 : n] = '\0';
}

/* Line-buffered standard output: cmocka prints progress there and failures on standard error,
 * and CI shows the tail of both through one pipe, where a fully buffered stdout would come out
 * at exit, after (and apart from) the failure it belongs to. */
__attribute__((constructor)) static void line_buffered_output(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int fd_snapshot(void **state) {
    struct fd_set_snapshot *snap = malloc(sizeof *snap);
    assert_non_null(snap);
    take_snapshot(snap);
    *state = snap;
    return 0;
}

int fd_check(void **state) {
    struct fd_set_snapshot *before = *state, after;
    take_snapshot(&after);
    int differences = 0, i = 0, j = 0;
    char target[256];
    while (i < before->count || j < after.count) {
        if (j >= after.count || (i < before->count && before->fds[i] < after.fds[j])) {
            fprintf(stderr, "descriptor %d was closed by the test\n", before->fds[i++]);
            differences++;
        } else if (i >= before->count || after.fds[j] < before->fds[i]) {
            describe(after.fds[j], target, sizeof target);
            fprintf(stderr, "descriptor %d leaked (%s)\n", after.fds[j++], target);
            differences++;
        } else {
            i++, j++;
        }
    }
    free(before);
    if (differences) fail_msg("%d descriptor(s) differ after the test", differences);
    return 0;
}

void expect_code_at(int64_t got, int64_t expected, const char *what, const char *file, int line) {
    if (got == expected) return;
    char message[512];
    fdsafe_last_error(message, sizeof message);
    fprintf(stderr, "%s:%d: %s returned %lld (%s), expected %lld (%s); last error: %s\n", file, line, what,
            (long long)got, fdsafe_error_name((int)got), (long long)expected, fdsafe_error_name((int)expected), message);
    _fail(file, line);
}

int64_t must_at(int64_t got, const char *what, const char *file, int line) {
    if (got >= 0) return got;
    char message[512];
    fdsafe_last_error(message, sizeof message);
    fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", file, line, what, fdsafe_error_name((int)got), message);
    _fail(file, line);
    return got;
}

int fd_is_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    return flags < 0 ? -1 : (flags & FD_CLOEXEC) != 0;
}

int fd_is_open(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

int skipped_under_valgrind(const char *why) {
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !strstr(preload, "vgpreload")) return 0;
    printf("skipped: %s (under valgrind)\n", why);
    return 1;
}

int syscall_missing(long nr, const char *name) {
    errno = 0;
    long rc = syscall(nr, -1, NULL, NULL, 0);
    if (rc >= 0) close((int)rc);
    if (rc < 0 && errno == ENOSYS) {
        printf("skipped: %s gives ENOSYS here (valgrind 3.19 does not know it)\n", name);
        return 1;
    }
    return 0;
}

char temp_dir[64];

int temp_dir_create(void **state) {
    (void)state;
    strcpy(temp_dir, "/tmp/fdsafe-test-XXXXXX");
    return mkdtemp(temp_dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int temp_dir_remove(void **state) {
    (void)state;
    return nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void temp_path(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", temp_dir, name);
}

char thread_state(int tid) {
    return task_state(getpid(), tid);
}

char task_state(int pid, int tid) {
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = '\0';
    char *end = strrchr(text, ')');
    return end && end[1] == ' ' ? end[2] : 0;
}

void open_pty(fdsafe_handle *master, fdsafe_handle *slave, char *path, size_t len) {
    must(fdsafe_pty_open(0, master, slave));
    must(fdsafe_terminal_path(*slave, 0, path, len));
}

void run_in_child(int (*setup)(void *), void (*body)(void *), void *arg, const char *what) {
    int report[2];
    assert_int_equal(pipe2(report, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(report[0]);
        int refused = setup(arg);
        ssize_t n = write(report[1], &refused, sizeof refused);
        if (n != (ssize_t)sizeof refused || refused != 0) _exit(0);
        close(report[1]);
        body(arg);
        _exit(0);
    }
    close(report[1]);
    int refused = -1;
    ssize_t n = read(report[0], &refused, sizeof refused);
    close(report[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(n, sizeof refused);
    if (refused != 0) {
        printf("skipped: %s: the kernel refused (%s)\n", what, strerror(refused));
        skip();
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}
