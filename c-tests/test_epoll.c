/* epoll: registrations by handle, user values, one-shot and edge-triggered modes, the waits
 * (milliseconds, nanoseconds, signal mask), automatic deregistration on close (with a
 * duplicated descriptor keeping the file alive), the race with a waiting thread, and misuse. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_add_wait_modify_delete(void **state) {
    (void)state;
    fdsafe_handle ep, r, w;
    must(fdsafe_epoll_create(&ep));
    expect_code(fdsafe_handle_kind(ep), FDSAFE_KIND_EPOLL);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(ep))), 1);
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 0xdeadbeefcafef00dull), 0);
    expect_code(fdsafe_epoll_count(ep), 1);

    fdsafe_epoll_event ev[4];
    memset(ev, 0xff, sizeof ev);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 0), 0);
    expect_code(fdsafe_write(w, "x", 1), 1);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == r);
    assert_true(ev[0].user == 0xdeadbeefcafef00dull);
    assert_int_equal(ev[0].events, FDSAFE_EPOLL_IN);
    assert_int_equal(ev[0].reserved, 0);

    expect_code(fdsafe_epoll_modify(ep, r, FDSAFE_EPOLL_IN, 42), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].user == 42);

    /* The write end: writable, and the read end sees a hang-up once it is closed. */
    expect_code(fdsafe_epoll_add(ep, w, FDSAFE_EPOLL_OUT, 7), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 2);
    int saw_w = 0;
    for (int i = 0; i < 2; i++)
        if (ev[i].handle == w) saw_w = (ev[i].user == 7 && ev[i].events == FDSAFE_EPOLL_OUT);
    assert_true(saw_w);

    expect_code(fdsafe_epoll_delete(ep, r), 0);
    expect_code(fdsafe_epoll_count(ep), 1);
    expect_code(fdsafe_epoll_delete(ep, r), -ENOENT);
    expect_code(fdsafe_epoll_modify(ep, r, FDSAFE_EPOLL_IN, 1), -ENOENT);
    expect_code(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 9), 0);
    must(fdsafe_close(w)); /* leaves the set by itself */
    expect_code(fdsafe_epoll_count(ep), 1);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == r && ev[0].user == 9);
    assert_true(ev[0].events & FDSAFE_EPOLL_HUP);
    must(fdsafe_close(r));
    expect_code(fdsafe_epoll_count(ep), 0);
    must(fdsafe_close(ep));
}

/* Without fdsafe: the kernel keeps reporting a closed descriptor while a dup of it lives. This
 * shows the trap the next test proves impossible through fdsafe. */
static void test_kernel_alone_reports_dead_descriptors(void **state) {
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = p[0]};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e), 0);
    int copy = dup(p[0]);
    close(p[0]);
    assert_int_equal(write(p[1], "x", 1), 1);
    struct epoll_event out;
    assert_int_equal(epoll_wait(ep, &out, 1, 0), 1); /* an event for a closed descriptor */
    close(copy);
    close(p[1]);
    close(ep);
}

static void test_close_deregisters_even_with_a_dup_alive(void **state) {
    (void)state;
    fdsafe_handle ep1, ep2, r, w, r2;
    must(fdsafe_epoll_create(&ep1));
    must(fdsafe_epoll_create(&ep2));
    must(fdsafe_pipe_create(0, &r, &w));
    int raw_copy = dup((int)must(fdsafe_fd_borrow(r))); /* keeps the open file alive */
    must(fdsafe_dup(r, &r2));                            /* and so does a second handle */
    expect_code(fdsafe_epoll_add(ep1, r, FDSAFE_EPOLL_IN, 1), 0);
    expect_code(fdsafe_epoll_add(ep2, r, FDSAFE_EPOLL_IN, 2), 0);
    expect_code(fdsafe_epoll_add(ep2, r2, FDSAFE_EPOLL_IN, 3), 0);
    expect_code(fdsafe_write(w, "x", 1), 1);
    fdsafe_epoll_event ev[4];
    expect_code(fdsafe_epoll_wait(ep1, ev, 4, 1000), 1);

    must(fdsafe_close(r));
    expect_code(fdsafe_epoll_count(ep1), 0);
    expect_code(fdsafe_epoll_count(ep2), 1);
    expect_code(fdsafe_epoll_wait(ep1, ev, 4, 0), 0);
    /* ep2 still reports the other handle of the same pipe, and only it. */
    expect_code(fdsafe_epoll_wait(ep2, ev, 4, 1000), 1);
    assert_true(ev[0].handle == r2 && ev[0].user == 3);
    /* The kernel's registration really is gone: a new handle on the same file can be added. */
    expect_code(fdsafe_epoll_delete(ep2, r), -EBADF);

    close(raw_copy);
    must(fdsafe_close(r2));
    expect_code(fdsafe_epoll_wait(ep2, ev, 4, 0), 0);
    must(fdsafe_close(w));
    must(fdsafe_close(ep1));
    must(fdsafe_close(ep2));
}

/* The number of registrations the kernel holds in an epoll set (its "tfd:" lines). */
static int raw_registrations(int epfd) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    int n = 0;
    while (fgets(line, sizeof line, f)) n += strncmp(line, "tfd:", 4) == 0;
    fclose(f);
    return n;
}

static int kernel_registrations(fdsafe_handle ep) {
    return raw_registrations((int)must(fdsafe_fd_borrow(ep)));
}

/* The target descriptor number of the set's only registration, as the kernel lists it (read
 * without asking fdsafe, so the handle's number is never lent). */
static int registered_number(fdsafe_handle ep) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", (int)must(fdsafe_fd_borrow(ep)));
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    int fd = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "tfd:", 4) == 0) fd = atoi(line + 4);
    fclose(f);
    return fd;
}

static void test_kernel_registration_is_removed_too(void **state) {
    (void)state;
    fdsafe_handle ep, r, w;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_pipe_create(0, &r, &w));
    int raw_copy = dup((int)must(fdsafe_fd_borrow(r)));
    must(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 1));
    must(fdsafe_epoll_add(ep, w, FDSAFE_EPOLL_OUT, 2));
    assert_int_equal(kernel_registrations(ep), 2);
    must(fdsafe_close(r));
    assert_int_equal(kernel_registrations(ep), 1); /* not just hidden: gone from the kernel */
    must(fdsafe_epoll_delete(ep, w));
    assert_int_equal(kernel_registrations(ep), 0);
    close(raw_copy);
    must(fdsafe_close(w));
    must(fdsafe_close(ep));
}

/* Closing a registered handle removes the kernel's registration whoever else holds the open
 * file. When nobody does (fdsafe made the descriptor and never lent, duplicated, sent or forked
 * it), closing ends the file and the kernel drops the registration itself, so fdsafe makes no
 * EPOLL_CTL_DEL; every way a file gets a second holder must make it ask the kernel instead.
 * Each case: a readable eventfd registered, the second holder made, the handle closed; the
 * kernel keeps no registration and reports nothing, though the file lives on, readable. */
