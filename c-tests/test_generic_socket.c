/* Sockets of any family (FDSAFE_KIND_SOCKET): netlink for real (a link dump that finds the
 * loopback, a uevent subscription, passing over SCM_RIGHTS), any option by level and name
 * (SO_RCVTIMEO/SO_SNDTIMEO honoured by blocking calls, TCP_INFO), bind before connect for
 * TCP, UDP and Unix clients, with peers from fdsafe, Python's socket module and socat. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void set_timeout(fdsafe_handle h, int name, long ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    must(fdsafe_socket_setsockopt(h, SOL_SOCKET, name, &tv, sizeof tv));
}

/* Sends an RTM_GETLINK dump request and reads the answer until NLMSG_DONE; returns 1 if an
 * interface named `name` is among the links. */
static int dump_has_link(fdsafe_handle nl, const char *name) {
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
             .i = {.ifi_family = AF_UNSPEC}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    expect_code(fdsafe_socket_send_to_sockaddr(nl, &req, sizeof req, 0, &kernel, sizeof kernel), sizeof req);
    static char buf[1 << 16];
    int found = 0, links = 0;
    for (;;) {
        int64_t n = must(fdsafe_socket_recv(nl, buf, sizeof buf, 0));
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) {
                print_message("netlink dump: %d links\n", links);
                return found;
            }
            assert_int_not_equal(h->nlmsg_type, NLMSG_ERROR);
            if (h->nlmsg_type != RTM_NEWLINK) continue;
            links++;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int len = (int)IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), name) == 0) found = 1;
        }
    }
}

static void test_netlink_route_dump_finds_loopback(void **state) {
    (void)state;
    fdsafe_handle nl = 0;
    must(fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &nl));
    expect_code(fdsafe_handle_kind(nl), FDSAFE_KIND_SOCKET);
    assert_string_equal(fdsafe_kind_name(FDSAFE_KIND_SOCKET), "socket");
    assert_true(fd_is_cloexec((int)must(fdsafe_fd_borrow(nl))));
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    must(fdsafe_socket_bind(nl, &local, sizeof local));
    struct sockaddr_nl bound;
    size_t bound_len = 0;
    must(fdsafe_socket_local_sockaddr(nl, &bound, sizeof bound, &bound_len));
    assert_int_equal(bound_len, sizeof bound);
    assert_int_equal(bound.nl_family, AF_NETLINK);
    assert_int_not_equal(bound.nl_pid, 0); /* the kernel gave it a port id */
    int proto = 0;
    expect_code(fdsafe_socket_getsockopt(nl, SOL_SOCKET, SO_PROTOCOL, &proto, sizeof proto), sizeof proto);
    assert_int_equal(proto, NETLINK_ROUTE);
    assert_true(dump_has_link(nl, "lo"));
    must(fdsafe_close(nl));
}

static void test_netlink_socket_passes_over_scm_rights(void **state) {
    (void)state;
    fdsafe_handle nl = 0, a = 0, b = 0, got[2] = {0};
    must(fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &nl));
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    expect_code(fdsafe_socket_send_handles(a, "n", 1, &nl, 1, 0), 1);
    must(fdsafe_close(nl));
    char byte;
    fdsafe_recv_info info;
    expect_code(fdsafe_socket_recv_handles(b, &byte, 1, 0, got, 2, &info), 1);
    assert_int_equal(info.handle_count, 1);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_SOCKET); /* detected, not "other" */
    assert_true(fd_is_cloexec((int)must(fdsafe_fd_borrow(got[0]))));
    assert_true(dump_has_link(got[0], "lo")); /* the received socket works */
    /* Adoption as the generic kind takes any socket, and nothing that is not one. */
    fdsafe_handle adopted = 0;
    int dup_fd = dup((int)must(fdsafe_fd_borrow(got[0])));
    must(fdsafe_fd_adopt(dup_fd, FDSAFE_KIND_SOCKET, &adopted));
    must(fdsafe_close(adopted));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    expect_code(fdsafe_fd_adopt(fds[0], FDSAFE_KIND_SOCKET, &adopted), FDSAFE_E_INVALID_ARGUMENT);
    close(fds[0]);
    close(fds[1]);
    must(fdsafe_close(got[0]));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* Subscribes to kernel uevents (group 1), makes the kernel send one by writing "change" to
 * a device's uevent file, and reads it: "change@/devices/virtual/mem/null" and its keys. */
static void test_netlink_uevent_subscription(void **state) {
    (void)state;
    fdsafe_handle ue = 0;
    must(fdsafe_socket_create(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT, 0, &ue));
    struct sockaddr_nl groups = {.nl_family = AF_NETLINK, .nl_groups = 1};
    int rc = fdsafe_socket_bind(ue, &groups, sizeof groups);
    if (rc < 0) {
        print_message("uevent subscription refused by the kernel: %s: skipping\n", fdsafe_strerror(rc));
        must(fdsafe_close(ue));
        skip();
    }
    set_timeout(ue, SO_RCVTIMEO, 3000);
    FILE *f = fopen("/sys/devices/virtual/mem/null/uevent", "w");
    if (!f || fputs("change", f) < 0 || fclose(f) != 0) {
        print_message("cannot trigger a uevent (/sys/devices/virtual/mem/null/uevent: %s): skipping\n", strerror(errno));
        must(fdsafe_close(ue));
        skip();
    }
    static char buf[8192];
    int seen = 0;
    for (int i = 0; i < 50 && !seen; i++) {
        int64_t n = fdsafe_socket_recv(ue, buf, sizeof buf - 1, 0);
        assert_true(n > 0); /* -EAGAIN here would mean no uevent in 3 s */
        buf[n] = 0;
        if (strcmp(buf, "change@/devices/virtual/mem/null") != 0) continue;
        for (char *key = buf + strlen(buf) + 1; key < buf + n; key += strlen(key) + 1)
            if (strcmp(key, "ACTION=change") == 0) seen = 1;
    }
    assert_true(seen);
    must(fdsafe_close(ue));
}

