/* fanotify: notification, content and pre-content groups; marks on files, directories,
 * mounts and file systems (add, remove, flush); events with resolved paths; FID events with
 * file identity and name; permission events answered allow and deny (the opener really
 * fails); event descriptors that never leak; and misuse. Needs CAP_SYS_ADMIN: skips with the
 * reason otherwise. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];
static char file[128];

static int setup(void **state) {
    strcpy(dir, "/tmp/fdsafe-fanotify-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/watched", dir);
    int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "content", 7), 7);
    close(fd);
    return fd_snapshot(state);
}

static int teardown(void **state) {
    int rc = fd_check(state);
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
    return rc;
}

#define FAN_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Creates a group, or skips the test with the kernel's reason. */
static int init_or_skip(uint32_t flags, fdsafe_handle *out) {
    int rc = fdsafe_fanotify_init(flags, out);
    if (rc == -EPERM) {
        printf("skipping: fanotify_init: EPERM (needs CAP_SYS_ADMIN; run as root)\n");
        return 0;
    }
    must(rc);
    return 1;
}

static int count_open_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n;
}

static void test_notification_with_paths(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    expect_code(fdsafe_handle_kind(g), FDSAFE_KIND_FANOTIFY);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(g))), 1);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN | FDSAFE_FAN_CLOSE_NOWRITE, file), 0);
    int before = count_open_fds();
    for (int i = 0; i < 3; i++) close(open(file, O_RDONLY | O_CLOEXEC));
    static fdsafe_fanotify_event ev[64];
    /* The kernel merges unread events on the same file from the same process into one mask. */
    uint64_t seen = 0;
    int n;
    while ((n = fdsafe_fanotify_read(g, ev, 64)) > 0) {
        for (int i = 0; i < n; i++) {
            seen |= ev[i].mask;
            assert_int_equal(ev[i].pid, getpid());
            assert_string_equal(ev[i].path, file);
            assert_int_equal(ev[i].path_len, strlen(file));
            assert_true(ev[i].id == 0 && ev[i].has_fid == 0);
        }
    }
    expect_code(n, -EAGAIN);
    assert_true(seen == (FDSAFE_FAN_OPEN | FDSAFE_FAN_CLOSE_NOWRITE));
    assert_int_equal(count_open_fds(), before); /* every event descriptor already closed */
    expect_code(fdsafe_fanotify_read(g, ev, 64), -EAGAIN);

    /* Remove the mark: no more events. */
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_REMOVE, FDSAFE_FAN_OPEN | FDSAFE_FAN_CLOSE_NOWRITE, file), 0);
    close(open(file, O_RDONLY | O_CLOEXEC));
    expect_code(fdsafe_fanotify_read(g, ev, 64), -EAGAIN);
    must(fdsafe_close(g));
}

static void test_mount_and_filesystem_marks_and_flush(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    static fdsafe_fanotify_event ev[64];
    uint32_t types[] = {FDSAFE_FAN_MARK_MOUNT, FDSAFE_FAN_MARK_FILESYSTEM};
    for (int t = 0; t < 2; t++) {
        expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | types[t], FDSAFE_FAN_CLOSE_WRITE, dir), 0);
        int fd = open(file, O_WRONLY | O_CLOEXEC);
        close(fd);
        int seen = 0, n;
        while ((n = fdsafe_fanotify_read(g, ev, 64)) > 0) /* others may write on the same mount */
            for (int i = 0; i < n; i++) seen += ev[i].mask == FDSAFE_FAN_CLOSE_WRITE && strcmp(ev[i].path, file) == 0;
        assert_int_equal(seen, 1);
        expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_FLUSH | types[t], 0, NULL), 0);
        close(open(file, O_WRONLY | O_CLOEXEC));
        seen = 0;
        while ((n = fdsafe_fanotify_read(g, ev, 64)) > 0)
            for (int i = 0; i < n; i++) seen += strcmp(ev[i].path, file) == 0;
        assert_int_equal(seen, 0);
    }
    must(fdsafe_close(g));
}

