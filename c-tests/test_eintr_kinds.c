/* EINTR policy beyond pipes and eventfds: a storm of signals (handler without SA_RESTART)
 * hits threads blocked in a Unix socket recv and send, in mq_receive and mq_send, and in a
 * timerfd read. Interrupted calls return -EINTR and nothing is lost, duplicated or reordered:
 * every token arrives once, in order, and the timer's expirations add up to the time it ran. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TOKENS 20000

static atomic_int handled;
static void on_signal(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static void install_no_restart(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    atomic_store(&handled, 0);
}

struct run {
    fdsafe_handle a, b;
    atomic_int eintr, done, failed;
    uint64_t received, out_of_order;
};

/* Signals both threads until both are done (each sets `done` when finished). */
static void storm(struct run *run, pthread_t *threads) {
    for (int i = 0; atomic_load(&run->done) < 2; i++) {
        if (atomic_load(&run->failed)) break;
        pthread_kill(threads[i % 2], SIGUSR1); /* a finished thread is still joinable: harmless */
        if (i % 64 == 0) usleep(50);
    }
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    signal(SIGUSR1, SIG_DFL);
}

/* ---------------------------------------------------------------- Unix stream socket */

static void *socket_reader(void *arg) {
    struct run *run = arg;
    uint64_t token = 0;
    size_t have = 0;
    for (uint64_t expected = 1; expected <= TOKENS && !atomic_load(&run->failed);) {
        int64_t n = fdsafe_socket_recv(run->b, (char *)&token + have, sizeof token - have, 0);
        if (n == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (n <= 0) { atomic_store(&run->failed, 1); break; }
        have += (size_t)n;
        if (have < sizeof token) continue;
        if (token != expected) { run->out_of_order++; atomic_store(&run->failed, 1); break; }
        run->received++;
        expected++;
        have = 0;
    }
    atomic_fetch_add(&run->done, 1);
    return NULL;
}

static void *socket_writer(void *arg) {
    struct run *run = arg;
    for (uint64_t token = 1; token <= TOKENS && !atomic_load(&run->failed); token++) {
        size_t sent = 0;
        while (sent < sizeof token) {
            int64_t n = fdsafe_socket_send(run->a, (char *)&token + sent, sizeof token - sent, 0);
            if (n == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
            if (n <= 0) { atomic_store(&run->failed, 1); break; }
            sent += (size_t)n;
        }
    }
    atomic_fetch_add(&run->done, 1);
    return NULL;
}

static void test_storm_over_unix_socket_recv_and_send(void **state) {
    (void)state;
    static struct run run;
    memset(&run, 0, sizeof run);
    install_no_restart();
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &run.a, &run.b));
    /* Small buffers: the writer blocks often too. */
    must(fdsafe_socket_option_set(run.a, FDSAFE_SOL_SOCKET, FDSAFE_SO_SNDBUF, 4096));
    must(fdsafe_socket_option_set(run.b, FDSAFE_SOL_SOCKET, FDSAFE_SO_RCVBUF, 4096));
    pthread_t threads[2];
    assert_int_equal(pthread_create(&threads[0], NULL, socket_reader, &run), 0);
    assert_int_equal(pthread_create(&threads[1], NULL, socket_writer, &run), 0);
    storm(&run, threads);
    printf("unix socket storm: %d signals handled, %d calls returned -EINTR, %llu tokens received\n",
           atomic_load(&handled), atomic_load(&run.eintr), (unsigned long long)run.received);
    must(fdsafe_close(run.a));
    must(fdsafe_close(run.b));
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.out_of_order, 0);
    assert_int_equal(run.received, TOKENS);
    assert_true(atomic_load(&run.eintr) > 0);
}

/* ---------------------------------------------------------------- message queue */