static void test_receive_timeout_gives_eagain(void **state) {
    (void)state;
    fdsafe_handle a = 0, b = 0;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    set_timeout(b, SO_RCVTIMEO, 150);
    struct timeval tv = {0};
    expect_code(fdsafe_socket_getsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), sizeof tv);
    assert_int_equal(tv.tv_sec, 0);
    assert_in_range(tv.tv_usec, 150000, 160000); /* the kernel keeps it in jiffies */
    char buf[4];
    double t0 = now_ms();
    expect_code(fdsafe_socket_recv(b, buf, sizeof buf, 0), -EAGAIN);
    double waited = now_ms() - t0;
    assert_true(waited >= 120 && waited < 2000);
    t0 = now_ms();
    expect_code(fdsafe_read(b, buf, sizeof buf), -EAGAIN); /* the generic read too */
    assert_true(now_ms() - t0 >= 120);
    /* Data that arrives in time is received. */
    expect_code(fdsafe_socket_send(a, "hi", 2, 0), 2);
    expect_code(fdsafe_socket_recv(b, buf, sizeof buf, 0), 2);
    /* A send that cannot finish in SO_SNDTIMEO returns what it sent, then -EAGAIN. */
    set_timeout(a, SO_SNDTIMEO, 100);
    static char big[1 << 16];
    int64_t sent = 0, rc;
    t0 = now_ms();
    while ((rc = fdsafe_socket_send(a, big, sizeof big, 0)) > 0) sent += rc;
    expect_code(rc, -EAGAIN);
    assert_true(sent > 0);
    assert_true(now_ms() - t0 >= 80);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    /* accept waits SO_RCVTIMEO, then -EAGAIN. */
    fdsafe_handle l = 0, c = 0;
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, 0, &l));
    set_timeout(l, SO_RCVTIMEO, 100);
    t0 = now_ms();
    expect_code(fdsafe_socket_accept(l, 0, &c, NULL, 0, NULL), -EAGAIN);
    assert_true(now_ms() - t0 >= 80);
    must(fdsafe_close(l));
}

static void test_any_option_on_typed_sockets(void **state) {
    (void)state;
    fdsafe_handle l = 0, c = 0, s = 0;
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, 0, &l));
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    must(fdsafe_tcp_connect(addr, 1000, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    struct tcp_info info;
    int64_t n = must(fdsafe_socket_getsockopt(c, IPPROTO_TCP, TCP_INFO, &info, sizeof info));
    assert_true(n > 0);
    assert_int_equal(info.tcpi_state, 1 /* TCP_ESTABLISHED */);
    int tos = 0x10;
    must(fdsafe_socket_setsockopt(c, IPPROTO_IP, IP_TOS, &tos, sizeof tos));
    tos = 0;
    expect_code(fdsafe_socket_getsockopt(c, IPPROTO_IP, IP_TOS, &tos, sizeof tos), sizeof tos);
    assert_int_equal(tos, 0x10);
    /* An option the level lacks, and a too-small buffer, are the kernel's answers. */
    int v = 0;
    expect_code(fdsafe_socket_getsockopt(c, SOL_SOCKET, 12345, &v, sizeof v), -ENOPROTOOPT);
    expect_code(fdsafe_socket_setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &v, 1), -EINVAL);
    /* SO_BINDTODEVICE to a device that does not exist. */
    expect_code(fdsafe_socket_setsockopt(c, SOL_SOCKET, SO_BINDTODEVICE, "nosuchdev0", 11), -ENODEV);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

/* A TCP listener made with fdsafe_socket_create, bind and listen, reached by socat. */
static void test_generic_tcp_listener_with_socat(void **state) {
    (void)state;
    if (system("command -v socat >/dev/null 2>&1") != 0) {
        print_message("socat is not installed: skipping\n");
        skip();
    }
    fdsafe_handle l = 0, s = 0;
    must(fdsafe_socket_create(AF_INET, SOCK_STREAM, 0, 0, &l));
    int one = 1;
    must(fdsafe_socket_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    must(fdsafe_socket_bind(l, &any, sizeof any));
    must(fdsafe_socket_listen(l, 4));
    expect_code(fdsafe_handle_kind(l), FDSAFE_KIND_SOCKET);
    char addr[FDSAFE_ADDRESS_TEXT_MAX], cmd[FDSAFE_ADDRESS_TEXT_MAX + 96];
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    /* The port, as for a TCP listener made by fdsafe_tcp_listen (getsockname's). */
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    assert_int_equal(getsockname((int)must(fdsafe_fd_borrow(l)), (struct sockaddr *)&bound, &bound_len), 0);
    uint16_t port = 0;
    must(fdsafe_socket_local_port(l, &port));
    assert_int_equal(port, ntohs(bound.sin_port));
    fdsafe_handle udp, netlink;
    must(fdsafe_socket_create(AF_INET6, SOCK_DGRAM, 0, 0, &udp));
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    must(fdsafe_socket_bind(udp, &any6, sizeof any6));
    must(fdsafe_socket_local_port(udp, &port));
    assert_true(port != 0);
    must(fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &netlink));
    expect_code(fdsafe_socket_local_port(netlink, &port), FDSAFE_E_WRONG_KIND); /* no port */
    must(fdsafe_close(udp));
    must(fdsafe_close(netlink));
    snprintf(cmd, sizeof cmd, "echo from-socat | socat -t 2 - TCP:%s >/dev/null 2>&1 &", addr);
    assert_int_equal(system(cmd), 0);
    set_timeout(l, SO_RCVTIMEO, 5000);
    struct sockaddr_storage peer;
    size_t peer_len = 0;
    must(fdsafe_socket_accept(l, 0, &s, &peer, sizeof peer, &peer_len));
    expect_code(fdsafe_handle_kind(s), FDSAFE_KIND_SOCKET);
    assert_int_equal(peer.ss_family, AF_INET);
    char buf[32] = {0};
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf - 1, FDSAFE_MSG_WAITALL), 11);
    assert_string_equal(buf, "from-socat\n");
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

