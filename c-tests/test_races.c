/* Races between fdsafe_close and the other operations on the same handles:
 * - epoll registration: threads add handles to one set while others close them; afterwards
 *   no registration of a dead handle remains (fdsafe_epoll_count equals the registrations
 *   of live handles) and no event ever names another handle than the one registered;
 * - descriptor passing: threads send handles over a seqpacket pair while others close them;
 *   every received descriptor is the very pipe that was sent (fstat dev/ino recorded at
 *   creation) or the send failed with -EBADF;
 * - dup and release: no dup of a handle succeeds once its close returned; a dup and a
 *   released descriptor are the file the handle had;
 * - many threads creating and closing handles of several kinds at once.
 * Threads never call cmocka assertions (they longjmp): they count failures, and the main
 * thread asserts the counts are zero. Each scenario prints its operation counts. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 16

/* Scale: full size by default; FDSAFE_RACE_OPS (set for valgrind runs) divides it by 10. */
static int reduced_run(void) {
    return getenv("FDSAFE_RACE_OPS") != NULL;
}

static uint64_t scaled(uint64_t full) {
    return reduced_run() ? full / 10 : full;
}

/* That a race was really exercised (some dups after a close, some events...) is required at
 * full size. Reduced runs under valgrind, which runs one thread at a time, may see none: there
 * it is reported but not required. The correctness checks hold in every run. */
#define assert_exercised(cond) do { if (!reduced_run()) assert_true(cond); } while (0)

