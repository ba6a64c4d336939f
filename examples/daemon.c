/* fdsafe example daemon: a greeting service on a Unix socket and a TCP port, built only on
 * fdsafe.
 *
 *   daemon CONFIG
 *
 * The main process runs one epoll loop over the listening sockets (its own, or handed over by
 * socket activation), a signalfd (SIGTERM/SIGINT stop, SIGHUP reloads), an inotify watch on
 * the configuration file (a change reloads) and the worker's pidfd. It checks each Unix
 * client's credentials, then hands every accepted connection to a worker process over a
 * seqpacket socket (SCM_RIGHTS). The worker answers each line with "<greeting>, <line>" and
 * drops clients idle for longer than the configured time, with a timerfd. Readiness, reloads,
 * status and stopping are reported to a service manager when NOTIFY_SOCKET is set.
 *
 * CONFIG holds key=value lines: greeting, idle_timeout_ms, unix (a socket path), tcp (an
 * address such as 127.0.0.1:7070), socket_mode (octal, for the Unix socket file) and
 * allow_uid (the uid Unix clients must have; default: the daemon's own).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* basename(), dirname() */
#endif
#include <fdsafe.h>

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 64

struct config {
    char greeting[128];
    int idle_timeout_ms;
    char unix_path[108];
    char tcp_address[64];
    unsigned socket_mode;
    unsigned allow_uid;
};

/* What the epoll user values mean. Worker clients use CLIENT_BASE + slot. */
enum { UNIX_LISTENER = 1, TCP_LISTENER, SIGNALS, CONFIG_DIR, WORKER_EXIT, CONTROL, TICK, CLIENT_BASE = 100 };

