/* make bench: what fdsafe's safety costs, as ratios against raw system calls measured in the
 * same run. Batches of raw and fdsafe work alternate, and each figure is the median batch.
 * The other figures of issue 16 have their own programs: bench/lifecycle.c,
 * bench/close_busy.c, bench/echo.c, bench/epoll_close.c, bench/recv.c. */
#include "common.h"

#include <sys/uio.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 21

/* ---- the process's state ---- */

/* glibc's read, write and epoll_wait are cancellation points once the process has a second
 * thread (a daemon's usual state), and cost more there; fdsafe makes these system calls
 * directly either way. So the round trips and waits are measured in both states: first in a
 * process with one thread (raw at its cheapest), then, in the "-threaded" cases, after a
 * thread has been created (and joined: glibc does not go back). */
static const char *process_state = "";

static void *nothing(void *arg) {
    return arg;
}

static void become_threaded(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0) exit(1);
    process_state = ", process with threads";
}

/* ---- eventfd and pipe round trips ---- */

static double raw_eventfd(int fd, int iters) {
    uint64_t v = 1;
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        if (write(fd, &v, 8) != 8 || read(fd, &v, 8) != 8) exit(1);
    }
    return (now_ns() - t) / iters;
}

static double fdsafe_eventfd(fdsafe_handle h, int iters) {
    uint64_t v = 1;
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        if (fdsafe_eventfd_write(h, 1) != 0 || fdsafe_eventfd_read(h, &v) != 0) exit(1);
    }
    return (now_ns() - t) / iters;
}

/* The floor of any design that counts references (issue 16 asks for one): the raw calls with,
 * around each system call, the two locked instructions a counted reference needs (a
 * compare-and-swap to take it, a fetch_sub to give it back) on a word of their own, and
 * nothing else of fdsafe. */
static _Alignas(64) _Atomic uint64_t reference_word;


static double floor_eventfd(int fd, int iters) {
    uint64_t v = 1;
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        floor_take(&reference_word);
        ssize_t w = write(fd, &v, 8);
        floor_give(&reference_word);
        floor_take(&reference_word);
        ssize_t r = read(fd, &v, 8);
        floor_give(&reference_word);
        if (w != 8 || r != 8) exit(1);
    }
    return (now_ns() - t) / iters;
}

/* The floor of any design that lets a close find the calls in progress without a
 * process-wide barrier (membarrier, signals), counted references or not: each call must
 * publish its use and then see whether a close has begun, a store followed by a load, which
 * x86 orders only with a full fence or a locked instruction. Here one store and one fence
 * before each system call and a plain release store after it: half the counted floor's
 * locked instructions. */
static _Alignas(64) _Atomic int in_use_word;

static inline void publish_use(void) {
    atomic_store_explicit(&in_use_word, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

static inline void withdraw_use(void) {
    atomic_store_explicit(&in_use_word, 0, memory_order_release);
}

static void report_fence_floor(const char *name, double *floor_ns, double *raw_ns, int n) {
    printf("%s%s, one-fence floor (raw + a store and a fence before each call, a store after: the least of any "
           "design without a process-wide barrier): floor %.1f ns, raw %.1f ns, ratio %.3f [floor]\n",
           name, process_state, median(floor_ns, n), median(raw_ns, n), median_ratio(floor_ns, raw_ns, n));
}

static double fence_floor_eventfd(int fd, int iters) {
    uint64_t v = 1;
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        publish_use();
        ssize_t w = write(fd, &v, 8);
        withdraw_use();
        publish_use();
        ssize_t r = read(fd, &v, 8);
        withdraw_use();
        if (w != 8 || r != 8) exit(1);
    }
    return (now_ns() - t) / iters;
}

/* RWF_NOSIGNAL (Linux 6.18), for headers that predate it. */
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x100
#endif

/* `nosignal`: write as a program that keeps SIGPIPE away without changing anything
 * process-wide must, with pwritev2(RWF_NOSIGNAL), where the kernel has it. */
static double floor_pipe(int r, int w, int iters, int nosignal) {
    char c = 'x';
    struct iovec one = {&c, 1};
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        floor_take(&reference_word);
        ssize_t wrote = nosignal ? pwritev2(w, &one, 1, -1, RWF_NOSIGNAL) : write(w, &c, 1);
        floor_give(&reference_word);
        floor_take(&reference_word);
        ssize_t got = read(r, &c, 1);
        floor_give(&reference_word);
        if (wrote != 1 || got != 1) exit(1);
    }
    return (now_ns() - t) / iters;
}

/* The floor line: what the counted-reference floor costs against raw in the same batches, and
 * how far fdsafe is above it. */
static void report_floor(const char *name, double *floor_ns, double *raw_ns, double *fdsafe_ns, int n) {
    double r = median_ratio(floor_ns, raw_ns, n), f = median(floor_ns, n), w = median(raw_ns, n);
    double above = median_ratio(fdsafe_ns, floor_ns, n);
    printf("%s%s, counted-reference floor (raw + a CAS and a fetch_sub per call, no fdsafe): floor %.1f ns, "
           "raw %.1f ns, ratio %.3f [floor] (fdsafe / floor %.3f)\n", name, process_state, f, w, r, above);
}

