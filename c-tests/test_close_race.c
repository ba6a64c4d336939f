/* The handle promise under fire: writer threads send tokens through pipes while a closer
 * thread closes those pipes and creates new ones that recycle the same descriptor numbers.
 * Every token names the pipe it was meant for; a token found in another pipe is misdirected.
 * The same scenario on raw descriptors is the control: it shows the danger is real. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LANES 4
#define WRITERS 3
/* One million by default; FDSAFE_RACE_OPS lowers it for slow runs (valgrind). */
#define DEFAULT_OPS 1000000
static uint64_t target_ops = DEFAULT_OPS;

struct lane {
    _Atomic uint64_t target;   /* fdsafe: the write handle; raw: (pipe id << 32) | write fd */
    uint64_t read_end;         /* closer only: read handle or read fd */
    uint64_t id;               /* closer only: what tokens in this pipe must say */
};

struct scenario {
    int raw;
    struct lane lanes[LANES];
    _Atomic uint64_t ops, delivered, misdirected, next_id;
    _Atomic int stop;
};

static void open_lane(struct scenario *s, struct lane *lane) {
    if (s->raw) {
        int fds[2];
        assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
        uint64_t id = atomic_fetch_add(&s->next_id, 1);
        lane->id = id;
        lane->read_end = (uint64_t)fds[0];
        atomic_store(&lane->target, (id << 32) | (uint32_t)fds[1]);
    } else {
        fdsafe_handle r, w;
        must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w));
        lane->id = w; /* handles are unique for ever: the token is the handle itself */
        lane->read_end = r;
        atomic_store(&lane->target, w);
    }
}

/* Reads every token left in a closed lane's pipe, up to end of file. */
static void drain(struct scenario *s, uint64_t read_end, uint64_t id) {
    uint64_t tokens[512];
    for (;;) {
        int64_t n = s->raw ? read((int)read_end, tokens, sizeof tokens) : fdsafe_read(read_end, tokens, sizeof tokens);
        if (n == 0) break;
        if (n < 0) {
            /* A write still running elsewhere keeps the write end open a little longer. */
            if (s->raw) { assert_int_equal(errno, EAGAIN); usleep(100); }
            else { expect_code(n, -EAGAIN); fdsafe_wait(read_end, FDSAFE_EVENT_IN, 10); }
            continue;
        }
        for (int64_t i = 0; i < n / 8; i++) {
            if (tokens[i] == id) atomic_fetch_add(&s->delivered, 1);
            else atomic_fetch_add(&s->misdirected, 1);
        }
    }
    if (s->raw) close((int)read_end);
    else must(fdsafe_close(read_end));
}

static void *writer(void *arg) {
    struct scenario *s = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    while (!atomic_load(&s->stop)) {
        struct lane *lane = &s->lanes[rand_r(&seed) % LANES];
        uint64_t target = atomic_load(&lane->target);
        if (s->raw) {
            uint64_t token = target >> 32;
            (void)!write((int)(uint32_t)target, &token, sizeof token);
        } else {
            uint64_t token = target;
            int64_t rc = fdsafe_write(target, &token, sizeof token);
            assert_true(rc == 8 || rc == -EBADF || rc == -EAGAIN);
        }
        if (atomic_fetch_add(&s->ops, 1) + 1 >= target_ops) atomic_store(&s->stop, 1);
    }
    return NULL;
}

/* Close a lane's write end, make a new pipe at once (it gets the freed numbers), publish it,
 * then drain the old pipe and check every token in it. */
static void *closer(void *arg) {
    struct scenario *s = arg;
    for (unsigned round = 0; !atomic_load(&s->stop); round++) {
        struct lane *lane = &s->lanes[round % LANES];
        uint64_t old_target = atomic_load(&lane->target), old_read = lane->read_end, old_id = lane->id;
        if (s->raw) close((int)(uint32_t)old_target);
        else must(fdsafe_close(old_target));
        open_lane(s, lane);
        drain(s, old_read, old_id);
    }
    return NULL;
}

static void run(struct scenario *s) {
    for (int i = 0; i < LANES; i++) open_lane(s, &s->lanes[i]);
    pthread_t threads[WRITERS + 1];
    for (int i = 0; i < WRITERS; i++) assert_int_equal(pthread_create(&threads[i], NULL, writer, s), 0);
    assert_int_equal(pthread_create(&threads[WRITERS], NULL, closer, s), 0);
    for (int i = 0; i <= WRITERS; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < LANES; i++) {
        struct lane *lane = &s->lanes[i];
        uint64_t target = atomic_load(&lane->target);
        if (s->raw) close((int)(uint32_t)target);
        else must(fdsafe_close(target));
        drain(s, lane->read_end, lane->id);
    }
}