/* Packet and vsock sockets are made as the generic kind; a raw ICMP socket pings the
 * loopback and the kernel, the peer, answers with an echo reply. */
static void test_packet_vsock_and_raw_icmp(void **state) {
    (void)state;
    fdsafe_handle h = 0;
    int rc = fdsafe_socket_create(AF_PACKET, SOCK_DGRAM, htons(0x0003 /* ETH_P_ALL */), 0, &h);
    if (rc == 0) {
        expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_SOCKET);
        int type = 0;
        expect_code(fdsafe_socket_getsockopt(h, SOL_SOCKET, SO_TYPE, &type, sizeof type), sizeof type);
        assert_int_equal(type, SOCK_DGRAM);
        must(fdsafe_close(h));
    } else {
        print_message("AF_PACKET refused by the kernel: %s\n", fdsafe_strerror(rc));
    }
    rc = fdsafe_socket_create(AF_VSOCK, SOCK_STREAM, 0, 0, &h);
    if (rc == 0) {
        expect_code(fdsafe_handle_kind(h), FDSAFE_KIND_SOCKET);
        must(fdsafe_close(h));
    } else {
        print_message("AF_VSOCK refused by the kernel: %s\n", fdsafe_strerror(rc));
    }
    rc = fdsafe_socket_create(AF_INET, SOCK_RAW, IPPROTO_ICMP, 0, &h);
    if (rc < 0) {
        print_message("raw ICMP socket refused by the kernel: %s: skipping\n", fdsafe_strerror(rc));
        skip();
    }
    set_timeout(h, SO_RCVTIMEO, 3000);
    unsigned char echo[16] = {8 /* ICMP_ECHO */, 0, 0, 0, 0x12, 0x34, 0, 1, 'f', 'd', 's', 'a', 'f', 'e', '!', '!'};
    uint32_t sum = 0;
    for (size_t i = 0; i < sizeof echo; i += 2) sum += (uint32_t)(echo[i] << 8 | echo[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    echo[2] = (unsigned char)(~sum >> 8);
    echo[3] = (unsigned char)~sum;
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    expect_code(fdsafe_socket_send_to_sockaddr(h, echo, sizeof echo, 0, &lo, sizeof lo), sizeof echo);
    unsigned char pkt[256];
    struct sockaddr_storage from;
    size_t from_len = 0;
    for (int i = 0; i < 10; i++) { /* the raw socket also sees our own request */
        int64_t n = must(fdsafe_socket_recv_from(h, pkt, sizeof pkt, 0, &from, sizeof from, &from_len));
        size_t ihl = (size_t)(pkt[0] & 15) * 4;
        assert_true((size_t)n >= ihl + sizeof echo);
        if (pkt[ihl] != 0 /* ICMP_ECHOREPLY */) continue;
        assert_memory_equal(pkt + ihl + 4, echo + 4, sizeof echo - 4); /* id, sequence, payload */
        assert_int_equal(((struct sockaddr_in *)&from)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
        must(fdsafe_close(h));
        return;
    }
    fail_msg("no echo reply");
}

/* A free loopback port: bound, read, closed. */
static unsigned short free_port(int type) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_tcp_client_bound_before_connect(void **state) {
    (void)state;
    fdsafe_handle l = 0, c = 0, s = 0;
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, 0, &l));
    struct sockaddr_in remote;
    size_t remote_len = 0;
    must(fdsafe_socket_local_sockaddr(l, &remote, sizeof remote, &remote_len));
    unsigned short port = free_port(SOCK_STREAM);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000002)};
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, sizeof local, &remote, remote_len, 2000, 0, &c), 0);
    expect_code(fdsafe_handle_kind(c), FDSAFE_KIND_TCP_STREAM); /* the typed kind */
    struct sockaddr_storage peer_storage;
    struct sockaddr_in *peer_in = (struct sockaddr_in *)&peer_storage;
    size_t peer_len = 0;
    must(fdsafe_socket_accept(l, 0, &s, &peer_storage, sizeof peer_storage, &peer_len));
    assert_int_equal(ntohs(peer_in->sin_port), port); /* the listener sees the chosen source */
    assert_int_equal(ntohl(peer_in->sin_addr.s_addr), 0x7f000002);
    expect_code(fdsafe_socket_send(c, "x", 1, 0), 1);
    /* The same source again while it is connected: the kernel refuses it. */
    fdsafe_handle c2 = 0;
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, sizeof local, &remote, remote_len, 2000, 0, &c2),
                -EADDRINUSE);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    /* Non-blocking: 0 or 1 (in progress), then finished. */
    local.sin_port = 0;
    int rc = (int)must(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, sizeof local, &remote, remote_len, -1,
                                                  FDSAFE_NONBLOCK, &c));
    if (rc == 1) must(fdsafe_socket_connect_finish(c, 2000));
    must(fdsafe_socket_accept(l, 0, &s, &peer_storage, sizeof peer_storage, &peer_len));
    assert_int_equal(ntohl(peer_in->sin_addr.s_addr), 0x7f000002);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

