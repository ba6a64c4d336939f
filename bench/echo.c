/* Figure 3: an echo server end to end, over TCP on 127.0.0.1. The server has an acceptor
 * thread (its own epoll set, watching the listener) and two worker threads (each with its own
 * epoll set); the acceptor registers each accepted connection in the next worker's set,
 * round-robin, and the worker echoes what it reads and closes the connection at end of
 * stream. So every connection is created on one thread and used and closed on another.
 *
 * The same server is written three times: on raw descriptors, on fdsafe handles, and (as a
 * peer) on libuv (bench/echo_uv.c). All three run at once, each on its own port, and a client
 * process (forked before any thread starts) drives one at a time, in slices:
 *   - persistent: 64 connections to each server, opened once; a slice does request/response
 *     round trips of a 64-byte line on them (one request in flight per connection);
 *   - short: 16 connections at a time, each connecting, sending one line, reading the echo
 *     and closing.
 * A round is one slice per server, in rotating order; slices of 60-80 ms follow each other,
 * so the machine's drift (its vCPUs are shared with other guests) moves all servers alike.
 * Figures are medians over the rounds, ratios the median of the per-round ratios (fdsafe /
 * raw, higher is better). Every slice finishes what it started, so slices never overlap.
 * Client and servers run on one CPU (see pin_to_one_cpu), and the servers' CPU time per
 * round trip or connection is printed too. BENCH_VERBOSE=1 in the environment prints every
 * slice's figures to stderr. */
#include "common.h"
#include "echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROUNDS = 15, PERSISTENT = 64, SHORT_SLOTS = 16 };
/* Slice lengths in ms: each slice warms up for SLICE_WARM_MS, then counts for the rest. */
enum { SLICE_WARM_MS = 10, PERSISTENT_MS = 60, SHORT_MS = 80 };

atomic_int echo_connections;

static _Noreturn void die(const char *what) {
    perror(what);
    exit(1);
}

/* ---------------------------------------------------------------- the client process ---- */

static const char line[ECHO_LINE + 1] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";

static int loopback_socket(int port, int flags) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
    if (fd < 0) die("client socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) die("client connect");
    return fd;
}

static int wait_events(int ep, struct epoll_event *ev, int max) {
    int n = epoll_wait(ep, ev, max, 2000); /* a server that stops answering ends the bench */
    if (n <= 0) {
        fprintf(stderr, "echo client: %s\n", n == 0 ? "no answer from the server for 2 s" : strerror(errno));
        exit(1);
    }
    return n;
}

/* A slice's clock: work goes on until `end`; what completes after `from` is counted. */
struct slice {
    double from, end, t0, rate;
    long done, at_from;
    int stopping;
};

/* A slice's answer: the rate over its counted part, and every operation it completed
 * (warm-up and drain included), to divide the server's CPU time by. */
struct answer {
    double rate;
    long total;
};

static struct slice slice_start(int ms) {
    double t = now_ns();
    return (struct slice){.from = t + SLICE_WARM_MS * 1e6, .end = t + (SLICE_WARM_MS + ms) * 1e6, .at_from = -1};
}

/* Called before each wait; sets `stopping` (and the rate) once the slice is over. */
static void slice_tick(struct slice *s) {
    double t = now_ns();
    if (s->at_from < 0 && t >= s->from) {
        s->at_from = s->done;
        s->t0 = t;
    }
    if (!s->stopping && t >= s->end) {
        s->stopping = 1;
        s->rate = (double)(s->done - s->at_from) / ((t - s->t0) / 1e9);
    }
}

/* The 64 persistent connections to each server, opened once. */
static int persistent_fds[3][PERSISTENT];