enum second_holder {
    NOBODY,
    FDSAFE_DUPLICATE,
    LENT_NUMBER_DUPLICATED,
    SENT_AND_RECEIVED,
    RAW_NUMBER_SENT,
    RECEIVED_FROM_A_SENDER_THAT_KEEPS_IT,
    ADOPTED_WITH_A_COPY,
    FORKED_CHILD,
    CHILD_ON_THE_TERMINAL,
    SECOND_HOLDERS
};

static const char *const holder_names[SECOND_HOLDERS] = {
    "nobody", "fdsafe_dup", "fdsafe_fd_borrow + dup", "sent and received",
    "its number sent raw (fdsafe_socket_send_fds), never borrowed", "received from a sender that keeps it", "adopted, a copy kept", "a forked child",
    "a child spawned on the terminal",
};

static void registration_goes_with(enum second_holder holder) {
    fdsafe_handle ep, h = 0, keep = 0, a = 0, b = 0, master = 0, spawned = 0;
    int raw_keep = -1, to_child[2] = {-1, -1};
    uint32_t events = FDSAFE_EPOLL_IN;
    pid_t spawned_pid = 0;
    pid_t child = -1;
    must(fdsafe_epoll_create(&ep));
    if (holder == RECEIVED_FROM_A_SENDER_THAT_KEEPS_IT || holder == ADOPTED_WITH_A_COPY) {
        raw_keep = eventfd(1, EFD_CLOEXEC);
        assert_true(raw_keep >= 0);
    }
    if (holder == SENT_AND_RECEIVED || holder == RAW_NUMBER_SENT || holder == RECEIVED_FROM_A_SENDER_THAT_KEEPS_IT)
        must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    if (holder == RECEIVED_FROM_A_SENDER_THAT_KEEPS_IT) {
        expect_code(fdsafe_socket_send_fds(a, "x", 1, &raw_keep, 1, 0), 1);
        char byte;
        struct fdsafe_recv_info info;
        expect_code(fdsafe_socket_recv_handles(b, &byte, 1, 0, &h, 1, &info), 1);
    } else if (holder == ADOPTED_WITH_A_COPY) {
        int fd = dup(raw_keep);
        assert_true(fd >= 0);
        must(fdsafe_fd_adopt(fd, FDSAFE_KIND_EVENTFD, &h));
    } else if (holder == CHILD_ON_THE_TERMINAL) {
        must(fdsafe_pty_open(0, &master, &h)); /* the terminal side: writable */
        events = FDSAFE_EPOLL_OUT;
    } else {
        must(fdsafe_eventfd_create(1, 0, &h));
    }
    must(fdsafe_epoll_add(ep, h, events, 7));
    switch (holder) {
    case FDSAFE_DUPLICATE:
        must(fdsafe_dup(h, &keep));
        break;
    case LENT_NUMBER_DUPLICATED:
        raw_keep = dup((int)must(fdsafe_fd_borrow(h)));
        break;
    case SENT_AND_RECEIVED: {
        expect_code(fdsafe_socket_send_handles(a, "x", 1, &h, 1, 0), 1);
        char byte;
        struct fdsafe_recv_info info;
        expect_code(fdsafe_socket_recv_handles(b, &byte, 1, 0, &keep, 1, &info), 1);
        break;
    }
    case RAW_NUMBER_SENT: {
        int number = registered_number(ep);
        assert_true(number >= 0);
        expect_code(fdsafe_socket_send_fds(a, "x", 1, &number, 1, 0), 1);
        char byte;
        struct fdsafe_recv_info info;
        expect_code(fdsafe_socket_recv_handles(b, &byte, 1, 0, &keep, 1, &info), 1);
        break;
    }
    case FORKED_CHILD:
        assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
        child = fork();
        assert_true(child >= 0);
        if (child == 0) { /* holds every inherited descriptor until the parent writes */
            char byte;
            close(to_child[1]);
            _exit(read(to_child[0], &byte, 1) == 1 ? 0 : 1);
        }
        close(to_child[0]);
        break;
    case CHILD_ON_THE_TERMINAL: { /* its standard streams are the terminal's file */
        const char *argv[] = {"sleep", "30", NULL};
        spawned_pid = fdsafe_terminal_spawn(h, "sleep", argv, NULL, &spawned);
        assert_true(spawned_pid > 0);
        break;
    }
    default:
        break;
    }
    assert_int_equal(kernel_registrations(ep), 1);
    must(fdsafe_close(h));
    if (kernel_registrations(ep) != 0) fail_msg("%s: the registration outlived the close", holder_names[holder]);
    fdsafe_epoll_event ev[4];
    struct epoll_event raw[4];
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 0), 0);
    assert_int_equal(epoll_wait((int)must(fdsafe_fd_borrow(ep)), raw, 4, 0), 0);
    /* The file did live on, still readable, in its other holder. */
    uint64_t value = 0;
    if (keep) {
        must(fdsafe_eventfd_read(keep, &value));
        assert_int_equal(value, 1);
        must(fdsafe_close(keep));
    }
    if (raw_keep >= 0) {
        assert_int_equal(read(raw_keep, &value, 8), 8);
        close(raw_keep);
    }
    if (spawned) {
        fdsafe_pidfd_exit exit_info;
        assert_int_equal(kill(spawned_pid, SIGKILL), 0); /* not pidfd_send_signal: valgrind 3.19 lacks it */
        expect_code(fdsafe_wait(spawned, FDSAFE_EVENT_IN, 10000), FDSAFE_EVENT_IN);
        expect_code(fdsafe_pidfd_wait(spawned, 0, &exit_info), 1);
        must(fdsafe_close(spawned));
        must(fdsafe_close(master));
    }
    if (child > 0) {
        int status;
        assert_int_equal(write(to_child[1], "x", 1), 1);
        close(to_child[1]);
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    if (a) must(fdsafe_close(a));
    if (b) must(fdsafe_close(b));
    must(fdsafe_close(ep));
}

static void test_registration_goes_with_the_close_whoever_holds_the_file(void **state) {
    (void)state;
    for (int holder = 0; holder < SECOND_HOLDERS; holder++) registration_goes_with((enum second_holder)holder);
}

/* A copy fdsafe cannot know of (another process took it with pidfd_getfd(2)) keeps the
 * kernel's registration after the close, as documented; fdsafe_epoll_wait still reports
 * nothing for the closed handle, and the registration goes with that copy. */
