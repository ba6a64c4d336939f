/* Shared by every C test: cmocka, and a check that each test case leaves the process with
 * exactly the descriptors it had before (compared as sets; CI may hand us stray ones). */
#ifndef FDSAFE_TEST_HARNESS_H
#define FDSAFE_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include <fdsafe.h>

/* cmocka setup/teardown pair: snapshot the open descriptors, then compare. */
int fd_snapshot(void **state);
int fd_check(void **state);

#define FD_TEST(fn) cmocka_unit_test_setup_teardown(fn, fd_snapshot, fd_check)

/* Asserts that an fdsafe call returned `expected`, printing names and the last error if not. */
#define expect_code(call, expected) expect_code_at((int64_t)(call), (int64_t)(expected), #call, __FILE__, __LINE__)
void expect_code_at(int64_t got, int64_t expected, const char *what, const char *file, int line);

/* Asserts success (>= 0) and returns the value. */
#define must(call) must_at((int64_t)(call), #call, __FILE__, __LINE__)
int64_t must_at(int64_t got, const char *what, const char *file, int line);

/* 1 if the system call `nr` does not exist here (ENOSYS: valgrind 3.19 has no openat2,
 * pidfd_open or clone3), after printing why the test that asks will skip. Probes with
 * arguments the call refuses, so nothing happens. */
int syscall_missing(long nr, const char *name);

/* 1 if the test runs under valgrind, after printing why the test that asks will skip there
 * (`why`: what valgrind makes unobservable, such as RLIMIT_NOFILE, which it emulates). */
int skipped_under_valgrind(const char *why);

/* A private directory under /tmp for a group of tests: cmocka group setup and teardown
 * (the teardown removes it with everything in it), and paths inside it. */
extern char temp_dir[64];
int temp_dir_create(void **state);
int temp_dir_remove(void **state);
void temp_path(char *out, size_t len, const char *name);

/* The state letter of thread `tid` of this process in /proc (S: sleeping, so blocked in a
 * call), or 0 if it cannot be read; task_state asks about a thread of process `pid`. */
char thread_state(int tid);
char task_state(int pid, int tid);

/* Opens a pty pair (master, slave) and writes the slave's path into `path`. */
void open_pty(fdsafe_handle *master, fdsafe_handle *slave, char *path, size_t len);

/* In a forked child, exits with status 1 (after saying which check) unless `cond` holds: for
 * the bodies run_in_child runs. */
#define CHILD_CHECK(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "child: %s:%d: %s failed\n", __FILE__, __LINE__, #cond);       \
            _exit(1);                                                                      \
        }                                                                                  \
    } while (0)

/* Runs `body(arg)` in a forked child and asserts that the child exits with status 0. The child
 * first runs `setup(arg)` (a namespace, a mount), which returns 0 or the errno of the kernel's
 * refusal; on a refusal the test skips, printing `what` and the reason. */
void run_in_child(int (*setup)(void *), void (*body)(void *), void *arg, const char *what);

/* 1 if `fd` has FD_CLOEXEC set, 0 if not, -1 if it is not open. */
int fd_is_cloexec(int fd);
/* 1 if `fd` is open. */
int fd_is_open(int fd);

#endif