static void say(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *who, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("[%s %d] ", who, (int)getpid());
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* Exits with fdsafe's message if `rc` is an error. */
static int64_t check(int64_t rc, const char *what) {
    if (rc < 0) {
        char message[256];
        fdsafe_last_error(message, sizeof message);
        fprintf(stderr, "daemon: %s: %s (%s)\n", what, fdsafe_error_name((int)rc), message);
        exit(1);
    }
    return rc;
}

static int load_config(const char *path, struct config *cfg) {
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    *cfg = (struct config){.greeting = "hello", .idle_timeout_ms = 5000, .socket_mode = 0600,
                           .allow_uid = (unsigned)getuid()};
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#') continue;
        *eq = '\0';
        const char *key = line, *value = eq + 1;
        if (!strcmp(key, "greeting")) snprintf(cfg->greeting, sizeof cfg->greeting, "%s", value);
        else if (!strcmp(key, "idle_timeout_ms")) cfg->idle_timeout_ms = atoi(value);
        else if (!strcmp(key, "unix")) snprintf(cfg->unix_path, sizeof cfg->unix_path, "%s", value);
        else if (!strcmp(key, "tcp")) snprintf(cfg->tcp_address, sizeof cfg->tcp_address, "%s", value);
        else if (!strcmp(key, "socket_mode")) cfg->socket_mode = (unsigned)strtoul(value, NULL, 8);
        else if (!strcmp(key, "allow_uid")) cfg->allow_uid = (unsigned)strtoul(value, NULL, 10);
    }
    fclose(f);
    return 0;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the worker: serves the connections the main process hands over ---- */

struct client {
    fdsafe_handle handle; /* 0: free slot */
    int64_t last_active_ms;
};

static void send_config(fdsafe_handle control, const struct config *cfg) {
    char message[200];
    int n = snprintf(message, sizeof message, "g%d\t%s", cfg->idle_timeout_ms, cfg->greeting);
    check(fdsafe_socket_send(control, message, (size_t)n, 0), "send configuration to the worker");
}

static void drop(fdsafe_handle epoll, struct client *c, const char *why) {
    (void)epoll; /* closing the handle takes it out of the epoll set by itself */
    if (why) {
        char bye[64];
        int n = snprintf(bye, sizeof bye, "bye: %s\n", why);
        fdsafe_socket_send(c->handle, bye, (size_t)n, FDSAFE_MSG_DONTWAIT);
    }
    fdsafe_close(c->handle);
    c->handle = 0;
}

static int run_worker(fdsafe_handle control) {
    struct client clients[MAX_CLIENTS] = {{0}};
    char greeting[128] = "hello";
    int idle_ms = 5000, served = 0;
    fdsafe_handle epoll, tick;
    check(fdsafe_epoll_create(&epoll), "epoll");
    check(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &tick), "timerfd");
    check(fdsafe_timerfd_set(tick, 0, 100000000, 100000000, NULL), "arm the idle check");
    check(fdsafe_epoll_add(epoll, control, FDSAFE_EPOLL_IN, CONTROL), "watch the control socket");
    check(fdsafe_epoll_add(epoll, tick, FDSAFE_EPOLL_IN, TICK), "watch the timer");
    say("worker", "started");
    for (;;) {
        fdsafe_epoll_event events[16];
        int n = fdsafe_epoll_wait(epoll, events, 16, -1);
        if (n == -EINTR) continue;
        check(n, "epoll wait");
        for (int i = 0; i < n; i++) {
            uint64_t what = events[i].user;
            if (what == CONTROL) {
                char message[200] = {0};
                fdsafe_handle got[1];
                fdsafe_recv_info info;
                int64_t len = fdsafe_socket_recv_handles(control, message, sizeof message - 1, 0, got, 1, &info);
                if (len <= 0 || message[0] == 'q') {
                    for (int c = 0; c < MAX_CLIENTS; c++)
                        if (clients[c].handle) drop(epoll, &clients[c], "shutting down");
                    fdsafe_close(tick);
                    fdsafe_close(epoll);
                    fdsafe_close(control);
                    say("worker", "stopped after serving %d lines", served);
                    return 0;
                }
                if (message[0] == 'g') {
                    char *tab = strchr(message, '\t');
                    idle_ms = atoi(message + 1);
                    snprintf(greeting, sizeof greeting, "%s", tab ? tab + 1 : "hello");
                    say("worker", "configuration: greeting \"%s\", idle timeout %d ms", greeting, idle_ms);
                } else if (message[0] == 'c' && info.handle_count == 1) {
                    int slot = 0;
                    while (slot < MAX_CLIENTS && clients[slot].handle) slot++;
                    if (slot == MAX_CLIENTS) {
                        fdsafe_close(got[0]);
                        continue;
                    }
                    clients[slot] = (struct client){got[0], now_ms()};
                    check(fdsafe_epoll_add(epoll, got[0], FDSAFE_EPOLL_IN | FDSAFE_EPOLL_RDHUP,
                                           CLIENT_BASE + (uint64_t)slot),
                          "watch a client");
                    say("worker", "got a %s connection over SCM_RIGHTS", fdsafe_kind_name((uint32_t)fdsafe_handle_kind(got[0])));
                }
            } else if (what == TICK) {
                uint64_t expirations;
                fdsafe_timerfd_read(tick, &expirations);
                for (int c = 0; c < MAX_CLIENTS; c++) {
                    if (clients[c].handle && now_ms() - clients[c].last_active_ms > idle_ms) {
                        say("worker", "dropping a client idle for more than %d ms", idle_ms);
                        drop(epoll, &clients[c], "idle");
                    }
                }
            } else if (what >= CLIENT_BASE && what < CLIENT_BASE + MAX_CLIENTS) {
                struct client *c = &clients[what - CLIENT_BASE];
                char line[256];
                int64_t len = fdsafe_socket_recv(c->handle, line, sizeof line - 1, 0);
                if (len <= 0) {
                    drop(epoll, c, NULL);
                    continue;
                }
                line[len] = '\0';
                line[strcspn(line, "\r\n")] = '\0';
                char reply[512];
                int r = snprintf(reply, sizeof reply, "%s, %s (worker %d)\n", greeting, line, (int)getpid());
                fdsafe_socket_send(c->handle, reply, (size_t)r, 0);
                c->last_active_ms = now_ms();
                served++;
            }
        }
    }
}

/* ---- the main process ---- */

struct daemon {
    const char *config_path;
    char config_name[256];
    struct config cfg;
    fdsafe_handle epoll, unix_listener, tcp_listener, signals, inotify, control, worker;
};

static void reload(struct daemon *d, const char *why) {
    fdsafe_notify_reloading(0);
    struct config fresh;
    if (load_config(d->config_path, &fresh) != 0) {
        say("main", "reload (%s): cannot read %s; keeping the old configuration", why, d->config_path);
    } else {
        d->cfg = fresh;
        send_config(d->control, &d->cfg);
        say("main", "reloaded (%s): greeting \"%s\"", why, d->cfg.greeting);
    }
    fdsafe_notify(0, "READY=1");
}