/* UDP from a chosen port to a receiver written with Python's socket module, which prints the
 * address it saw. */
static void test_udp_client_bound_before_connect_python_peer(void **state) {
    (void)state;
    FILE *py = popen("python3 -c 'import socket,sys\n"
                     "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"127.0.0.1\",0)); s.settimeout(5)\n"
                     "print(s.getsockname()[1],flush=True)\n"
                     "d,a=s.recvfrom(64); print(d.decode(),a[0],a[1],flush=True)'",
                     "r");
    assert_non_null(py);
    unsigned port_py = 0;
    assert_int_equal(fscanf(py, "%u", &port_py), 1);
    struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port_py), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    unsigned short port = free_port(SOCK_DGRAM);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    fdsafe_handle u = 0;
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_DGRAM, &local, sizeof local, &remote, sizeof remote, -1, 0, &u), 0);
    expect_code(fdsafe_handle_kind(u), FDSAFE_KIND_UDP);
    expect_code(fdsafe_socket_send(u, "hello", 5, 0), 5);
    char text[16] = {0}, host[32] = {0};
    unsigned seen_port = 0;
    assert_int_equal(fscanf(py, "%15s %31s %u", text, host, &seen_port), 3);
    assert_int_equal(pclose(py), 0);
    assert_string_equal(text, "hello");
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(seen_port, port);
    must(fdsafe_close(u));
}