static void test_a_copy_taken_by_another_process_keeps_the_kernel_registration(void **state) {
    (void)state;
    if (syscall_missing(SYS_pidfd_open, "pidfd_open") || syscall_missing(SYS_pidfd_getfd, "pidfd_getfd")) skip();
    int to_child[2], to_parent[2];
    assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
    assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
    pid_t parent = getpid();
    pid_t child = fork(); /* before the handle exists: nothing marks it shared */
    assert_true(child >= 0);
    if (child == 0) {
        int number;
        if (read(to_child[0], &number, sizeof number) != sizeof number) _exit(1);
        int pidfd = (int)syscall(SYS_pidfd_open, parent, 0);
        int copy = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, number, 0);
        char answer = copy >= 0 ? 'y' : 'n';
        if (write(to_parent[1], &answer, 1) != 1) _exit(1);
        _exit(read(to_child[0], &answer, 1) == 1 ? 0 : 1); /* hold the copy until told */
    }
    fdsafe_handle ep, h;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(1, 0, &h)); /* readable, level-triggered */
    must(fdsafe_epoll_add(ep, h, FDSAFE_EPOLL_IN, 7));
    int number = registered_number(ep);
    assert_int_equal(write(to_child[1], &number, sizeof number), sizeof number);
    char answer = 0;
    assert_int_equal(read(to_parent[0], &answer, 1), 1);
    if (answer == 'y') {
        must(fdsafe_close(h));
        assert_int_equal(kernel_registrations(ep), 1); /* the copy keeps the file, and so the registration */
        fdsafe_epoll_event ev[4];
        expect_code(fdsafe_epoll_wait(ep, ev, 4, 100), 0); /* never reported */
    } else {
        print_message("pidfd_getfd refused here (no ptrace rights over the parent): only the close is checked\n");
        must(fdsafe_close(h));
    }
    assert_int_equal(write(to_child[1], "x", 1), 1);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(kernel_registrations(ep), 0); /* the last copy gone, the kernel dropped it */
    must(fdsafe_close(ep));
    for (int i = 0; i < 2; i++) {
        close(to_child[i]);
        close(to_parent[i]);
    }
}

/* While another thread is inside an operation on a handle, closing it cannot release the
 * descriptor yet (so the close hook has not run), but the handle is already dead: the set
 * must not report it. */
struct holder {
    fdsafe_handle h;
    int rc;
    atomic_int tid;
};

static void *hold_handle(void *arg) {
    struct holder *hold = arg;
    atomic_store(&hold->tid, (int)gettid());
    hold->rc = fdsafe_wait(hold->h, FDSAFE_EVENT_PRI, 500); /* nothing will come: 500 ms inside */
    return NULL;
}

/* Waits until thread `tid` is blocked in poll(2) (so inside fdsafe_wait, holding its handle). */
static void wait_until_in_poll(int tid) {
    char path[64], text[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    for (int i = 0; i < 2000; i++) {
        FILE *f = fopen(path, "re");
        if (f) {
            int got = fgets(text, sizeof text, f) != NULL;
            fclose(f);
            if (got && atoi(text) == SYS_poll) return;
        }
        usleep(1000);
    }
    fail_msg("the helper thread never entered poll");
}

/* A handle in three sets: the registration records live with the handle (the first beside it,
 * the others in a list), so deleting any one of them, first or not, leaves the others; the
 * close then deregisters from the rest, in the kernel too, though a dup keeps the file open. */
static void test_one_handle_in_several_sets(void **state) {
    (void)state;
    for (int deleted = 0; deleted < 3; deleted++) {
        fdsafe_handle ep[3], r, w;
        must(fdsafe_pipe_create(0, &r, &w));
        int raw_copy = dup((int)must(fdsafe_fd_borrow(r)));
        for (int i = 0; i < 3; i++) {
            must(fdsafe_epoll_create(&ep[i]));
            expect_code(fdsafe_epoll_add(ep[i], r, FDSAFE_EPOLL_IN, (uint64_t)(10 + i)), 0);
            expect_code(fdsafe_epoll_add(ep[i], r, FDSAFE_EPOLL_IN, 0), -EEXIST);
        }
        expect_code(fdsafe_epoll_delete(ep[deleted], r), 0);
        expect_code(fdsafe_epoll_delete(ep[deleted], r), -ENOENT);
        expect_code(fdsafe_epoll_modify(ep[deleted], r, FDSAFE_EPOLL_IN, 0), -ENOENT);
        expect_code(fdsafe_write(w, "x", 1), 1);
        fdsafe_epoll_event ev[2];
        for (int i = 0; i < 3; i++) {
            expect_code(fdsafe_epoll_count(ep[i]), i == deleted ? 0 : 1);
            expect_code(kernel_registrations(ep[i]), i == deleted ? 0 : 1);
            if (i == deleted) {
                expect_code(fdsafe_epoll_wait(ep[i], ev, 2, 0), 0);
                continue;
            }
            /* The user value reaches the right set, and modify finds the right record. */
            expect_code(fdsafe_epoll_wait(ep[i], ev, 2, 1000), 1);
            assert_true(ev[0].handle == r && ev[0].user == (uint64_t)(10 + i));
            expect_code(fdsafe_epoll_modify(ep[i], r, FDSAFE_EPOLL_IN, (uint64_t)(20 + i)), 0);
            expect_code(fdsafe_epoll_wait(ep[i], ev, 2, 1000), 1);
            assert_true(ev[0].user == (uint64_t)(20 + i));
        }
        /* Re-adding after a delete works. */
        expect_code(fdsafe_epoll_add(ep[deleted], r, FDSAFE_EPOLL_IN, 30), 0);
        must(fdsafe_close(r));
        for (int i = 0; i < 3; i++) {
            expect_code(fdsafe_epoll_count(ep[i]), 0);
            expect_code(kernel_registrations(ep[i]), 0);
            expect_code(fdsafe_epoll_wait(ep[i], ev, 2, 0), 0); /* the dup is still readable */
            must(fdsafe_close(ep[i]));
        }
        close(raw_copy);
        must(fdsafe_close(w));
    }
}

/* Many registrations that end by close while others stay: the set's count follows, the kernel
 * holds only the live ones, and events still reach the live ones with their values. */
static void test_churn_of_closed_registrations(void **state) {
    (void)state;
    enum { LIVE = 100, CHURN = 20000 };
    fdsafe_handle ep, live[LIVE];
    must(fdsafe_epoll_create(&ep));
    for (int i = 0; i < LIVE; i++) {
        must(fdsafe_eventfd_create(0, 0, &live[i]));
        expect_code(fdsafe_epoll_add(ep, live[i], FDSAFE_EPOLL_IN, (uint64_t)i), 0);
    }
    for (int i = 0; i < CHURN; i++) {
        fdsafe_handle h;
        must(fdsafe_eventfd_create(0, 0, &h));
        expect_code(fdsafe_epoll_add(ep, h, FDSAFE_EPOLL_IN, 1000000), 0);
        must(fdsafe_eventfd_write(h, 1));
        must(fdsafe_close(h));
    }
    expect_code(fdsafe_epoll_count(ep), LIVE);
    expect_code(kernel_registrations(ep), LIVE);
    fdsafe_epoll_event ev[4];
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 0), 0);
    must(fdsafe_eventfd_write(live[LIVE / 2], 1));
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == live[LIVE / 2] && ev[0].user == LIVE / 2);
    for (int i = 0; i < LIVE; i++) must(fdsafe_close(live[i]));
    expect_code(fdsafe_epoll_count(ep), 0);
    must(fdsafe_close(ep));
}

