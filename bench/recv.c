/* Figure 7: receiving descriptors with kind detection. fdsafe_socket_recv_handles (the
 * default receive: each descriptor is wrapped in a handle of its detected kind, which costs
 * kernel queries per descriptor; fdsafe_socket_recv_handles_as with FDSAFE_KIND_OTHER is the
 * variant that skips them) then fdsafe_close of each handle, against raw recvmsg with
 * SCM_RIGHTS and MSG_CMSG_CLOEXEC, the checks a careful receiver makes, and close(2) of each
 * descriptor. Only the receive and the closes are timed: both sides are sent the same
 * descriptors by the same raw sendmsg, untimed. 1, 64 and 253 (the kernel's most) descriptors
 * per message, eventfds and connected Unix stream sockets. The ratio is raw time / fdsafe
 * time: the share of raw speed fdsafe keeps, higher is better. */
#include "common.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BATCHES = 11, MAX = 253 };

static void send_fds(int sock, const int *fds, int count) {
    char byte = 'x';
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MAX)];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)count);
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != 1) exit(1);
}

/* One raw recvmsg with SCM_RIGHTS and MSG_CMSG_CLOEXEC, with the checks a careful receiver
 * makes; the descriptors go to `got`. Returns how many. */
static int raw_receive(int rx, int *got) {
    char byte;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * MAX)];
    } control;
    struct iovec iov = {&byte, 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    if (recvmsg(rx, &msg, MSG_CMSG_CLOEXEC) != 1) exit(1);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if ((msg.msg_flags & MSG_CTRUNC) || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) exit(1);
    int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)n);
    return n;
}

/* ns per descriptor: receive `messages` messages of `count` descriptors and close them. */
static double raw_recv(int tx, int rx, const int *fds, int count, int messages) {
    double spent = 0;
    for (int m = 0; m < messages; m++) {
        send_fds(tx, fds, count);
        double t = now_ns();
        int got[MAX], n = raw_receive(rx, got);
        if (n != count) exit(1);
        for (int i = 0; i < n; i++) close(got[i]);
        spent += now_ns() - t;
    }
    return spent / ((double)messages * count);
}

/* The kernel's floor of fdsafe's detection: raw_recv plus, per descriptor, the kernel queries
 * fdsafe's detector asks to identify it, and no handles: for an eventfd, fstat and the
 * /proc/thread-self/fd link (the only side-effect-free way to tell the anonymous-inode kinds
 * apart; /proc/thread-self, as fdsafe reads it, because /proc/self/fd is gone once the main
 * thread has exited and names another table in a thread that unshared its own);
 * for a connected Unix socket, fstat, getpeername (its family, and connected, so no listener)
 * and SO_TYPE. A receiver that asked getpeername before fstat would save the fstat on
 * sockets and pay one call more on every other kind.
 *
 * `kept`: the links are read through a /proc/thread-self/fd directory descriptor kept open for the
 * whole run, as a program may. Otherwise as a library that keeps no descriptor of its own
 * between calls must (issue 16 forbids hidden descriptors): one link by its full path, several
 * through a directory descriptor opened for the message. */