static void hand_over(struct daemon *d, fdsafe_handle conn) {
    /* The worker gets its own copy of the descriptor; ours is closed right after. */
    int64_t rc = fdsafe_socket_send_handles(d->control, "c", 1, &conn, 1, 0);
    if (rc < 0) say("main", "could not hand a connection over: %s", fdsafe_strerror((int)rc));
    else say("main", "handed a %s connection to the worker", fdsafe_kind_name((uint32_t)fdsafe_handle_kind(conn)));
    fdsafe_close(conn);
}

static void accept_unix(struct daemon *d) {
    fdsafe_handle conn;
    if (fdsafe_socket_accept(d->unix_listener, 0, &conn, NULL, 0, NULL) < 0) return;
    fdsafe_credentials peer;
    check(fdsafe_socket_peer_credentials(conn, &peer), "peer credentials");
    if (peer.uid != d->cfg.allow_uid) {
        say("main", "refused a Unix client: pid %d uid %u (only uid %u may connect)", peer.pid, peer.uid, d->cfg.allow_uid);
        fdsafe_socket_send(conn, "denied\n", 7, 0);
        fdsafe_close(conn);
        return;
    }
    say("main", "Unix client pid %d uid %u accepted", peer.pid, peer.uid);
    hand_over(d, conn);
}

static void accept_tcp(struct daemon *d) {
    fdsafe_handle conn;
    char peer[80] = "?";
    if (fdsafe_socket_accept(d->tcp_listener, 0, &conn, NULL, 0, NULL) < 0) return;
    fdsafe_socket_peer_address(conn, peer, sizeof peer);
    say("main", "TCP client %s accepted", peer);
    hand_over(d, conn);
}

/* Listening sockets: handed over by a service manager (named "unix" and "tcp", or told
 * apart by kind), or made from the configuration. */
static void open_listeners(struct daemon *d) {
    size_t count = 0;
    int status = (int)check(fdsafe_listen_fds(FDSAFE_LISTEN_UNSET_ENV, &count), "socket activation");
    if (status == FDSAFE_LISTEN_ADOPTED && count > 0) {
        for (size_t i = 0; i < count; i++) {
            fdsafe_handle h;
            char name[256];
            check(fdsafe_listen_fd_handle(i, &h), "activated socket");
            fdsafe_listen_fd_name(i, name, sizeof name);
            int kind = fdsafe_handle_kind(h);
            if (kind == FDSAFE_KIND_UNIX_LISTENER && !d->unix_listener) d->unix_listener = h;
            else if (kind == FDSAFE_KIND_TCP_LISTENER && !d->tcp_listener) d->tcp_listener = h;
            else fdsafe_close(h);
            say("main", "socket activation: descriptor %zu \"%s\" is a %s", i + 3, name, fdsafe_kind_name((uint32_t)kind));
        }
        return;
    }
    fdsafe_unix_bind_options options = {.flags = 0, .dir_mode = 0755, .socket_mode = d->cfg.socket_mode};
    if (d->cfg.unix_path[0])
        check(fdsafe_unix_listen(d->cfg.unix_path, FDSAFE_SOCK_STREAM, 64, &options, &d->unix_listener), "unix listen");
    if (d->cfg.tcp_address[0])
        check(fdsafe_tcp_listen(d->cfg.tcp_address, 64, 0, &d->tcp_listener), "tcp listen");
}