static void test_no_event_for_a_closed_handle_still_in_use(void **state) {
    (void)state;
    fdsafe_handle ep, r, w;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_epoll_add(ep, w, FDSAFE_EPOLL_OUT, 2)); /* always ready */
    fdsafe_epoll_event ev[2];
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 0), 1);
    struct holder hold = {.h = w, .rc = 99};
    atomic_store(&hold.tid, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_handle, &hold), 0);
    while (atomic_load(&hold.tid) == 0) usleep(1000);
    wait_until_in_poll(atomic_load(&hold.tid));
    must(fdsafe_close(w));
    assert_int_equal(kernel_registrations(ep), 1); /* the descriptor still lives... */
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 0), 0); /* ...but no event names the dead handle */
    pthread_join(t, NULL);
    assert_int_equal(hold.rc, 0);
    assert_int_equal(kernel_registrations(ep), 0); /* the last user left: hook ran */
    expect_code(fdsafe_epoll_count(ep), 0);
    must(fdsafe_close(r));
    must(fdsafe_close(ep));
}

static void test_release_deregisters_too(void **state) {
    (void)state;
    fdsafe_handle ep, r, w;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_pipe_create(0, &r, &w));
    expect_code(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 1), 0);
    int fd = (int)must(fdsafe_fd_release(r));
    expect_code(fdsafe_epoll_count(ep), 0);
    expect_code(fdsafe_write(w, "x", 1), 1);
    fdsafe_epoll_event ev[2];
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 0), 0);
    close(fd);
    must(fdsafe_close(w));
    must(fdsafe_close(ep));
}

/* Releasing a set's last handle hands out a bare set: the registrations made through fdsafe
 * (whose data words are fdsafe's tokens) leave the kernel set first. Without that, a target
 * closed later whose file a duplicate keeps open would stay registered in the released set,
 * reported for ever, and removable by nobody (its number is closed or another file's). */
static void test_releasing_a_set_takes_its_registrations_out_of_the_kernel(void **state) {
    (void)state;
    fdsafe_handle ep, e, copy, kept_ep, other;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_dup(e, &copy)); /* the file outlives e */
    expect_code(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 1), 0);
    int set = (int)must(fdsafe_fd_release(ep));
    assert_int_equal(raw_registrations(set), 0);
    must(fdsafe_close(e));
    must(fdsafe_eventfd_write(copy, 1));
    struct epoll_event ev;
    assert_int_equal(epoll_wait(set, &ev, 1, 0), 0);
    close(set);
    /* With another handle of the set left, the registrations stay: they are its too. */
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_dup(ep, &kept_ep));
    must(fdsafe_eventfd_create(1, 0, &other));
    expect_code(fdsafe_epoll_add(ep, other, FDSAFE_EPOLL_IN, 2), 0);
    set = (int)must(fdsafe_fd_release(ep));
    assert_int_equal(raw_registrations(set), 1);
    fdsafe_epoll_event got;
    expect_code(fdsafe_epoll_wait(kept_ep, &got, 1, 0), 1);
    assert_true(got.handle == other && got.user == 2);
    close(set);
    must(fdsafe_close(other));
    must(fdsafe_close(kept_ep));
    must(fdsafe_close(copy));
}

static void test_closing_the_set_first_leaves_targets_working(void **state) {
    (void)state;
    fdsafe_handle ep, e;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(1, 0, &e));
    expect_code(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 5), 0);
    must(fdsafe_close(ep));
    uint64_t v;
    expect_code(fdsafe_eventfd_read(e, &v), 0);
    assert_true(v == 1);
    must(fdsafe_close(e)); /* its (removed) hook must not touch the dead set */
}

static void test_oneshot_and_edge_triggered(void **state) {
    (void)state;
    fdsafe_handle ep, e1, e2;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(1, 0, &e1));
    must(fdsafe_eventfd_create(1, 0, &e2));
    fdsafe_epoll_event ev[4];

    expect_code(fdsafe_epoll_add(ep, e1, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_ONESHOT, 1), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 0), 0); /* disabled until re-armed */
    expect_code(fdsafe_epoll_modify(ep, e1, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_ONESHOT, 11), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].user == 11);
    expect_code(fdsafe_epoll_delete(ep, e1), 0);

    expect_code(fdsafe_epoll_add(ep, e2, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_ET, 2), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 0), 0); /* still readable, but no new edge */
    expect_code(fdsafe_eventfd_write(e2, 1), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == e2 && ev[0].user == 2);

    /* Exclusive is accepted on add, refused by the kernel on modify; wakeup is accepted. */
    expect_code(fdsafe_epoll_add(ep, e1, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_EXCLUSIVE, 3), 0);
    expect_code(fdsafe_epoll_modify(ep, e1, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_EXCLUSIVE, 4), -EINVAL);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == e1 && ev[0].user == 3); /* the failed modify changed nothing */
    expect_code(fdsafe_epoll_delete(ep, e1), 0);
    expect_code(fdsafe_epoll_add(ep, e1, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_WAKEUP | FDSAFE_EPOLL_RDHUP | FDSAFE_EPOLL_PRI, 5), 0);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    must(fdsafe_close(e1));
    must(fdsafe_close(e2));
    must(fdsafe_close(ep));
}

static void test_standard_input_and_nested_sets(void **state) {
    (void)state;
    /* Standard input is /dev/null in CI (not pollable), so point it at a pipe for the test. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    int saved = fcntl(0, F_DUPFD_CLOEXEC, 3);
    assert_int_equal(dup2(p[0], 0), 0);
    fdsafe_handle in, ep, outer;
    must(fdsafe_stdio_open(FDSAFE_STDIN, 0, &in));
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_epoll_create(&outer));
    expect_code(fdsafe_epoll_add(ep, in, FDSAFE_EPOLL_IN, 100), 0);
    expect_code(fdsafe_epoll_add(outer, ep, FDSAFE_EPOLL_IN, 200), 0);
    expect_code(fdsafe_epoll_add(ep, outer, FDSAFE_EPOLL_IN, 0), -ELOOP);
    /* As epoll_ctl(2): exclusive wakeups neither on a set nor with one-shot. */
    fdsafe_handle third, e;
    must(fdsafe_epoll_create(&third));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_epoll_add(third, outer, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_EXCLUSIVE, 0), -EINVAL);
    expect_code(fdsafe_epoll_add(third, e, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_EXCLUSIVE | FDSAFE_EPOLL_ONESHOT, 0), -EINVAL);
    expect_code(fdsafe_epoll_add(third, e, FDSAFE_EPOLL_IN | FDSAFE_EPOLL_EXCLUSIVE, 0), 0);
    must(fdsafe_close(e));
    must(fdsafe_close(third));
    fdsafe_epoll_event ev[2];
    expect_code(fdsafe_epoll_wait(outer, ev, 2, 0), 0);
    assert_int_equal(write(p[1], "hi", 2), 2);
    expect_code(fdsafe_epoll_wait(outer, ev, 2, 1000), 1);
    assert_true(ev[0].handle == ep && ev[0].user == 200);
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 1000), 1);
    assert_true(ev[0].handle == in && ev[0].user == 100);
    must(fdsafe_close(ep)); /* leaves outer by itself */
    expect_code(fdsafe_epoll_count(outer), 0);
    must(fdsafe_close(outer));
    must(fdsafe_close(in));
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    close(p[0]);
    close(p[1]);
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int signo) {
    (void)signo;
    got_usr1 = 1;
}

