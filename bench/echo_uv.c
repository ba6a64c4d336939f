/* The echo server of bench/echo.c written on libuv, as a peer: the same threads (an acceptor
 * and two workers, each running its own uv loop) and the same work per connection. A libuv
 * handle belongs to one loop, so the acceptor cannot register a connection in a worker's
 * loop itself: it accepts (uv_poll_t on the listener, accept4), queues the descriptor for
 * the next worker and wakes that loop with uv_async_send, the usual libuv hand-off; the
 * worker wraps it in a uv_tcp_t and echoes with uv_try_write (uv_write for any rest). */
#include "echo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

enum { QUEUE = 4096 };

struct uv_worker {
    uv_loop_t loop;
    uv_async_t wake, stop;
    pthread_mutex_t lock;
    int queue[QUEUE], queued; /* accepted descriptors not yet taken by the worker */
    pthread_t thread;
};

struct uv_server {
    int listener, next;
    uv_loop_t loop;
    uv_poll_t poll;
    uv_async_t stop;
    pthread_t thread;
    struct uv_worker workers[ECHO_WORKERS];
};

struct conn {
    uv_tcp_t tcp; /* first: a conn is its handle */
    char buf[ECHO_READ];
};

struct rest {
    uv_write_t req;
    char data[ECHO_READ];
};

static void die_uv(const char *what, int rc) {
    fprintf(stderr, "echo (libuv): %s: %s\n", what, uv_strerror(rc));
    exit(1);
}

static void conn_closed(uv_handle_t *h) {
    free(h);
    atomic_fetch_sub_explicit(&echo_connections, 1, memory_order_relaxed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    *buf = uv_buf_init(((struct conn *)h)->buf, ECHO_READ);
}

static void rest_written(uv_write_t *req, int status) {
    if (status < 0 && !uv_is_closing((uv_handle_t *)req->handle)) uv_close((uv_handle_t *)req->handle, conn_closed);
    free(req);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    if (nread == 0) return; /* EAGAIN */
    if (nread < 0) {        /* end of stream or error */
        uv_close((uv_handle_t *)stream, conn_closed);
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    int w = uv_try_write(stream, &out, 1);
    if (w == nread) return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)stream, conn_closed);
        return;
    }
    if (w < 0) w = 0;
    struct rest *r = malloc(sizeof *r); /* what the socket did not take at once */
    memcpy(r->data, buf->base + w, (size_t)(nread - w));
    uv_buf_t b = uv_buf_init(r->data, (unsigned)(nread - w));
    int rc = uv_write(&r->req, stream, &b, 1, rest_written);
    if (rc < 0) die_uv("uv_write", rc);
}

static void worker_wake(uv_async_t *a) {
    struct uv_worker *w = a->data;
    int fds[QUEUE], n;
    pthread_mutex_lock(&w->lock);
    n = w->queued;
    memcpy(fds, w->queue, sizeof(int) * (size_t)n);
    w->queued = 0;
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < n; i++) {
        struct conn *c = malloc(sizeof *c);
        int rc = uv_tcp_init(&w->loop, &c->tcp);
        if (rc == 0) rc = uv_tcp_open(&c->tcp, fds[i]);
        if (rc == 0) rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
        if (rc < 0) die_uv("taking a connection", rc);
    }
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, h->type == UV_TCP ? conn_closed : NULL);
}

static void worker_stop(uv_async_t *a) {
    uv_walk(a->loop, close_any, NULL);
}

static void *loop_thread(void *loop) {
    uv_run(loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_listener(uv_poll_t *p, int status, int events) {
    (void)events;
    struct uv_server *s = p->data;
    if (status < 0) die_uv("poll", status);
    for (;;) {
        int fd = accept4(s->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR)) return;
        if (fd < 0) {
            perror("echo (libuv): accept");
            exit(1);
        }
        atomic_fetch_add_explicit(&echo_connections, 1, memory_order_relaxed);
        struct uv_worker *w = &s->workers[s->next];
        s->next = (s->next + 1) % ECHO_WORKERS;
        pthread_mutex_lock(&w->lock);
        if (w->queued == QUEUE) {
            fprintf(stderr, "echo (libuv): hand-off queue full\n");
            exit(1);
        }
        w->queue[w->queued++] = fd;
        pthread_mutex_unlock(&w->lock);
        uv_async_send(&w->wake);
    }
}

static void acceptor_stop(uv_async_t *a) {
    uv_walk(a->loop, close_any, NULL);
}

void *echo_uv_start(int *port_out) {
    struct uv_server *s = calloc(1, sizeof *s);
    s->listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(s->listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->listener, ECHO_BACKLOG) != 0 ||
        getsockname(s->listener, (struct sockaddr *)&a, &len) != 0) {
        perror("echo (libuv): listen");
        exit(1);
    }
    *port_out = ntohs(a.sin_port);
    for (int i = 0; i < ECHO_WORKERS; i++) {
        struct uv_worker *w = &s->workers[i];
        pthread_mutex_init(&w->lock, NULL);
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wake, worker_wake);
        uv_async_init(&w->loop, &w->stop, worker_stop);
        w->wake.data = w;
        pthread_create(&w->thread, NULL, loop_thread, &w->loop);
    }
    uv_loop_init(&s->loop);
    uv_poll_init(&s->loop, &s->poll, s->listener);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_listener);
    uv_async_init(&s->loop, &s->stop, acceptor_stop);
    pthread_create(&s->thread, NULL, loop_thread, &s->loop);
    return s;
}

void echo_uv_stop(void *server) {
    struct uv_server *s = server;
    uv_async_send(&s->stop);
    pthread_join(s->thread, NULL);
    uv_loop_close(&s->loop);
    for (int i = 0; i < ECHO_WORKERS; i++) {
        struct uv_worker *w = &s->workers[i];
        uv_async_send(&w->stop);
        pthread_join(w->thread, NULL);
        uv_loop_close(&w->loop);
        for (int k = 0; k < w->queued; k++) close(w->queue[k]); /* handed over, never taken */
        pthread_mutex_destroy(&w->lock);
    }
    close(s->listener);
    free(s);
}