static void *mq_reader(void *arg) {
    struct run *run = arg;
    for (uint64_t expected = 1; expected <= TOKENS && !atomic_load(&run->failed);) {
        char buf[64];
        uint32_t priority = 99;
        int64_t n = fdsafe_mq_receive(run->a, buf, sizeof buf, &priority, -1);
        if (n == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        uint64_t token;
        if (n != (int64_t)sizeof token) { atomic_store(&run->failed, 1); break; }
        memcpy(&token, buf, sizeof token);
        if (token != expected || priority != 0) { run->out_of_order++; atomic_store(&run->failed, 1); break; }
        run->received++;
        expected++;
    }
    atomic_fetch_add(&run->done, 1);
    return NULL;
}

static void *mq_writer(void *arg) {
    struct run *run = arg;
    for (uint64_t token = 1; token <= TOKENS && !atomic_load(&run->failed);) {
        int rc = fdsafe_mq_send(run->b, &token, sizeof token, 0, -1);
        if (rc == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (rc != 0) { atomic_store(&run->failed, 1); break; }
        token++;
    }
    atomic_fetch_add(&run->done, 1);
    return NULL;
}

static void test_storm_over_mq_receive_and_send(void **state) {
    (void)state;
    static struct run run;
    memset(&run, 0, sizeof run);
    install_no_restart();
    char name[64];
    snprintf(name, sizeof name, "/fdsafe-eintr-%d", (int)getpid());
    struct fdsafe_mq_attr attr = {0};
    attr.max_messages = 4; /* a short queue: the sender blocks often */
    attr.message_size = 64;
    must(fdsafe_mq_open(name, FDSAFE_O_RDONLY | FDSAFE_O_CREAT | FDSAFE_O_EXCL, 0600, &attr, &run.a));
    must(fdsafe_mq_open(name, FDSAFE_O_WRONLY, 0, NULL, &run.b));
    must(fdsafe_mq_unlink(name));
    pthread_t threads[2];
    assert_int_equal(pthread_create(&threads[0], NULL, mq_reader, &run), 0);
    assert_int_equal(pthread_create(&threads[1], NULL, mq_writer, &run), 0);
    storm(&run, threads);
    printf("mqueue storm: %d signals handled, %d calls returned -EINTR, %llu messages received\n",
           atomic_load(&handled), atomic_load(&run.eintr), (unsigned long long)run.received);
    must(fdsafe_close(run.a));
    must(fdsafe_close(run.b));
    assert_int_equal(run.failed, 0);
    assert_int_equal(run.out_of_order, 0);
    assert_int_equal(run.received, TOKENS);
    assert_true(atomic_load(&run.eintr) > 0);
}

/* ---------------------------------------------------------------- timerfd */

#define TICK_NS 200000LL /* 0.2 ms */

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct timer_run {
    fdsafe_handle timer;
    atomic_int stop, eintr, failed, reading;
    uint64_t expirations, reads;
};

static void *timer_reader(void *arg) {
    struct timer_run *run = arg;
    while (!atomic_load(&run->stop)) {
        uint64_t count = 0;
        atomic_store(&run->reading, 1);
        int rc = fdsafe_timerfd_read(run->timer, &count);
        atomic_store(&run->reading, 0);
        if (rc == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (rc != 0 || count == 0) { atomic_store(&run->failed, 1); break; }
        run->expirations += count;
        run->reads++;
    }
    return NULL;
}

static void test_storm_over_timerfd_read(void **state) {
    (void)state;
    static struct timer_run run;
    memset(&run, 0, sizeof run);
    install_no_restart();
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &run.timer));
    int64_t armed_after = now_ns();
    must(fdsafe_timerfd_set(run.timer, 0, TICK_NS, TICK_NS, NULL));
    int64_t armed_before = now_ns();
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, timer_reader, &run), 0);
    int64_t end = now_ns() + 300000000LL; /* 0.3 s of storm */
    for (int i = 0; now_ns() < end && !atomic_load(&run.failed); i++) {
        pthread_kill(reader, SIGUSR1);
        if (i % 16 == 0) usleep(20);
    }
    atomic_store(&run.stop, 1); /* the next tick ends the reader's last read */
    pthread_join(reader, NULL);
    /* The last read blocks: an expiry is counted only once the kernel's timer interrupt has
     * run, which on a loaded machine can come after the clock has passed the instant, so a
     * read that does not wait can be one short. A blocking read returns after the interrupt
     * for every instant before it was called. */
    int64_t before_last = now_ns();
    uint64_t rest = 0;
    must(fdsafe_timerfd_read(run.timer, &rest));
    int64_t after_last = now_ns();
    uint64_t total = run.expirations + rest;
    /* The timer expired at armed + k * TICK for k >= 1: the count read is exactly the number
     * of those instants up to the final read, which lies between these two bounds. */
    uint64_t low = (uint64_t)((before_last - armed_before) / TICK_NS);
    uint64_t high = (uint64_t)((after_last - armed_after) / TICK_NS);
    printf("timerfd storm: %d signals handled, %d reads returned -EINTR, %llu reads, %llu expirations "
           "(expected %llu to %llu)\n",
           atomic_load(&handled), atomic_load(&run.eintr), (unsigned long long)run.reads,
           (unsigned long long)total, (unsigned long long)low, (unsigned long long)high);
    must(fdsafe_close(run.timer));
    signal(SIGUSR1, SIG_DFL);
    assert_int_equal(run.failed, 0);
    assert_true(total >= low && total <= high);
    assert_true(atomic_load(&run.eintr) > 0);
}