static void test_wait_ns_and_signal_mask(void **state) {
    (void)state;
    fdsafe_handle ep, e;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 1), 0);
    fdsafe_epoll_event ev[2];

    int64_t start = now_ns();
    int rc = fdsafe_epoll_wait_ns(ep, ev, 2, 20 * 1000 * 1000, NULL);
    if (rc == -ENOSYS) {
        printf("skipping the nanosecond wait: the kernel has no epoll_pwait2 (ENOSYS)\n");
    } else {
        expect_code(rc, 0);
        assert_true(now_ns() - start >= 20 * 1000 * 1000);
        must(fdsafe_eventfd_write(e, 1));
        expect_code(fdsafe_epoll_wait_ns(ep, ev, 2, 0, NULL), 1);
        assert_true(ev[0].handle == e);
        uint64_t v;
        must(fdsafe_eventfd_read(e, &v));
    }
    start = now_ns();
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 20), 0);
    assert_true(now_ns() - start >= 20 * 1000 * 1000);

    /* A blocked, pending SIGUSR1 is delivered only while the wait's own mask unblocks it. */
    struct sigaction sa = {.sa_handler = on_usr1}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old_sa);
    fdsafe_sigset usr1, old_mask, empty;
    must(fdsafe_sigset_empty(&usr1));
    must(fdsafe_sigset_add(&usr1, SIGUSR1));
    must(fdsafe_sigset_empty(&empty));
    must(fdsafe_signal_mask(FDSAFE_SIG_BLOCK, &usr1, &old_mask));
    got_usr1 = 0;
    raise(SIGUSR1);
    assert_int_equal(got_usr1, 0);
    expect_code(fdsafe_epoll_pwait(ep, ev, 2, 0, &usr1), 0); /* still blocked: a plain look */
    assert_int_equal(got_usr1, 0);
    expect_code(fdsafe_epoll_pwait(ep, ev, 2, 5000, &empty), -EINTR);
    assert_int_equal(got_usr1, 1);
    got_usr1 = 0;
    raise(SIGUSR1);
    rc = fdsafe_epoll_wait_ns(ep, ev, 2, 5000000000LL, &empty);
    assert_true(rc == -EINTR || rc == -ENOSYS);
    if (rc == -ENOSYS) {
        sigset_t unblock;
        sigemptyset(&unblock);
        sigaddset(&unblock, SIGUSR1);
        pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    }
    assert_int_equal(got_usr1, 1);
    must(fdsafe_signal_mask(FDSAFE_SIG_SETMASK, &old_mask, NULL));
    sigaction(SIGUSR1, &old_sa, NULL);
    must(fdsafe_close(e));
    must(fdsafe_close(ep));
}

/* A waiter and a closer race: every handle is always readable, and the closer closes them in
 * order. An event may name a handle closed after the wait began, never one whose close had
 * returned before it. */
enum { RACE_HANDLES = 400 };
static fdsafe_handle race_set;      /* registrations are made through it */
static fdsafe_handle race_wait_set; /* the waiter waits through it: race_set or a handle sharing it */
static fdsafe_handle race_handles[RACE_HANDLES];
static atomic_int race_closed;
static atomic_int race_violations;

static void *race_waiter(void *arg) {
    (void)arg;
    fdsafe_epoll_event ev[16];
    while (atomic_load(&race_closed) < RACE_HANDLES) {
        int closed_before = atomic_load(&race_closed);
        int n = fdsafe_epoll_wait(race_wait_set, ev, 16, 10);
        if (n < 0) {
            atomic_fetch_add(&race_violations, 1);
            break;
        }
        for (int i = 0; i < n; i++) {
            int index = (int)ev[i].user;
            if (index < 0 || index >= RACE_HANDLES || race_handles[index] != ev[i].handle || index < closed_before)
                atomic_fetch_add(&race_violations, 1);
        }
    }
    return NULL;
}

static void race_closes_against_a_waiter(int through_duplicate) {
    must(fdsafe_epoll_create(&race_set));
    race_wait_set = race_set;
    if (through_duplicate) must(fdsafe_dup(race_set, &race_wait_set));
    static int dups[RACE_HANDLES];
    for (int i = 0; i < RACE_HANDLES; i++) {
        must(fdsafe_eventfd_create(1, 0, &race_handles[i]));
        dups[i] = dup((int)must(fdsafe_fd_borrow(race_handles[i]))); /* the kernel alone would keep them */
        expect_code(fdsafe_epoll_add(race_set, race_handles[i], FDSAFE_EPOLL_IN, (uint64_t)i), 0);
    }
    atomic_store(&race_closed, 0);
    atomic_store(&race_violations, 0);
    pthread_t waiter;
    assert_int_equal(pthread_create(&waiter, NULL, race_waiter, NULL), 0);
    for (int i = 0; i < RACE_HANDLES; i++) {
        must(fdsafe_close(race_handles[i]));
        atomic_store(&race_closed, i + 1);
        if (i % 16 == 0) usleep(100);
        /* Halfway, the handle the registrations were made through goes: the hooks
         * deregister through the one left. */
        if (through_duplicate && i == RACE_HANDLES / 2) must(fdsafe_close(race_set));
    }
    pthread_join(waiter, NULL);
    assert_int_equal(atomic_load(&race_violations), 0);
    expect_code(fdsafe_epoll_count(race_wait_set), 0);
    assert_int_equal(kernel_registrations(race_wait_set), 0); /* deregistered in the kernel too */
    fdsafe_epoll_event ev[4];
    expect_code(fdsafe_epoll_wait(race_wait_set, ev, 4, 0), 0);
    for (int i = 0; i < RACE_HANDLES; i++) close(dups[i]);
    must(fdsafe_close(race_wait_set));
}

static void test_no_event_for_a_handle_closed_before_the_wait(void **state) {
    (void)state;
    race_closes_against_a_waiter(0);
}

/* The same race with the waiter on a duplicate of the set the registrations went through,
 * and that set closed halfway. */