static void client_connect(const int *ports, int servers) {
    int one = 1;
    for (int v = 0; v < servers; v++)
        for (int i = 0; i < PERSISTENT; i++) {
            persistent_fds[v][i] = loopback_socket(ports[v], 0); /* blocking: connected on return */
            setsockopt(persistent_fds[v][i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
}

/* Round trips per second over server v's persistent connections. Every connection always
 * has one request in flight; when the slice is over no new requests are sent and the last
 * answers are drained, so slices do not overlap. */
static struct answer client_persistent(int v, int ms) {
    int *fds = persistent_fds[v], got[PERSISTENT], ep = epoll_create1(EPOLL_CLOEXEC);
    char buf[ECHO_LINE];
    for (int i = 0; i < PERSISTENT; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) die("client epoll_ctl");
        got[i] = 0;
    }
    struct slice s = slice_start(ms);
    for (int i = 0; i < PERSISTENT; i++)
        if (send(fds[i], line, ECHO_LINE, MSG_NOSIGNAL) != ECHO_LINE) die("client send");
    for (int in_flight = PERSISTENT; in_flight > 0;) {
        slice_tick(&s);
        struct epoll_event ev[PERSISTENT];
        int n = wait_events(ep, ev, PERSISTENT);
        for (int k = 0; k < n; k++) {
            int i = (int)ev[k].data.u32;
            ssize_t r = recv(fds[i], buf, (size_t)(ECHO_LINE - got[i]), MSG_DONTWAIT);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) die("client recv (persistent)");
            if ((got[i] += (int)r) < ECHO_LINE) continue;
            got[i] = 0;
            s.done++;
            if (s.stopping) in_flight--;
            else {
                if (send(fds[i], line, ECHO_LINE, MSG_NOSIGNAL) != ECHO_LINE) die("client send");
            }
        }
    }
    close(ep);
    return (struct answer){s.rate, s.done};
}

/* Connections per second to the server on `port`, SHORT_SLOTS at a time: connect
 * (non-blocking), send one line when writable, read the echo, close, start the next. */
static struct answer client_short(int port, int ms) {
    struct {
        int fd, got, sending;
    } c[SHORT_SLOTS];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    char buf[ECHO_LINE];
    struct slice s = slice_start(ms);
    for (int i = 0; i < SHORT_SLOTS; i++) {
        c[i].fd = loopback_socket(port, SOCK_NONBLOCK);
        c[i].got = 0;
        c[i].sending = 1;
        struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev) != 0) die("client epoll_ctl");
    }
    for (int open = SHORT_SLOTS; open > 0;) {
        slice_tick(&s);
        struct epoll_event ev[SHORT_SLOTS];
        int n = wait_events(ep, ev, SHORT_SLOTS);
        for (int k = 0; k < n; k++) {
            int i = (int)ev[k].data.u32;
            if (c[i].sending) { /* connected (or failed: then the send fails) */
                if (send(c[i].fd, line, ECHO_LINE, MSG_NOSIGNAL) != ECHO_LINE) die("client send (short)");
                c[i].sending = 0;
                struct epoll_event in = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c[i].fd, &in) != 0) die("client epoll_ctl");
                continue;
            }
            ssize_t r = recv(c[i].fd, buf, (size_t)(ECHO_LINE - c[i].got), 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) die("client recv (short)");
            if ((c[i].got += (int)r) < ECHO_LINE) continue;
            close(c[i].fd); /* the client closes first, as an HTTP/1.0 client would */
            s.done++;
            if (s.stopping) {
                open--;
                continue;
            }
            c[i].fd = loopback_socket(port, SOCK_NONBLOCK);
            c[i].got = 0;
            c[i].sending = 1;
            struct epoll_event out = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &out) != 0) die("client epoll_ctl");
        }
    }
    close(ep);
    return (struct answer){s.rate, s.done};
}

/* What the bench asks the client process, over a pipe; each command but QUIT is answered
 * with a struct answer. */
enum command_type { CONNECT, PERSISTENT_SLICE, SHORT_SLICE, QUIT };
struct command {
    int type, server, ms, ports[3], servers;
};

static _Noreturn void client_main(int commands, int answers) {
    struct command c;
    int ports[3] = {0, 0, 0};
    while (read(commands, &c, sizeof c) == sizeof c && c.type != QUIT) {
        struct answer a = {0, 0};
        if (c.type == CONNECT) {
            memcpy(ports, c.ports, sizeof ports);
            client_connect(ports, c.servers);
        } else if (c.type == PERSISTENT_SLICE) {
            a = client_persistent(c.server, c.ms);
        } else {
            a = client_short(ports[c.server], c.ms);
        }
        if (write(answers, &a, sizeof a) != sizeof a) _exit(1);
    }
    _exit(0); /* closes the persistent connections */
}

/* ------------------------------------------------------------ the raw-descriptor server ---- */

