/* inotify: watches and watch ids, parsed events (several per read, names of any length),
 * rename pairs matched by cookie, queue overflow, watches dropped by the kernel, events kept
 * for small reads, polling in epoll, and misuse. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state) {
    strcpy(dir, "/tmp/fdsafe-inotify-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return fd_snapshot(state);
}

static int remove_dir(void **state) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
    return fd_check(state);
}

#define IN_TEST(fn) cmocka_unit_test_setup_teardown(fn, make_dir, remove_dir)

static void touch(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void test_events_with_names_several_per_read(void **state) {
    (void)state;
    fdsafe_handle in;
    must(fdsafe_inotify_create(0, &in));
    expect_code(fdsafe_handle_kind(in), FDSAFE_KIND_INOTIFY);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(in))), 1);
    int wd = -1;
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE | FDSAFE_IN_ONLYDIR, &wd), 0);
    assert_true(wd >= 1);
    int again = -1;
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE | FDSAFE_IN_DELETE, &again), 0);
    assert_int_equal(again, wd); /* same path, same watch */

    char longname[256];
    memset(longname, 'n', 255);
    longname[255] = 0;
    touch("a");
    touch("b");
    touch("c");
    touch(longname);
    static fdsafe_inotify_event ev[64];
    int n = (int)must(fdsafe_inotify_read(in, ev, 64));
    assert_int_equal(n, 4); /* all in one read */
    const char *names[] = {"a", "b", "c", longname};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ev[i].wd, wd);
        assert_int_equal(ev[i].mask, FDSAFE_IN_CREATE);
        assert_int_equal(ev[i].cookie, 0);
        assert_string_equal(ev[i].name, names[i]);
        assert_int_equal(ev[i].name_len, strlen(names[i]));
    }
    expect_code(fdsafe_inotify_pending(in), 0);
    must(fdsafe_close(in));
}

static void test_rename_pair_matched_by_cookie(void **state) {
    (void)state;
    fdsafe_handle in;
    must(fdsafe_inotify_create(0, &in));
    int wd;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_MOVED_FROM | FDSAFE_IN_MOVED_TO, &wd));
    touch("old");
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/old", dir);
    snprintf(to, sizeof to, "%s/new", dir);
    assert_int_equal(rename(from, to), 0);
    fdsafe_inotify_event ev[17];
    int got = 0;
    while (got < 2) got += (int)must(fdsafe_inotify_read(in, ev + got, 17 - (size_t)got));
    assert_int_equal(got, 2);
    assert_int_equal(ev[0].mask, FDSAFE_IN_MOVED_FROM);
    assert_string_equal(ev[0].name, "old");
    assert_int_equal(ev[1].mask, FDSAFE_IN_MOVED_TO);
    assert_string_equal(ev[1].name, "new");
    assert_true(ev[0].cookie != 0);
    assert_int_equal(ev[0].cookie, ev[1].cookie);
    must(fdsafe_close(in));
}

/* A watch the kernel dropped by itself is removed without error while its IN_IGNORED is
 * unread (a removal racing with the kernel's own); once IN_IGNORED is read, or after a
 * removal, the id answers -EINVAL as inotify_rm_watch(2) does, and fdsafe forgets it. */