static size_t abstract_addr(struct sockaddr_un *sa, const char *name) {
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

/* A Unix stream or seqpacket connect waits for room in a full listener's queue: a timeout
 * bounds that wait (-ETIMEDOUT), as for TCP; 0 looks once. Before, the timeout was ignored
 * and the connect waited for ever. */
static void test_unix_connect_from_honours_its_timeout(void **state) {
    (void)state;
    char lname[64];
    snprintf(lname, sizeof lname, "@fdsafe-g-full-%d", getpid());
    int types[2] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_SEQPACKET};
    for (int t = 0; t < 2; t++) {
        fdsafe_handle l = 0, fillers[8], c = 0;
        int filled = 0;
        must(fdsafe_unix_listen(lname, (uint32_t)types[t], 0, NULL, &l));
        struct sockaddr_un remote;
        size_t remote_len = 0;
        must(fdsafe_socket_local_sockaddr(l, &remote, sizeof remote, &remote_len));
        sa_family_t fam = AF_UNIX;
        /* Fill the queue: connects that do not wait succeed until it is full. */
        while (filled < 8 && fdsafe_socket_connect_from(types[t], &fam, sizeof fam, &remote, remote_len, 0, 0,
                                                        &fillers[filled]) == 0)
            filled++;
        assert_true(filled >= 1 && filled < 8);
        expect_code(fdsafe_socket_connect_from(types[t], &fam, sizeof fam, &remote, remote_len, 0, 0, &c), -ETIMEDOUT);
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        expect_code(fdsafe_socket_connect_from(types[t], &fam, sizeof fam, &remote, remote_len, 200, 0, &c), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double waited = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
        assert_true(waited >= 0.15 && waited < 2.0);
        assert_true(c == 0); /* nothing made */
        while (filled > 0) must(fdsafe_close(fillers[--filled]));
        must(fdsafe_close(l));
    }
}

static void test_unix_clients_bound_before_connect(void **state) {
    (void)state;
    char lname[64], cname[64];
    snprintf(lname, sizeof lname, "@fdsafe-g-listen-%d", getpid());
    snprintf(cname, sizeof cname, "fdsafe-g-client-%d", getpid());
    int types[2] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_SEQPACKET};
    for (int t = 0; t < 2; t++) {
        fdsafe_handle l = 0, c = 0, s = 0;
        must(fdsafe_unix_listen(lname, (uint32_t)types[t], 4, NULL, &l));
        struct sockaddr_un remote, local;
        struct sockaddr_storage peer_storage;
        struct sockaddr_un *peer = (struct sockaddr_un *)&peer_storage;
        size_t remote_len = 0, peer_len = 0;
        must(fdsafe_socket_local_sockaddr(l, &remote, sizeof remote, &remote_len));
        size_t local_len = abstract_addr(&local, cname);
        expect_code(fdsafe_socket_connect_from(types[t], &local, local_len, &remote, remote_len, -1, 0, &c), 0);
        expect_code(fdsafe_handle_kind(c), t == 0 ? FDSAFE_KIND_UNIX_STREAM : FDSAFE_KIND_UNIX_SEQPACKET);
        char text[FDSAFE_ADDRESS_TEXT_MAX], want[80];
        must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
        must(fdsafe_socket_peer_address(s, text, sizeof text));
        snprintf(want, sizeof want, "@%s", cname);
        assert_string_equal(text, want); /* the server sees the client's chosen name */
        must(fdsafe_close(c));
        must(fdsafe_close(s));
        /* Autobind: a local address of just the family. */
        sa_family_t fam = AF_UNIX;
        must(fdsafe_socket_connect_from(types[t], &fam, sizeof fam, &remote, remote_len, -1, 0, &c));
        must(fdsafe_socket_accept(l, 0, &s, &peer_storage, sizeof peer_storage, &peer_len));
        assert_int_equal(peer_len, offsetof(struct sockaddr_un, sun_path) + 6); /* NUL + 5 hex digits */
        assert_int_equal(peer->sun_path[0], 0);
        must(fdsafe_close(c));
        must(fdsafe_close(s));
        must(fdsafe_close(l));
    }
    /* A stream client bound to a path: the server's peer address is that path. */
    {
        fdsafe_handle l = 0, c = 0, s = 0;
        must(fdsafe_unix_listen(lname, FDSAFE_SOCK_STREAM, 4, NULL, &l));
        struct sockaddr_un remote, local = {.sun_family = AF_UNIX};
        size_t remote_len = 0;
        must(fdsafe_socket_local_sockaddr(l, &remote, sizeof remote, &remote_len));
        snprintf(local.sun_path, sizeof local.sun_path, "/tmp/fdsafe-g-client-%d.sock", getpid());
        unlink(local.sun_path);
        size_t local_len = offsetof(struct sockaddr_un, sun_path) + strlen(local.sun_path) + 1;
        must(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, local_len, &remote, remote_len, -1, 0, &c));
        must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
        char text[FDSAFE_ADDRESS_TEXT_MAX];
        must(fdsafe_socket_peer_address(s, text, sizeof text));
        assert_string_equal(text, local.sun_path);
        must(fdsafe_close(c));
        must(fdsafe_close(s));
        must(fdsafe_close(l));
        assert_int_equal(access(local.sun_path, F_OK), 0); /* bound as bind(2) binds: not removed */
        unlink(local.sun_path);
    }
    /* A datagram client with a name: the receiver's recv_from shows it. */
    fdsafe_handle r = 0, d = 0;
    char rname[64];
    snprintf(rname, sizeof rname, "@fdsafe-g-dgram-%d", getpid());
    must(fdsafe_unix_bind(rname, NULL, &r));
    struct sockaddr_un remote, local;
    struct sockaddr_storage from;
    size_t remote_len = 0, from_len = 0;
    must(fdsafe_socket_local_sockaddr(r, &remote, sizeof remote, &remote_len));
    size_t local_len = abstract_addr(&local, cname);
    must(fdsafe_socket_connect_from(FDSAFE_SOCK_DGRAM, &local, local_len, &remote, remote_len, -1, 0, &d));
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_UNIX_DATAGRAM);
    expect_code(fdsafe_socket_send(d, "dg", 2, 0), 2);
    char buf[8];
    expect_code(fdsafe_socket_recv_from(r, buf, sizeof buf, 0, &from, sizeof from, &from_len), 2);
    assert_int_equal(from_len, local_len);
    assert_memory_equal(&from, &local, local_len);
    must(fdsafe_close(d));
    must(fdsafe_close(r));
}

/* FDSAFE_MSG_TRUNC on a stream socket would make Linux discard the bytes (tcp(7)): every
 * receive refuses it before receiving, and the next receive gets the data. Datagram sockets
 * keep it. */
static void expect_trunc_refused(fdsafe_handle h) {
    char buf[100] = {0};
    struct sockaddr_storage from;
    size_t from_len = 0;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    fdsafe_recv_message m;
    memset(&m, 0, sizeof m);
    m.iov = &iov;
    m.iov_count = 1;
    expect_code(fdsafe_socket_recv(h, buf, sizeof buf, FDSAFE_MSG_TRUNC), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv(h, buf, sizeof buf, FDSAFE_MSG_TRUNC | FDSAFE_MSG_DONTWAIT), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_from(h, buf, sizeof buf, FDSAFE_MSG_TRUNC, &from, sizeof from, &from_len),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_message(h, &m, FDSAFE_MSG_TRUNC), FDSAFE_E_INVALID_ARGUMENT);
}

static void test_trunc_refused_on_stream_sockets(void **state) {
    (void)state;
    char buf[100] = {0};
    /* TCP. */
    fdsafe_handle l = 0, c = 0, s = 0;
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, 0, &l));
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    must(fdsafe_tcp_connect(addr, 2000, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    expect_code(fdsafe_socket_send(c, "stream-data", 11, 0), 11);
    must(fdsafe_wait(s, FDSAFE_EVENT_IN, 2000));
    expect_trunc_refused(s);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 11); /* nothing was lost */
    assert_memory_equal(buf, "stream-data", 11);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
    /* Unix stream. */
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &c, &s));
    expect_code(fdsafe_socket_send(c, "unix", 4, 0), 4);
    expect_trunc_refused(s);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 4);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    /* A FDSAFE_KIND_SOCKET of type SOCK_STREAM: its SO_TYPE decides. */
    fdsafe_handle g = 0;
    must(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 0, &g));
    expect_trunc_refused(g);
    must(fdsafe_close(g));
    /* Datagrams: the real length, as before. */
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &c, &s));
    expect_code(fdsafe_socket_send(c, "0123456789", 10, 0), 10);
    expect_code(fdsafe_socket_recv(s, buf, 4, FDSAFE_MSG_TRUNC), 10);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
}

