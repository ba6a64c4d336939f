/* Figure 2: closing handles that another thread created, while a third thread keeps making
 * calls (an eventfd write+read loop on a handle of its own). In a server the acceptor
 * creates connections, a worker closes them, and other workers are busy meanwhile; a close
 * that has to synchronise with every running thread of the process (an interrupt to each
 * CPU, a global lock, a wait) shows here and not in a single-threaded close. Per-close time,
 * fdsafe_close against raw close(2), in alternating batches; in the raw batches the busy
 * thread runs the same loop on a raw eventfd, so each side is one whole program. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { BATCHES = 41, COUNT = 4000 };

enum mode { STOP, RAW, FDSAFE };
static atomic_int busy_mode = RAW;
static atomic_long busy_calls;

/* The third thread: round trips on its own eventfd, raw or fdsafe as the batch is. */
static void *busy(void *arg) {
    (void)arg;
    fdsafe_handle h;
    check(fdsafe_eventfd_create(0, 0, &h), "eventfd");
    int raw = eventfd(0, EFD_CLOEXEC);
    uint64_t v = 1;
    for (int mode; (mode = atomic_load_explicit(&busy_mode, memory_order_relaxed)) != STOP;) {
        if (mode == RAW) {
            if (write(raw, &v, 8) != 8 || read(raw, &v, 8) != 8) exit(1);
        } else if (fdsafe_eventfd_write(h, 1) != 0 || fdsafe_eventfd_read(h, &v) != 0) {
            exit(1);
        }
        atomic_fetch_add_explicit(&busy_calls, 1, memory_order_relaxed);
    }
    close(raw);
    fdsafe_close(h);
    return NULL;
}

/* The creating thread stays alive (blocked) while its handles are closed, as an acceptor
 * would: it fills the array for each batch on request. */
static uint64_t made[COUNT];
static int make_fdsafe, quit;
static pthread_barrier_t request, ready;

static void *creator(void *arg) {
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&request);
        if (quit) return NULL;
        for (int i = 0; i < COUNT; i++) {
            if (make_fdsafe) check(fdsafe_eventfd_create(0, 0, &made[i]), "eventfd");
            else if ((int64_t)(made[i] = (uint64_t)eventfd(0, EFD_CLOEXEC)) < 0) exit(1);
        }
        pthread_barrier_wait(&ready);
    }
}

/* ns per close of COUNT descriptors the creator made. */
static double batch(int fdsafe) {
    atomic_store(&busy_mode, fdsafe ? FDSAFE : RAW);
    make_fdsafe = fdsafe;
    pthread_barrier_wait(&request);
    pthread_barrier_wait(&ready);
    double t = now_ns();
    if (fdsafe) {
        for (int i = 0; i < COUNT; i++) check(fdsafe_close(made[i]), "close");
    } else {
        for (int i = 0; i < COUNT; i++) close((int)made[i]);
    }
    return (now_ns() - t) / COUNT;
}

int main(void) {
    pthread_t busy_thread, creator_thread;
    pthread_barrier_init(&request, NULL, 2);
    pthread_barrier_init(&ready, NULL, 2);
    pthread_create(&busy_thread, NULL, busy, NULL);
    pthread_create(&creator_thread, NULL, creator, NULL);
    printf("-- close of handles made by another thread, a third thread running eventfd round trips "
           "(medians of %d paired batches of %d closes)\n", BATCHES, COUNT);
    batch(0); /* untimed warm-up */
    batch(1);
    double f[BATCHES], r[BATCHES];
    long calls = atomic_load(&busy_calls);
    double t = now_ns();
    for (int i = 0; i < BATCHES; i++) {
        r[i] = batch(0);
        f[i] = batch(1);
    }
    double busy_ns = (now_ns() - t) / (double)(atomic_load(&busy_calls) - calls);
    figure_ns("close of another thread's handle, third thread busy", median_of(f, BATCHES), median_of(r, BATCHES),
              "ratio", median_ratio(f, r, BATCHES), "<= 1.1");
    printf("  (the busy thread made a round trip every %.0f ns meanwhile)\n", busy_ns);
    atomic_store(&busy_mode, STOP);
    quit = 1;
    pthread_barrier_wait(&request);
    pthread_join(busy_thread, NULL);
    pthread_join(creator_thread, NULL);
    return 0;
}
