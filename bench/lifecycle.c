/* Figure 1, the thread-pool lifecycle: one thread creates descriptors and hands them over a
 * queue to a second thread, which writes to them, reads back and closes them. This is the
 * pattern of an acceptor feeding a worker pool, where every handle is created on one thread
 * and used and closed on another, so it measures whatever fdsafe's handle table costs
 * across threads (not just on the creating thread). Handles per second through the pipeline,
 * fdsafe against the same program on raw descriptors, in alternating batches (same threads,
 * same queue). Beside it, the counted-reference floor (see `words` below) in the same batches. */
#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCHES = 15, RING = 256 };

/* One unit of work: an eventfd, or both ends of a socket pair (raw descriptors or handles). */
struct item {
    uint64_t a, b;
};

/* A single-producer single-consumer ring: the queue costs the same in both programs and
 * little next to the system calls. A full or empty ring spins briefly, then yields. */
static struct {
    _Alignas(64) atomic_size_t head; /* written by the producer */
    _Alignas(64) atomic_size_t tail; /* written by the consumer */
    _Alignas(64) struct item items[RING];
} ring;

static void backoff(int *spins) {
    if (++*spins < 100) __builtin_ia32_pause();
    else sched_yield();
}

static void push(struct item it) {
    size_t head = atomic_load_explicit(&ring.head, memory_order_relaxed);
    for (int spins = 0; head - atomic_load_explicit(&ring.tail, memory_order_acquire) == RING;) backoff(&spins);
    ring.items[head % RING] = it;
    atomic_store_explicit(&ring.head, head + 1, memory_order_release);
}

static struct item pop(void) {
    size_t tail = atomic_load_explicit(&ring.tail, memory_order_relaxed);
    for (int spins = 0; atomic_load_explicit(&ring.head, memory_order_acquire) == tail;) backoff(&spins);
    struct item it = ring.items[tail % RING];
    atomic_store_explicit(&ring.tail, tail + 1, memory_order_release);
    return it;
}

/* The batch both threads run; n < 0 tells them to exit. */
enum what { EVENTFD, SOCKETPAIR };
enum program { RAW, FDSAFE, FLOOR };
static struct {
    enum what what;
    enum program program;
    int n;
} job;

/* The floor of any design that counts references: the raw program plus, per descriptor, a
 * state word on a cache line of its own, stored by the creating thread when it makes the
 * descriptor (a slot filled) and taken and given back with a compare-and-swap and a
 * fetch_sub around each of the using thread's system calls (the close included), and nothing
 * else of fdsafe. */
enum { WORDS = 4096 };
static struct {
    _Alignas(64) _Atomic uint64_t state;
} words[WORDS];

static void fill_word(int fd) {
    atomic_store_explicit(&words[fd % WORDS].state, (uint64_t)fd << 24, memory_order_release);
}

static void take_word(int fd) {
    floor_take(&words[fd % WORDS].state);
}

static void give_word(int fd) {
    floor_give(&words[fd % WORDS].state);
}
static pthread_barrier_t start, done;

static void produce(void) {
    for (int i = 0; i < job.n; i++) {
        struct item it = {0, 0};
        if (job.what == EVENTFD) {
            if (job.program == FDSAFE) check(fdsafe_eventfd_create(0, 0, &it.a), "eventfd");
            else if ((int64_t)(it.a = (uint64_t)eventfd(0, EFD_CLOEXEC)) < 0) exit(1);
            if (job.program == FLOOR) fill_word((int)it.a);
        } else if (job.program == FDSAFE) {
            check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &it.a, &it.b), "unix pair");
        } else {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) exit(1);
            it.a = (uint64_t)sv[0];
            it.b = (uint64_t)sv[1];
            if (job.program == FLOOR) {
                fill_word(sv[0]);
                fill_word(sv[1]);
            }
        }
        push(it);
    }
}