static double raw_pipe(int r, int w, int iters) {
    char c = 'x';
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        if (write(w, &c, 1) != 1 || read(r, &c, 1) != 1) exit(1);
    }
    return (now_ns() - t) / iters;
}

static double fdsafe_pipe(fdsafe_handle r, fdsafe_handle w, int iters) {
    char c = 'x';
    double t = now_ns();
    for (int i = 0; i < iters; i++) {
        if (fdsafe_write(w, &c, 1) != 1 || fdsafe_read(r, &c, 1) != 1) exit(1);
    }
    return (now_ns() - t) / iters;
}

/* Batches alternate, so batch i of fdsafe and batch i of raw ran side by side: the median of
 * their ratios is steadier than the ratio of the medians when the machine drifts. */
static void report_paired(const char *name, double *fdsafe_ns, double *raw_ns, int n, const char *target) {
    double r = median_ratio(fdsafe_ns, raw_ns, n), f = median(fdsafe_ns, n), w = median(raw_ns, n);
    printf("%s%s: fdsafe %.1f ns, raw %.1f ns, ratio %.3f [target %s] (%d paired batches, overhead %+.1f ns)\n", name,
           process_state, f, w, r, target, n, f - w);
}

static void report(const char *name, double fdsafe_ns, double raw_ns) {
    printf("%-34s fdsafe %8.1f ns   raw %8.1f ns   ratio %.3f   overhead %+6.1f ns\n", name, fdsafe_ns, raw_ns,
           fdsafe_ns / raw_ns, fdsafe_ns - raw_ns);
}

/* The raw system calls use the handle's own descriptor (borrowed), so both sides work on the
 * same kernel object and differ only by what fdsafe adds. */
static void bench_eventfd(void) {
    fdsafe_handle h;
    check(fdsafe_eventfd_create(0, 0, &h), "eventfd");
    int raw = (int)fdsafe_fd_borrow(h);
    enum { N = BATCHES * 5 };
    double a[N], b[N], c[N], d[N], e[N];
    for (int i = 0; i < N; i++) {
        b[i] = raw_eventfd(raw, 30000);
        a[i] = fdsafe_eventfd(h, 30000);
        c[i] = floor_eventfd(raw, 30000);
        d[i] = raw_eventfd(raw, 30000);
        e[i] = fence_floor_eventfd(raw, 30000);
    }
    report_paired("eventfd write+read", a, b, N, "<= 1.05, goal 1.03");
    report_floor("eventfd write+read", c, d, a, N);
    report_fence_floor("eventfd write+read", e, d, N);
    fdsafe_close(h);
}

/* `guarded`: fdsafe keeps SIGPIPE away per write (the default mode). Its floor is then also
 * given with the writes a raw program that does the same without touching the process's
 * disposition makes (pwritev2 with RWF_NOSIGNAL), when the kernel has it. */
static void bench_pipe(const char *name, int guarded) {
    fdsafe_handle r, w;
    check(fdsafe_pipe_create(0, &r, &w), "pipe");
    int raw_r = (int)fdsafe_fd_borrow(r), raw_w = (int)fdsafe_fd_borrow(w);
    char probe = 'x';
    struct iovec one = {&probe, 1};
    int nosignal = guarded && pwritev2(raw_w, &one, 1, -1, RWF_NOSIGNAL) == 1 && read(raw_r, &probe, 1) == 1;
    enum { N = BATCHES * 5 };
    double a[N], b[N], c[N], d[N], e[N];
    for (int i = 0; i < N; i++) {
        b[i] = raw_pipe(raw_r, raw_w, 30000);
        a[i] = fdsafe_pipe(r, w, 30000);
        c[i] = floor_pipe(raw_r, raw_w, 30000, 0);
        if (nosignal) e[i] = floor_pipe(raw_r, raw_w, 30000, 1);
        d[i] = raw_pipe(raw_r, raw_w, 30000);
    }
    report_paired(name, a, b, N, "<= 1.05, goal 1.03");
    report_floor(name, c, d, a, N);
    if (nosignal)
        printf("%s%s, same floor with RWF_NOSIGNAL writes (what keeping SIGPIPE away per write costs a raw "
               "program): floor %.1f ns, raw %.1f ns, ratio %.3f [floor] (fdsafe / floor %.3f)\n", name,
               process_state, median(e, N), median(d, N), median_ratio(e, d, N), median_ratio(a, e, N));
    fdsafe_close(r);
    fdsafe_close(w);
}

/* ---- handle lookups, alone and from two threads at once ----
 * Every thread here looks up handles the main thread created: whether lookups by threads
 * other than the creator scale, on their own handles and on one shared handle. */

enum lookup { BORROW, KIND };

struct lookup_job {
    fdsafe_handle handle;
    enum lookup what;
    int raw; /* the control: the same memory work on a private slot, no fdsafe */
    long iters;
    double ns_per_call;     /* wall clock */
    double cpu_ns_per_call; /* the thread's own CPU time: what it costs when it runs */
    atomic_int *go;
};

static double thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The raw control: the least memory work a lookup can do, on a slot of the thread's own,
 * with no table: read a generation and a descriptor, or (counted) also take and drop a count
 * with two atomic read-modify-writes, which is what every fdsafe lookup does (a borrow too,
 * since it holds the handle while it reads the number). */