/* send_message takes any family on a FDSAFE_KIND_SOCKET, as send_to_sockaddr does: a
 * netlink request to the kernel (port id 0). */
static void test_send_message_to_netlink_kernel(void **state) {
    (void)state;
    fdsafe_handle nl = 0;
    must(fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &nl));
    struct {
        struct nlmsghdr h;
        struct ifinfomsg i;
    } req = {.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 7},
             .i = {.ifi_family = AF_UNSPEC}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct iovec iov = {.iov_base = &req, .iov_len = sizeof req};
    fdsafe_send_message m;
    memset(&m, 0, sizeof m);
    m.addr = &kernel;
    m.addr_len = sizeof kernel;
    m.iov = &iov;
    m.iov_count = 1;
    expect_code(fdsafe_socket_send_message(nl, &m, 0), sizeof req);
    static char buf[1 << 16];
    int links = 0, done = 0;
    while (!done) {
        set_timeout(nl, SO_RCVTIMEO, 2000);
        int64_t n = must(fdsafe_socket_recv(nl, buf, sizeof buf, 0));
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            assert_int_not_equal(h->nlmsg_type, NLMSG_ERROR);
            assert_int_equal(h->nlmsg_seq, 7);
            if (h->nlmsg_type == NLMSG_DONE) done = 1;
            else if (h->nlmsg_type == RTM_NEWLINK) links++;
        }
    }
    assert_true(links >= 1); /* at least lo */
    /* Typed sockets still check the family. */
    fdsafe_handle a = 0, b = 0;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    expect_code(fdsafe_socket_send_message(a, &m, 0), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(nl));
}

/* SO_PEERPIDFD through getsockopt would put a raw descriptor outside the handle table (and
 * leak it with a short buffer): refused; fdsafe_socket_peer_pidfd gives it as a handle. The
 * harness checks no descriptor leaked. */
static void test_getsockopt_refuses_so_peerpidfd(void **state) {
    (void)state;
    fdsafe_handle a = 0, b = 0;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    int fd = -1;
    char small[2];
    expect_code(fdsafe_socket_getsockopt(a, SOL_SOCKET, 77, &fd, sizeof fd), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(fd, -1);
    expect_code(fdsafe_socket_getsockopt(a, SOL_SOCKET, 77, small, sizeof small), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_getsockopt(a, SOL_SOCKET, 77, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle g = 0;
    must(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 0, &g));
    expect_code(fdsafe_socket_getsockopt(g, SOL_SOCKET, 77, &fd, sizeof fd), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(g));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* A private directory under /tmp, made with mkdtemp: `dir` receives its path. */
static void make_temp_dir(char *dir, size_t cap) {
    snprintf(dir, cap, "/tmp/fdsafe-gs-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* A socket of any family takes the typed calls its family, type and protocol allow, as
 * fdsafe_socket_create says: TCP's and UDP's options on IP sockets made that way, and the
 * peer calls and descriptor passing on a Unix one. What the family does not have is still
 * refused. Before, every typed option and peer call refused FDSAFE_KIND_SOCKET. */
static void test_typed_calls_on_sockets_of_any_family(void **state) {
    (void)state;
    fdsafe_handle tcp, udp, nl;
    int value = -1;
    must(fdsafe_socket_create(AF_INET, SOCK_STREAM, 0, 0, &tcp));
    must(fdsafe_socket_option_set(tcp, IPPROTO_TCP, TCP_NODELAY, 1));
    must(fdsafe_socket_option_get(tcp, IPPROTO_TCP, TCP_NODELAY, &value));
    assert_int_equal(value, 1);
    must(fdsafe_socket_option_set(tcp, SOL_SOCKET, SO_REUSEADDR, 1));
    expect_code(fdsafe_socket_option_set(tcp, SOL_SOCKET, SO_BROADCAST, 1), FDSAFE_E_WRONG_KIND); /* UDP's */
    must(fdsafe_socket_create(AF_INET, SOCK_DGRAM, 0, 0, &udp));
    must(fdsafe_socket_option_set(udp, SOL_SOCKET, SO_BROADCAST, 1));
    must(fdsafe_socket_option_set(udp, IPPROTO_IP, IP_TTL, 9));
    must(fdsafe_socket_option_get(udp, IPPROTO_IP, IP_TTL, &value));
    assert_int_equal(value, 9);
    expect_code(fdsafe_socket_option_set(udp, IPPROTO_TCP, TCP_NODELAY, 1), FDSAFE_E_WRONG_KIND);
    must(fdsafe_socket_create(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, 0, &nl));
    expect_code(fdsafe_socket_option_set(nl, IPPROTO_TCP, TCP_NODELAY, 1), FDSAFE_E_WRONG_KIND);
    fdsafe_credentials creds;
    expect_code(fdsafe_socket_peer_credentials(nl, &creds), FDSAFE_E_WRONG_KIND);

    /* A Unix stream socket made with socket_create, connected to a listener. */
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/l.sock", dir);
    fdsafe_handle l, g, served;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 4, NULL, &l));
    must(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 0, &g));
    must(fdsafe_socket_connect(g, path));
    must(fdsafe_socket_accept(l, 0, &served, NULL, 0, NULL));
    must(fdsafe_socket_peer_credentials(g, &creds));
    assert_int_equal(creds.pid, getpid());
    must(fdsafe_socket_option_set(g, SOL_SOCKET, SO_PASSCRED, 1));
    uint32_t groups[64];
    assert_true(must(fdsafe_socket_peer_groups(g, groups, 64)) >= 0);
    fdsafe_handle e, got[1];
    fdsafe_recv_info info;
    char c;
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_socket_send_handles(g, "m", 1, &e, 1, 0), 1);
    expect_code(fdsafe_socket_recv_handles(served, &c, 1, 0, got, 1, &info), 1);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_EVENTFD);
    fdsafe_handle all[] = {tcp, udp, nl, l, g, served, e, got[0]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
    rmdir(dir);
}


/* connect_from with a local path: a failed connect removes the socket file its bind made. */
static void test_connect_from_failure_removes_local_path(void **state) {
    (void)state;
    char dir[64], local_path[96], remote_path[96];
    make_temp_dir(dir, sizeof dir);
    snprintf(local_path, sizeof local_path, "%s/local.sock", dir);
    snprintf(remote_path, sizeof remote_path, "%s/remote.sock", dir);
    /* A socket file nobody accepts on: the connect is refused. */
    fdsafe_handle r = 0, c = 0;
    must(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 0, &r));
    struct sockaddr_un remote = {.sun_family = AF_UNIX}, local = {.sun_family = AF_UNIX};
    snprintf(remote.sun_path, sizeof remote.sun_path, "%s", remote_path);
    snprintf(local.sun_path, sizeof local.sun_path, "%s", local_path);
    size_t remote_len = offsetof(struct sockaddr_un, sun_path) + strlen(remote_path) + 1;
    size_t local_len = offsetof(struct sockaddr_un, sun_path) + strlen(local_path) + 1;
    must(fdsafe_socket_bind(r, &remote, remote_len));
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, local_len, &remote, remote_len, -1, 0, &c),
                -ECONNREFUSED);
    assert_int_equal(access(local_path, F_OK), -1); /* the bind's file is gone */
    assert_int_equal(errno, ENOENT);
    /* A missing remote: the same. */
    unlink(remote_path);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_DGRAM, &local, local_len, &remote, remote_len, -1, 0, &c),
                -ENOENT);
    assert_int_equal(access(local_path, F_OK), -1);
    /* A path taken already is not touched (the bind fails first). */
    int fd = open(local_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, local_len, &remote, remote_len, -1, 0, &c),
                -EADDRINUSE);
    assert_int_equal(access(local_path, F_OK), 0);
    unlink(local_path);
    must(fdsafe_close(r));
    rmdir(dir);
}