static void test_watch_dropped_by_the_kernel_removes_without_error(void **state) {
    (void)state;
    fdsafe_handle in;
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &in));
    touch("victim");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/victim", dir);
    int wd;
    must(fdsafe_inotify_add_watch(in, path, FDSAFE_IN_DELETE_SELF, &wd));
    assert_int_equal(unlink(path), 0); /* the kernel drops the watch; IN_IGNORED is queued */
    expect_code(fdsafe_inotify_remove_watch(in, wd), 0); /* the race: no error */
    expect_code(fdsafe_inotify_remove_watch(in, wd), -EINVAL); /* removed twice, as raw */
    fdsafe_inotify_event ev[17];
    int n = (int)must(fdsafe_inotify_read(in, ev, 17));
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].mask, FDSAFE_IN_DELETE_SELF);
    assert_int_equal(ev[1].mask, FDSAFE_IN_IGNORED);
    assert_int_equal(ev[1].wd, wd);
    expect_code(fdsafe_inotify_remove_watch(in, wd + 1000), -EINVAL); /* never issued */

    /* Its IN_IGNORED read first: the id is gone, as for the raw call. */
    touch("victim");
    must(fdsafe_inotify_add_watch(in, path, FDSAFE_IN_DELETE_SELF, &wd));
    assert_int_equal(unlink(path), 0);
    expect_code(fdsafe_inotify_read(in, ev, 17), 2);
    assert_true(ev[1].wd == wd && ev[1].mask == FDSAFE_IN_IGNORED);
    expect_code(fdsafe_inotify_remove_watch(in, wd), -EINVAL);

    /* An explicit removal queues IN_IGNORED too; a second removal is -EINVAL. */
    int wd2;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, &wd2));
    expect_code(fdsafe_inotify_remove_watch(in, wd2), 0);
    expect_code(fdsafe_inotify_remove_watch(in, wd2), -EINVAL);
    expect_code(fdsafe_inotify_read(in, ev, 17), 1);
    assert_true(ev[0].wd == wd2 && ev[0].mask == FDSAFE_IN_IGNORED);
    expect_code(fdsafe_inotify_remove_watch(in, wd2), -EINVAL);

    /* The same, events read one at a time (the rest buffered inside fdsafe): IN_IGNORED
     * forgets the id when it is handed out, not when fdsafe reads it from the kernel. */
    touch("victim");
    must(fdsafe_inotify_add_watch(in, path, FDSAFE_IN_DELETE_SELF, &wd));
    assert_int_equal(unlink(path), 0);
    expect_code(fdsafe_inotify_read(in, ev, 1), 1);
    assert_int_equal(ev[0].mask, FDSAFE_IN_DELETE_SELF);
    expect_code(fdsafe_inotify_pending(in), 1);
    expect_code(fdsafe_inotify_remove_watch(in, wd), 0); /* IN_IGNORED not yet handed out */
    expect_code(fdsafe_inotify_read(in, ev, 1), 1);
    assert_int_equal(ev[0].mask, FDSAFE_IN_IGNORED);
    expect_code(fdsafe_inotify_remove_watch(in, wd), -EINVAL);
    must(fdsafe_close(in));
}

static void test_queue_overflow_is_reported(void **state) {
    (void)state;
    FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
    int limit = 16384;
    if (f) {
        if (fscanf(f, "%d", &limit) != 1) limit = 16384;
        fclose(f);
    }
    fdsafe_handle in;
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &in));
    touch("f");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/f", dir);
    int wd;
    must(fdsafe_inotify_add_watch(in, path, FDSAFE_IN_OPEN | FDSAFE_IN_CLOSE_NOWRITE, &wd));
    /* Open and close alternate, so the kernel cannot merge neighbours. */
    for (int i = 0; i < limit / 2 + 100; i++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        close(fd);
    }
    static fdsafe_inotify_event ev[512];
    int total = 0, overflow = 0, n;
    while ((n = fdsafe_inotify_read(in, ev, 512)) > 0) {
        for (int i = 0; i < n; i++) {
            if (ev[i].mask & FDSAFE_IN_Q_OVERFLOW) {
                overflow++;
                assert_int_equal(ev[i].wd, -1);
            }
        }
        total += n;
    }
    expect_code(n, -EAGAIN);
    assert_int_equal(overflow, 1);
    assert_true(total <= limit + 1);
    must(fdsafe_close(in));
}

static void test_small_reads_keep_the_rest(void **state) {
    (void)state;
    fdsafe_handle in;
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &in));
    int wd;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, &wd));
    touch("x1");
    touch("x2");
    touch("x3");
    fdsafe_inotify_event ev[1];
    const char *names[] = {"x1", "x2", "x3"};
    for (int i = 0; i < 3; i++) {
        expect_code(fdsafe_inotify_read(in, ev, 1), 1);
        assert_string_equal(ev[0].name, names[i]);
        expect_code(fdsafe_inotify_pending(in), 2 - i);
    }
    expect_code(fdsafe_inotify_read(in, ev, 1), -EAGAIN);
    must(fdsafe_close(in));
}

static void test_in_epoll_and_adopt(void **state) {
    (void)state;
    fdsafe_handle in, ep, copy;
    must(fdsafe_inotify_create(0, &in));
    must(fdsafe_epoll_create(&ep));
    int wd;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, &wd));
    must(fdsafe_epoll_add(ep, in, FDSAFE_EPOLL_IN, 0x1a));
    fdsafe_epoll_event e[1];
    expect_code(fdsafe_epoll_wait(ep, e, 1, 0), 0);
    touch("z");
    expect_code(fdsafe_epoll_wait(ep, e, 1, 1000), 1);
    assert_true(e[0].handle == in && e[0].user == 0x1a);
    must(fdsafe_dup(in, &copy));
    expect_code(fdsafe_handle_kind(copy), FDSAFE_KIND_INOTIFY);
    fdsafe_inotify_event ev[17];
    expect_code(fdsafe_inotify_read(copy, ev, 17), 1); /* the same instance */
    assert_string_equal(ev[0].name, "z");
    int efd = eventfd(0, EFD_CLOEXEC);
    fdsafe_handle bad = 0;
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_INOTIFY, &bad), FDSAFE_E_INVALID_ARGUMENT);
    close(efd);
    must(fdsafe_close(copy));
    must(fdsafe_close(ep));
    must(fdsafe_close(in));
}