static uint64_t next_random(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void join_all(pthread_t *threads, int n) {
    for (int i = 0; i < n; i++) assert_int_equal(pthread_join(threads[i], NULL), 0);
}

/* A pipe read end whose identity (dev, ino) is recorded at creation; the write end is closed
 * at once. */
struct ident {
    fdsafe_handle handle;
    uint64_t dev, ino;
};

static int make_ident(struct ident *out) {
    fdsafe_handle r, w;
    if (fdsafe_pipe_create(FDSAFE_NONBLOCK, &r, &w) != 0) return -1;
    fdsafe_close(w);
    struct stat st;
    if (fstat(fdsafe_fd_borrow(r), &st) != 0) return -1;
    out->handle = r;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    return 0;
}

static int same_file(int fd, uint64_t dev, uint64_t ino) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

/* ---------------------------------------------------------------- epoll versus close */

struct epoll_race {
    fdsafe_handle set;
    _Atomic fdsafe_handle slots[SLOTS];
    _Atomic uint64_t ops, adds, add_ebadf, closes, events, bad_events, unexpected, target;
    _Atomic int stop;
};

static void *epoll_adder(void *arg) {
    struct epoll_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    while (!atomic_load(&r->stop)) {
        fdsafe_handle h = atomic_load(&r->slots[next_random(&rnd) % SLOTS]);
        /* The user value is the handle: an event whose handle and value differ is misdirected. */
        int rc = fdsafe_epoll_add(r->set, h, FDSAFE_EPOLL_IN, h);
        if (rc == 0) atomic_fetch_add(&r->adds, 1);
        else if (rc == -EBADF) atomic_fetch_add(&r->add_ebadf, 1);
        else if (rc != -EEXIST) atomic_fetch_add(&r->unexpected, 1);
        if (next_random(&rnd) % 4 == 0) {
            rc = fdsafe_epoll_delete(r->set, h);
            if (rc != 0 && rc != -EBADF && rc != -ENOENT) atomic_fetch_add(&r->unexpected, 1);
        }
        atomic_fetch_add(&r->ops, 1);
    }
    return NULL;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *epoll_closer(void *arg) {
    struct epoll_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    double give_up = seconds_now() + 30;
    /* On a loaded machine the waiter may not have run while anything was registered yet:
     * the race goes on until it has seen events too (or for 30 s at most). */
    while (atomic_load(&r->ops) < atomic_load(&r->target) || (atomic_load(&r->events) == 0 && seconds_now() < give_up)) {
        fdsafe_handle fresh;
        /* Readable at once (counter 1), so a registration reports events. */
        if (fdsafe_eventfd_create(1, FDSAFE_NONBLOCK, &fresh) != 0) { atomic_fetch_add(&r->unexpected, 1); break; }
        fdsafe_handle old = atomic_exchange(&r->slots[next_random(&rnd) % SLOTS], fresh);
        if (fdsafe_close(old) != 0) atomic_fetch_add(&r->unexpected, 1);
        atomic_fetch_add(&r->closes, 1);
        atomic_fetch_add(&r->ops, 1);
    }
    atomic_store(&r->stop, 1);
    return NULL;
}

static void *epoll_waiter(void *arg) {
    struct epoll_race *r = arg;
    struct fdsafe_epoll_event events[64];
    while (!atomic_load(&r->stop)) {
        int n = fdsafe_epoll_wait(r->set, events, 64, 0);
        if (n < 0) { atomic_fetch_add(&r->unexpected, 1); continue; }
        for (int i = 0; i < n; i++) {
            if (events[i].handle != events[i].user || events[i].events != FDSAFE_EPOLL_IN)
                atomic_fetch_add(&r->bad_events, 1);
        }
        atomic_fetch_add(&r->events, (uint64_t)n);
        atomic_fetch_add(&r->ops, 1);
    }
    return NULL;
}

static void test_close_versus_epoll_registration(void **state) {
    (void)state;
    static struct epoll_race r;
    memset(&r, 0, sizeof r);
    atomic_store(&r.target, scaled(200000));
    must(fdsafe_epoll_create(&r.set));
    for (int i = 0; i < SLOTS; i++) {
        fdsafe_handle h;
        must(fdsafe_eventfd_create(1, FDSAFE_NONBLOCK, &h));
        atomic_store(&r.slots[i], h);
    }
    pthread_t threads[5];
    assert_int_equal(pthread_create(&threads[0], NULL, epoll_adder, &r), 0);
    assert_int_equal(pthread_create(&threads[1], NULL, epoll_adder, &r), 0);
    assert_int_equal(pthread_create(&threads[2], NULL, epoll_closer, &r), 0);
    assert_int_equal(pthread_create(&threads[3], NULL, epoll_closer, &r), 0);
    assert_int_equal(pthread_create(&threads[4], NULL, epoll_waiter, &r), 0);
    join_all(threads, 5);

    /* Every remaining registration belongs to a live slot handle: deleting those empties the
     * set; a dead handle's registration would stay counted. */
    int64_t count = must(fdsafe_epoll_count(r.set));
    struct fdsafe_epoll_event events[SLOTS + 8];
    int n = (int)must(fdsafe_epoll_wait(r.set, events, SLOTS + 8, 0));
    assert_int_equal(n, count); /* every registered eventfd is readable */
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int s = 0; s < SLOTS; s++) found |= atomic_load(&r.slots[s]) == events[i].handle;
        assert_true(found);
        assert_true(events[i].handle == events[i].user);
    }
    int64_t deleted = 0;
    for (int s = 0; s < SLOTS; s++) {
        int rc = fdsafe_epoll_delete(r.set, atomic_load(&r.slots[s]));
        if (rc == 0) deleted++;
        else expect_code(rc, -ENOENT);
    }
    printf("epoll vs close: %llu operations: %llu adds (%llu refused -EBADF), %llu closes, %llu events, "
           "%lld registrations left for %lld live handles, %llu misdirected events\n",
           (unsigned long long)r.ops, (unsigned long long)r.adds, (unsigned long long)r.add_ebadf,
           (unsigned long long)r.closes, (unsigned long long)r.events, (long long)count, (long long)deleted,
           (unsigned long long)r.bad_events);
    assert_int_equal(deleted, count);
    expect_code(fdsafe_epoll_count(r.set), 0);
    assert_int_equal(r.bad_events, 0);
    assert_int_equal(r.unexpected, 0);
    assert_exercised(r.adds > 0 && r.closes > 0 && r.events > 0);
    for (int s = 0; s < SLOTS; s++) must(fdsafe_close(atomic_load(&r.slots[s])));
    must(fdsafe_close(r.set));
}