static void test_closing_under_writers_never_misdirects(void **state) {
    (void)state;
    const char *ops = getenv("FDSAFE_RACE_OPS");
    if (ops) target_ops = strtoull(ops, NULL, 10);
    static struct scenario handles, raw;
    handles.raw = 0;
    run(&handles);

    raw.raw = 1;
    atomic_store(&raw.next_id, 1);
    void (*previous)(int) = signal(SIGPIPE, SIG_IGN);
    run(&raw);
    signal(SIGPIPE, previous);

    printf("close race, fdsafe handles: %llu operations, %llu tokens delivered, %llu misdirected\n",
           (unsigned long long)handles.ops, (unsigned long long)handles.delivered,
           (unsigned long long)handles.misdirected);
    printf("close race, raw descriptors (control): %llu operations, %llu tokens delivered, %llu misdirected\n",
           (unsigned long long)raw.ops, (unsigned long long)raw.delivered, (unsigned long long)raw.misdirected);
    assert_true(handles.ops >= target_ops);
    assert_true(handles.delivered > target_ops / 10); /* the writes really happened */
    assert_int_equal(handles.misdirected, 0);
    /* At full size the control misdirects thousands of tokens per run: if it did not, this
     * harness could not see misdirection at all. (Reduced runs under valgrind, which runs one
     * thread at a time, see only a few, so there it is reported but not required.) */
    if (target_ops == DEFAULT_OPS) assert_true(raw.misdirected > 0);
}

/* The other way round: each writer creates its own pipes and writes to them, and another
 * thread closes them under it (a close from another thread than the creator). */
struct owned_lane {
    _Atomic uint64_t write_end; /* 0 while the writer is to make a new pipe */
    _Atomic uint64_t read_end;  /* changed by the writer only while write_end is 0 */
};

struct owned_scenario {
    struct owned_lane lanes[WRITERS];
    _Atomic uint64_t ops, delivered, misdirected, closes;
    _Atomic int stop;
};

struct owner_arg {
    struct owned_scenario *s;
    struct owned_lane *lane;
};

static void *owning_writer(void *arg) {
    struct owner_arg *a = arg;
    while (!atomic_load(&a->s->stop)) {
        uint64_t w = atomic_load(&a->lane->write_end);
        if (w == 0) {
            fdsafe_handle r, nw;
            must(fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &nw));
            atomic_store(&a->lane->read_end, r);
            atomic_store(&a->lane->write_end, nw);
            continue;
        }
        int64_t rc = fdsafe_write(w, &w, sizeof w);
        assert_true(rc == 8 || rc == -EBADF || rc == -EAGAIN);
        atomic_fetch_add(&a->s->ops, 1);
    }
    return NULL;
}

static void drain_owned(struct owned_scenario *s, uint64_t read_end, uint64_t id) {
    uint64_t tokens[512];
    for (;;) {
        int64_t n = fdsafe_read(read_end, tokens, sizeof tokens);
        if (n == 0) break;
        if (n < 0) {
            expect_code(n, -EAGAIN); /* the writer's write still running holds the write end */
            fdsafe_wait(read_end, FDSAFE_EVENT_IN, 10);
            continue;
        }
        for (int64_t i = 0; i < n / 8; i++) atomic_fetch_add(tokens[i] == id ? &s->delivered : &s->misdirected, 1);
    }
    must(fdsafe_close(read_end));
}

/* Takes a lane's pipe away from its writer (if it has one) and closes it from this thread. */
static void take_and_close(struct owned_scenario *s, struct owned_lane *lane) {
    uint64_t w = atomic_load(&lane->write_end);
    if (w == 0) return;
    uint64_t r = atomic_load(&lane->read_end);
    if (!atomic_compare_exchange_strong(&lane->write_end, &w, 0)) return;
    must(fdsafe_close(w));
    atomic_fetch_add(&s->closes, 1);
    drain_owned(s, r, w);
}

static void test_closing_under_owning_writers_never_misdirects(void **state) {
    (void)state;
    const char *ops = getenv("FDSAFE_RACE_OPS");
    if (ops) target_ops = strtoull(ops, NULL, 10);
    static struct owned_scenario s;
    pthread_t threads[WRITERS];
    struct owner_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct owner_arg){&s, &s.lanes[i]};
        assert_int_equal(pthread_create(&threads[i], NULL, owning_writer, &args[i]), 0);
    }
    /* Enough writes and enough closes racing them, however the threads get scheduled. */
    uint64_t min_closes = target_ops / 2000 < 500 ? target_ops / 2000 + 1 : 500;
    for (unsigned round = 0; atomic_load(&s.ops) < target_ops || atomic_load(&s.closes) < min_closes; round++) {
        take_and_close(&s, &s.lanes[round % WRITERS]);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < WRITERS; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < WRITERS; i++) take_and_close(&s, &s.lanes[i]);
    printf("close race, writers on their own pipes, another thread closing: %llu operations, %llu closes, %llu tokens delivered, "
           "%llu misdirected\n",
           (unsigned long long)s.ops, (unsigned long long)s.closes, (unsigned long long)s.delivered,
           (unsigned long long)s.misdirected);
    assert_true(s.ops >= target_ops);
    assert_true(s.delivered > target_ops / 10);
    assert_true(s.closes >= min_closes); /* the closes really raced the writes */
    assert_int_equal(s.misdirected, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_closing_under_writers_never_misdirects),
        FD_TEST(test_closing_under_owning_writers_never_misdirects),
    };
    return cmocka_run_group_tests_name("close_race", tests, NULL, NULL);
}