static void test_fid_events_with_names(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK | FDSAFE_FAN_REPORT_DFID_NAME, &g)) skip();
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_ONLYDIR,
                                     FDSAFE_FAN_CREATE | FDSAFE_FAN_DELETE | FDSAFE_FAN_MOVED_FROM | FDSAFE_FAN_MOVED_TO,
                                     dir),
                0);
    char path[PATH_MAX], moved[PATH_MAX];
    snprintf(path, sizeof path, "%s/newborn", dir);
    snprintf(moved, sizeof moved, "%s/renamed", dir);
    close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    assert_int_equal(rename(path, moved), 0);
    unlink(moved);
    /* Unread events for the same entry name merge into one mask. */
    fdsafe_fanotify_event ev[8];
    uint64_t newborn = 0, renamed = 0;
    int n, total = 0;
    while ((n = fdsafe_fanotify_read(g, ev, 8)) > 0) {
        for (int i = 0; i < n; i++, total++) {
            if (strcmp(ev[i].name, "newborn") == 0) newborn |= ev[i].mask;
            else if (strcmp(ev[i].name, "renamed") == 0) renamed |= ev[i].mask;
            else fail_msg("unexpected name %s", ev[i].name);
            assert_int_equal(ev[i].name_len, strlen(ev[i].name));
            assert_int_equal(ev[i].has_fid, 1);
            assert_true(ev[i].handle_bytes > 0 && ev[i].handle_bytes <= FDSAFE_FANOTIFY_HANDLE_SIZE);
            assert_true(ev[i].fsid != 0);
            assert_int_equal(ev[i].path_len, 0); /* no descriptor in FID mode */
            assert_int_equal(ev[i].pid, getpid());
            /* Every entry is in the same directory: the same identity. */
            assert_int_equal(ev[i].handle_bytes, ev[0].handle_bytes);
            assert_memory_equal(ev[i].handle, ev[0].handle, ev[0].handle_bytes);
        }
    }
    expect_code(n, -EAGAIN);
    assert_true(total >= 2);
    assert_true(newborn == (FDSAFE_FAN_CREATE | FDSAFE_FAN_MOVED_FROM));
    assert_true(renamed == (FDSAFE_FAN_MOVED_TO | FDSAFE_FAN_DELETE));
    must(fdsafe_close(g));
}

/* A child opens the file; the parent answers. Returns the child's errno (0: opened). */
static int open_in_child_and_answer(fdsafe_handle g, uint32_t answer, int read_content) {
    pid_t child = fork();
    if (child == 0) {
        int fd = open(file, O_RDONLY);
        _exit(fd >= 0 ? 0 : errno);
    }
    fdsafe_fanotify_event ev[4];
    int n = (int)must(fdsafe_fanotify_read(g, ev, 4));
    assert_int_equal(n, 1);
    assert_true(ev[0].mask == FDSAFE_FAN_OPEN_PERM);
    assert_int_equal(ev[0].pid, child);
    assert_string_equal(ev[0].path, file);
    assert_true(ev[0].id != 0);
    expect_code(fdsafe_fanotify_unanswered(g), 1);
    if (read_content) {
        int fd = (int)must(fdsafe_fanotify_event_fd(g, ev[0].id));
        char buf[16] = {0};
        assert_int_equal(pread(fd, buf, sizeof buf, 0), 7);
        assert_string_equal(buf, "content");
        assert_int_equal(fd_is_cloexec(fd), 1);
    }
    expect_code(fdsafe_fanotify_respond(g, ev[0].id, answer), 0);
    expect_code(fdsafe_fanotify_unanswered(g), 0);
    expect_code(fdsafe_fanotify_respond(g, ev[0].id, answer), -ENOENT); /* once only */
    expect_code(fdsafe_fanotify_event_fd(g, ev[0].id), -ENOENT);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_permission_events_allow_and_deny(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_CLASS_CONTENT, &g)) skip();
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file), 0);
    assert_int_equal(open_in_child_and_answer(g, FDSAFE_FAN_DENY, 1), EPERM); /* really refused */
    assert_int_equal(open_in_child_and_answer(g, FDSAFE_FAN_ALLOW, 0), 0);
    must(fdsafe_close(g));
}