struct raw_slot {
    _Atomic uint64_t generation;
    atomic_int count;
    int fd;
} __attribute__((aligned(64)));

static __attribute__((noinline)) int raw_lookup(struct raw_slot *slot, uint64_t generation, int counted) {
    if (counted) atomic_fetch_add_explicit(&slot->count, 1, memory_order_acquire);
    int fd = atomic_load_explicit(&slot->generation, memory_order_acquire) == generation ? slot->fd : -9;
    if (counted) atomic_fetch_sub_explicit(&slot->count, 1, memory_order_release);
    return fd;
}

static long raw_lookups(enum lookup what, long iters) {
    static _Thread_local struct raw_slot slot = {7, 0, 3};
    struct raw_slot *s = &slot;
    long sum = 0;
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+r"(s)); /* keep the loads in the loop */
        sum += raw_lookup(s, 7, what == KIND);
    }
    return sum;
}

static void *lookup_loop(void *arg) {
    struct lookup_job *job = arg;
    while (!atomic_load(job->go)) {
    }
    fdsafe_handle handle = job->handle;
    long sum = 0;
    double t = now_ns(), c = thread_cpu_ns();
    if (job->raw) {
        sum = raw_lookups(job->what, job->iters);
    } else {
        for (long i = 0; i < job->iters; i++) {
            sum += job->what == BORROW ? fdsafe_fd_borrow(handle) : fdsafe_handle_kind(handle);
        }
    }
    job->ns_per_call = (now_ns() - t) / (double)job->iters;
    job->cpu_ns_per_call = (thread_cpu_ns() - c) / (double)job->iters;
    if (sum < 0) exit(1);
    return NULL;
}

/* Returns ns per call with `threads` threads (the slowest thread's wall clock); handles[i] is
 * thread i's handle. `*cpu` gets the slowest thread's CPU time per call. */
static double lookups(enum lookup what, int raw, fdsafe_handle *handles, int threads, double *cpu) {
    atomic_int go = 0;
    struct lookup_job jobs[2];
    pthread_t tid[2];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct lookup_job){handles[i], what, raw, 5000000, 0, 0, &go};
        pthread_create(&tid[i], NULL, lookup_loop, &jobs[i]);
    }
    atomic_store(&go, 1);
    double worst = 0;
    *cpu = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        if (jobs[i].ns_per_call > worst) worst = jobs[i].ns_per_call;
        if (jobs[i].cpu_ns_per_call > *cpu) *cpu = jobs[i].cpu_ns_per_call;
    }
    return worst;
}

/* Each figure is the median of ROUNDS rounds. A round runs the raw control and fdsafe, each
 * on 1 thread and then 2, back to back, and its ratios are taken within it: the host places
 * a shared machine's two vCPUs, and for seconds at a time they can be one core's two
 * hyperthreads, where raw code scales only x1.4-1.6 too. */
enum { ROUNDS = 11 };

/* One case's figures over the rounds: wall clock and CPU time per call, 1 thread and 2. */
struct scaling {
    double one[ROUNDS], two[ROUNDS], cpu_one[ROUNDS], cpu_two[ROUNDS];
    double wall[ROUNDS], cpu[ROUNDS]; /* 2-thread throughput over 1-thread, per round */
};

/* Round r of one case: 1 thread, then 2 (handles[i] is thread i's handle). */
static void measure(struct scaling *s, int r, enum lookup what, int raw, fdsafe_handle *handles) {
    s->one[r] = lookups(what, raw, handles, 1, &s->cpu_one[r]);
    s->two[r] = lookups(what, raw, handles, 2, &s->cpu_two[r]);
    s->wall[r] = 2 * s->one[r] / s->two[r];
    s->cpu[r] = 2 * s->cpu_one[r] / s->cpu_two[r];
}

static void bench_lookups(void) {
    fdsafe_handle own[2], shared[2];
    check(fdsafe_eventfd_create(0, 0, &own[0]), "eventfd");
    check(fdsafe_eventfd_create(0, 0, &own[1]), "eventfd");
    shared[0] = shared[1] = own[0];
    const char *names[2] = {"fdsafe_fd_borrow", "fdsafe_handle_kind"};
    for (int what = BORROW; what <= KIND; what++) {
        static struct scaling raw, mine, same;
        double relative[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            measure(&raw, r, (enum lookup)what, 1, own);
            measure(&mine, r, (enum lookup)what, 0, own);
            measure(&same, r, (enum lookup)what, 0, shared);
            relative[r] = mine.wall[r] / raw.wall[r];
        }
        printf("%-36s 1 thread %5.1f ns/call; 2 threads, own handles %5.1f ns/call (throughput x%.2f)", names[what],
               median_of(mine.one, ROUNDS), median_of(mine.two, ROUNDS), median_of(mine.wall, ROUNDS));
        printf("; 2 threads, one handle %5.1f ns/call (x%.2f)", median_of(same.two, ROUNDS),
               median_of(same.wall, ROUNDS));
        /* CPU time shows whether the threads slow each other down when they do run at once. */
        printf("\n%-36s CPU time per call: 1 thread %5.1f ns; 2 threads, own handles %5.1f ns (scaling x%.2f)", "",
               median_of(mine.cpu_one, ROUNDS), median_of(mine.cpu_two, ROUNDS), median_of(mine.cpu, ROUNDS));
        printf("; one handle %5.1f ns (x%.2f)", median_of(same.cpu_two, ROUNDS), median_of(same.cpu, ROUNDS));
        printf("\n%-36s raw control, same rounds: 1 thread %5.1f ns; 2 threads %5.1f ns (throughput x%.2f); "
               "fdsafe's scaling over raw's %.2f\n",
               "", median_of(raw.one, ROUNDS), median_of(raw.two, ROUNDS), median_of(raw.wall, ROUNDS),
               median_of(relative, ROUNDS));
    }
    fdsafe_close(own[0]);
    fdsafe_close(own[1]);
}