static void test_no_event_for_a_closed_handle_across_handles_of_one_set(void **state) {
    (void)state;
    race_closes_against_a_waiter(1);
}

/* Many threads add, delete and close handles in shared sets while others wait and sets
 * themselves are closed and replaced: no deadlock, no crash, no leak, and no event for a
 * handle closed before the wait. */
enum { CHURN_THREADS = 4, CHURN_ROUNDS = 1500 };
static _Atomic fdsafe_handle churn_sets[2];
static atomic_int churn_done;
static atomic_int churn_errors;

static void *churn_worker(void *arg) {
    (void)arg;
    for (int i = 0; i < CHURN_ROUNDS; i++) {
        fdsafe_handle e;
        if (fdsafe_eventfd_create(1, 0, &e) < 0) {
            atomic_fetch_add(&churn_errors, 1);
            continue;
        }
        for (int s = 0; s < 2; s++) {
            int rc = fdsafe_epoll_add(atomic_load(&churn_sets[s]), e, FDSAFE_EPOLL_IN, e);
            if (rc < 0 && rc != -EBADF) atomic_fetch_add(&churn_errors, 1); /* the set may be replaced */
        }
        if (i % 3 == 0) fdsafe_epoll_delete(atomic_load(&churn_sets[i % 2]), e);
        if (fdsafe_close(e) != 0) atomic_fetch_add(&churn_errors, 1);
    }
    return NULL;
}

static void *churn_waiter(void *arg) {
    (void)arg;
    fdsafe_epoll_event ev[32];
    while (!atomic_load(&churn_done)) {
        int n = fdsafe_epoll_wait(atomic_load(&churn_sets[0]), ev, 32, 1);
        if (n < 0 && n != -EBADF) atomic_fetch_add(&churn_errors, 1);
        for (int i = 0; i < n; i++)
            if (ev[i].user != ev[i].handle) atomic_fetch_add(&churn_errors, 1);
    }
    return NULL;
}

static void test_concurrent_churn(void **state) {
    (void)state;
    for (int s = 0; s < 2; s++) {
        fdsafe_handle h;
        must(fdsafe_epoll_create(&h));
        atomic_store(&churn_sets[s], h);
    }
    atomic_store(&churn_done, 0);
    atomic_store(&churn_errors, 0);
    pthread_t workers[CHURN_THREADS], waiter;
    assert_int_equal(pthread_create(&waiter, NULL, churn_waiter, NULL), 0);
    for (int t = 0; t < CHURN_THREADS; t++) assert_int_equal(pthread_create(&workers[t], NULL, churn_worker, NULL), 0);
    for (int round = 0; round < 20; round++) { /* replace set 1 under the workers' feet */
        usleep(2000);
        fdsafe_handle fresh, old;
        must(fdsafe_epoll_create(&fresh));
        old = atomic_exchange(&churn_sets[1], fresh);
        must(fdsafe_close(old));
    }
    for (int t = 0; t < CHURN_THREADS; t++) pthread_join(workers[t], NULL);
    atomic_store(&churn_done, 1);
    pthread_join(waiter, NULL);
    assert_int_equal(atomic_load(&churn_errors), 0);
    expect_code(fdsafe_epoll_count(atomic_load(&churn_sets[0])), 0);
    expect_code(fdsafe_epoll_count(atomic_load(&churn_sets[1])), 0);
    for (int s = 0; s < 2; s++) must(fdsafe_close(atomic_load(&churn_sets[s])));
}

static void test_adopt_an_epoll_descriptor(void **state) {
    (void)state;
    int raw = epoll_create1(EPOLL_CLOEXEC);
    fdsafe_handle ep, e;
    expect_code(fdsafe_fd_adopt(raw, FDSAFE_KIND_EPOLL, &ep), 0);
    must(fdsafe_eventfd_create(1, 0, &e));
    expect_code(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 1), 0);
    fdsafe_epoll_event ev[1];
    expect_code(fdsafe_epoll_wait(ep, ev, 1, 1000), 1);
    int efd = eventfd(0, EFD_CLOEXEC);
    fdsafe_handle bad = 0;
    expect_code(fdsafe_fd_adopt(efd, FDSAFE_KIND_EPOLL, &bad), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(bad == 0);
    close(efd);
    must(fdsafe_close(e));
    must(fdsafe_close(ep));
}

/* The kernel keeps one interest list per epoll instance; fdsafe_dup gives a second handle of
 * it, and the two see the same registrations (the kernel's epoll selftests and CPython's
 * test_epoll do the same with dup and fromfd). */
static void test_duplicate_shares_registrations(void **state) {
    (void)state;
    fdsafe_handle ep, ep2, a, b;
    fdsafe_epoll_event ev[4];
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_dup(ep, &ep2));
    expect_code(fdsafe_handle_kind(ep2), FDSAFE_KIND_EPOLL);
    must(fdsafe_eventfd_create(1, 0, &a));
    must(fdsafe_eventfd_create(1, 0, &b));
    expect_code(fdsafe_epoll_add(ep, a, FDSAFE_EPOLL_IN, 1), 0);
    expect_code(fdsafe_epoll_add(ep2, b, FDSAFE_EPOLL_IN, 2), 0);
    expect_code(fdsafe_epoll_count(ep), 2);
    expect_code(fdsafe_epoll_count(ep2), 2);
    expect_code(fdsafe_epoll_add(ep2, a, FDSAFE_EPOLL_IN, 3), -EEXIST); /* one interest list */
    expect_code(fdsafe_epoll_add(ep2, ep, FDSAFE_EPOLL_IN, 3), -EINVAL); /* itself, by another handle */
    for (int round = 0; round < 2; round++) {
        fdsafe_handle through = round == 0 ? ep : ep2;
        expect_code(fdsafe_epoll_wait(through, ev, 4, 1000), 2);
        uint64_t users = ev[0].user | ev[1].user;
        assert_true(users == 3);
        for (int i = 0; i < 2; i++) assert_true(ev[i].handle == (ev[i].user == 1 ? a : b));
    }
    /* Modify and delete through the other handle. */
    expect_code(fdsafe_epoll_modify(ep2, a, FDSAFE_EPOLL_IN, 11), 0);
    expect_code(fdsafe_epoll_delete(ep, b), 0);
    expect_code(fdsafe_epoll_delete(ep2, b), -ENOENT);
    expect_code(fdsafe_epoll_wait(ep, ev, 4, 1000), 1);
    assert_true(ev[0].handle == a && ev[0].user == 11);
    /* Closing one handle leaves the other working, with every registration. */
    must(fdsafe_close(ep));
    expect_code(fdsafe_epoll_count(ep2), 1);
    expect_code(fdsafe_epoll_wait(ep2, ev, 4, 1000), 1);
    assert_true(ev[0].handle == a && ev[0].user == 11);
    expect_code(fdsafe_epoll_add(ep2, b, FDSAFE_EPOLL_IN, 12), 0);
    /* A registered handle closing deregisters through the handle left, in the kernel too,
     * though a duplicate of its descriptor keeps the file open. */
    int raw_copy = dup((int)must(fdsafe_fd_borrow(a)));
    assert_int_equal(kernel_registrations(ep2), 2);
    must(fdsafe_close(a));
    assert_int_equal(kernel_registrations(ep2), 1);
    expect_code(fdsafe_epoll_wait(ep2, ev, 4, 1000), 1);
    assert_true(ev[0].handle == b && ev[0].user == 12);
    close(raw_copy);
    must(fdsafe_close(ep2));
    /* The last handle gone, the registrations ended: b's hook is gone with them. */
    must(fdsafe_close(b));
}

