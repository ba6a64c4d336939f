/* TUN/TAP devices for real, inside a network namespace the test makes: a forked child calls
 * unshare(CLONE_NEWNET), creates a TUN device, brings it up and gives it 10.77.0.1/24 over
 * netlink (an FDSAFE_KIND_SOCKET), sends a UDP datagram to 10.77.0.2 from a socket in the
 * namespace and reads that whole packet from the device, woken by epoll. Also multi-queue,
 * persistence, TAP, passing a TUN handle, and bad input. Where the kernel refuses (no
 * CAP_SYS_ADMIN for unshare, no /dev/net/tun), the test skips printing the kernel's reason. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP 77

/* A failure in the child: say where, and exit with the line number (never 0 or SKIP). */
#define CHECK(cond)                                                                              \
    do {                                                                                         \
        if (!(cond)) child_failed(__LINE__, #cond);                                              \
    } while (0)

static void child_failed(int line, const char *what) {
    char last[512] = "";
    fdsafe_last_error(last, sizeof last);
    fprintf(stderr, "child: %s:%d: %s failed (last error: %s)\n", __FILE__, line, what, last);
    _exit(line % 200 + 1);
}

/* Sends one netlink request and returns the kernel's answer: 0 or -errno. */
static int nl_request(fdsafe_handle nl, struct nlmsghdr *req) {
    static unsigned seq;
    req->nlmsg_seq = ++seq;
    req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    if (fdsafe_socket_send(nl, req, req->nlmsg_len, 0) != (int64_t)req->nlmsg_len) return -EIO;
    char buf[4096];
    int64_t n = fdsafe_socket_recv(nl, buf, sizeof buf, 0);
    if (n < 0) return (int)n;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (!NLMSG_OK(h, (unsigned)n) || h->nlmsg_type != NLMSG_ERROR) return -EPROTO;
    return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

static void add_attr(struct nlmsghdr *h, unsigned short type, const void *data, unsigned short len) {
    struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    memcpy(RTA_DATA(a), data, len);
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Brings interface `index` up and gives it `addr`/24, over a generic netlink socket. */
static int configure(int index, const char *addr) {
    fdsafe_handle nl = 0;
    int rc = fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &nl);
    if (rc < 0) return rc;
    union {
        struct nlmsghdr h;
        char room[256];
    } m;
    memset(&m, 0, sizeof m);
    m.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    m.h.nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifi = NLMSG_DATA(&m.h);
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = index;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    rc = nl_request(nl, &m.h);
    if (rc == 0) {
        memset(&m, 0, sizeof m);
        m.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        m.h.nlmsg_type = RTM_NEWADDR;
        m.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
        struct ifaddrmsg *ifa = NLMSG_DATA(&m.h);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = 24;
        ifa->ifa_index = (unsigned)index;
        struct in_addr a;
        inet_pton(AF_INET, addr, &a);
        add_attr(&m.h, IFA_LOCAL, &a, sizeof a);
        add_attr(&m.h, IFA_ADDRESS, &a, sizeof a);
        rc = nl_request(nl, &m.h);
    }
    fdsafe_close(nl);
    return rc;
}

/* The child's whole test, in its own network namespace. */
static int tun_in_namespace(void) {
    if (unshare(CLONE_NEWNET) != 0) {
        printf("unshare(CLONE_NEWNET) refused by the kernel: %s: skipping\n", strerror(errno));
        return SKIP;
    }
    fdsafe_handle tun = 0;
    int rc = fdsafe_tun_open("fdsafe-t0", FDSAFE_IFF_TUN | FDSAFE_IFF_NO_PI | FDSAFE_NONBLOCK, &tun);
    if (rc == -ENOENT || rc == -ENODEV || rc == -EPERM || rc == -EACCES) {
        printf("fdsafe_tun_open refused by the kernel: %s: skipping\n", fdsafe_strerror(rc));
        return SKIP;
    }
    CHECK(rc == 0);
    CHECK(fdsafe_handle_kind(tun) == FDSAFE_KIND_TUN);
    char name[FDSAFE_IFNAMSIZ];
    CHECK(fdsafe_tun_name(tun, name, sizeof name) == 9 && strcmp(name, "fdsafe-t0") == 0);
    CHECK(fdsafe_tun_flags(tun) == (int)(FDSAFE_IFF_TUN | FDSAFE_IFF_NO_PI));
    int index = (int)if_nametoindex(name);
    CHECK(index > 0);
    rc = configure(index, "10.77.0.1");
    if (rc != 0) fprintf(stderr, "child: netlink configuration: %s\n", fdsafe_strerror(rc));
    CHECK(rc == 0);

    /* The device joins an epoll set; a datagram to a peer on its subnet makes it readable. */
    fdsafe_handle ep = 0, udp = 0;
    CHECK(fdsafe_epoll_create(&ep) == 0);
    CHECK(fdsafe_epoll_add(ep, tun, FDSAFE_EPOLL_IN, 42) == 0);
    CHECK(fdsafe_udp_bind("10.77.0.1:0", 0, &udp) == 0);
    CHECK(fdsafe_socket_send_to(udp, "ping-tun", 8, 0, "10.77.0.2:9999") == 8);
    unsigned char pkt[2048];
    int64_t n = 0;
    for (int tries = 0; tries < 20; tries++) { /* skip router solicitations or the like */
        struct fdsafe_epoll_event ev[1];
        CHECK(fdsafe_epoll_wait(ep, ev, 1, 2000) == 1);
        CHECK(ev[0].user == 42 && ev[0].handle == tun);
        n = fdsafe_read(tun, pkt, sizeof pkt);
        CHECK(n > 0);
        if ((pkt[0] >> 4) == 4 && pkt[9] == IPPROTO_UDP) break;
    }
    struct iphdr *ip = (struct iphdr *)pkt;
    CHECK((pkt[0] >> 4) == 4 && ip->protocol == IPPROTO_UDP);
    CHECK(ip->daddr == inet_addr("10.77.0.2") && ip->saddr == inet_addr("10.77.0.1"));
    struct udphdr *udph = (struct udphdr *)(pkt + ip->ihl * 4);
    CHECK(ntohs(udph->dest) == 9999);
    CHECK(n == ip->ihl * 4 + 8 + 8 && memcmp(pkt + ip->ihl * 4 + 8, "ping-tun", 8) == 0); /* one whole packet */
    /* Nothing more of the datagram: what else may come (the kernel's IPv6 router
     * solicitations and listener reports, sent on its own timers once the link is up) is
     * never a second IPv4 packet. */
    unsigned char other[2048];
    int64_t more;
    for (int tries = 0; (more = fdsafe_read(tun, other, sizeof other)) > 0 && tries < 20; tries++)
        CHECK((other[0] >> 4) != 4);
    CHECK(more == -EAGAIN);

    /* A packet written to the device arrives at the socket: the reply, addresses swapped. */
    unsigned short port = 0;
    {
        char addr[FDSAFE_ADDRESS_TEXT_MAX];
        CHECK(fdsafe_socket_local_address(udp, addr, sizeof addr) > 0);
        port = (unsigned short)atoi(strrchr(addr, ':') + 1);
    }
    unsigned ihl = ip->ihl * 4u;
    uint32_t from = ip->saddr;
    ip->saddr = ip->daddr;
    ip->daddr = from;
    ip->check = 0;
    uint32_t sum = 0;
    for (unsigned i = 0; i < ihl; i += 2) sum += (uint32_t)(pkt[i] << 8 | pkt[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip->check = htons((uint16_t)~sum);
    udph->source = htons(9999);
    udph->dest = htons(port);
    udph->check = 0; /* no UDP checksum: allowed over IPv4 */
    memcpy(pkt + ihl + 8, "pong-tun", 8);
    CHECK(fdsafe_write(tun, pkt, (size_t)n) == n);
    char reply[16] = {0};
    CHECK(fdsafe_wait(udp, FDSAFE_EVENT_IN, 2000) > 0);
    CHECK(fdsafe_socket_recv(udp, reply, sizeof reply, 0) == 8 && memcmp(reply, "pong-tun", 8) == 0);

    /* A second queue needs IFF_MULTI_QUEUE on both: this one was made without. */
    fdsafe_handle q2 = 0;
    CHECK(fdsafe_tun_open("fdsafe-t0", FDSAFE_IFF_TUN | FDSAFE_IFF_NO_PI, &q2) == -EBUSY);
    fdsafe_handle mq1 = 0, mq2 = 0;
    CHECK(fdsafe_tun_open("fdsafe-mq", FDSAFE_IFF_TUN | FDSAFE_IFF_MULTI_QUEUE, &mq1) == 0);
    CHECK(fdsafe_tun_open("fdsafe-mq", FDSAFE_IFF_TUN | FDSAFE_IFF_MULTI_QUEUE, &mq2) == 0);
    CHECK((fdsafe_tun_flags(mq2) & (int)FDSAFE_IFF_MULTI_QUEUE) != 0);
    /* Opened without NO_PI: its packets carry the 4-byte header, and the flags say so (the
     * kernel's TUNGETIFF sets the same bit for "no filter attached"). */
    CHECK((fdsafe_tun_flags(mq2) & (int)FDSAFE_IFF_NO_PI) == 0);
    CHECK(fdsafe_close(mq1) == 0 && fdsafe_close(mq2) == 0);

    /* Persistence: the interface outlives its descriptor, then goes with the last one. */
    fdsafe_handle tap = 0;
    CHECK(fdsafe_tun_open("fdsafe-tap", FDSAFE_IFF_TAP, &tap) == 0);
    CHECK(fdsafe_tun_set_persist(tap, 1) == 0);
    CHECK((fdsafe_tun_flags(tap) & (int)FDSAFE_IFF_PERSIST) != 0);
    CHECK(fdsafe_close(tap) == 0);
    CHECK(if_nametoindex("fdsafe-tap") > 0);
    CHECK(fdsafe_tun_open("fdsafe-tap", FDSAFE_IFF_TAP, &tap) == 0);
    CHECK(fdsafe_tun_set_persist(tap, 0) == 0);
    CHECK(fdsafe_close(tap) == 0);
    CHECK(if_nametoindex("fdsafe-tap") == 0);

    /* A name that is not UTF-8 (the kernel takes any bytes but NUL, '/', ':' and white
     * space) comes back as the kernel's bytes. */
    fdsafe_handle odd = 0;
    char odd_name[FDSAFE_IFNAMSIZ];
    CHECK(fdsafe_tun_open("fd\xff\xfe", FDSAFE_IFF_TUN, &odd) == 0);
    CHECK(fdsafe_tun_name(odd, odd_name, sizeof odd_name) == 4 && memcmp(odd_name, "fd\xff\xfe", 5) == 0);
    CHECK(fdsafe_close(odd) == 0);

    /* A TUN handle passed over SCM_RIGHTS arrives as FDSAFE_KIND_TUN. */
    fdsafe_handle a = 0, b = 0, got[1] = {0};
    fdsafe_recv_info info;
    char byte;
    CHECK(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b) == 0);
    CHECK(fdsafe_socket_send_handles(a, "t", 1, &tun, 1, 0) == 1);
    CHECK(fdsafe_socket_recv_handles(b, &byte, 1, 0, got, 1, &info) == 1 && info.handle_count == 1);
    CHECK(fdsafe_handle_kind(got[0]) == FDSAFE_KIND_TUN);
    CHECK(fdsafe_tun_name(got[0], name, sizeof name) == 9);
    fdsafe_close(got[0]);
    fdsafe_close(a);
    fdsafe_close(b);
    fdsafe_close(udp);
    fdsafe_close(ep);
    fdsafe_close(tun);
    return 0;
}

static void test_tun_packets_in_a_network_namespace(void **state) {
    (void)state;
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = tun_in_namespace();
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == SKIP) skip();
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_tun_bad_input(void **state) {
    (void)state;
    fdsafe_handle h = 0, ev = 0;
    char name[FDSAFE_IFNAMSIZ];
    expect_code(fdsafe_tun_open("x", FDSAFE_IFF_TUN, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("x", 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("x", FDSAFE_IFF_TUN | FDSAFE_IFF_TAP, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("x", FDSAFE_IFF_TUN | FDSAFE_OWN_FLAG, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("x", FDSAFE_IFF_TUN | 0x10, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("name-of-16-bytes", FDSAFE_IFF_TUN, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_open("a/b", FDSAFE_IFF_TUN, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_eventfd_create(0, 0, &ev));
    expect_code(fdsafe_tun_name(ev, name, sizeof name), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_tun_name(0, name, sizeof name), -EBADF);
    expect_code(fdsafe_tun_flags(ev), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_tun_flags(0), -EBADF);
    expect_code(fdsafe_tun_set_persist(ev, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_tun_set_persist(ev, 2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tun_set_persist(0, 1), -EBADF);
    /* /dev/net/tun not attached to an interface is no TUN handle. */
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        expect_code(fdsafe_fd_adopt(fd, FDSAFE_KIND_TUN, &h), FDSAFE_E_INVALID_ARGUMENT);
        close(fd);
    }
    must(fdsafe_close(ev));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_tun_packets_in_a_network_namespace),
        FD_TEST(test_tun_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