/* ---- descriptor passing (SCM_RIGHTS) over a Unix stream pair ---- */

/* Passing is timed in the thread's CPU time (user + system): one thread that never blocks
 * (each send precedes its receive, and the kernel does the work of both calls, and of each
 * close, in that thread), so its CPU time is the work itself. Wall time also counted the time
 * the shared machine gave to other processes, which moved the fdsafe/raw ratios by +-0.1
 * between runs. */
static double cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double raw_pass(int a, int b, const int *fds, int count, int messages) {
    char byte = 'x';
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 253)];
    } control;
    double t = cpu_ns();
    for (int m = 0; m < messages; m++) {
        struct iovec iov = {&byte, 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                             .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)count);
        if (sendmsg(a, &msg, MSG_NOSIGNAL) != 1) exit(1);
        msg.msg_controllen = sizeof control.buf;
        if (recvmsg(b, &msg, MSG_CMSG_CLOEXEC) != 1) exit(1);
        c = CMSG_FIRSTHDR(&msg); /* what a careful receiver checks, as fdsafe does */
        if ((msg.msg_flags & MSG_CTRUNC) || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) exit(1);
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[253];
        memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) close(got[i]);
    }
    return (cpu_ns() - t) / ((double)messages * count);
}

/* kind 0: detect each descriptor's kind (fdsafe_socket_recv_handles); otherwise
 * fdsafe_socket_recv_handles_as with that kind (FDSAFE_KIND_OTHER: no detection). The
 * received handles are closed one fdsafe_close each, or with one fdsafe_close_many per
 * message (`many`). */
static double fdsafe_pass(fdsafe_handle a, fdsafe_handle b, const fdsafe_handle *hs, int count, int messages,
                          uint32_t kind, int many) {
    char byte = 'x';
    fdsafe_handle got[253];
    fdsafe_recv_info info;
    double t = cpu_ns();
    for (int m = 0; m < messages; m++) {
        if (fdsafe_socket_send_handles(a, &byte, 1, hs, (size_t)count, 0) != 1) exit(1);
        int64_t rc = kind ? fdsafe_socket_recv_handles_as(b, &byte, 1, 0, kind, got, 253, &info)
                          : fdsafe_socket_recv_handles(b, &byte, 1, 0, got, 253, &info);
        if (rc != 1 || info.handle_count != (size_t)count) exit(1);
        if (many) {
            if (fdsafe_close_many(got, info.handle_count) != count) exit(1);
        } else {
            for (size_t i = 0; i < info.handle_count; i++) fdsafe_close(got[i]);
        }
    }
    return (cpu_ns() - t) / ((double)messages * count);
}

/* What is passed: eventfds, or connected Unix stream sockets (a daemon handing clients on). */
static void passing(int sockets) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) exit(1);
    fdsafe_handle a, b, hs[253], peers[253];
    int fds[253];
    check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b), "pair");
    for (int i = 0; i < 253; i++) {
        if (sockets) {
            check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &hs[i], &peers[i]), "pair");
            fds[i] = (int)fdsafe_fd_borrow(hs[i]);
        } else {
            check(fdsafe_eventfd_create(0, 0, &hs[i]), "eventfd");
            fds[i] = eventfd(0, EFD_CLOEXEC);
        }
    }
    const char *what = sockets ? "sockets" : "eventfds";
    uint32_t expected = sockets ? FDSAFE_KIND_UNIX_STREAM : FDSAFE_KIND_EVENTFD;
    int counts[] = {1, 64, 253};
    for (int c = 0; c < 3; c++) {
        int count = counts[c], messages = 20000 / count + 100;
        enum { N = 7 };
        double x[N], y[N], z[N], m[N], k[N];
        /* One untimed round of each first: the first batches of a fresh process (page faults
         * of the table's pages, cold caches) otherwise land in the timed ones. */
        raw_pass(pair[0], pair[1], fds, count, messages);
        fdsafe_pass(a, b, hs, count, messages, 0, 0);
        fdsafe_pass(a, b, hs, count, messages, FDSAFE_KIND_OTHER, 0);
        fdsafe_pass(a, b, hs, count, messages, FDSAFE_KIND_OTHER, 1);
        fdsafe_pass(a, b, hs, count, messages, expected, 0);
        for (int i = 0; i < N; i++) {
            y[i] = raw_pass(pair[0], pair[1], fds, count, messages);
            x[i] = fdsafe_pass(a, b, hs, count, messages, 0, 0);
            z[i] = fdsafe_pass(a, b, hs, count, messages, FDSAFE_KIND_OTHER, 0);
            m[i] = fdsafe_pass(a, b, hs, count, messages, FDSAFE_KIND_OTHER, 1);
            k[i] = fdsafe_pass(a, b, hs, count, messages, expected, 0);
        }
        double f = median(x, N), r = median(y, N), o = median(z, N), om = median(m, N), e = median(k, N);
        printf("SCM_RIGHTS %3d %-8s/message  raw %8.0f fds/s | detect %8.0f (ratio %.3f) | "
               "KIND_OTHER %8.0f (ratio %.3f), with close_many %8.0f (ratio %.3f) | expected kind %8.0f (ratio %.3f)\n",
               count, what, 1e9 / r, 1e9 / f, r / f, 1e9 / o, r / o, 1e9 / om, r / om, 1e9 / e, r / e);
    }
    for (int i = 0; i < 253; i++) {
        fdsafe_close(hs[i]);
        if (sockets) fdsafe_close(peers[i]);
        else close(fds[i]);
    }
    fdsafe_close(a);
    fdsafe_close(b);
    close(pair[0]);
    close(pair[1]);
}