/* A set passed over a Unix socket to this same process (or adopted from a raw duplicate) is
 * matched with the handles of its open file already here, and shares their registrations. */
static void test_passed_and_adopted_sets_share_registrations(void **state) {
    (void)state;
    fdsafe_handle ep, got, adopted, sa, sb, e, f;
    fdsafe_epoll_event ev[4];
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_eventfd_create(1, 0, &e));
    must(fdsafe_eventfd_create(1, 0, &f));
    expect_code(fdsafe_epoll_add(ep, e, FDSAFE_EPOLL_IN, 7), 0);
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &sa, &sb));
    expect_code(fdsafe_socket_send_handles(sa, "s", 1, &ep, 1, 0), 1);
    char byte;
    fdsafe_recv_info info;
    expect_code(fdsafe_socket_recv_handles(sb, &byte, 1, 0, &got, 1, &info), 1);
    expect_code(fdsafe_handle_kind(got), FDSAFE_KIND_EPOLL);
    expect_code(fdsafe_epoll_count(got), 1);
    expect_code(fdsafe_epoll_wait(got, ev, 4, 1000), 1);
    assert_true(ev[0].handle == e && ev[0].user == 7);
    expect_code(fdsafe_epoll_add(got, f, FDSAFE_EPOLL_IN, 8), 0);
    expect_code(fdsafe_epoll_count(ep), 2);
    /* CPython's epoll.fromfd(ep.fileno()): a raw duplicate adopted. */
    int raw = dup((int)must(fdsafe_fd_borrow(ep)));
    must(fdsafe_fd_adopt(raw, FDSAFE_KIND_EPOLL, &adopted));
    expect_code(fdsafe_epoll_count(adopted), 2);
    must(fdsafe_close(ep));
    must(fdsafe_close(got));
    expect_code(fdsafe_epoll_wait(adopted, ev, 4, 1000), 2);
    assert_true((ev[0].user | ev[1].user) == 15);
    expect_code(fdsafe_epoll_delete(adopted, e), 0);
    expect_code(fdsafe_epoll_count(adopted), 1);
    /* A set of another open file is not matched. */
    fdsafe_handle other;
    must(fdsafe_fd_adopt(epoll_create1(EPOLL_CLOEXEC), FDSAFE_KIND_EPOLL, &other));
    expect_code(fdsafe_epoll_count(other), 0);
    expect_code(fdsafe_epoll_add(other, f, FDSAFE_EPOLL_IN, 9), 0); /* a set of its own */
    must(fdsafe_close(other));
    must(fdsafe_close(adopted));
    must(fdsafe_close(sa));
    must(fdsafe_close(sb));
    must(fdsafe_close(e));
    must(fdsafe_close(f));
}