static int stop(struct daemon *d, const char *why) {
    say("main", "stopping (%s)", why);
    fdsafe_notify(0, "STOPPING=1");
    fdsafe_socket_send(d->control, "q", 1, 0);
    fdsafe_pidfd_exit exit_status;
    while (fdsafe_pidfd_wait(d->worker, 0, &exit_status) == -EINTR) {
    }
    say("main", "worker %d exited with status %d", exit_status.pid, exit_status.status);
    fdsafe_handle all[] = {d->unix_listener, d->tcp_listener, d->signals, d->inotify, d->control, d->worker, d->epoll};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) fdsafe_close(all[i]); /* closing the Unix listener removes its socket file */
    say("main", "stopped");
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct daemon d = {.config_path = argv[1]};
    if (load_config(d.config_path, &d.cfg) != 0) {
        fprintf(stderr, "daemon: cannot read %s\n", d.config_path);
        return 2;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", d.config_path);
    snprintf(d.config_name, sizeof d.config_name, "%s", basename(copy));

    /* Signals become events: block them process-wide before anything else. */
    fdsafe_sigset set;
    fdsafe_sigset_empty(&set);
    fdsafe_sigset_add(&set, SIGTERM);
    fdsafe_sigset_add(&set, SIGINT);
    fdsafe_sigset_add(&set, SIGHUP);
    check(fdsafe_signal_block_process(&set), "block signals");

    open_listeners(&d);

    /* The worker gets connections from us only: it keeps its end of the control pair and
     * closes every other handle it inherited, the listeners included, without naming them
     * (closing its copies neither shuts the listeners down nor removes the socket file: that
     * stays the binding process's). */
    fdsafe_handle worker_end;
    check(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &d.control, &worker_end), "control socket pair");
    int pid = (int)check(fdsafe_pidfd_fork(&d.worker), "fork the worker");
    if (pid == 0) {
        fdsafe_handle keep[] = {worker_end};
        check(fdsafe_close_all_except(keep, 1), "close what the worker inherited");
        return run_worker(worker_end);
    }
    fdsafe_close(worker_end);
    send_config(d.control, &d.cfg);

    check(fdsafe_signalfd_create(&set, 0, &d.signals), "signalfd");
    check(fdsafe_inotify_create(0, &d.inotify), "inotify");
    snprintf(copy, sizeof copy, "%s", d.config_path);
    int32_t wd;
    check(fdsafe_inotify_add_watch(d.inotify, dirname(copy), FDSAFE_IN_CLOSE_WRITE | FDSAFE_IN_MOVED_TO, &wd), "watch the configuration");

    check(fdsafe_epoll_create(&d.epoll), "epoll");
    if (d.unix_listener) check(fdsafe_epoll_add(d.epoll, d.unix_listener, FDSAFE_EPOLL_IN, UNIX_LISTENER), "epoll");
    if (d.tcp_listener) check(fdsafe_epoll_add(d.epoll, d.tcp_listener, FDSAFE_EPOLL_IN, TCP_LISTENER), "epoll");
    check(fdsafe_epoll_add(d.epoll, d.signals, FDSAFE_EPOLL_IN, SIGNALS), "epoll");
    check(fdsafe_epoll_add(d.epoll, d.inotify, FDSAFE_EPOLL_IN, CONFIG_DIR), "epoll");
    check(fdsafe_epoll_add(d.epoll, d.worker, FDSAFE_EPOLL_IN, WORKER_EXIT), "epoll");

    char unix_address[128] = "-", tcp_address[80] = "-";
    if (d.unix_listener) fdsafe_socket_local_address(d.unix_listener, unix_address, sizeof unix_address);
    if (d.tcp_listener) fdsafe_socket_local_address(d.tcp_listener, tcp_address, sizeof tcp_address);
    say("main", "ready: unix %s, tcp %s, worker %d", unix_address, tcp_address, pid);
    fdsafe_notify_status(0, "serving");
    fdsafe_notify(0, "READY=1");

    for (;;) {
        fdsafe_epoll_event events[16];
        int n = fdsafe_epoll_wait(d.epoll, events, 16, -1);
        if (n == -EINTR) continue;
        check(n, "epoll wait");
        for (int i = 0; i < n; i++) {
            switch (events[i].user) {
            case UNIX_LISTENER:
                accept_unix(&d);
                break;
            case TCP_LISTENER:
                accept_tcp(&d);
                break;
            case SIGNALS: {
                fdsafe_siginfo info[4];
                int got = (int)check(fdsafe_signalfd_read(d.signals, info, 4), "read signals");
                for (int s = 0; s < got; s++) {
                    if (info[s].signo == SIGHUP) reload(&d, "SIGHUP");
                    else return stop(&d, info[s].signo == SIGTERM ? "SIGTERM" : "SIGINT");
                }
                break;
            }
            case CONFIG_DIR: {
                fdsafe_inotify_event ev[FDSAFE_INOTIFY_MIN_BATCH];
                int got = (int)check(fdsafe_inotify_read(d.inotify, ev, FDSAFE_INOTIFY_MIN_BATCH), "read inotify");
                int changed = 0;
                for (int e = 0; e < got; e++) changed |= !strcmp(ev[e].name, d.config_name);
                if (changed) reload(&d, "configuration file changed");
                break;
            }
            case WORKER_EXIT:
                say("main", "the worker died; stopping");
                return stop(&d, "worker died") + 1;
            }
        }
    }
}