/* ---------------------------------------------------------------- passing versus close */

struct pass_race {
    fdsafe_handle tx, rx;
    pthread_mutex_t lock;
    struct ident slots[SLOTS];
    _Atomic uint64_t ops, sent, send_ebadf, closes, received, wrong_file, unexpected, target;
    _Atomic int senders_left;
};

struct pass_msg {
    uint64_t dev, ino;
};

static void *pass_sender(void *arg) {
    struct pass_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    struct ident id = {0, 0, 0};
    while (atomic_load(&r->ops) < atomic_load(&r->target)) {
        /* Half the time the handle picked last time again, which may have been closed since. */
        if (id.handle == 0 || next_random(&rnd) % 2 == 0) {
            pthread_mutex_lock(&r->lock);
            id = r->slots[next_random(&rnd) % SLOTS];
            pthread_mutex_unlock(&r->lock);
        }
        struct pass_msg msg = {id.dev, id.ino};
        int64_t rc = fdsafe_socket_send_handles(r->tx, &msg, sizeof msg, &id.handle, 1, 0);
        if (rc == (int64_t)sizeof msg) atomic_fetch_add(&r->sent, 1);
        else if (rc == -EBADF) atomic_fetch_add(&r->send_ebadf, 1);
        else atomic_fetch_add(&r->unexpected, 1);
        atomic_fetch_add(&r->ops, 1);
    }
    if (atomic_fetch_sub(&r->senders_left, 1) == 1) {
        struct pass_msg end = {0, 0}; /* the last sender says "no more" */
        if (fdsafe_socket_send(r->tx, &end, sizeof end, 0) != (int64_t)sizeof end) atomic_fetch_add(&r->unexpected, 1);
    }
    return NULL;
}

static void *pass_closer(void *arg) {
    struct pass_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    while (atomic_load(&r->senders_left) > 0) {
        struct ident fresh;
        if (make_ident(&fresh) != 0) { atomic_fetch_add(&r->unexpected, 1); break; }
        pthread_mutex_lock(&r->lock);
        size_t i = next_random(&rnd) % SLOTS;
        struct ident old = r->slots[i];
        r->slots[i] = fresh;
        pthread_mutex_unlock(&r->lock);
        if (fdsafe_close(old.handle) != 0) atomic_fetch_add(&r->unexpected, 1);
        atomic_fetch_add(&r->closes, 1);
        atomic_fetch_add(&r->ops, 1);
    }
    return NULL;
}

static void *pass_receiver(void *arg) {
    struct pass_race *r = arg;
    for (;;) {
        struct pass_msg msg;
        fdsafe_handle got[4];
        struct fdsafe_recv_info info;
        int64_t n = fdsafe_socket_recv_handles(r->rx, &msg, sizeof msg, 0, got, 4, &info);
        if (n != (int64_t)sizeof msg) { atomic_fetch_add(&r->unexpected, 1); break; }
        if (msg.ino == 0 && msg.dev == 0) {
            if (info.handle_count != 0) atomic_fetch_add(&r->unexpected, 1);
            break;
        }
        if (info.handle_count != 1 || info.flags != 0) { atomic_fetch_add(&r->unexpected, 1); }
        for (size_t i = 0; i < info.handle_count; i++) {
            if (!same_file(fdsafe_fd_borrow(got[i]), msg.dev, msg.ino)) atomic_fetch_add(&r->wrong_file, 1);
            if (fdsafe_close(got[i]) != 0) atomic_fetch_add(&r->unexpected, 1);
        }
        atomic_fetch_add(&r->received, 1);
    }
    return NULL;
}