static void test_bad_input(void **state) {
    (void)state;
    fdsafe_handle ep, r, w, closed;
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_epoll_create(&closed));
    must(fdsafe_close(closed));
    fdsafe_epoll_event ev[2];

    expect_code(fdsafe_epoll_create(NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_add(0, r, FDSAFE_EPOLL_IN, 0), -EBADF);
    expect_code(fdsafe_epoll_add(closed, r, FDSAFE_EPOLL_IN, 0), -EBADF);
    expect_code(fdsafe_epoll_add(ep, 0, FDSAFE_EPOLL_IN, 0), -EBADF);
    expect_code(fdsafe_epoll_add(ep, closed, FDSAFE_EPOLL_IN, 0), -EBADF);
    expect_code(fdsafe_epoll_add(r, w, FDSAFE_EPOLL_IN, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_add(ep, r, 0x40000u, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_add(ep, ep, FDSAFE_EPOLL_IN, 0), -EINVAL);
    expect_code(fdsafe_epoll_count(ep), 0);
    expect_code(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 1), 0);
    expect_code(fdsafe_epoll_add(ep, r, FDSAFE_EPOLL_IN, 2), -EEXIST);
    expect_code(fdsafe_epoll_modify(ep, r, 0x40000u, 3), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_modify(0, r, FDSAFE_EPOLL_IN, 3), -EBADF);
    expect_code(fdsafe_epoll_modify(ep, closed, FDSAFE_EPOLL_IN, 3), -EBADF);
    expect_code(fdsafe_epoll_modify(w, r, FDSAFE_EPOLL_IN, 3), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_delete(ep, 0), -EBADF);
    expect_code(fdsafe_epoll_delete(w, r), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_delete(closed, r), -EBADF);
    expect_code(fdsafe_epoll_count(0), -EBADF);
    expect_code(fdsafe_epoll_count(closed), -EBADF);
    expect_code(fdsafe_epoll_modify(ep, 0, FDSAFE_EPOLL_IN, 3), -EBADF);
    expect_code(fdsafe_epoll_delete(ep, closed), -EBADF);
    expect_code(fdsafe_epoll_pwait(closed, ev, 2, 0, NULL), -EBADF);
    expect_code(fdsafe_epoll_pwait(0, ev, 2, 0, NULL), -EBADF);
    expect_code(fdsafe_epoll_wait_ns(0, ev, 2, 0, NULL), -EBADF);
    expect_code(fdsafe_epoll_count(r), FDSAFE_E_WRONG_KIND);

    expect_code(fdsafe_epoll_wait(ep, NULL, 2, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_wait(ep, ev, 0, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_wait(ep, ev, SIZE_MAX, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_wait(0, ev, 2, 0), -EBADF);
    expect_code(fdsafe_epoll_wait(closed, ev, 2, 0), -EBADF);
    expect_code(fdsafe_epoll_wait(r, ev, 2, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_pwait(r, ev, 2, 0, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_pwait(ep, NULL, 1, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_wait_ns(r, ev, 2, 0, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_epoll_wait_ns(ep, ev, 0, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_epoll_wait_ns(closed, ev, 2, 0, NULL), -EBADF);

    /* Nothing changed: the registration still works with its first user value. */
    expect_code(fdsafe_write(w, "x", 1), 1);
    expect_code(fdsafe_epoll_wait(ep, ev, 2, 1000), 1);
    assert_true(ev[0].handle == r && ev[0].user == 1);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    must(fdsafe_close(ep));
}

static void test_signal_set_helpers(void **state) {
    (void)state;
    fdsafe_sigset set = {.bits = 12345};
    must(fdsafe_sigset_empty(&set));
    assert_true(set.bits == 0);
    must(fdsafe_sigset_add(&set, SIGINT));
    must(fdsafe_sigset_add(&set, 64));
    expect_code(fdsafe_sigset_has(&set, SIGINT), 1);
    expect_code(fdsafe_sigset_has(&set, SIGTERM), 0);
    assert_true(set.bits == ((1ull << (SIGINT - 1)) | (1ull << 63)));
    must(fdsafe_sigset_del(&set, SIGINT));
    expect_code(fdsafe_sigset_has(&set, SIGINT), 0);
    must(fdsafe_sigset_fill(&set));
    expect_code(fdsafe_sigset_has(&set, SIGCHLD), 1);
    fdsafe_sigset before = set;
    expect_code(fdsafe_sigset_add(&set, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_add(&set, 65), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_del(&set, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_has(&set, 65), FDSAFE_E_INVALID_ARGUMENT);
    assert_true(set.bits == before.bits);
    expect_code(fdsafe_sigset_empty(NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_fill(NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_add(NULL, SIGINT), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_del(NULL, SIGINT), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_sigset_has(NULL, SIGINT), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signal_mask(7, &set, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_signal_mask(FDSAFE_SIG_BLOCK, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    /* Blocking and restoring changes what the thread sees. */
    fdsafe_sigset usr2 = {0}, old;
    must(fdsafe_sigset_add(&usr2, SIGUSR2));
    must(fdsafe_signal_mask(FDSAFE_SIG_BLOCK, &usr2, &old));
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, NULL, &current);
    assert_int_equal(sigismember(&current, SIGUSR2), 1);
    must(fdsafe_signal_mask(FDSAFE_SIG_SETMASK, &old, NULL));
    pthread_sigmask(SIG_BLOCK, NULL, &current);
    assert_int_equal(sigismember(&current, SIGUSR2), 0);
}

/* This program's path, to run it again as another process (see below). */
static const char *self_path;

/* The other process of the next test: it receives a set over descriptor 3, registers an
 * eventfd of its own that never becomes ready, lets the parent make its own target ready,
 * and waits. Exits 0 if no event named its eventfd, 1 if one did. */
static int run_set_receiver(void) {
    fdsafe_handle sock, set, mine, got;
    char c;
    fdsafe_recv_info info;
    if (fdsafe_fd_adopt(3, FDSAFE_KIND_UNIX_STREAM, &sock) != 0) return 2;
    if (fdsafe_socket_recv_handles(sock, &c, 1, 0, &got, 1, &info) != 1 || info.handle_count != 1) return 2;
    set = got;
    if (fdsafe_eventfd_create(0, 0, &mine) != 0 || fdsafe_epoll_add(set, mine, FDSAFE_EPOLL_IN, 222) != 0) return 2;
    if (fdsafe_write(sock, "r", 1) != 1 || fdsafe_read(sock, &c, 1) != 1) return 2;
    fdsafe_epoll_event ev[4];
    int n = fdsafe_epoll_wait(set, ev, 4, 200);
    for (int i = 0; i < n; i++)
        if (ev[i].handle == mine || ev[i].user == 222) return 1;
    return n < 0 ? 2 : 0;
}

/* Two processes that no fork relates (the second is executed afresh) share one kernel
 * instance, sent over a socket. Each registers a target of its own: when only the parent's
 * becomes ready, the other process must not be told its own target is. (Both used token
 * range 0, so the parent's registration read as the other's first one.) */
static void test_a_set_shared_with_an_unrelated_process_keeps_registrations_apart(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fdsafe_handle set, target, sock;
    must(fdsafe_epoll_create(&set));
    must(fdsafe_eventfd_create(0, 0, &target));
    must(fdsafe_epoll_add(set, target, FDSAFE_EPOLL_IN, 111));
    must(fdsafe_fd_adopt(sv[0], FDSAFE_KIND_UNIX_STREAM, &sock));
    pid_t other = fork();
    if (other == 0) {
        dup2(sv[1], 3); /* without close-on-exec: the one descriptor the new program gets */
        execl(self_path, self_path, "--set-receiver", (char *)NULL);
        _exit(3);
    }
    close(sv[1]);
    expect_code(fdsafe_socket_send_handles(sock, "s", 1, &set, 1, 0), 1);
    char c;
    expect_code(fdsafe_read(sock, &c, 1), 1);
    must(fdsafe_eventfd_write(target, 1));
    expect_code(fdsafe_write(sock, "g", 1), 1);
    int status;
    assert_int_equal(waitpid(other, &status, 0), other);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The parent's wait reports its own target, and not the other process's. */
    fdsafe_epoll_event ev[4];
    expect_code(fdsafe_epoll_wait(set, ev, 4, 0), 1);
    assert_true(ev[0].handle == target && ev[0].user == 111);
    must(fdsafe_close(sock));
    must(fdsafe_close(target));
    must(fdsafe_close(set));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--set-receiver") == 0) return run_set_receiver();
    self_path = argv[0];

    const struct CMUnitTest tests[] = {
        FD_TEST(test_add_wait_modify_delete),
        FD_TEST(test_kernel_alone_reports_dead_descriptors),
        FD_TEST(test_close_deregisters_even_with_a_dup_alive),
        FD_TEST(test_kernel_registration_is_removed_too),
        FD_TEST(test_registration_goes_with_the_close_whoever_holds_the_file),
        FD_TEST(test_a_copy_taken_by_another_process_keeps_the_kernel_registration),
        FD_TEST(test_one_handle_in_several_sets),
        FD_TEST(test_churn_of_closed_registrations),
        FD_TEST(test_no_event_for_a_closed_handle_still_in_use),
        FD_TEST(test_release_deregisters_too),
        FD_TEST(test_releasing_a_set_takes_its_registrations_out_of_the_kernel),
        FD_TEST(test_closing_the_set_first_leaves_targets_working),
        FD_TEST(test_oneshot_and_edge_triggered),
        FD_TEST(test_standard_input_and_nested_sets),
        FD_TEST(test_wait_ns_and_signal_mask),
        FD_TEST(test_no_event_for_a_handle_closed_before_the_wait),
        FD_TEST(test_no_event_for_a_closed_handle_across_handles_of_one_set),
        FD_TEST(test_duplicate_shares_registrations),
        FD_TEST(test_passed_and_adopted_sets_share_registrations),
        FD_TEST(test_a_set_shared_with_an_unrelated_process_keeps_registrations_apart),
        FD_TEST(test_concurrent_churn),
        FD_TEST(test_adopt_an_epoll_descriptor),
        FD_TEST(test_bad_input),
        FD_TEST(test_signal_set_helpers),
    };
    return cmocka_run_group_tests_name("epoll", tests, NULL, NULL);
}