/* An epoll set holds a handle that is ready (level-triggered) and closing: another thread is
 * blocked in a send on it, so its descriptor stays open and its events keep coming, and the
 * wait drops them and pauses. A signal in that pause must end the wait with -EINTR, as the
 * kernel's wait would: a daemon's stop flag must be heard. Before, the pause ignored it and
 * the wait went on (for ever without a timeout). Both the plain wait (the signal unblocked)
 * and pwait (blocked, unblocked by the wait's mask) are checked. */
struct closing_sender {
    fdsafe_handle a;
    atomic_int done;
};

static void *send_until_room(void *arg) {
    struct closing_sender *s = arg;
    static char chunk[65536];
    fdsafe_socket_send(s->a, chunk, sizeof chunk, 0);
    atomic_store(&s->done, 1);
    return NULL;
}

struct delayed_signal {
    pthread_t target;
};

static void *signal_later(void *arg) {
    struct delayed_signal *d = arg;
    usleep(100000);
    pthread_kill(d->target, SIGUSR1);
    return NULL;
}

/* How the wait is made: the plain wait (SIGUSR1 unblocked), pwait with a mask that
 * unblocks it (the thread blocks it), or pwait with a mask that blocks it (the thread does
 * not): then the handler must wait until the wait is over, as with the kernel's pwait. */
enum closing_wait { PLAIN_WAIT, PWAIT_UNBLOCKING, PWAIT_BLOCKING };

static atomic_llong handled_at_ms;
static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
static void on_signal_timed(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
    atomic_store(&handled_at_ms, now_ms());
}

static void wait_over_a_closing_handle(enum closing_wait how) {
    install_no_restart();
    struct sigaction timed = {0};
    timed.sa_handler = on_signal_timed;
    sigemptyset(&timed.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &timed, NULL), 0);
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(how == PWAIT_UNBLOCKING ? SIG_BLOCK : SIG_UNBLOCK, &usr1, &old);
    fdsafe_handle b, ep;
    struct closing_sender sender = {.a = 0};
    atomic_store(&sender.done, 0);
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &sender.a, &b));
    expect_code(fdsafe_socket_send(b, "x", 1, 0), 1); /* `a` is readable from now on */
    static char chunk[65536];
    while (fdsafe_socket_send(sender.a, chunk, sizeof chunk, FDSAFE_MSG_DONTWAIT) > 0) {} /* full */
    must(fdsafe_epoll_create(&ep));
    must(fdsafe_epoll_add(ep, sender.a, FDSAFE_EPOLL_IN, 7));
    pthread_t blocked;
    assert_int_equal(pthread_create(&blocked, NULL, send_until_room, &sender), 0);
    usleep(50000);
    must(fdsafe_close(sender.a)); /* deferred: the sender is inside a call on it */
    struct delayed_signal later = {pthread_self()};
    pthread_t signaller;
    assert_int_equal(pthread_create(&signaller, NULL, signal_later, &later), 0);
    struct fdsafe_epoll_event ev[4];
    fdsafe_sigset mask;
    must(fdsafe_sigset_empty(&mask));
    if (how == PWAIT_BLOCKING) must(fdsafe_sigset_add(&mask, SIGUSR1));
    /* The thread's mask comes back exactly, glibc's signal 33 included (blocked here with the
     * raw call, which glibc's pthread_sigmask would not set). */
    uint64_t with_33 = 0, mask_before = 0, mask_after = 0;
    if (how == PWAIT_BLOCKING) {
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &with_33, 8);
        with_33 |= 1ull << 32;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &with_33, NULL, 8);
    }
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &mask_before, 8);
    int timeout_ms = how == PWAIT_BLOCKING ? 400 : 3000;
    long long start = now_ms();
    int64_t got = how == PLAIN_WAIT ? fdsafe_epoll_wait(ep, ev, 4, timeout_ms) : fdsafe_epoll_pwait(ep, ev, 4, timeout_ms, &mask);
    long long end = now_ms();
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &mask_after, 8);
    if (how == PWAIT_BLOCKING) {
        uint64_t without_33 = mask_after & ~(1ull << 32); /* glibc's own again: never keep it */
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &without_33, NULL, 8);
    }
    assert_true(mask_after == mask_before);
    pthread_join(signaller, NULL);
    if (how == PWAIT_BLOCKING) {
        expect_code(got, 0); /* the timeout: the signal waited */
        assert_int_equal(atomic_load(&handled), 1);
        assert_true(atomic_load(&handled_at_ms) >= start + 350); /* not at about 100 ms */
    } else {
        expect_code(got, -EINTR);
        assert_int_equal(atomic_load(&handled), 1);
        assert_true(end - start < 2000);
    }
    /* Let the sender finish (draining makes room), which completes the close. */
    char sink[65536];
    while (!atomic_load(&sender.done)) {
        fdsafe_socket_recv(b, sink, sizeof sink, FDSAFE_MSG_DONTWAIT);
        usleep(1000);
    }
    pthread_join(blocked, NULL);
    must(fdsafe_close(b));
    must(fdsafe_close(ep));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void test_epoll_wait_over_a_closing_handle_hears_a_signal(void **state) {
    (void)state;
    wait_over_a_closing_handle(PLAIN_WAIT);
}

