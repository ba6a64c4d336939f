/* Figure 6: a close that deregisters from epoll. fdsafe_close of a handle registered in an
 * fdsafe epoll set removes it from the set before the descriptor goes (so no event for a
 * dead handle is ever returned); the raw program does what a careful one must for the same
 * guarantee, epoll_ctl(EPOLL_CTL_DEL) and then close(2). Per-close time in alternating
 * batches; each set also holds OTHERS registrations that stay, as a server's would. */
#include "common.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { BATCHES = 21, COUNT = 2000, OTHERS = 1000 };

static double raw_batch(int ep) {
    static int fds[COUNT];
    for (int i = 0; i < COUNT; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) exit(1);
    }
    double t = now_ns();
    for (int i = 0; i < COUNT; i++) {
        if (epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL) != 0) exit(1);
        close(fds[i]);
    }
    return (now_ns() - t) / COUNT;
}

static double fdsafe_batch(fdsafe_handle ep) {
    static fdsafe_handle hs[COUNT];
    for (int i = 0; i < COUNT; i++) {
        check(fdsafe_eventfd_create(0, 0, &hs[i]), "eventfd");
        check(fdsafe_epoll_add(ep, hs[i], FDSAFE_EPOLL_IN, (uint64_t)i), "epoll_add");
    }
    double t = now_ns();
    for (int i = 0; i < COUNT; i++) check(fdsafe_close(hs[i]), "close");
    return (now_ns() - t) / COUNT;
}

int main(void) {
    int raw_ep = epoll_create1(EPOLL_CLOEXEC);
    fdsafe_handle ep, others[OTHERS];
    int raw_others[OTHERS];
    check(fdsafe_epoll_create(&ep), "epoll");
    for (int i = 0; i < OTHERS; i++) {
        check(fdsafe_eventfd_create(0, 0, &others[i]), "eventfd");
        check(fdsafe_epoll_add(ep, others[i], FDSAFE_EPOLL_IN, 0), "epoll_add");
        raw_others[i] = eventfd(0, EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        if (raw_ep < 0 || raw_others[i] < 0 || epoll_ctl(raw_ep, EPOLL_CTL_ADD, raw_others[i], &ev) != 0) exit(1);
    }
    printf("-- close of a handle registered in an epoll set (%d others registered; medians of %d paired batches "
           "of %d)\n", OTHERS, BATCHES, COUNT);
    raw_batch(raw_ep); /* untimed warm-up */
    fdsafe_batch(ep);
    double f[BATCHES], r[BATCHES];
    for (int i = 0; i < BATCHES; i++) {
        r[i] = raw_batch(raw_ep);
        f[i] = fdsafe_batch(ep);
    }
    figure_ns("close deregistering from epoll (raw: EPOLL_CTL_DEL + close)", median_of(f, BATCHES),
              median_of(r, BATCHES), "ratio", median_ratio(f, r, BATCHES), "<= 1.1");
    for (int i = 0; i < OTHERS; i++) {
        fdsafe_close(others[i]);
        close(raw_others[i]);
    }
    fdsafe_close(ep);
    close(raw_ep);
    return 0;
}
