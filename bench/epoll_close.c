/* Figure 6: a close that deregisters from epoll. fdsafe_close of a handle registered in an
 * fdsafe epoll set removes it from the set (so no event for a dead handle is ever returned):
 * when closing ends the open file (fdsafe made the descriptor and never lent, duplicated,
 * sent or forked it) the kernel drops the registration itself; otherwise fdsafe calls
 * EPOLL_CTL_DEL first. The raw program does what a careful one must for the same guarantee
 * when it cannot know whether the file is shared, epoll_ctl(EPOLL_CTL_DEL) and then close(2);
 * two more lines compare with a raw close alone (a program that knows the file is not shared)
 * and show fdsafe's close of a handle whose number was lent (so it makes the EPOLL_CTL_DEL).
 * Per-close time in alternating batches; each set also holds OTHERS registrations that stay,
 * as a server's would. */
#include "common.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { BATCHES = 21, COUNT = 2000, OTHERS = 1000 };

static double raw_batch(int ep, int delete_first) {
    static int fds[COUNT];
    for (int i = 0; i < COUNT; i++) {
        fds[i] = eventfd(0, EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) exit(1);
    }
    double t = now_ns();
    for (int i = 0; i < COUNT; i++) {
        if (delete_first && epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL) != 0) exit(1);
        close(fds[i]);
    }
    return (now_ns() - t) / COUNT;
}

static double fdsafe_batch(fdsafe_handle ep, int lend) {
    static fdsafe_handle hs[COUNT];
    for (int i = 0; i < COUNT; i++) {
        check(fdsafe_eventfd_create(0, 0, &hs[i]), "eventfd");
        check(fdsafe_epoll_add(ep, hs[i], FDSAFE_EPOLL_IN, (uint64_t)i), "epoll_add");
        if (lend) check(fdsafe_fd_borrow(hs[i]), "borrow"); /* the caller may have copied it */
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
    raw_batch(raw_ep, 1); /* untimed warm-up */
    fdsafe_batch(ep, 0);
    double f[BATCHES], r[BATCHES], lent[BATCHES], plain[BATCHES];
    for (int i = 0; i < BATCHES; i++) {
        r[i] = raw_batch(raw_ep, 1);
        f[i] = fdsafe_batch(ep, 0);
        plain[i] = raw_batch(raw_ep, 0);
        lent[i] = fdsafe_batch(ep, 1);
    }
    figure_ns("close deregistering from epoll (raw: EPOLL_CTL_DEL + close)", median_of(f, BATCHES),
              median_of(r, BATCHES), "ratio", median_ratio(f, r, BATCHES), "<= 1.1");
    printf("  against a raw close alone (the kernel drops the registration with the file): raw %.1f ns, "
           "fdsafe/raw %.3f\n", median_of(plain, BATCHES), median_ratio(f, plain, BATCHES));
    printf("  a handle whose number was lent (fdsafe_fd_borrow), so fdsafe calls EPOLL_CTL_DEL: fdsafe %.1f ns, "
           "against raw EPOLL_CTL_DEL + close %.3f\n", median_of(lent, BATCHES), median_ratio(lent, r, BATCHES));
    for (int i = 0; i < OTHERS; i++) {
        fdsafe_close(others[i]);
        close(raw_others[i]);
    }
    fdsafe_close(ep);
    close(raw_ep);
    return 0;
}