static void test_closing_with_a_question_open_allows_and_leaks_nothing(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_CLASS_PRE_CONTENT, &g)) skip();
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file), 0);
    pid_t child = fork();
    if (child == 0) {
        int fd = open(file, O_RDONLY);
        _exit(fd >= 0 ? 0 : errno);
    }
    fdsafe_fanotify_event ev[1];
    expect_code(fdsafe_fanotify_read(g, ev, 1), 1);
    int event_fd = (int)must(fdsafe_fanotify_event_fd(g, ev[0].id));
    assert_true(fd_is_open(event_fd));
    must(fdsafe_close(g)); /* answers "allow", closes the event descriptor */
    assert_false(fd_is_open(event_fd));
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Starts a child that opens the watched file (its open waits for the group's answer), and
 * reads that permission event into *event. */
static pid_t start_opener(fdsafe_handle g, fdsafe_fanotify_event *event) {
    pid_t opener = fork();
    if (opener == 0) {
        int fd = open(file, O_RDONLY);
        _exit(fd >= 0 ? 0 : errno);
    }
    expect_code(fdsafe_fanotify_read(g, event, 1), 1);
    assert_true(event->mask == FDSAFE_FAN_OPEN_PERM);
    return opener;
}

/* Whether `child` is still running after 100 ms (an opener still waiting for its answer). */
static int still_waiting(pid_t child) {
    usleep(100 * 1000);
    int status;
    return waitpid(child, &status, WNOHANG) == 0;
}

/* The opener's errno once it has its answer (0: opened). */
static int opener_result(pid_t opener) {
    int status;
    assert_int_equal(waitpid(opener, &status, 0), opener);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A release hands the group on, but only fdsafe knew the question's id and descriptor: it
 * answers "allow" what this process read, as a close does, and the group lives on. */
static void test_release_answers_too(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_CLASS_CONTENT, &g)) skip();
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file));
    fdsafe_fanotify_event ev[1];
    pid_t opener = start_opener(g, ev);
    int raw = (int)must(fdsafe_fd_release(g));
    assert_int_equal(opener_result(opener), 0);
    assert_true(fd_is_open(raw));
    close(raw);
}

/* Closing affects this process's descriptor only: a forked child closing its inherited
 * handle (or every handle) must not answer the questions its parent is deciding (it once
 * answered them "allow", letting the openers through). */
static void test_a_child_closing_its_copy_answers_nothing(void **state) {
    (void)state;
    for (int close_all = 0; close_all <= 1; close_all++) {
        fdsafe_handle g;
        if (!init_or_skip(FDSAFE_FAN_CLASS_CONTENT, &g)) skip();
        must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file));
        fdsafe_fanotify_event ev[1];
        pid_t opener = start_opener(g, ev);
        pid_t closer = fork();
        if (closer == 0) {
            int ok = close_all ? fdsafe_close_all_except(NULL, 0) >= 1 : fdsafe_close(g) == 0;
            _exit(ok ? 0 : 1);
        }
        assert_int_equal(opener_result(closer), 0);
        assert_true(still_waiting(opener));
        must(fdsafe_fanotify_respond(g, ev[0].id, FDSAFE_FAN_DENY));
        assert_int_equal(opener_result(opener), EPERM);
        must(fdsafe_close(g));
    }
}

/* A duplicate shares the group's questions: the answer can come through it, after the handle
 * that read the event has closed. */
static void test_a_duplicate_shares_the_questions(void **state) {
    (void)state;
    fdsafe_handle g, d;
    if (!init_or_skip(FDSAFE_FAN_CLASS_CONTENT, &g)) skip();
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file));
    must(fdsafe_dup(g, &d));
    fdsafe_fanotify_event ev[1];
    pid_t opener = start_opener(g, ev);
    expect_code(fdsafe_fanotify_unanswered(d), 1);
    must(fdsafe_close(g));
    assert_true(still_waiting(opener));
    expect_code(fdsafe_fanotify_event_fd(d, ev[0].id) >= 0, 1);
    must(fdsafe_fanotify_respond(d, ev[0].id, FDSAFE_FAN_DENY));
    assert_int_equal(opener_result(opener), EPERM);
    expect_code(fdsafe_fanotify_unanswered(d), 0);
    must(fdsafe_close(d));
}

static void test_small_reads_keep_the_rest(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    /* Three different files, so the kernel cannot merge their events. */
    char paths[3][PATH_MAX];
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/child%d", dir, i);
        close(open(paths[i], O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    }
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_ONLYDIR, FDSAFE_FAN_OPEN | FDSAFE_FAN_EVENT_ON_CHILD, dir));
    for (int i = 0; i < 3; i++) close(open(paths[i], O_RDONLY | O_CLOEXEC));
    fdsafe_fanotify_event ev[1];
    for (int i = 0; i < 3; i++) {
        expect_code(fdsafe_fanotify_read(g, ev, 1), 1);
        assert_string_equal(ev[0].path, paths[i]);
        expect_code(fdsafe_fanotify_pending(g), 2 - i); /* the rest came with the first read */
    }
    expect_code(fdsafe_fanotify_read(g, ev, 1), -EAGAIN);
    expect_code(fdsafe_fanotify_pending(g), 0);
    /* What one handle read and kept is its duplicate's too, after the first is closed. */
    fdsafe_handle d;
    must(fdsafe_dup(g, &d));
    for (int i = 0; i < 3; i++) close(open(paths[i], O_RDONLY | O_CLOEXEC));
    expect_code(fdsafe_fanotify_read(g, ev, 1), 1);
    expect_code(fdsafe_fanotify_pending(d), 2);
    must(fdsafe_close(g));
    for (int i = 1; i < 3; i++) {
        expect_code(fdsafe_fanotify_read(d, ev, 1), 1);
        assert_string_equal(ev[0].path, paths[i]);
    }
    expect_code(fdsafe_fanotify_read(d, ev, 1), -EAGAIN);
    must(fdsafe_close(d));
}