static void bench_passing(void) {
    passing(0);
    passing(1);
}

/* ---- splice versus read+write copying, 64 KiB chunks ---- */

enum { CHUNK = 65536 };
static char chunk[CHUNK];

static void raw_all(ssize_t (*io)(int, void *, size_t), int fd, size_t len) {
    for (size_t done = 0; done < len;) {
        ssize_t n = io(fd, chunk + done, len - done);
        if (n <= 0) exit(1);
        done += (size_t)n;
    }
}

static ssize_t write_fn(int fd, void *buf, size_t len) {
    return write(fd, buf, len);
}

/* Pipe to /dev/null: each chunk is written into a pipe, then moved out by splice or by
 * read+write; GB/s of the whole. `fdsafe_api` picks handles and fdsafe calls or raw ones. */
static double pipe_to_null(int use_splice, int fdsafe_api, int rounds) {
    fdsafe_handle r, w, null;
    check(fdsafe_pipe_create(0, &r, &w), "pipe");
    check(fdsafe_chardev_open("/dev/null", FDSAFE_O_WRONLY, &null), "/dev/null");
    int rf = (int)fdsafe_fd_borrow(r), wf = (int)fdsafe_fd_borrow(w), nf = (int)fdsafe_fd_borrow(null);
    double t = now_ns();
    for (int i = 0; i < rounds; i++) {
        if (fdsafe_api) {
            if (fdsafe_write(w, chunk, CHUNK) != CHUNK) exit(1);
            if (use_splice) {
                for (int64_t left = CHUNK; left > 0;) {
                    int64_t n = fdsafe_splice(r, NULL, null, NULL, (size_t)left, 0);
                    if (n <= 0) exit(1);
                    left -= n;
                }
            } else {
                if (fdsafe_read(r, chunk, CHUNK) != CHUNK || fdsafe_write(null, chunk, CHUNK) != CHUNK) exit(1);
            }
        } else {
            raw_all(write_fn, wf, CHUNK);
            if (use_splice) {
                for (ssize_t left = CHUNK; left > 0;) {
                    ssize_t n = splice(rf, NULL, nf, NULL, (size_t)left, 0);
                    if (n <= 0) exit(1);
                    left -= n;
                }
            } else {
                raw_all(read, rf, CHUNK);
                raw_all(write_fn, nf, CHUNK);
            }
        }
    }
    double ns = now_ns() - t;
    fdsafe_close(r);
    fdsafe_close(w);
    fdsafe_close(null);
    return (double)rounds * CHUNK / ns; /* bytes per ns = GB/s */
}

/* Socket to socket: a relay moves each chunk from one Unix stream socket to another, by
 * splice through a pipe or by read+write; a producer and a consumer (the same in every
 * variant) write and read the ends. GB/s of the whole. */
static double socket_relay(int use_splice, int fdsafe_api, int rounds) {
    fdsafe_handle a, b, c, d, r, w;
    check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b), "pair");
    check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &c, &d), "pair");
    check(fdsafe_pipe_create(0, &r, &w), "pipe");
    int af = (int)fdsafe_fd_borrow(a), bf = (int)fdsafe_fd_borrow(b), cf = (int)fdsafe_fd_borrow(c);
    int df = (int)fdsafe_fd_borrow(d), rf = (int)fdsafe_fd_borrow(r), wf = (int)fdsafe_fd_borrow(w);
    static char relay[CHUNK];
    double t = now_ns();
    for (int i = 0; i < rounds; i++) {
        raw_all(write_fn, af, CHUNK); /* producer */
        for (int64_t left = CHUNK; left > 0;) {
            int64_t n;
            if (use_splice) {
                n = fdsafe_api ? fdsafe_splice(b, NULL, w, NULL, (size_t)left, 0) : splice(bf, NULL, wf, NULL, (size_t)left, 0);
                if (n <= 0) exit(1);
                for (int64_t moved = 0; moved < n;) {
                    int64_t m = fdsafe_api ? fdsafe_splice(r, NULL, c, NULL, (size_t)(n - moved), 0)
                                           : splice(rf, NULL, cf, NULL, (size_t)(n - moved), 0);
                    if (m <= 0) exit(1);
                    moved += m;
                }
            } else {
                n = fdsafe_api ? fdsafe_read(b, relay, (size_t)left) : read(bf, relay, (size_t)left);
                if (n <= 0) exit(1);
                for (int64_t sent = 0; sent < n;) {
                    int64_t m = fdsafe_api ? fdsafe_write(c, relay + sent, (size_t)(n - sent)) : write(cf, relay + sent, (size_t)(n - sent));
                    if (m <= 0) exit(1);
                    sent += m;
                }
            }
            left -= n;
        }
        raw_all(read, df, CHUNK); /* consumer */
    }
    double ns = now_ns() - t;
    fdsafe_handle all[] = {a, b, c, d, r, w};
    for (int i = 0; i < 6; i++) fdsafe_close(all[i]);
    return (double)rounds * CHUNK / ns;
}

