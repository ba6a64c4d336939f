/* The echo benchmark's parts shared by bench/echo.c (client, raw and fdsafe servers, report)
 * and bench/echo_uv.c (the same server on libuv). */
#ifndef FDSAFE_BENCH_ECHO_H
#define FDSAFE_BENCH_ECHO_H

#include <stdatomic.h>

enum {
    ECHO_LINE = 64,      /* bytes per request and per echo */
    ECHO_BACKLOG = 1024, /* listen backlog of every server */
    ECHO_WORKERS = 2,    /* worker threads, each with its own epoll set (libuv: loop) */
    ECHO_READ = 4096,    /* a worker's read buffer */
};

/* Connections a server has accepted and not yet closed; the bench waits for 0 before
 * stopping a server, so that every close is part of the server's work. */
extern atomic_int echo_connections;

/* The libuv server (bench/echo_uv.c): start listens on 127.0.0.1 and returns its port;
 * stop ends its threads and frees it. */
void *echo_uv_start(int *port_out);
void echo_uv_stop(void *server);

#endif