static void test_in_epoll(void **state) {
    (void)state;
    fdsafe_handle g, ep;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file));
    must(fdsafe_epoll_add(ep, g, FDSAFE_EPOLL_IN, 0xfa));
    fdsafe_epoll_event e[1];
    expect_code(fdsafe_epoll_wait(ep, e, 1, 0), 0);
    close(open(file, O_RDONLY | O_CLOEXEC));
    expect_code(fdsafe_epoll_wait(ep, e, 1, 1000), 1);
    assert_true(e[0].handle == g && e[0].user == 0xfa);
    must(fdsafe_close(ep));
    must(fdsafe_close(g)); /* unread event: its descriptor is the kernel's, freed with the group */
}

/* The kernel's own flags, as habit passes them: FAN_CLOEXEC is taken (the group is
 * close-on-exec anyway) and FAN_NONBLOCK is fdsafe's non-blocking flag. */
static void test_kernel_flags(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FAN_CLOEXEC | FAN_NONBLOCK, &g)) skip();
    int fd = (int)must(fdsafe_fd_borrow(g));
    assert_int_equal(fd_is_cloexec(fd), 1);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    fdsafe_fanotify_event ev[FDSAFE_FANOTIFY_MIN_BATCH];
    expect_code(fdsafe_fanotify_read(g, ev, FDSAFE_FANOTIFY_MIN_BATCH), -EAGAIN);
    must(fdsafe_close(g));
}

/* The generic reads (and writes) would take raw events, each with a descriptor the kernel opened for
 * this process, which no one would close (and a permission event fdsafe could not answer):
 * they are refused, the event stays queued, and the parsed read gets it. */
static void test_generic_reads_are_refused(void **state) {
    (void)state;
    fdsafe_handle g;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file));
    close(open(file, O_RDONLY | O_CLOEXEC));
    int before = count_open_fds();
    char raw[4096];
    expect_code(fdsafe_read(g, raw, sizeof raw), FDSAFE_E_WRONG_KIND);
    struct iovec iov = {raw, sizeof raw};
    expect_code(fdsafe_readv(g, &iov, 1), FDSAFE_E_WRONG_KIND);
    fdsafe_io_op op = {.handle = g, .op = FDSAFE_IO_READ, .buf = raw, .len = sizeof raw};
    expect_code(fdsafe_io_batch(&op, 1, 0), 0);
    expect_code(op.result, FDSAFE_E_WRONG_KIND);
    /* A raw write would answer a permission event behind fanotify_respond: refused too. */
    struct fanotify_response answer = {.fd = 0, .response = FAN_ALLOW};
    expect_code(fdsafe_write(g, &answer, sizeof answer), FDSAFE_E_WRONG_KIND);
    op.op = FDSAFE_IO_WRITE;
    expect_code(fdsafe_io_batch(&op, 1, 0), 0);
    expect_code(op.result, FDSAFE_E_WRONG_KIND);
    assert_int_equal(count_open_fds(), before); /* no event descriptor arrived */
    static fdsafe_fanotify_event ev[4];
    expect_code(fdsafe_fanotify_read(g, ev, 4), 1);
    assert_true(ev[0].mask & FDSAFE_FAN_OPEN);
    assert_int_equal(count_open_fds(), before);
    must(fdsafe_close(g));
}