static void bench_splice(void) {
    enum { N = 9, ROUNDS = 3000 };
    double (*cases[2])(int, int, int) = {pipe_to_null, socket_relay};
    const char *names[2] = {"pipe -> /dev/null", "socket -> socket"};
    for (int c = 0; c < 2; c++) {
        double v[4][N];
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 4; k++) v[k][i] = cases[c](k & 1, k >> 1, ROUNDS);
        /* k: bit 0 splice, bit 1 fdsafe */
        double raw_copy = median(v[0], N), raw_splice = median(v[1], N);
        double f_copy = median(v[2], N), f_splice = median(v[3], N);
        printf("splice %-18s 64 KiB: fdsafe splice %5.2f GB/s, raw splice %5.2f GB/s (ratio %.3f); "
               "fdsafe read+write %5.2f GB/s, raw read+write %5.2f GB/s (ratio %.3f); splice/copy x%.2f\n",
               names[c], f_splice, raw_splice, f_splice / raw_splice, f_copy, raw_copy, f_copy / raw_copy,
               f_splice / f_copy);
    }
}

/* ---- epoll: one ready among N registered ---- */

static void bench_epoll(int n) {
    fdsafe_handle ep, *hs = malloc(sizeof *hs * (size_t)n);
    check(fdsafe_epoll_create(&ep), "epoll");
    int raw = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < n; i++) {
        check(fdsafe_eventfd_create(0, 0, &hs[i]), "eventfd");
        check(fdsafe_epoll_add(ep, hs[i], FDSAFE_EPOLL_IN, (uint64_t)i), "epoll_add");
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (epoll_ctl(raw, EPOLL_CTL_ADD, fdsafe_fd_borrow(hs[i]), &ev) != 0) exit(1);
    }
    check(fdsafe_eventfd_write(hs[n / 2], 1), "ready"); /* level-triggered: stays ready */
    double a[BATCHES], b[BATCHES], c[BATCHES], d[BATCHES], e[BATCHES];
    for (int batch = 0; batch < BATCHES; batch++) {
        struct epoll_event rev[8];
        double t = now_ns();
        for (int i = 0; i < 20000; i++)
            if (epoll_wait(raw, rev, 8, 0) != 1) exit(1);
        b[batch] = (now_ns() - t) / 20000;
        fdsafe_epoll_event fev[8];
        t = now_ns();
        for (int i = 0; i < 20000; i++)
            if (fdsafe_epoll_wait(ep, fev, 8, 0) != 1) exit(1);
        a[batch] = (now_ns() - t) / 20000;
        t = now_ns();
        for (int i = 0; i < 20000; i++) { /* the floor: the set's counted reference alone */
            floor_take(&reference_word);
            int got = epoll_wait(raw, rev, 8, 0);
            floor_give(&reference_word);
            if (got != 1) exit(1);
        }
        c[batch] = (now_ns() - t) / 20000;
        t = now_ns();
        for (int i = 0; i < 20000; i++)
            if (epoll_wait(raw, rev, 8, 0) != 1) exit(1);
        d[batch] = (now_ns() - t) / 20000;
        t = now_ns();
        for (int i = 0; i < 20000; i++) {
            publish_use();
            int got = epoll_wait(raw, rev, 8, 0);
            withdraw_use();
            if (got != 1) exit(1);
        }
        e[batch] = (now_ns() - t) / 20000;
    }
    char name[64];
    snprintf(name, sizeof name, "epoll wait, 1 ready of %d", n);
    report_paired(name, a, b, BATCHES, "<= 1.05");
    report_floor(name, c, d, a, BATCHES);
    report_fence_floor(name, e, d, BATCHES);
    close(raw);
    /* Closing a registered handle also removes it from the set (the close hook); how that
     * grows with the set's size. bench/epoll_close.c compares it with raw EPOLL_CTL_DEL + close. */
    double t = now_ns();
    for (int i = 0; i < n; i++) check(fdsafe_close(hs[i]), "close");
    double registered = (now_ns() - t) / n;
    if (n >= 1000) {
        for (int i = 0; i < n; i++) check(fdsafe_eventfd_create(0, 0, &hs[i]), "eventfd");
        t = now_ns();
        for (int i = 0; i < n; i++) check(fdsafe_close(hs[i]), "close");
        double plain = (now_ns() - t) / n;
        printf("%-34s registered %6.0f ns   unregistered %6.0f ns   deregistration %+5.0f ns per close\n",
               "close with automatic deregistration", registered, plain, registered - plain);
    }
    fdsafe_close(ep);
    free(hs);
}

