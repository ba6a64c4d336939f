/* One epoll loop over a timerfd, a signalfd, an eventfd, an inotify watch, a message queue and
 * a pipe: each source wakes it with its own handle and user value, alone and all together,
 * and a closed source never wakes it again. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TIMER, SIGNAL, EVENT, INOTIFY, QUEUE, PIPE, SOURCES };
static const char *source_names[SOURCES] = {"timerfd", "signalfd", "eventfd", "inotify", "mqueue", "pipe"};

struct loop {
    fdsafe_handle ep;
    fdsafe_handle h[SOURCES];
    fdsafe_handle pipe_w;
    char dir[64];
    char qname[64];
    sigset_t saved_mask;
};

static uint64_t user_value(int source) {
    return 0xab00000000000000ull | ((uint64_t)source << 8) | 0x5a;
}

static void open_loop(struct loop *l) {
    pthread_sigmask(SIG_BLOCK, NULL, &l->saved_mask);
    must(fdsafe_epoll_create(&l->ep));
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, FDSAFE_NONBLOCK, &l->h[TIMER]));
    fdsafe_sigset set;
    must(fdsafe_sigset_empty(&set));
    must(fdsafe_sigset_add(&set, SIGUSR1));
    must(fdsafe_signalfd_create(&set, FDSAFE_NONBLOCK, &l->h[SIGNAL]));
    must(fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &l->h[EVENT]));
    strcpy(l->dir, "/tmp/fdsafe-loop-XXXXXX");
    assert_non_null(mkdtemp(l->dir));
    must(fdsafe_inotify_create(FDSAFE_NONBLOCK, &l->h[INOTIFY]));
    int wd;
    must(fdsafe_inotify_add_watch(l->h[INOTIFY], l->dir, FDSAFE_IN_CREATE, &wd));
    snprintf(l->qname, sizeof l->qname, "/fdsafe-loop-%d", (int)getpid());
    fdsafe_mq_attr attr = {.max_messages = 4, .message_size = 32};
    must(fdsafe_mq_open(l->qname, FDSAFE_O_RDWR | FDSAFE_O_CREAT | FDSAFE_O_EXCL | FDSAFE_NONBLOCK,
                        0600, &attr, &l->h[QUEUE]));
    must(fdsafe_pipe_create(0, &l->h[PIPE], &l->pipe_w));
    for (int s = 0; s < SOURCES; s++) expect_code(fdsafe_epoll_add(l->ep, l->h[s], FDSAFE_EPOLL_IN, user_value(s)), 0);
    expect_code(fdsafe_epoll_count(l->ep), SOURCES);
}

static void trigger(struct loop *l, int source) {
    char path[128];
    switch (source) {
    case TIMER: must(fdsafe_timerfd_set(l->h[TIMER], 0, 1000000, 0, NULL)); break;
    case SIGNAL: raise(SIGUSR1); break;
    case EVENT: must(fdsafe_eventfd_write(l->h[EVENT], 1)); break;
    case INOTIFY:
        snprintf(path, sizeof path, "%s/f", l->dir);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        unlink(path);
        break;
    case QUEUE: must(fdsafe_mq_send(l->h[QUEUE], "m", 1, 0, -1)); break;
    case PIPE: must(fdsafe_write(l->pipe_w, "p", 1)); break;
    }
}

/* Consumes what the source reported, so it stops being readable. */
static void drain(struct loop *l, int source) {
    uint64_t v;
    char buf[64];
    fdsafe_siginfo si[2];
    fdsafe_inotify_event ie[FDSAFE_INOTIFY_MIN_BATCH];
    switch (source) {
    case TIMER: expect_code(fdsafe_timerfd_read(l->h[TIMER], &v), 0); break;
    case SIGNAL:
        expect_code(fdsafe_signalfd_read(l->h[SIGNAL], si, 2), 1);
        assert_int_equal(si[0].signo, SIGUSR1);
        break;
    case EVENT: expect_code(fdsafe_eventfd_read(l->h[EVENT], &v), 0); break;
    case INOTIFY:
        must(fdsafe_inotify_read(l->h[INOTIFY], ie, FDSAFE_INOTIFY_MIN_BATCH));
        assert_string_equal(ie[0].name, "f");
        break;
    case QUEUE: expect_code(fdsafe_mq_receive(l->h[QUEUE], buf, sizeof buf, NULL, -1), 1); break;
    case PIPE: expect_code(fdsafe_read(l->h[PIPE], buf, sizeof buf), 1); break;
    }
}

static int source_of(struct loop *l, const fdsafe_epoll_event *e) {
    for (int s = 0; s < SOURCES; s++)
        if (e->handle == l->h[s]) {
            if (e->user != user_value(s)) fail_msg("%s woke the loop with the wrong user value", source_names[s]);
            return s;
        }
    fail_msg("the loop woke for an unknown handle %llx", (unsigned long long)e->handle);
    return -1;
}

static void close_loop(struct loop *l) {
    must(fdsafe_close(l->ep));
    for (int s = 0; s < SOURCES; s++) fdsafe_close(l->h[s]); /* some may be closed already */
    must(fdsafe_close(l->pipe_w));
    must(fdsafe_mq_unlink(l->qname));
    rmdir(l->dir);
    pthread_sigmask(SIG_SETMASK, &l->saved_mask, NULL);
}

static void test_each_source_wakes_the_loop_alone(void **state) {
    (void)state;
    struct loop l;
    open_loop(&l);
    fdsafe_epoll_event ev[SOURCES + 1];
    expect_code(fdsafe_epoll_wait(l.ep, ev, SOURCES + 1, 0), 0);
    for (int s = 0; s < SOURCES; s++) {
        trigger(&l, s);
        expect_code(fdsafe_epoll_wait(l.ep, ev, SOURCES + 1, 2000), 1);
        assert_int_equal(source_of(&l, &ev[0]), s);
        assert_true(ev[0].events & FDSAFE_EPOLL_IN);
        drain(&l, s);
        expect_code(fdsafe_epoll_wait(l.ep, ev, SOURCES + 1, 0), 0);
    }
    close_loop(&l);
}

static void test_all_sources_at_once_then_closed_ones_stay_quiet(void **state) {
    (void)state;
    struct loop l;
    open_loop(&l);
    for (int s = 0; s < SOURCES; s++) trigger(&l, s);
    int seen[SOURCES] = {0}, total = 0;
    fdsafe_epoll_event ev[SOURCES + 1];
    while (total < SOURCES) {
        int n = (int)must(fdsafe_epoll_wait(l.ep, ev, SOURCES + 1, 2000));
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            int s = source_of(&l, &ev[i]);
            if (!seen[s]++) total++;
            else fail_msg("%s reported twice", source_names[s]);
            drain(&l, s);
        }
    }
    /* Close every source while it is ready again: none of them may wake the loop. */
    for (int s = 0; s < SOURCES; s++) trigger(&l, s);
    usleep(5000); /* let the timer fire */
    for (int s = 0; s < SOURCES; s++) must(fdsafe_close(l.h[s]));
    expect_code(fdsafe_epoll_count(l.ep), 0);
    expect_code(fdsafe_epoll_wait(l.ep, ev, SOURCES + 1, 20), 0);
    /* The pending SIGUSR1 was left behind by the closed signalfd: discard it. */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    struct timespec zero = {0, 0};
    sigtimedwait(&usr1, NULL, &zero);
    close_loop(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_each_source_wakes_the_loop_alone),
        FD_TEST(test_all_sources_at_once_then_closed_ones_stay_quiet),
    };
    return cmocka_run_group_tests_name("event_loop", tests, NULL, NULL);
}