static void test_close_versus_descriptor_passing(void **state) {
    (void)state;
    static struct pass_race r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    atomic_store(&r.target, scaled(100000));
    atomic_store(&r.senders_left, 2);
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &r.tx, &r.rx));
    for (int i = 0; i < SLOTS; i++) assert_int_equal(make_ident(&r.slots[i]), 0);
    pthread_t threads[5];
    assert_int_equal(pthread_create(&threads[0], NULL, pass_receiver, &r), 0);
    assert_int_equal(pthread_create(&threads[1], NULL, pass_sender, &r), 0);
    assert_int_equal(pthread_create(&threads[2], NULL, pass_sender, &r), 0);
    assert_int_equal(pthread_create(&threads[3], NULL, pass_closer, &r), 0);
    assert_int_equal(pthread_create(&threads[4], NULL, pass_closer, &r), 0);
    join_all(threads, 5);
    printf("passing vs close: %llu operations: %llu sent, %llu refused -EBADF, %llu closes, %llu received, "
           "%llu wrong files\n",
           (unsigned long long)r.ops, (unsigned long long)r.sent, (unsigned long long)r.send_ebadf,
           (unsigned long long)r.closes, (unsigned long long)r.received, (unsigned long long)r.wrong_file);
    assert_int_equal(r.unexpected, 0);
    assert_int_equal(r.wrong_file, 0);
    assert_int_equal(r.received, r.sent);
    assert_exercised(r.sent > 0 && r.closes > 0 && r.send_ebadf > 0);
    for (int i = 0; i < SLOTS; i++) must(fdsafe_close(r.slots[i].handle));
    must(fdsafe_close(r.tx));
    must(fdsafe_close(r.rx));
    pthread_mutex_destroy(&r.lock);
}

/* ---------------------------------------------------------------- dup / release versus close */

struct dup_slot {
    struct ident current;
    fdsafe_handle closed; /* the last handle of this slot whose fdsafe_close returned */
};

struct dup_race {
    pthread_mutex_t lock;
    struct dup_slot slots[SLOTS];
    _Atomic uint64_t ops, dups, dup_ebadf, dup_checked_after_close, dup_after_close, releases, release_refused, closes,
        wrong_file, unexpected, target;
    _Atomic int stop;
};

static void *dupper(void *arg) {
    struct dup_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    struct ident id = {0, 0, 0};
    size_t i = 0;
    while (!atomic_load(&r->stop)) {
        /* Mostly the handle picked last time again, which may have been closed since. */
        if (id.handle == 0 || next_random(&rnd) % 8 == 0) {
            i = next_random(&rnd) % SLOTS;
            pthread_mutex_lock(&r->lock);
            id = r->slots[i].current;
            pthread_mutex_unlock(&r->lock);
        }
        fdsafe_handle copy;
        int rc = fdsafe_dup(id.handle, &copy);
        if (rc == 0) {
            atomic_fetch_add(&r->dups, 1);
            if (!same_file(fdsafe_fd_borrow(copy), id.dev, id.ino)) atomic_fetch_add(&r->wrong_file, 1);
            if (fdsafe_close(copy) != 0) atomic_fetch_add(&r->unexpected, 1);
        } else if (rc == -EBADF) {
            atomic_fetch_add(&r->dup_ebadf, 1);
        } else {
            atomic_fetch_add(&r->unexpected, 1);
        }
        /* Once its close has returned, a handle never works again. */
        pthread_mutex_lock(&r->lock);
        int closed = r->slots[i].closed == id.handle;
        pthread_mutex_unlock(&r->lock);
        if (closed) {
            atomic_fetch_add(&r->dup_checked_after_close, 1);
            rc = fdsafe_dup(id.handle, &copy);
            if (rc == 0) { atomic_fetch_add(&r->dup_after_close, 1); fdsafe_close(copy); }
            else if (rc != -EBADF) atomic_fetch_add(&r->unexpected, 1);
        }
        atomic_fetch_add(&r->ops, 1);
    }
    return NULL;
}