struct raw_server {
    int listener, stop, acceptor_ep, worker_ep[ECHO_WORKERS];
    pthread_t threads[1 + ECHO_WORKERS];
};

struct worker_arg {
    void *server;
    int index;
} raw_args[ECHO_WORKERS], fdsafe_args[ECHO_WORKERS];

static void *raw_acceptor(void *arg) {
    struct raw_server *s = arg;
    int next = 0;
    for (;;) {
        struct epoll_event ev[8];
        int n = epoll_wait(s->acceptor_ep, ev, 8, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("raw acceptor epoll_wait");
        for (int k = 0; k < n; k++) {
            if (ev[k].data.fd == s->stop) return NULL;
            for (;;) {
                int fd = accept4(s->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0 && (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR)) break;
                if (fd < 0) die("raw accept");
                atomic_fetch_add_explicit(&echo_connections, 1, memory_order_relaxed);
                struct epoll_event in = {.events = EPOLLIN, .data.fd = fd};
                if (epoll_ctl(s->worker_ep[next], EPOLL_CTL_ADD, fd, &in) != 0) die("raw epoll_ctl");
                next = (next + 1) % ECHO_WORKERS;
            }
        }
    }
}

/* Sends all of buf; 0 when the connection failed. A full socket buffer (never with 64-byte
 * lines) is waited out with poll. */
static int raw_send_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, -1);
            continue;
        }
        if (w < 0) return 0;
        buf += w;
        len -= (size_t)w;
    }
    return 1;
}

static void *raw_worker(void *arg) {
    struct worker_arg *a = arg;
    struct raw_server *s = a->server;
    int ep = s->worker_ep[a->index];
    static _Thread_local char buf[ECHO_READ];
    for (int stop = 0; !stop;) {
        struct epoll_event ev[64];
        int n = epoll_wait(ep, ev, 64, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("raw worker epoll_wait");
        for (int k = 0; k < n; k++) {
            int fd = ev[k].data.fd;
            if (fd == s->stop) {
                stop = 1;
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0 || !raw_send_all(fd, buf, (size_t)r)) {
                close(fd); /* the kernel drops the registration with the last reference */
                atomic_fetch_sub_explicit(&echo_connections, 1, memory_order_relaxed);
            }
        }
    }
    return NULL;
}

static void *raw_start(int *port_out) {
    struct raw_server *s = calloc(1, sizeof *s);
    s->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(s->listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->listener, ECHO_BACKLOG) != 0 ||
        getsockname(s->listener, (struct sockaddr *)&a, &len) != 0)
        die("raw listen");
    *port_out = ntohs(a.sin_port);
    s->stop = eventfd(0, EFD_CLOEXEC);
    s->acceptor_ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->listener};
    epoll_ctl(s->acceptor_ep, EPOLL_CTL_ADD, s->listener, &ev);
    ev.data.fd = s->stop;
    epoll_ctl(s->acceptor_ep, EPOLL_CTL_ADD, s->stop, &ev);
    for (int i = 0; i < ECHO_WORKERS; i++) {
        s->worker_ep[i] = epoll_create1(EPOLL_CLOEXEC);
        if (s->worker_ep[i] < 0 || epoll_ctl(s->worker_ep[i], EPOLL_CTL_ADD, s->stop, &ev) != 0) die("raw epoll");
        raw_args[i] = (struct worker_arg){s, i};
        pthread_create(&s->threads[1 + i], NULL, raw_worker, &raw_args[i]);
    }
    pthread_create(&s->threads[0], NULL, raw_acceptor, s);
    return s;
}

static void raw_stop(void *server) {
    struct raw_server *s = server;
    uint64_t one = 1;
    if (write(s->stop, &one, 8) != 8) die("raw stop"); /* level-triggered, never read: wakes all */
    for (int i = 0; i <= ECHO_WORKERS; i++) pthread_join(s->threads[i], NULL);
    for (int i = 0; i < ECHO_WORKERS; i++) close(s->worker_ep[i]);
    close(s->acceptor_ep);
    close(s->listener);
    close(s->stop);
    free(s);
}

/* ------------------------------------------------------------------ the fdsafe server ---- */

struct fdsafe_server {
    fdsafe_handle listener, stop, acceptor_ep, worker_ep[ECHO_WORKERS];
    pthread_t threads[1 + ECHO_WORKERS];
};