static void test_bad_input(void **state) {
    (void)state;
    fdsafe_handle g, closed, e, h = 0;
    if (!init_or_skip(FDSAFE_FAN_NONBLOCK, &g)) skip();
    must(fdsafe_fanotify_init(0, &closed));
    must(fdsafe_close(closed));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_fanotify_init(0x80, &h), FDSAFE_E_INVALID_ARGUMENT); /* pidfd reporting: not offered */
    expect_code(fdsafe_fanotify_init(FDSAFE_FAN_CLASS_CONTENT | FDSAFE_FAN_CLASS_PRE_CONTENT, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_init(FDSAFE_FAN_CLASS_CONTENT | FDSAFE_FAN_REPORT_FID, &h), -EINVAL);
    expect_code(fdsafe_fanotify_init(0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(h == 0);
    expect_code(fdsafe_fanotify_mark(g, 0, FDSAFE_FAN_OPEN, file), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_REMOVE, FDSAFE_FAN_OPEN, file), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_MOUNT | FDSAFE_FAN_MARK_FILESYSTEM,
                                     FDSAFE_FAN_OPEN, file), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | 0x40000, FDSAFE_FAN_OPEN, file), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, 1ull << 40, file), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, "/nonexistent/fdsafe"), -ENOENT);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_ONLYDIR, FDSAFE_FAN_OPEN, file), -ENOTDIR);
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN_PERM, file), -EINVAL); /* notification class */
    /* An evictable mark over one that is not: the kernel's -EEXIST. */
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file));
    expect_code(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD | FDSAFE_FAN_MARK_EVICTABLE, FDSAFE_FAN_OPEN, file), -EEXIST);
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_REMOVE, FDSAFE_FAN_OPEN, file));
    expect_code(fdsafe_fanotify_mark(0, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file), -EBADF);
    expect_code(fdsafe_fanotify_mark(closed, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file), -EBADF);
    expect_code(fdsafe_fanotify_mark(e, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file), FDSAFE_E_WRONG_KIND);
    fdsafe_fanotify_event ev[2];
    expect_code(fdsafe_fanotify_read(g, NULL, 2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_read(g, ev, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_read(g, ev, SIZE_MAX), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_read(0, ev, 2), -EBADF);
    expect_code(fdsafe_fanotify_read(closed, ev, 2), -EBADF);
    expect_code(fdsafe_fanotify_read(e, ev, 2), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_fanotify_respond(g, 12345, FDSAFE_FAN_ALLOW), -ENOENT);
    expect_code(fdsafe_fanotify_respond(g, 12345, 7), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_fanotify_respond(0, 1, FDSAFE_FAN_ALLOW), -EBADF);
    expect_code(fdsafe_fanotify_respond(closed, 1, FDSAFE_FAN_ALLOW), -EBADF);
    expect_code(fdsafe_fanotify_event_fd(0, 1), -EBADF);
    expect_code(fdsafe_fanotify_pending(0), -EBADF);
    expect_code(fdsafe_fanotify_unanswered(closed), -EBADF);
    expect_code(fdsafe_fanotify_respond(e, 1, FDSAFE_FAN_ALLOW), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_fanotify_event_fd(g, 12345), -ENOENT);
    expect_code(fdsafe_fanotify_event_fd(closed, 1), -EBADF);
    expect_code(fdsafe_fanotify_event_fd(e, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_fanotify_pending(closed), -EBADF);
    expect_code(fdsafe_fanotify_pending(e), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_fanotify_unanswered(0), -EBADF);
    expect_code(fdsafe_fanotify_unanswered(e), FDSAFE_E_WRONG_KIND);
    int efd = eventfd(0, EFD_CLOEXEC);
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_FANOTIFY, &h), FDSAFE_E_INVALID_ARGUMENT);
    close(efd);
    fdsafe_handle copy;
    must(fdsafe_dup(g, &copy));
    expect_code(fdsafe_handle_kind(copy), FDSAFE_KIND_FANOTIFY);
    must(fdsafe_close(copy));
    /* Still working. */
    must(fdsafe_fanotify_mark(g, FDSAFE_FAN_MARK_ADD, FDSAFE_FAN_OPEN, file));
    close(open(file, O_RDONLY | O_CLOEXEC));
    expect_code(fdsafe_fanotify_read(g, ev, 2), 1);
    must(fdsafe_close(e));
    must(fdsafe_close(g));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FAN_TEST(test_generic_reads_are_refused),
        FAN_TEST(test_notification_with_paths),
        FAN_TEST(test_mount_and_filesystem_marks_and_flush),
        FAN_TEST(test_fid_events_with_names),
        FAN_TEST(test_permission_events_allow_and_deny),
        FAN_TEST(test_closing_with_a_question_open_allows_and_leaks_nothing),
        FAN_TEST(test_release_answers_too),
        FAN_TEST(test_a_child_closing_its_copy_answers_nothing),
        FAN_TEST(test_a_duplicate_shares_the_questions),
        FAN_TEST(test_small_reads_keep_the_rest),
        FAN_TEST(test_in_epoll),
        FAN_TEST(test_kernel_flags),
        FAN_TEST(test_bad_input),
    };
    return cmocka_run_group_tests_name("fanotify", tests, NULL, NULL);
}
