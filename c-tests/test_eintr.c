/* EINTR policy: blocking calls return -EINTR when a handler without SA_RESTART interrupts
 * them (as the system call does) and nothing is lost or duplicated; with SA_RESTART the kernel
 * restarts them and fdsafe passes that through. A storm of signals hits blocked threads. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKENS 20000

static atomic_int handled;
static void on_signal(int sig) {
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
}

struct run {
    fdsafe_handle r, w, ev;
    atomic_int eintr, done;
    uint64_t last_token, out_of_order, eventfd_total;
};

static void *reader(void *arg) {
    struct run *run = arg;
    for (uint64_t expected = 1; expected <= TOKENS;) {
        uint64_t token;
        int64_t n = fdsafe_read(run->r, &token, sizeof token);
        if (n == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (n != 8 || token != expected) { run->out_of_order++; break; }
        run->last_token = token;
        expected++;
    }
    return NULL;
}

static void *writer(void *arg) {
    struct run *run = arg;
    for (uint64_t token = 1; token <= TOKENS;) {
        int64_t n = fdsafe_write(run->w, &token, sizeof token);
        if (n == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (n != 8) { run->out_of_order++; break; }
        token++;
    }
    return NULL;
}

static void *eventfd_reader(void *arg) {
    struct run *run = arg;
    while (run->eventfd_total < TOKENS) {
        uint64_t v;
        int rc = fdsafe_eventfd_read(run->ev, &v);
        if (rc == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (rc != 0) break;
        run->eventfd_total += v;
    }
    return NULL;
}

static void *eventfd_writer(void *arg) {
    struct run *run = arg;
    for (int i = 0; i < TOKENS;) {
        int rc = fdsafe_eventfd_write(run->ev, 1);
        if (rc == -EINTR) { atomic_fetch_add(&run->eintr, 1); continue; }
        if (rc != 0) break;
        i++;
    }
    return NULL;
}

static void storm(int restart, struct run *run) {
    install(restart ? SA_RESTART : 0);
    atomic_store(&handled, 0);
    must(fdsafe_pipe_create(0, &run->r, &run->w));
    must(fdsafe_pipe_set_capacity(run->w, 4096)); /* a small pipe: the writer blocks often */
    must(fdsafe_eventfd_create(0, 0, &run->ev));
    void *(*bodies[4])(void *) = {reader, writer, eventfd_reader, eventfd_writer};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&threads[i], NULL, bodies[i], run), 0);
    /* Signal the readers, which spend their time blocked, until they are done. */
    for (int i = 0; run->last_token < TOKENS || run->eventfd_total < TOKENS; i++) {
        if (run->out_of_order) break;
        pthread_kill(threads[i % 4], SIGUSR1);
        if (i % 64 == 0) usleep(50);
    }
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    must(fdsafe_close(run->r));
    must(fdsafe_close(run->w));
    must(fdsafe_close(run->ev));
    signal(SIGUSR1, SIG_DFL);
}

static void test_signal_storm_without_restart_returns_eintr_and_loses_nothing(void **state) {
    (void)state;
    static struct run run;
    storm(0, &run);
    printf("storm without SA_RESTART: %d signals handled, %d calls returned -EINTR\n", atomic_load(&handled),
           atomic_load(&run.eintr));
    assert_int_equal(run.out_of_order, 0);
    assert_int_equal(run.last_token, TOKENS);
    assert_int_equal(run.eventfd_total, TOKENS);
    assert_true(atomic_load(&run.eintr) > 0); /* the storm did interrupt blocked calls */
}

static void test_signal_storm_with_restart_never_returns_eintr(void **state) {
    (void)state;
    static struct run run;
    storm(1, &run);
    printf("storm with SA_RESTART: %d signals handled, %d calls returned -EINTR\n", atomic_load(&handled),
           atomic_load(&run.eintr));
    assert_true(atomic_load(&handled) > 0);
    assert_int_equal(atomic_load(&run.eintr), 0);
    assert_int_equal(run.out_of_order, 0);
    assert_int_equal(run.last_token, TOKENS);
    assert_int_equal(run.eventfd_total, TOKENS);
}

static void test_wait_returns_eintr_even_with_restart(void **state) {
    (void)state;
    /* poll(2) is never restarted after a handler; fdsafe_wait says so with -EINTR. */
    install(SA_RESTART);
    fdsafe_handle r, w;
    must(fdsafe_pipe_create(0, &r, &w));
    pid_t pid = getpid();
    pid_t child = fork();
    if (child == 0) {
        usleep(100000);
        kill(pid, SIGUSR1);
        _exit(0);
    }
    int rc = fdsafe_wait(r, FDSAFE_EVENT_IN, 5000);
    expect_code(rc, -EINTR);
    int status;
    waitpid(child, &status, 0);
    must(fdsafe_close(r));
    must(fdsafe_close(w));
    signal(SIGUSR1, SIG_DFL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_signal_storm_without_restart_returns_eintr_and_loses_nothing),
        FD_TEST(test_signal_storm_with_restart_never_returns_eintr),
        FD_TEST(test_wait_returns_eintr_even_with_restart),
    };
    return cmocka_run_group_tests_name("eintr", tests, NULL, NULL);
}