/* A generic read would take events fdsafe may still hold back, out of order, and could
 * consume the event that retires a watch id: refused, and the events stay for the parsed
 * read. */
static void test_generic_reads_are_refused(void **state) {
    (void)state;
    fdsafe_handle in;
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &in));
    int wd = -1;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, &wd));
    touch("a");
    char raw[4096];
    expect_code(fdsafe_read(in, raw, sizeof raw), FDSAFE_E_WRONG_KIND);
    struct iovec iov = {raw, sizeof raw};
    expect_code(fdsafe_readv(in, &iov, 1), FDSAFE_E_WRONG_KIND);
    static fdsafe_inotify_event ev[4];
    expect_code(fdsafe_inotify_read(in, ev, 4), 1);
    assert_string_equal(ev[0].name, "a");
    must(fdsafe_close(in));
}

static void test_bad_input(void **state) {
    (void)state;
    fdsafe_handle in, closed, e, h = 0;
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &in));
    must(fdsafe_inotify_create(0, &closed));
    must(fdsafe_close(closed));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_inotify_create(0x4, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_create(0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);
    int wd = -7;
    expect_code(fdsafe_inotify_add_watch(in, NULL, FDSAFE_IN_CREATE, &wd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_add_watch(in, dir, 0x00100000, &wd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_add_watch(in, dir, 0, &wd), FDSAFE_E_INVALID_ARGUMENT);
    /* Options alone: the kernel would take them and leave the watch with no event. */
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_ONLYDIR, &wd), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_DONT_FOLLOW | FDSAFE_IN_EXCL_UNLINK, &wd),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE | FDSAFE_IN_MASK_ADD | FDSAFE_IN_MASK_CREATE, &wd),
                -EINVAL);
    expect_code(fdsafe_inotify_add_watch(in, "/nonexistent/fdsafe", FDSAFE_IN_CREATE, &wd), -ENOENT);
    expect_code(fdsafe_inotify_add_watch(in, "/etc/hostname", FDSAFE_IN_CREATE | FDSAFE_IN_ONLYDIR, &wd), -ENOTDIR);
    expect_code(fdsafe_inotify_add_watch(0, dir, FDSAFE_IN_CREATE, &wd), -EBADF);
    expect_code(fdsafe_inotify_add_watch(closed, dir, FDSAFE_IN_CREATE, &wd), -EBADF);
    expect_code(fdsafe_inotify_add_watch(e, dir, FDSAFE_IN_CREATE, &wd), FDSAFE_E_WRONG_KIND);
    assert_int_equal(wd, -7);
    int real;
    must(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE, &real));
    expect_code(fdsafe_inotify_add_watch(in, dir, FDSAFE_IN_CREATE | FDSAFE_IN_MASK_CREATE, &wd), -EEXIST);
    expect_code(fdsafe_inotify_remove_watch(0, real), -EBADF);
    expect_code(fdsafe_inotify_remove_watch(closed, real), -EBADF);
    expect_code(fdsafe_inotify_remove_watch(e, real), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_inotify_remove_watch(in, -1), -EINVAL);
    fdsafe_inotify_event ev[2];
    expect_code(fdsafe_inotify_read(in, NULL, 2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_read(in, ev, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_read(in, ev, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_inotify_read(0, ev, 2), -EBADF);
    expect_code(fdsafe_inotify_read(closed, ev, 2), -EBADF);
    expect_code(fdsafe_inotify_read(e, ev, 2), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_inotify_pending(0), -EBADF);
    expect_code(fdsafe_inotify_pending(closed), -EBADF);
    expect_code(fdsafe_inotify_pending(e), FDSAFE_E_WRONG_KIND);
    /* The watch still works. */
    expect_code(fdsafe_inotify_read(in, ev, 2), -EAGAIN);
    touch("ok");
    expect_code(fdsafe_inotify_read(in, ev, 2), 1);
    assert_true(ev[0].wd == real);
    must(fdsafe_close(e));
    must(fdsafe_close(in));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        IN_TEST(test_generic_reads_are_refused),
        IN_TEST(test_events_with_names_several_per_read),
        IN_TEST(test_rename_pair_matched_by_cookie),
        IN_TEST(test_watch_dropped_by_the_kernel_removes_without_error),
        IN_TEST(test_queue_overflow_is_reported),
        IN_TEST(test_small_reads_keep_the_rest),
        IN_TEST(test_in_epoll_and_adopt),
        IN_TEST(test_bad_input),
    };
    return cmocka_run_group_tests_name("inotify", tests, NULL, NULL);
}