/* ---- epoll waits in several threads at once ---- */

/* The event-loop-per-thread pattern (each thread on a set of its own): nothing is shared
 * between the threads' sets, so any slowdown beyond one thread's figure is a cache line fdsafe
 * makes them share. And a pool of threads waiting on one set, which share what the kernel
 * shares (the set's locks) and should share nothing of fdsafe's but the set's handle. */
struct wait_set {
    fdsafe_handle ep, ev;
    int raw;
};

static struct {
    pthread_barrier_t start, done;
    int fdsafe, stop;
    struct wait_set *one_set; /* NULL: each thread makes its own */
    double ns[64];
} loops;

static struct wait_set make_wait_set(void) {
    struct wait_set set;
    check(fdsafe_epoll_create(&set.ep), "epoll");
    check(fdsafe_eventfd_create(1, 0, &set.ev), "eventfd"); /* stays readable */
    check(fdsafe_epoll_add(set.ep, set.ev, FDSAFE_EPOLL_IN, 7), "epoll_add");
    set.raw = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event rev = {.events = EPOLLIN, .data.u64 = 7};
    if (set.raw < 0 || epoll_ctl(set.raw, EPOLL_CTL_ADD, fdsafe_fd_borrow(set.ev), &rev) != 0) exit(1);
    return set;
}

static void free_wait_set(struct wait_set set) {
    close(set.raw);
    fdsafe_close(set.ev);
    fdsafe_close(set.ep);
}

static void *wait_loop(void *arg) {
    int me = (int)(intptr_t)arg;
    struct wait_set own = loops.one_set ? *loops.one_set : make_wait_set();
    fdsafe_handle ep = own.ep;
    int raw = own.raw;
    for (;;) {
        pthread_barrier_wait(&loops.start);
        if (loops.stop) break;
        struct epoll_event rv[8];
        fdsafe_epoll_event fv[8];
        double t = now_ns();
        for (int i = 0; i < 20000; i++)
            if ((loops.fdsafe ? fdsafe_epoll_wait(ep, fv, 8, 0) : epoll_wait(raw, rv, 8, 0)) != 1) exit(1);
        loops.ns[me] = (now_ns() - t) / 20000;
        pthread_barrier_wait(&loops.done);
    }
    if (!loops.one_set) free_wait_set(own);
    return NULL;
}

static double wait_batch(int threads, int fdsafe) {
    loops.fdsafe = fdsafe;
    pthread_barrier_wait(&loops.start);
    pthread_barrier_wait(&loops.done);
    double sum = 0;
    for (int i = 0; i < threads; i++) sum += loops.ns[i];
    return sum / threads;
}

static void run_wait_loops(struct wait_set *one_set) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cpus < 2 ? 2 : cpus > 64 ? 64 : (int)cpus;
    pthread_t t[64];
    loops.one_set = one_set;
    loops.stop = 0;
    pthread_barrier_init(&loops.start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&loops.done, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, wait_loop, (void *)(intptr_t)i);
    double a[BATCHES], b[BATCHES];
    for (int batch = 0; batch < BATCHES; batch++) {
        b[batch] = wait_batch(threads, 0);
        a[batch] = wait_batch(threads, 1);
    }
    char name[96];
    snprintf(name, sizeof name, "epoll wait, %d threads at once, %s", threads,
             one_set ? "all on one set with 1 ready of 1" : "each 1 ready of 1 in its own set");
    report_paired(name, a, b, BATCHES, "<= 1.05");
    loops.stop = 1;
    pthread_barrier_wait(&loops.start);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&loops.start);
    pthread_barrier_destroy(&loops.done);
}

static void bench_epoll_threads(void) {
    run_wait_loops(NULL);
    struct wait_set one = make_wait_set();
    run_wait_loops(&one);
    free_wait_set(one);
}

/* ---- scale: churn and many live handles ---- */

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void bench_churn(void) {
    enum { ROUNDS = 1000000 };
    double t = now_ns();
    for (int i = 0; i < ROUNDS; i++) {
        int fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0) exit(1);
        close(fd);
    }
    double raw = (now_ns() - t) / ROUNDS;
    t = now_ns();
    for (int i = 0; i < ROUNDS; i++) {
        fdsafe_handle h;
        check(fdsafe_eventfd_create(0, 0, &h), "eventfd");
        check(fdsafe_close(h), "close");
    }
    report("churn: eventfd create+close x1M", (now_ns() - t) / ROUNDS, raw);
}

/* ---- closing handles another thread created (a thread that has exited; bench/close_busy.c
 * measures the same close while the creator lives and a third thread makes calls) ---- */

enum { CROSS = 2000 };
static fdsafe_handle cross_handles[CROSS];
static int cross_fds[CROSS];
static atomic_int spinning;

static void *create_cross(void *raw) {
    for (int i = 0; i < CROSS; i++) {
        if (raw) cross_fds[i] = eventfd(0, EFD_CLOEXEC);
        else check(fdsafe_eventfd_create(0, 0, &cross_handles[i]), "eventfd");
    }
    return NULL;
}

static void *spin(void *arg) {
    (void)arg;
    while (atomic_load(&spinning)) {
    }
    return NULL;
}