static void *fdsafe_acceptor(void *arg) {
    struct fdsafe_server *s = arg;
    int next = 0;
    for (;;) {
        fdsafe_epoll_event ev[8];
        int n = fdsafe_epoll_wait(s->acceptor_ep, ev, 8, -1);
        if (n == -EINTR) continue;
        check(n, "fdsafe acceptor epoll_wait");
        for (int k = 0; k < n; k++) {
            if (ev[k].handle == s->stop) return NULL;
            for (;;) {
                fdsafe_handle c;
                int rc = fdsafe_socket_accept(s->listener, FDSAFE_NONBLOCK, &c, NULL, 0, NULL);
                if (rc == -EAGAIN || rc == -ECONNABORTED || rc == -EINTR) break;
                check(rc, "fdsafe accept");
                atomic_fetch_add_explicit(&echo_connections, 1, memory_order_relaxed);
                /* Once registered the connection is the worker's, and the worker, woken by
                 * this very registration, may serve and close it before the add returns:
                 * the add then reports the handle stale (-EBADF). A short connection's
                 * request and end of stream are often waiting already, so this happens. */
                rc = fdsafe_epoll_add(s->worker_ep[next], c, FDSAFE_EPOLL_IN, 0);
                if (rc != -EBADF) check(rc, "fdsafe epoll_add");
                next = (next + 1) % ECHO_WORKERS;
            }
        }
    }
}

static int fdsafe_send_all(fdsafe_handle h, const char *buf, size_t len) {
    while (len > 0) {
        int64_t w = fdsafe_socket_send(h, buf, len, 0);
        if (w == -EAGAIN) {
            fdsafe_wait(h, FDSAFE_EVENT_OUT, -1);
            continue;
        }
        if (w < 0) return 0;
        buf += w;
        len -= (size_t)w;
    }
    return 1;
}

static void *fdsafe_worker(void *arg) {
    struct worker_arg *a = arg;
    struct fdsafe_server *s = a->server;
    fdsafe_handle ep = s->worker_ep[a->index];
    static _Thread_local char buf[ECHO_READ];
    for (int stop = 0; !stop;) {
        fdsafe_epoll_event ev[64];
        int n = fdsafe_epoll_wait(ep, ev, 64, -1);
        if (n == -EINTR) continue;
        check(n, "fdsafe worker epoll_wait");
        for (int k = 0; k < n; k++) {
            fdsafe_handle h = ev[k].handle;
            if (h == s->stop) {
                stop = 1;
                continue;
            }
            int64_t r = fdsafe_socket_recv(h, buf, sizeof buf, 0);
            if (r == -EAGAIN) continue;
            if (r <= 0 || !fdsafe_send_all(h, buf, (size_t)r)) {
                check(fdsafe_close(h), "fdsafe close"); /* also leaves the epoll set */
                atomic_fetch_sub_explicit(&echo_connections, 1, memory_order_relaxed);
            }
        }
    }
    return NULL;
}

static void *fdsafe_start(int *port_out) {
    struct fdsafe_server *s = calloc(1, sizeof *s);
    check(fdsafe_tcp_listen("127.0.0.1:0", ECHO_BACKLOG, FDSAFE_NONBLOCK, &s->listener), "fdsafe listen");
    char address[64];
    check(fdsafe_socket_local_address(s->listener, address, sizeof address), "fdsafe local address");
    *port_out = atoi(strrchr(address, ':') + 1);
    check(fdsafe_eventfd_create(0, 0, &s->stop), "fdsafe eventfd");
    check(fdsafe_epoll_create(&s->acceptor_ep), "fdsafe epoll");
    check(fdsafe_epoll_add(s->acceptor_ep, s->listener, FDSAFE_EPOLL_IN, 0), "fdsafe epoll_add");
    check(fdsafe_epoll_add(s->acceptor_ep, s->stop, FDSAFE_EPOLL_IN, 0), "fdsafe epoll_add");
    for (int i = 0; i < ECHO_WORKERS; i++) {
        check(fdsafe_epoll_create(&s->worker_ep[i]), "fdsafe epoll");
        check(fdsafe_epoll_add(s->worker_ep[i], s->stop, FDSAFE_EPOLL_IN, 0), "fdsafe epoll_add");
        fdsafe_args[i] = (struct worker_arg){s, i};
        pthread_create(&s->threads[1 + i], NULL, fdsafe_worker, &fdsafe_args[i]);
    }
    pthread_create(&s->threads[0], NULL, fdsafe_acceptor, s);
    return s;
}