static void consume(void) {
    for (int i = 0; i < job.n; i++) {
        struct item it = pop();
        uint64_t v = 1;
        char c = 'x';
        int floor = job.program == FLOOR;
        if (job.what == EVENTFD && job.program == FDSAFE) {
            if (fdsafe_eventfd_write(it.a, 1) != 0 || fdsafe_eventfd_read(it.a, &v) != 0) exit(1);
            check(fdsafe_close(it.a), "close");
        } else if (job.what == EVENTFD) {
            int fd = (int)it.a;
            if (floor) take_word(fd);
            ssize_t w = write(fd, &v, 8);
            if (floor) give_word(fd), take_word(fd);
            ssize_t r = read(fd, &v, 8);
            if (floor) give_word(fd), take_word(fd);
            if (w != 8 || r != 8) exit(1);
            close(fd);
            if (floor) give_word(fd);
        } else if (job.program == FDSAFE) {
            if (fdsafe_socket_send(it.a, &c, 1, 0) != 1 || fdsafe_socket_recv(it.b, &c, 1, 0) != 1) exit(1);
            check(fdsafe_close(it.a), "close");
            check(fdsafe_close(it.b), "close");
        } else {
            int a = (int)it.a, b = (int)it.b;
            if (floor) take_word(a);
            ssize_t sent = send(a, &c, 1, MSG_NOSIGNAL);
            if (floor) give_word(a), take_word(b);
            ssize_t got = recv(b, &c, 1, 0);
            if (floor) give_word(b), take_word(a);
            if (sent != 1 || got != 1) exit(1);
            close(a);
            if (floor) give_word(a), take_word(b);
            close(b);
            if (floor) give_word(b);
        }
    }
}

/* The two threads live for the whole run, as a pool's would, and wait between batches. */
static void *thread_main(void *producer) {
    for (;;) {
        pthread_barrier_wait(&start);
        if (job.n < 0) return NULL;
        if (producer) produce();
        else consume();
        pthread_barrier_wait(&done);
    }
}

/* Items per second for one batch. */
static double batch(enum what what, enum program program, int n) {
    job.what = what;
    job.program = program;
    job.n = n;
    double t = now_ns();
    pthread_barrier_wait(&start);
    pthread_barrier_wait(&done);
    return n / ((now_ns() - t) / 1e9);
}

static void measure(const char *name, enum what what, int n, const char *unit) {
    double f[BATCHES], r[BATCHES], floor[BATCHES], r2[BATCHES];
    batch(what, RAW, n / 4); /* untimed warm-up of both programs */
    batch(what, FDSAFE, n / 4);
    for (int i = 0; i < BATCHES; i++) {
        r[i] = batch(what, RAW, n);
        f[i] = batch(what, FDSAFE, n);
        floor[i] = batch(what, FLOOR, n);
        r2[i] = batch(what, RAW, n);
    }
    figure_rate(name, median_of(f, BATCHES), median_of(r, BATCHES), unit, median_ratio(f, r, BATCHES), ">= 0.95");
    printf("%s, counted-reference floor (raw + a state word per descriptor, a CAS and a fetch_sub around each "
           "system call of the using thread, no fdsafe): floor %.0f %s, raw %.0f %s, ratio %.3f [floor] "
           "(fdsafe / floor %.3f)\n", name, median_of(floor, BATCHES), unit, median_of(r2, BATCHES), unit,
           median_ratio(floor, r2, BATCHES), median_ratio(f, floor, BATCHES));
    fflush(stdout);
}

int main(void) {
    pthread_t producer, consumer;
    pthread_barrier_init(&start, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    pthread_create(&producer, NULL, thread_main, (void *)1);
    pthread_create(&consumer, NULL, thread_main, NULL);
    printf("-- thread-pool lifecycle: a thread creates, a queue hands over, another thread writes, reads, closes "
           "(medians of %d paired batches)\n", BATCHES);
    measure("thread-pool lifecycle, eventfd", EVENTFD, 30000, "handles/s");
    measure("thread-pool lifecycle, socketpair", SOCKETPAIR, 10000, "pairs/s");
    job.n = -1;
    pthread_barrier_wait(&start);
    pthread_join(producer, NULL);
    pthread_join(consumer, NULL);
    return 0;
}