/* ns per close of CROSS descriptors made by a thread that has exited: raw close, fdsafe_close
 * each, or fdsafe_close_many (batches of 500). */
static double cross_close(int how) {
    pthread_t t;
    pthread_create(&t, NULL, create_cross, (void *)(intptr_t)(how == 0));
    pthread_join(t, NULL);
    double start = now_ns();
    if (how == 0) {
        for (int i = 0; i < CROSS; i++) close(cross_fds[i]);
    } else if (how == 1) {
        for (int i = 0; i < CROSS; i++) check(fdsafe_close(cross_handles[i]), "close");
    } else {
        for (int i = 0; i < CROSS; i += 500) check(fdsafe_close_many(cross_handles + i, 500), "close_many");
    }
    return (now_ns() - start) / CROSS;
}

static void bench_cross_close(void) {
    for (int busy = 0; busy < 2; busy++) {
        pthread_t spinner;
        if (busy) {
            atomic_store(&spinning, 1);
            pthread_create(&spinner, NULL, spin, NULL);
        }
        double raw[BATCHES], each[BATCHES], many[BATCHES];
        for (int i = 0; i < BATCHES; i++) {
            raw[i] = cross_close(0);
            each[i] = cross_close(1);
            many[i] = cross_close(2);
        }
        const char *names[2][2] = {{"close, made by another thread", "close_many, made by another"},
                                   {"same, another thread running", "close_many, another running"}};
        report(names[busy][0], median(each, BATCHES), median(raw, BATCHES));
        report(names[busy][1], median(many, BATCHES), median(raw, BATCHES));
        if (busy) {
            atomic_store(&spinning, 0);
            pthread_join(spinner, NULL);
        }
    }
}

static void bench_live(int count) {
    fdsafe_handle *handles = malloc(sizeof *handles * (size_t)count);
    long before = rss_kib();
    double t = now_ns();
    for (int i = 0; i < count; i++) check(fdsafe_eventfd_create(0, 0, &handles[i]), "eventfd");
    double create = (now_ns() - t) / count;
    long after = rss_kib();
    double lookups[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        long sum = 0;
        t = now_ns();
        for (int i = 0; i < count; i++) sum += fdsafe_handle_kind(handles[i]);
        lookups[b] = (now_ns() - t) / count;
        if (sum != (long)count * FDSAFE_KIND_EVENTFD) exit(1);
    }
    t = now_ns();
    for (int i = 0; i < count; i++) check(fdsafe_close(handles[i]), "close");
    double close_ns = (now_ns() - t) / count;
    printf("live %6d handles: create %6.0f ns, lookup %5.1f ns, close %6.0f ns per handle; "
           "process memory +%.0f bytes per handle (fdsafe's share is its slot and object)\n",
           count, create, median(lookups, BATCHES), close_ns, (double)(after - before) * 1024 / count);
    free(handles);
}

static void bench_scale(void) {
    bench_churn();
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    int most = (int)limit.rlim_cur - 64; /* room for the process's own descriptors */
    int sizes[] = {1000, 5000, most};
    for (int i = 0; i < 3; i++) bench_live(sizes[i]);
}

static void bench_pipe_guarded(void) {
    bench_pipe("pipe 1-byte write+read (guard)", 1);
}

/* SIGPIPE ignored process-wide: pipe writes skip their per-write guard. */
static void bench_pipe_ignoring(void) {
    check(fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_IGNORE), "sigpipe mode");
    bench_pipe("pipe 1-byte write+read (ignore)", 0);
    check(fdsafe_sigpipe_mode(FDSAFE_SIGPIPE_GUARD), "sigpipe mode");
}

static void bench_epoll_sizes(void) {
    bench_epoll(1);
    bench_epoll(1000);
    bench_epoll(10000);
}

static void bench_eventfd_threaded(void) {
    become_threaded();
    bench_eventfd();
}

static void bench_pipe_guarded_threaded(void) {
    become_threaded();
    bench_pipe_guarded();
}

static void bench_pipe_ignoring_threaded(void) {
    become_threaded();
    bench_pipe_ignoring();
}

static void bench_epoll_sizes_threaded(void) {
    become_threaded();
    bench_epoll_sizes();
}

/* `bench [case...]` runs the named cases only (for profiling one of them). */
int main(int argc, char **argv) {
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {
        /* One thread first (see "the process's state"), then threaded. */
        {"eventfd", bench_eventfd},
        {"pipe", bench_pipe_guarded},
        {"pipe-ignore", bench_pipe_ignoring},
        {"epoll", bench_epoll_sizes},
        {"eventfd-threaded", bench_eventfd_threaded},
        {"pipe-threaded", bench_pipe_guarded_threaded},
        {"pipe-ignore-threaded", bench_pipe_ignoring_threaded},
        {"epoll-threaded", bench_epoll_sizes_threaded},
        {"epoll-threads", bench_epoll_threads},
        {"lookups", bench_lookups},
        {"passing", bench_passing},
        {"splice", bench_splice},
        {"scale", bench_scale},
        {"cross-close", bench_cross_close},
    };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("fdsafe %s benchmark, %ld CPUs, medians of %d batches\n", FDSAFE_VERSION_STRING, cpus, BATCHES);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int wanted = argc == 1;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], cases[c].name) == 0;
        if (wanted) cases[c].run();
    }
    return 0;
}