static void fdsafe_stop(void *server) {
    struct fdsafe_server *s = server;
    check(fdsafe_eventfd_write(s->stop, 1), "fdsafe stop");
    for (int i = 0; i <= ECHO_WORKERS; i++) pthread_join(s->threads[i], NULL);
    for (int i = 0; i < ECHO_WORKERS; i++) fdsafe_close(s->worker_ep[i]);
    fdsafe_close(s->acceptor_ep);
    fdsafe_close(s->listener);
    fdsafe_close(s->stop);
    free(s);
}

/* ------------------------------------------------------------------------ the runs ---- */

#ifdef ECHO_LIBUV
enum { VARIANTS = 3 };
#else
enum { VARIANTS = 2 };
#ifndef ECHO_NO_LIBUV
#define ECHO_NO_LIBUV "built without libuv"
#endif
#endif
static const struct {
    const char *name;
    void *(*start)(int *);
    void (*stop)(void *);
} variants[3] = {
    {"raw", raw_start, raw_stop},
    {"fdsafe", fdsafe_start, fdsafe_stop},
#ifdef ECHO_LIBUV
    {"libuv", echo_uv_start, echo_uv_stop},
#endif
};

static int to_client, from_client;

static struct answer ask(struct command c) {
    struct answer a;
    if (write(to_client, &c, sizeof c) != sizeof c || read(from_client, &a, sizeof a) != sizeof a) {
        fprintf(stderr, "echo: the client process failed\n");
        exit(1);
    }
    return a;
}

/* This process's CPU time: the servers' threads (the main thread only waits on the client). */
static double server_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One figure: ROUNDS rounds (after one untimed) of one slice per server, in rotating order.
 * rates[v][round] is the client's rate, cpu[v][round] the servers' CPU time per operation. */
static void measure(int type, int ms, double (*rates)[ROUNDS], double (*cpu)[ROUNDS]) {
    for (int round = -1; round < ROUNDS; round++) {
        for (int k = 0; k < VARIANTS; k++) {
            int v = (round + 1 + k) % VARIANTS; /* rotate which server goes first */
            double c0 = server_cpu_ns();
            struct answer a = ask((struct command){.type = type, .server = v, .ms = ms});
            if (round < 0) continue;
            rates[v][round] = a.rate;
            cpu[v][round] = (server_cpu_ns() - c0) / (double)a.total;
            if (getenv("BENCH_VERBOSE"))
                fprintf(stderr, "  %s round %2d %-6s %9.0f/s, server CPU %6.0f ns per operation\n",
                        type == SHORT_SLICE ? "short" : "persistent", round, variants[v].name, a.rate,
                        cpu[v][round]);
        }
    }
}

static double median_ratio_rounds(double (*x)[ROUNDS], int a, int b) {
    return median_ratio(x[a], x[b], ROUNDS);
}

/* Puts this process, and so the client it forks and every server thread, on one CPU (the
 * last it may use). On this 2-vCPU guest, round trips between vCPUs go through the host's
 * scheduling of them: with the client and the servers spread over both, the same server's
 * rate moved by 10-30% between consecutive slices and the fdsafe/raw ratio by +-0.1
 * between runs, against +-0.02 on one CPU. On one CPU the rate measures the CPU cost of a
 * round trip, client's and server's together; the server's own share is printed beside it.
 * ECHO_UNPINNED=1 in the environment leaves the placement to the scheduler. */
static const char *pin_to_one_cpu(void) {
    static char what[64];
    cpu_set_t set;
    if (getenv("ECHO_UNPINNED") || sched_getaffinity(0, sizeof set, &set) != 0) return "unpinned";
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set)) cpu = i;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return "unpinned (sched_setaffinity failed)";
    snprintf(what, sizeof what, "client and servers pinned to CPU %d", cpu);
    return what;
}