static double raw_recv_queries(int tx, int rx, const int *fds, int count, int messages, int sockets, int kept) {
    double spent = 0;
    int proc = kept ? open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    for (int m = 0; m < messages; m++) {
        send_fds(tx, fds, count);
        double t = now_ns();
        int got[MAX], n = raw_receive(rx, got);
        if (!kept && !sockets && n > 1) proc = open("/proc/thread-self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < n; i++) {
            struct stat st;
            if (fstat(got[i], &st) != 0) exit(1);
            if (sockets) {
                struct sockaddr_storage peer;
                socklen_t peer_len = sizeof peer;
                int type;
                socklen_t len = sizeof type;
                if (getpeername(got[i], (struct sockaddr *)&peer, &peer_len) != 0 || peer.ss_family != AF_UNIX) exit(1);
                if (getsockopt(got[i], SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) exit(1);
            } else {
                char name[32], link[64];
                snprintf(name, sizeof name, proc >= 0 ? "%d" : "/proc/thread-self/fd/%d", got[i]);
                if (readlinkat(proc >= 0 ? proc : AT_FDCWD, name, link, sizeof link) <= 0) exit(1);
            }
            close(got[i]);
        }
        if (!kept && proc >= 0) {
            close(proc);
            proc = -1;
        }
        spent += now_ns() - t;
    }
    if (proc >= 0) close(proc);
    return spent / ((double)messages * count);
}

static double fdsafe_recv(int tx, fdsafe_handle rx, const int *fds, int count, int messages) {
    double spent = 0;
    for (int m = 0; m < messages; m++) {
        send_fds(tx, fds, count);
        double t = now_ns();
        char byte;
        fdsafe_handle got[MAX];
        fdsafe_recv_info info;
        if (fdsafe_socket_recv_handles(rx, &byte, 1, 0, got, MAX, &info) != 1) exit(1);
        if (info.handle_count != (size_t)count || info.flags != 0) exit(1);
        for (size_t i = 0; i < info.handle_count; i++) check(fdsafe_close(got[i]), "close");
        spent += now_ns() - t;
    }
    return spent / ((double)messages * count);
}

static void measure(int sockets) {
    int raw_pair[2], fds[MAX], peers[MAX];
    fdsafe_handle tx, rx;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, raw_pair) != 0) exit(1);
    check(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &tx, &rx), "unix pair");
    int fdsafe_tx = fdsafe_fd_borrow(tx); /* the same raw sendmsg feeds both receivers */
    check(fdsafe_tx, "borrow");
    for (int i = 0; i < MAX; i++) {
        if (sockets) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) exit(1);
            fds[i] = sv[0];
            peers[i] = sv[1];
        } else if ((fds[i] = eventfd(0, EFD_CLOEXEC)) < 0) {
            exit(1);
        }
    }
    int counts[] = {1, 64, MAX};
    for (int c = 0; c < 3; c++) {
        int count = counts[c], messages = 4000 / count + 20;
        raw_recv(raw_pair[0], raw_pair[1], fds, count, messages); /* untimed warm-up */
        fdsafe_recv(fdsafe_tx, rx, fds, count, messages);
        double f[BATCHES], r[BATCHES], q[BATCHES], k[BATCHES], kq[BATCHES], u[BATCHES], uq[BATCHES];
        for (int i = 0; i < BATCHES; i++) {
            r[i] = raw_recv(raw_pair[0], raw_pair[1], fds, count, messages);
            f[i] = fdsafe_recv(fdsafe_tx, rx, fds, count, messages);
            k[i] = raw_recv_queries(raw_pair[0], raw_pair[1], fds, count, messages, sockets, 1);
            if (!sockets) u[i] = raw_recv_queries(raw_pair[0], raw_pair[1], fds, count, messages, sockets, 0);
            q[i] = r[i] / f[i];
            kq[i] = r[i] / k[i];
            if (!sockets) uq[i] = r[i] / u[i];
        }
        char name[96];
        snprintf(name, sizeof name, "recv with kind detection, %d %s%s per message (time per descriptor)", count,
                 sockets ? "socket" : "eventfd", count > 1 ? "s" : "");
        figure_ns(name, median_of(f, BATCHES), median_of(r, BATCHES), "ratio raw/fdsafe", median(q, BATCHES),
                  ">= 0.5, raw time / fdsafe time, higher is better");
        printf("    the kernel's floor: raw receive plus fdsafe's detection queries alone %.0f ns per descriptor, "
               "raw/that %.3f (%s)\n",
               median_of(k, BATCHES), median(kq, BATCHES),
               sockets ? "fstat, getpeername, SO_TYPE" : "fstat, the /proc/thread-self/fd link through a kept directory");
        if (!sockets)
            printf("    the same queries keeping no descriptor between calls, as fdsafe must: %.0f ns per descriptor, "
                   "raw/that %.3f\n", median_of(u, BATCHES), median(uq, BATCHES));
    }
    for (int i = 0; i < MAX; i++) {
        close(fds[i]);
        if (sockets) close(peers[i]);
    }
    close(raw_pair[0]);
    close(raw_pair[1]);
    fdsafe_close(tx);
    fdsafe_close(rx);
}

int main(void) {
    printf("-- receiving descriptors: fdsafe_socket_recv_handles (detects kinds) + fdsafe_close vs raw recvmsg "
           "SCM_RIGHTS + close (medians of %d paired batches)\n", BATCHES);
    measure(0);
    measure(1);
    return 0;
}