static void *releaser(void *arg) {
    struct dup_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    while (!atomic_load(&r->stop)) {
        size_t i = next_random(&rnd) % SLOTS;
        pthread_mutex_lock(&r->lock);
        struct ident id = r->slots[i].current;
        pthread_mutex_unlock(&r->lock);
        usleep(20); /* a release now and then, against continuous dups and closes */
        int fd = fdsafe_fd_release(id.handle);
        if (fd >= 0) {
            atomic_fetch_add(&r->releases, 1);
            if (!same_file(fd, id.dev, id.ino)) atomic_fetch_add(&r->wrong_file, 1);
            close(fd);
            /* The handle ended: give the slot a fresh one unless the closer already did. */
            struct ident fresh;
            if (make_ident(&fresh) != 0) { atomic_fetch_add(&r->unexpected, 1); break; }
            pthread_mutex_lock(&r->lock);
            if (r->slots[i].current.handle == id.handle) {
                r->slots[i].current = fresh;
                r->slots[i].closed = id.handle;
                fresh.handle = 0;
            }
            pthread_mutex_unlock(&r->lock);
            if (fresh.handle != 0) fdsafe_close(fresh.handle);
        } else if (fd == -EBADF || fd == -EBUSY) {
            atomic_fetch_add(&r->release_refused, 1);
        } else {
            atomic_fetch_add(&r->unexpected, 1);
        }
        atomic_fetch_add(&r->ops, 1);
    }
    return NULL;
}

static void *dup_closer(void *arg) {
    struct dup_race *r = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    while (atomic_load(&r->ops) < atomic_load(&r->target)) {
        struct ident fresh;
        if (make_ident(&fresh) != 0) { atomic_fetch_add(&r->unexpected, 1); break; }
        size_t i = next_random(&rnd) % SLOTS;
        pthread_mutex_lock(&r->lock);
        struct ident old = r->slots[i].current;
        r->slots[i].current = fresh;
        pthread_mutex_unlock(&r->lock);
        int rc = fdsafe_close(old.handle);
        if (rc != 0 && rc != -EBADF) atomic_fetch_add(&r->unexpected, 1); /* -EBADF: released */
        pthread_mutex_lock(&r->lock);
        r->slots[i].closed = old.handle;
        pthread_mutex_unlock(&r->lock);
        atomic_fetch_add(&r->closes, 1);
        atomic_fetch_add(&r->ops, 1);
    }
    atomic_store(&r->stop, 1);
    return NULL;
}

static void test_close_versus_dup_and_release(void **state) {
    (void)state;
    static struct dup_race r;
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    atomic_store(&r.target, scaled(200000));
    for (int i = 0; i < SLOTS; i++) assert_int_equal(make_ident(&r.slots[i].current), 0);
    pthread_t threads[4];
    assert_int_equal(pthread_create(&threads[0], NULL, dupper, &r), 0);
    assert_int_equal(pthread_create(&threads[1], NULL, dupper, &r), 0);
    assert_int_equal(pthread_create(&threads[2], NULL, releaser, &r), 0);
    assert_int_equal(pthread_create(&threads[3], NULL, dup_closer, &r), 0);
    join_all(threads, 4);
    printf("dup/release vs close: %llu operations: %llu dups (%llu refused -EBADF), %llu dups tried after close returned, %llu succeeded, "
           "%llu releases (%llu refused), %llu closes, %llu wrong files\n",
           (unsigned long long)r.ops, (unsigned long long)r.dups, (unsigned long long)r.dup_ebadf,
           (unsigned long long)r.dup_checked_after_close, (unsigned long long)r.dup_after_close, (unsigned long long)r.releases,
           (unsigned long long)r.release_refused, (unsigned long long)r.closes, (unsigned long long)r.wrong_file);
    assert_int_equal(r.unexpected, 0);
    assert_int_equal(r.dup_after_close, 0);
    assert_int_equal(r.wrong_file, 0);
    assert_exercised(r.dups > 0 && r.closes > 0 && r.releases > 0 && r.dup_checked_after_close > 0);
    for (int i = 0; i < SLOTS; i++) {
        int rc = fdsafe_close(r.slots[i].current.handle);
        if (rc != 0) expect_code(rc, -EBADF); /* released */
    }
    pthread_mutex_destroy(&r.lock);
}

/* ---------------------------------------------------------------- create/close churn */

#define CHURN_THREADS 4
#define CHURN_SHARED 64