int main(void) {
    const char *placement = pin_to_one_cpu();
    int commands[2], answers[2];
    if (pipe2(commands, O_CLOEXEC) != 0 || pipe2(answers, O_CLOEXEC) != 0) die("pipe");
    fflush(stdout);
    pid_t client = fork(); /* before any thread or handle exists */
    if (client < 0) die("fork");
    if (client == 0) {
        close(commands[1]);
        close(answers[0]);
        client_main(commands[0], answers[1]);
    }
    close(commands[0]);
    close(answers[1]);
    to_client = commands[1];
    from_client = answers[0];

    printf("-- echo server over TCP on 127.0.0.1, acceptor + %d workers, driven by a client process: "
           "%d persistent connections (64-byte round trips) and %d-at-a-time short connections; "
           "medians of %d rounds, one %d ms / %d ms slice per server each, servers alternating; %s\n",
           ECHO_WORKERS, PERSISTENT, SHORT_SLOTS, ROUNDS, PERSISTENT_MS, SHORT_MS, placement);
    fflush(stdout);
    /* All servers run at once (idle ones wait in epoll_wait); the client drives one at a time. */
    void *servers[3];
    struct command connect = {.type = CONNECT, .servers = VARIANTS};
    for (int v = 0; v < VARIANTS; v++) servers[v] = variants[v].start(&connect.ports[v]);
    ask(connect);
    double rt[3][ROUNDS], cps[3][ROUNDS], rt_cpu[3][ROUNDS], cps_cpu[3][ROUNDS];
    measure(PERSISTENT_SLICE, PERSISTENT_MS, rt, rt_cpu);
    measure(SHORT_SLICE, SHORT_MS, cps, cps_cpu);
    struct command quit = {.type = QUIT};
    if (write(to_client, &quit, sizeof quit) != sizeof quit) die("client quit");
    waitpid(client, NULL, 0);
    /* Let the servers close what the client closed before stopping them. */
    double deadline = now_ns() + 2e9;
    while (atomic_load(&echo_connections) > 0 && now_ns() < deadline) usleep(1000);
    if (atomic_load(&echo_connections) > 0) fprintf(stderr, "echo: %d connections left open\n", echo_connections);
    for (int v = 0; v < VARIANTS; v++) variants[v].stop(servers[v]);

    enum { RAW, FDSAFE, LIBUV };
    figure_rate("echo, 64 persistent connections", median_of(rt[FDSAFE], ROUNDS), median_of(rt[RAW], ROUNDS),
                "round trips/s", median_ratio_rounds(rt, FDSAFE, RAW), ">= 0.97");
    printf("  server CPU per round trip: fdsafe %.0f ns, raw %.0f ns, fdsafe/raw %.3f\n", median_of(rt_cpu[FDSAFE], ROUNDS),
           median_of(rt_cpu[RAW], ROUNDS), median_ratio_rounds(rt_cpu, FDSAFE, RAW));
    figure_rate("echo, short connections", median_of(cps[FDSAFE], ROUNDS), median_of(cps[RAW], ROUNDS),
                "connections/s", median_ratio_rounds(cps, FDSAFE, RAW), ">= 0.97");
    printf("  server CPU per connection: fdsafe %.0f ns, raw %.0f ns, fdsafe/raw %.3f\n",
           median_of(cps_cpu[FDSAFE], ROUNDS), median_of(cps_cpu[RAW], ROUNDS),
           median_ratio_rounds(cps_cpu, FDSAFE, RAW));
#ifdef ECHO_LIBUV
    printf("echo, 64 persistent connections, libuv peer: fdsafe %.0f round trips/s, libuv %.0f round trips/s, "
           "ratio fdsafe/libuv %.3f [peer, no target]\n",
           median_of(rt[FDSAFE], ROUNDS), median_of(rt[LIBUV], ROUNDS), median_ratio_rounds(rt, FDSAFE, LIBUV));
    printf("echo, short connections, libuv peer: fdsafe %.0f connections/s, libuv %.0f connections/s, "
           "ratio fdsafe/libuv %.3f [peer, no target]\n",
           median_of(cps[FDSAFE], ROUNDS), median_of(cps[LIBUV], ROUNDS), median_ratio_rounds(cps, FDSAFE, LIBUV));
#else
    printf("echo, libuv peer: skipped (%s)\n", ECHO_NO_LIBUV);
#endif
    return 0;
}