/* A Unix path of all 108 bytes comes back from the kernel as 111 bytes (a NUL past the
 * structure); send_to_sockaddr and send_message on a FDSAFE_KIND_SOCKET take it back. */
static void test_full_length_unix_path_goes_back(void **state) {
    (void)state;
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    struct sockaddr_un peer_addr = {.sun_family = AF_UNIX};
    size_t used = (size_t)snprintf(peer_addr.sun_path, sizeof peer_addr.sun_path, "%s/", dir);
    memset(peer_addr.sun_path + used, 'p', sizeof peer_addr.sun_path - used); /* no NUL: 108 bytes */
    char path[sizeof peer_addr.sun_path + 1];
    memcpy(path, peer_addr.sun_path, sizeof peer_addr.sun_path);
    path[sizeof peer_addr.sun_path] = 0;
    assert_int_equal(strlen(path), 108);
    fdsafe_handle peer = 0, s = 0;
    must(fdsafe_socket_create(AF_UNIX, SOCK_DGRAM, 0, 0, &peer));
    must(fdsafe_socket_bind(peer, &peer_addr, sizeof peer_addr));
    must(fdsafe_socket_create(AF_UNIX, SOCK_DGRAM, 0, 0, &s));
    sa_family_t fam = AF_UNIX;
    must(fdsafe_socket_bind(s, &fam, sizeof fam)); /* autobind, so the peer can answer */
    struct sockaddr_storage s_addr, from;
    size_t s_len = 0, from_len = 0;
    must(fdsafe_socket_local_sockaddr(s, &s_addr, sizeof s_addr, &s_len));
    expect_code(fdsafe_socket_send_to_sockaddr(peer, "hi", 2, 0, &s_addr, s_len), 2);
    char buf[8];
    expect_code(fdsafe_socket_recv_from(s, buf, sizeof buf, 0, &from, sizeof from, &from_len), 2);
    assert_int_equal(from_len, sizeof(struct sockaddr_un) + 1); /* the kernel's 111 bytes */
    expect_code(fdsafe_socket_send_to_sockaddr(s, "back", 4, 0, &from, from_len), 4);
    expect_code(fdsafe_socket_recv(peer, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "back", 4);
    struct iovec iov = {.iov_base = "msg", .iov_len = 3};
    fdsafe_send_message m;
    memset(&m, 0, sizeof m);
    m.addr = &from;
    m.addr_len = from_len;
    m.iov = &iov;
    m.iov_count = 1;
    expect_code(fdsafe_socket_send_message(s, &m, 0), 3);
    expect_code(fdsafe_socket_recv(peer, buf, sizeof buf, 0), 3);
    must(fdsafe_close(s));
    must(fdsafe_close(peer));
    unlink(path);
    rmdir(dir);
}

static void test_generic_bad_input(void **state) {
    (void)state;
    fdsafe_handle h = 0, p = 0, q = 0;
    expect_code(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_create(AF_UNIX, SOCK_STREAM, 0, 1u << 30, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_create(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_create(AF_UNIX, SOCK_STREAM | (int)FDSAFE_OWN_FLAG, 0, 0, &h), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_create(AF_CAN, SOCK_RAW, 1, 0, &h), -EAFNOSUPPORT);
    expect_code(fdsafe_socket_create(AF_INET, SOCK_STREAM, IPPROTO_UDP, 0, &h), -EPROTONOSUPPORT);
    expect_code(fdsafe_socket_create(-1, SOCK_STREAM, 0, 0, &h), -EAFNOSUPPORT);
    must(fdsafe_socket_create(AF_UNIX, SOCK_DGRAM, 0, FDSAFE_NONBLOCK, &h));
    assert_int_equal(must(fdsafe_nonblocking_get(h)), 1);
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &p, &q));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    expect_code(fdsafe_socket_bind(h, NULL, 10), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_bind(h, &un, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_bind(h, &un, 4096), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_bind(p, &un, sizeof un), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_bind(0, &un, sizeof un), -EBADF);
    expect_code(fdsafe_socket_listen(h, 1), -EOPNOTSUPP); /* a datagram socket */
    expect_code(fdsafe_socket_listen(p, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_listen(0, 1), -EBADF);
    int v = 0;
    expect_code(fdsafe_socket_getsockopt(h, SOL_SOCKET, SO_TYPE, NULL, 4), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_getsockopt(h, (int)FDSAFE_OWN_FLAG, SO_TYPE, &v, sizeof v), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_getsockopt(h, SOL_SOCKET, SO_TYPE, &v, 0), 0); /* the kernel writes nothing */
    expect_code(fdsafe_socket_getsockopt(0, SOL_SOCKET, SO_TYPE, &v, sizeof v), -EBADF);
    expect_code(fdsafe_socket_setsockopt(h, SOL_SOCKET, SO_RCVTIMEO, NULL, 16), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_setsockopt(h, SOL_SOCKET, (int)FDSAFE_OWN_FLAG, &v, sizeof v), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_setsockopt(h, 9999, 1, &v, sizeof v), -EOPNOTSUPP); /* Unix: no such level */
    expect_code(fdsafe_socket_setsockopt(0, SOL_SOCKET, SO_RCVTIMEO, &v, sizeof v), -EBADF);
    fdsafe_handle ev = 0;
    must(fdsafe_eventfd_create(0, 0, &ev));
    expect_code(fdsafe_socket_getsockopt(ev, SOL_SOCKET, SO_TYPE, &v, sizeof v), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_setsockopt(ev, SOL_SOCKET, SO_TYPE, &v, sizeof v), FDSAFE_E_WRONG_KIND);
    struct sockaddr_in in4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(1)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &in4, sizeof in4, &in4, sizeof in4, -1, 0, NULL),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, NULL, 0, &in4, sizeof in4, -1, 0, &q), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &in6, sizeof in6, &in4, sizeof in4, -1, 0, &q),
                FDSAFE_E_INVALID_ARGUMENT); /* families differ */
    expect_code(fdsafe_socket_connect_from(SOCK_RAW, &in4, sizeof in4, &in4, sizeof in4, -1, 0, &q), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &in4, sizeof in4, &in4, sizeof in4, -2, 0, &q),
                FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &in4, sizeof in4, &in4, sizeof in4, -1, 1u << 30, &q),
                FDSAFE_E_INVALID_ARGUMENT);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_STREAM, &local, sizeof local, &in4, sizeof in4, 2000, 0, &q),
                -ECONNREFUSED); /* nothing listens on port 1 */
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a0b0c0d)};
    expect_code(fdsafe_socket_connect_from(FDSAFE_SOCK_DGRAM, &other, sizeof other, &in4, sizeof in4, -1, 0, &q),
                -EADDRNOTAVAIL); /* not an address of this machine */
    must(fdsafe_close(ev));
    must(fdsafe_close(h));
    must(fdsafe_close(p));
    must(fdsafe_close(q));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_typed_calls_on_sockets_of_any_family),
        FD_TEST(test_unix_connect_from_honours_its_timeout),
        FD_TEST(test_netlink_route_dump_finds_loopback),
        FD_TEST(test_netlink_socket_passes_over_scm_rights),
        FD_TEST(test_netlink_uevent_subscription),
        FD_TEST(test_receive_timeout_gives_eagain),
        FD_TEST(test_any_option_on_typed_sockets),
        FD_TEST(test_packet_vsock_and_raw_icmp),
        FD_TEST(test_generic_tcp_listener_with_socat),
        FD_TEST(test_tcp_client_bound_before_connect),
        FD_TEST(test_udp_client_bound_before_connect_python_peer),
        FD_TEST(test_unix_clients_bound_before_connect),
        FD_TEST(test_trunc_refused_on_stream_sockets),
        FD_TEST(test_send_message_to_netlink_kernel),
        FD_TEST(test_getsockopt_refuses_so_peerpidfd),
        FD_TEST(test_connect_from_failure_removes_local_path),
        FD_TEST(test_full_length_unix_path_goes_back),
        FD_TEST(test_generic_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