struct churn {
    _Atomic fdsafe_handle shared[CHURN_SHARED];
    _Atomic uint64_t ops, created, closed, closed_by_other, unexpected, target;
};

static int create_some(uint64_t pick, fdsafe_handle out[2]) {
    switch (pick % 7) {
    case 0: return fdsafe_pipe_create(FDSAFE_NONBLOCK, &out[0], &out[1]) == 0 ? 2 : -1;
    case 1: return fdsafe_eventfd_create(0, FDSAFE_NONBLOCK, &out[0]) == 0 ? 1 : -1;
    case 2: return fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, FDSAFE_NONBLOCK, &out[0]) == 0 ? 1 : -1;
    case 3: return fdsafe_unix_pair(FDSAFE_SOCK_STREAM, FDSAFE_NONBLOCK, &out[0], &out[1]) == 0 ? 2 : -1;
    case 4: return fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, FDSAFE_NONBLOCK, &out[0], &out[1]) == 0 ? 2 : -1;
    case 5: return fdsafe_epoll_create(&out[0]) == 0 ? 1 : -1;
    default: return fdsafe_memfd_create("race", 0, &out[0]) == 0 ? 1 : -1;
    }
}

static void *churner(void *arg) {
    struct churn *c = arg;
    uint64_t rnd = (uint64_t)pthread_self() | 1;
    while (atomic_load(&c->ops) < atomic_load(&c->target)) {
        fdsafe_handle made[2];
        int n = create_some(next_random(&rnd), made);
        if (n < 0) { atomic_fetch_add(&c->unexpected, 1); break; }
        atomic_fetch_add(&c->created, (uint64_t)n);
        for (int i = 0; i < n; i++) {
            /* Put it in a shared slot; close whatever was there (created by any thread). */
            fdsafe_handle old = atomic_exchange(&c->shared[next_random(&rnd) % CHURN_SHARED], made[i]);
            if (old != 0) {
                if (fdsafe_close(old) != 0) atomic_fetch_add(&c->unexpected, 1);
                atomic_fetch_add(&c->closed, 1);
            }
            /* And sometimes close a random slot's handle straight away. */
            if (next_random(&rnd) % 3 == 0) {
                fdsafe_handle victim = atomic_exchange(&c->shared[next_random(&rnd) % CHURN_SHARED], 0);
                if (victim != 0) {
                    if (fdsafe_close(victim) != 0) atomic_fetch_add(&c->unexpected, 1);
                    atomic_fetch_add(&c->closed_by_other, 1);
                }
            }
        }
        atomic_fetch_add(&c->ops, (uint64_t)n * 2);
    }
    return NULL;
}

static void test_many_threads_create_and_close(void **state) {
    (void)state;
    static struct churn c;
    memset(&c, 0, sizeof c);
    atomic_store(&c.target, scaled(200000));
    pthread_t threads[CHURN_THREADS];
    for (int i = 0; i < CHURN_THREADS; i++) assert_int_equal(pthread_create(&threads[i], NULL, churner, &c), 0);
    join_all(threads, CHURN_THREADS);
    for (int i = 0; i < CHURN_SHARED; i++) {
        fdsafe_handle h = atomic_exchange(&c.shared[i], 0);
        if (h != 0) { must(fdsafe_close(h)); atomic_fetch_add(&c.closed, 1); }
    }
    printf("create/close churn: %llu operations: %llu handles created, %llu closed\n",
           (unsigned long long)c.ops, (unsigned long long)c.created,
           (unsigned long long)(c.closed + c.closed_by_other));
    assert_int_equal(c.unexpected, 0);
    assert_true(c.ops >= c.target);
    /* Balance: every handle created was closed once (FD_TEST checks the descriptors). */
    assert_int_equal(c.created, c.closed + c.closed_by_other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_close_versus_epoll_registration),
        FD_TEST(test_close_versus_descriptor_passing),
        FD_TEST(test_close_versus_dup_and_release),
        FD_TEST(test_many_threads_create_and_close),
    };
    return cmocka_run_group_tests_name("races", tests, NULL, NULL);
}