static void test_epoll_pwait_over_a_closing_handle_hears_a_signal(void **state) {
    (void)state;
    wait_over_a_closing_handle(PWAIT_UNBLOCKING);
}

static void test_epoll_pwait_over_a_closing_handle_keeps_its_mask(void **state) {
    (void)state;
    wait_over_a_closing_handle(PWAIT_BLOCKING);
}

/* A pwait mask from fdsafe_sigset_fill would block glibc's own signal 33, which setuid and
 * the like send every thread of the process and wait for: a setresuid in another thread
 * then waited until the wait ended. The mask leaves glibc's signals alone, as
 * pthread_sigmask does. */
struct filled_wait {
    fdsafe_handle ep;
    atomic_int started;
};

static void *wait_with_a_filled_mask(void *arg) {
    struct filled_wait *w = arg;
    fdsafe_sigset all;
    fdsafe_sigset_fill(&all);
    struct fdsafe_epoll_event ev[1];
    atomic_store(&w->started, 1);
    fdsafe_epoll_pwait(w->ep, ev, 1, 3000, &all);
    return NULL;
}

static void test_a_filled_pwait_mask_leaves_glibc_signals_alone(void **state) {
    (void)state;
    struct filled_wait w = {0};
    atomic_store(&w.started, 0);
    must(fdsafe_epoll_create(&w.ep));
    pthread_t waiter;
    assert_int_equal(pthread_create(&waiter, NULL, wait_with_a_filled_mask, &w), 0);
    while (!atomic_load(&w.started)) usleep(1000);
    usleep(100000); /* inside the wait */
    uid_t r, e, saved;
    assert_int_equal(getresuid(&r, &e, &saved), 0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(setresuid(r, e, saved), 0); /* no change, but every thread is asked */
    clock_gettime(CLOCK_MONOTONIC, &end);
    double took = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    pthread_join(waiter, NULL);
    must(fdsafe_close(w.ep));
    assert_true(took < 1.5); /* not the wait's 3 s */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_storm_over_unix_socket_recv_and_send),
        FD_TEST(test_storm_over_mq_receive_and_send),
        FD_TEST(test_storm_over_timerfd_read),
        FD_TEST(test_epoll_wait_over_a_closing_handle_hears_a_signal),
        FD_TEST(test_epoll_pwait_over_a_closing_handle_hears_a_signal),
        FD_TEST(test_epoll_pwait_over_a_closing_handle_keeps_its_mask),
        FD_TEST(test_a_filled_pwait_mask_leaves_glibc_signals_alone),
    };
    return cmocka_run_group_tests_name("eintr_kinds", tests, NULL, NULL);
}
