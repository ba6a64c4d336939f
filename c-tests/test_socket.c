/* Sockets: addresses, TCP, Unix (path binding rules, abstract, autobind, pairs, seqpacket),
 * descriptor passing, credentials, UDP, options, zero-copy, and misuse of each function. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define STALE_MARK 0x0100000100000000ull

static char tmpdir[PATH_MAX];

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fdsafe-sock-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", tmpdir, name);
}

static fdsafe_handle closed_handle(void) {
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    return a;
}

/* A TCP listener on 127.0.0.1 and a connected pair (client, server side). */
static void tcp_pair(fdsafe_handle *listener, fdsafe_handle *client, fdsafe_handle *server) {
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 16, 0, listener));
    must(fdsafe_socket_local_address(*listener, addr, sizeof addr));
    expect_code(fdsafe_tcp_connect(addr, 2000, 0, client), 0);
    must(fdsafe_socket_accept(*listener, 0, server, NULL, 0, NULL));
}

/* ------------------------------------------------------------ addresses */

static void test_address_parse_and_format(void **state) {
    (void)state;
    const char *good[] = {"127.0.0.1:8080", "[::1]:80", "/run/app.sock", "./rel/x.sock", "@app", "@a\\x00b"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct sockaddr_storage ss;
        size_t len = 0;
        char text[FDSAFE_ADDRESS_TEXT_MAX];
        expect_code(fdsafe_address_parse(good[i], &ss, sizeof ss, &len), 0);
        expect_code(fdsafe_address_format(&ss, len, text, sizeof text), (int)strlen(good[i]));
        assert_string_equal(text, good[i]);
    }
    struct sockaddr_storage ss;
    size_t len = 0;
    must(fdsafe_address_parse("@abc", &ss, sizeof ss, &len));
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 1 + 3); /* exact, no padding */
    must(fdsafe_address_parse("10.1.2.3:443", &ss, sizeof ss, &len));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(ntohs(sin->sin_port), 443);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x0a010203);
    /* A plain sockaddr built by the caller formats too. */
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(9);
    s6.sin6_addr = in6addr_loopback;
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    expect_code(fdsafe_address_format(&s6, sizeof s6, text, sizeof text), 7);
    assert_string_equal(text, "[::1]:9");
}

static void test_address_bad_input(void **state) {
    (void)state;
    /* "" is no longer here: it is the unnamed Unix address, which fdsafe_address_format gives. */
    const char *bad[] = {"localhost:80", "127.0.0.1", "1.2.3.4:65536", "::1:80", "app.sock", "1.2.3:80", "[::1]80"};
    struct sockaddr_storage ss;
    size_t len = 77;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        expect_code(fdsafe_address_parse(bad[i], &ss, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
        assert_int_equal(len, 77); /* untouched */
    }
    /* A scope: an interface's index or name; a name no interface has is -ENODEV, as the kernel
     * says of an index that names none; a malformed scope is refused. */
    must(fdsafe_address_parse("[fe80::1%lo]:80", &ss, sizeof ss, &len));
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, if_nametoindex("lo"));
    must(fdsafe_address_parse("[fe80::1%7]:80", &ss, sizeof ss, &len));
    assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 7);
    len = 77;
    expect_code(fdsafe_address_parse("[fe80::1%no-such-if0]:80", &ss, sizeof ss, &len), -ENODEV);
    expect_code(fdsafe_address_parse("[fe80::1%]:80", &ss, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_parse("[fe80::1%99999999999]:80", &ss, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(len, 77);
    fdsafe_handle none;
    expect_code(fdsafe_tcp_listen("[fe80::1%no-such-if0]:0", 4, 0, &none), -ENODEV);
    char message[256];
    fdsafe_address_parse("localhost:80", &ss, sizeof ss, &len);
    fdsafe_last_error(message, sizeof message);
    assert_non_null(strstr(message, "localhost:80"));
    char longpath[200];
    memset(longpath, 'x', sizeof longpath);
    longpath[0] = '/';
    longpath[109] = '\0'; /* 109 bytes: more than sun_path holds */
    expect_code(fdsafe_address_parse(longpath, &ss, sizeof ss, &len), -ENAMETOOLONG);
    longpath[108] = '\0'; /* 108 bytes fill sun_path, with no NUL (the kernel takes that) */
    expect_code(fdsafe_address_parse(longpath, &ss, sizeof ss, &len), 0);
    assert_int_equal(len, 2 + 108);
    expect_code(fdsafe_address_parse(NULL, &ss, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_parse("1.2.3.4:5", NULL, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_parse("1.2.3.4:5", &ss, sizeof ss, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_parse("1.2.3.4:5", &ss, 4, &len), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_address_parse("1.2.3.4:5", &ss, 0, &len), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_address_parse("1.2.3.4:5", NULL, 0, &len), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_address_parse("1.2.3.4:5", &ss, SIZE_MAX, &len), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_address_parse("1.2.3.4:5", &ss, sizeof ss, &len));
    char text[8];
    expect_code(fdsafe_address_format(&ss, len, text, sizeof text), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_address_format(NULL, len, text, sizeof text), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_format(&ss, 3, text, sizeof text), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_address_format(&ss, len, NULL, 8), FDSAFE_E_INVALID_ARGUMENT);
    ss.ss_family = AF_PACKET;
    expect_code(fdsafe_address_format(&ss, len, text, sizeof text), FDSAFE_E_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ TCP */

static void test_tcp_listen_accept_send_recv(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    char laddr[FDSAFE_ADDRESS_TEXT_MAX], caddr[FDSAFE_ADDRESS_TEXT_MAX], peer[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 16, 0, &l));
    expect_code(fdsafe_handle_kind(l), FDSAFE_KIND_TCP_LISTENER);
    assert_true(fd_is_cloexec((int)must(fdsafe_fd_borrow(l))) == 1);
    int reuse = 0;
    must(fdsafe_socket_option_get(l, FDSAFE_SOL_SOCKET, FDSAFE_SO_REUSEADDR, &reuse));
    assert_int_equal(reuse, 1);
    must(fdsafe_socket_local_address(l, laddr, sizeof laddr));
    assert_true(strncmp(laddr, "127.0.0.1:", 10) == 0 && strcmp(laddr, "127.0.0.1:0") != 0);
    expect_code(fdsafe_tcp_connect(laddr, 2000, 0, &c), 0);
    expect_code(fdsafe_handle_kind(c), FDSAFE_KIND_TCP_STREAM);
    struct sockaddr_storage ss;
    size_t sslen = 0;
    must(fdsafe_socket_accept(l, FDSAFE_NONBLOCK, &s, &ss, sizeof ss, &sslen));
    expect_code(fdsafe_nonblocking_get(s), 1);
    assert_true(fd_is_cloexec((int)must(fdsafe_fd_borrow(s))) == 1);
    must(fdsafe_address_format(&ss, sslen, peer, sizeof peer));
    must(fdsafe_socket_local_address(c, caddr, sizeof caddr));
    assert_string_equal(peer, caddr);
    must(fdsafe_socket_peer_address(s, peer, sizeof peer));
    assert_string_equal(peer, caddr);
    struct sockaddr_storage raw;
    size_t rawlen = 0;
    must(fdsafe_socket_peer_sockaddr(c, &raw, sizeof raw, &rawlen));
    assert_int_equal(rawlen, sizeof(struct sockaddr_in));
    must(fdsafe_socket_local_sockaddr(l, &raw, sizeof raw, &rawlen));
    must(fdsafe_address_format(&raw, rawlen, peer, sizeof peer));
    assert_string_equal(peer, laddr);

    expect_code(fdsafe_socket_send(c, "hello", 5, 0), 5);
    char buf[16] = {0};
    expect_code(fdsafe_socket_recv(s, buf, 5, FDSAFE_MSG_PEEK | FDSAFE_MSG_WAITALL), 5);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    expect_code(fdsafe_socket_shutdown(c, FDSAFE_SHUT_WR), 0);
    struct pollfd pfd = {.fd = (int)must(fdsafe_fd_borrow(s)), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 0);
    /* The accepted socket wants the peer's address only if asked. */
    fdsafe_handle c2, s2;
    expect_code(fdsafe_tcp_connect(laddr, -1, 0, &c2), 0);
    expect_code(fdsafe_socket_accept(l, 0, &s2, &ss, 4, &sslen), FDSAFE_E_BUFFER_TOO_SMALL);
    must(fdsafe_socket_accept(l, 0, &s2, NULL, 0, NULL));
    must(fdsafe_close(c2));
    must(fdsafe_close(s2));
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

static void test_tcp_sockaddr_forms_and_ipv6(void **state) {
    (void)state;
    struct sockaddr_in6 any6;
    memset(&any6, 0, sizeof any6);
    any6.sin6_family = AF_INET6;
    any6.sin6_addr = in6addr_any;
    fdsafe_handle l, c, s;
    must(fdsafe_tcp_listen_sockaddr(&any6, sizeof any6, 8, 0, &l));
    int v6only = -1;
    must(fdsafe_socket_option_get(l, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_V6ONLY, &v6only));
    assert_int_equal(v6only, 0); /* dual-stack by default */
    struct sockaddr_storage ss;
    size_t len = 0;
    must(fdsafe_socket_local_sockaddr(l, &ss, sizeof ss, &len));
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof v4);
    v4.sin_family = AF_INET;
    v4.sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    expect_code(fdsafe_tcp_connect_sockaddr(&v4, sizeof v4, 2000, 0, &c), 0);
    char peer[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    must(fdsafe_socket_peer_address(s, peer, sizeof peer));
    assert_true(strncmp(peer, "[::ffff:127.0.0.1]:", 19) == 0);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));

    must(fdsafe_tcp_listen("[::1]:0", 8, FDSAFE_SOCKET_V6ONLY | FDSAFE_SOCKET_REUSEPORT, &l));
    must(fdsafe_socket_option_get(l, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_V6ONLY, &v6only));
    assert_int_equal(v6only, 1);
    int rp = 0;
    must(fdsafe_socket_option_get(l, FDSAFE_SOL_SOCKET, FDSAFE_SO_REUSEPORT, &rp));
    assert_int_equal(rp, 1);
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    expect_code(fdsafe_tcp_connect(addr, 2000, 0, &c), 0);
    must(fdsafe_close(c));
    must(fdsafe_close(l));
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, FDSAFE_SOCKET_NO_REUSEADDR, &l));
    must(fdsafe_socket_option_get(l, FDSAFE_SOL_SOCKET, FDSAFE_SO_REUSEADDR, &rp));
    assert_int_equal(rp, 0);
    must(fdsafe_close(l));
}

static void test_tcp_connect_timeout_refused_and_nonblocking(void **state) {
    (void)state;
    fdsafe_handle l, c;
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &l));
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    must(fdsafe_close(l));
    fdsafe_handle untouched = 12345;
    expect_code(fdsafe_tcp_connect(addr, 2000, 0, &untouched), -ECONNREFUSED);
    assert_int_equal(untouched, 12345);
    expect_code(fdsafe_tcp_connect(addr, -1, 0, &untouched), -ECONNREFUSED);
    int refused = fdsafe_tcp_connect(addr, 0, 0, &untouched); /* no time to learn it, maybe */
    assert_true(refused == -ECONNREFUSED || refused == -ETIMEDOUT);
    /* Non-blocking: start, then finish and learn the result. */
    int r = (int)must(fdsafe_tcp_connect(addr, 0, FDSAFE_NONBLOCK, &c));
    if (r == 1) {
        expect_code(fdsafe_socket_connect_finish(c, 2000), -ECONNREFUSED);
    }
    must(fdsafe_close(c));
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &l));
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    r = (int)must(fdsafe_tcp_connect(addr, 0, FDSAFE_NONBLOCK, &c));
    assert_true(r == 0 || r == 1);
    expect_code(fdsafe_socket_connect_finish(c, 2000), 0);
    expect_code(fdsafe_nonblocking_get(c), 1);
    must(fdsafe_close(c));
    /* Blocking with no time to wait: connected, or -ETIMEDOUT as the header says, never the
     * -EINPROGRESS of an attempt the caller has no handle to finish. */
    r = fdsafe_tcp_connect(addr, 0, 0, &c);
    assert_true(r == 0 || r == -ETIMEDOUT);
    if (r == 0) must(fdsafe_close(c));
    must(fdsafe_close(l));
    /* A timeout: a listener whose backlog is full drops further SYNs, so a connect waits. */
    must(fdsafe_tcp_listen("127.0.0.1:0", 0, 0, &l));
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    fdsafe_handle pending[8];
    int n = 0, t = 0;
    while (n < 8) {
        t = fdsafe_tcp_connect(addr, 200, 0, &pending[n]);
        if (t != 0) break;
        n++;
    }
    expect_code(t, -ETIMEDOUT);
    while (n > 0) must(fdsafe_close(pending[--n]));
    must(fdsafe_close(l));
}

static void test_tcp_send_to_closed_peer_is_epipe(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    tcp_pair(&l, &c, &s);
    must(fdsafe_close(s));
    static char chunk[65536];
    int64_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++) r = fdsafe_socket_send(c, chunk, sizeof chunk, 0);
    assert_true(r == -EPIPE || r == -ECONNRESET);
    expect_code(fdsafe_write(c, "x", 1), -EPIPE); /* generic write: no SIGPIPE either */
    must(fdsafe_close(c));
    must(fdsafe_close(l));
}

/* A send_to on a TCP stream names a destination the kernel would ignore (it sends to the
 * peer): refused, and nothing reaches the peer or the address named. */
static void test_tcp_send_to_refuses_to_send_elsewhere(void **state) {
    (void)state;
    fdsafe_handle l, c, s, other, stranger;
    char there[FDSAFE_ADDRESS_TEXT_MAX];
    tcp_pair(&l, &c, &s);
    must(fdsafe_tcp_listen("127.0.0.1:0", 4, FDSAFE_NONBLOCK, &other));
    must(fdsafe_socket_local_address(other, there, sizeof there));
    expect_code(fdsafe_socket_send_to(c, "DATA", 4, 0, there), -EISCONN);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(7), .sin_addr.s_addr = htonl(0xc0000237)};
    expect_code(fdsafe_socket_send_to_sockaddr(c, "DATA", 4, 0, &sin, sizeof sin), -EISCONN);
    char buf[8];
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    expect_code(fdsafe_socket_accept(other, 0, &stranger, NULL, 0, NULL), -EAGAIN);
    must(fdsafe_close(other));
    must(fdsafe_close(s));
    must(fdsafe_close(c));
    must(fdsafe_close(l));
}

/* MSG_OOB, the kernel's constant, does what it names: TCP's urgent byte is received apart
 * from the stream, and a receive with nothing urgent fails as recv(2) does. */
/* connect and listen, asked of the typed sockets, answer as connect(2) and listen(2) do for
 * their state, and the handles keep their kinds: asyncio calls them on sockets it is given
 * (start_server(sock=...) listens again, sock_connect connects). */
static void test_connect_and_listen_on_typed_sockets_answer_as_the_kernel(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    tcp_pair(&l, &c, &s);
    char addr[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    must(fdsafe_socket_listen(l, 1)); /* listening again: a new backlog */
    fdsafe_handle c2, s2;
    expect_code(fdsafe_tcp_connect(addr, 2000, 0, &c2), 0);
    must(fdsafe_socket_accept(l, 0, &s2, NULL, 0, NULL));
    expect_code(fdsafe_handle_kind(l), FDSAFE_KIND_TCP_LISTENER);
    /* fdsafe_tcp_connect connects without blocking and waits, then leaves the socket
     * connected as a blocking connect would: a connect says -EISCONN from the first (the
     * kernel once answered the first with 0, the socket layer still "connecting"). */
    expect_code(fdsafe_socket_connect(c, addr), -EISCONN);
    expect_code(fdsafe_socket_connect(c2, addr), -EISCONN);
    fdsafe_handle c3, s3;
    int started = fdsafe_tcp_connect(addr, 0, FDSAFE_NONBLOCK, &c3);
    assert_true(started == 0 || started == 1);
    must(fdsafe_socket_connect_finish(c3, 2000));
    expect_code(fdsafe_socket_connect(c3, addr), -EISCONN);
    must(fdsafe_socket_accept(l, 0, &s3, NULL, 0, NULL));
    /* A listener has no connect under way: -ENOTCONN, at once, even with no time limit. */
    expect_code(fdsafe_socket_connect_finish(l, -1), -ENOTCONN);
    expect_code(fdsafe_socket_connect_finish(l, 0), -ENOTCONN);
    must(fdsafe_close(c3));
    must(fdsafe_close(s3));
    expect_code(fdsafe_socket_connect(l, addr), -EISCONN); /* a TCP listener, as raw */
    expect_code(fdsafe_socket_listen(c, 1), FDSAFE_E_WRONG_KIND); /* a stream never becomes a listener */
    expect_code(fdsafe_handle_kind(c), FDSAFE_KIND_TCP_STREAM);
    char path[128];
    path_in_tmp(path, sizeof path, "relisten.sock");
    fdsafe_handle ul;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 4, NULL, &ul));
    must(fdsafe_socket_listen(ul, 8));
    expect_code(fdsafe_socket_connect(ul, path), -EINVAL); /* a Unix listener, as raw */
    fdsafe_handle all[] = {l, c, s, c2, s2, ul};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_out_of_band_byte(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    tcp_pair(&l, &c, &s);
    expect_code(fdsafe_socket_send(c, "ab", 2, 0), 2);
    expect_code(fdsafe_socket_send(c, "!", 1, MSG_OOB), 1);
    expect_code(fdsafe_socket_send(c, "cd", 2, 0), 2);
    char buf[8];
    int raw = fdsafe_fd_borrow(s);
    struct pollfd urgent = {.fd = raw, .events = POLLPRI};
    assert_int_equal(poll(&urgent, 1, 2000), 1); /* the byte is there, flagged urgent */
    expect_code(fdsafe_socket_recv(s, buf, 1, MSG_OOB), 1);
    assert_int_equal(buf[0], '!');
    expect_code(fdsafe_socket_recv(s, buf, 1, MSG_OOB), -EINVAL); /* taken: none left, as recv(2) */
    int64_t got = 0;
    while (got < 4) {
        int64_t n = fdsafe_socket_recv(s, buf + got, sizeof buf - (size_t)got, 0);
        assert_true(n > 0);
        got += n;
    }
    assert_memory_equal(buf, "abcd", 4); /* the urgent byte is not in the stream */
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    expect_code(fdsafe_socket_send_handles(a, "x", 1, &l, 1, MSG_OOB), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle got_handles[1];
    fdsafe_recv_info info;
    expect_code(fdsafe_socket_recv_handles(b, buf, 1, MSG_OOB, got_handles, 1, &info), FDSAFE_E_INVALID_ARGUMENT);
    /* A UDP socket has no out-of-band data, and its kernel ignores MSG_OOB on a receive,
     * handing over the next ordinary datagram: fdsafe refuses the flag there, as the kernel
     * refuses it on a Unix datagram socket, and the datagram stays queued. */
    fdsafe_handle u, g;
    char where[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &u));
    must(fdsafe_socket_local_address(u, where, sizeof where));
    must(fdsafe_socket_create(AF_INET, SOCK_DGRAM, 0, 0, &g));
    expect_code(fdsafe_socket_connect(g, where), 0); /* the text form takes a generic socket */
    expect_code(fdsafe_socket_send(g, "datagram", 8, 0), 8);
    expect_code(fdsafe_socket_recv(u, buf, sizeof buf, MSG_OOB), -EOPNOTSUPP);
    expect_code(fdsafe_socket_recv_from(u, buf, sizeof buf, MSG_OOB, NULL, 0, NULL), -EOPNOTSUPP);
    expect_code(fdsafe_socket_recv(u, buf, sizeof buf, MSG_DONTWAIT), 8); /* still there */
    assert_memory_equal(buf, "datagram", 8);
    expect_code(fdsafe_socket_recv(g, buf, 1, MSG_OOB | MSG_DONTWAIT), -EOPNOTSUPP); /* generic UDP */
    must(fdsafe_close(g));
    must(fdsafe_close(u));
    fdsafe_handle d1, d2;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &d1, &d2));
    expect_code(fdsafe_socket_recv(d2, buf, 1, MSG_OOB | MSG_DONTWAIT), -EOPNOTSUPP); /* the kernel's */
    must(fdsafe_close(d1));
    must(fdsafe_close(d2));
    /* A link-local address names no interface without its scope. */
    fdsafe_handle nowhere;
    expect_code(fdsafe_tcp_listen("[fe80::1]:0", 16, 0, &nowhere), -EINVAL);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

static void test_tcp_options(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    tcp_pair(&l, &c, &s);
    struct { int level, name, value; } cases[] = {
        {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_NODELAY, 1},       {FDSAFE_SOL_SOCKET, FDSAFE_SO_KEEPALIVE, 1},   {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_KEEPIDLE, 30},
        {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_KEEPINTVL, 5},     {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_KEEPCNT, 4},     {FDSAFE_SOL_SOCKET, FDSAFE_SO_LINGER, 3},
        {FDSAFE_SOL_SOCKET, FDSAFE_SO_LINGER, -1},       {FDSAFE_IPPROTO_IP, FDSAFE_IP_TTL, 17},        {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_USER_TIMEOUT, 1500},
        {FDSAFE_SOL_SOCKET, FDSAFE_SO_BUSY_POLL, 50},    {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_CORK, 1},        {FDSAFE_IPPROTO_TCP, FDSAFE_TCP_CORK, 0},
        {FDSAFE_SOL_SOCKET, FDSAFE_SO_ZEROCOPY, 1},      {FDSAFE_SOL_SOCKET, FDSAFE_SO_REUSEPORT, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = -99;
        expect_code(fdsafe_socket_option_set(c, cases[i].level, cases[i].name, cases[i].value), 0);
        expect_code(fdsafe_socket_option_get(c, cases[i].level, cases[i].name, &got), 0);
        assert_int_equal(got, cases[i].value);
    }
    int got = 0;
    must(fdsafe_socket_option_set(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_RCVBUF, 65536));
    must(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_RCVBUF, &got));
    assert_int_equal(got, 131072); /* the kernel doubles it */
    must(fdsafe_socket_option_set(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_SNDBUF, 65536));
    must(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_SNDBUF, &got));
    assert_int_equal(got, 131072);
    must(fdsafe_socket_option_set(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_INCOMING_CPU, 0));
    must(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_INCOMING_CPU, &got));
    assert_true(got >= -1);
    must(fdsafe_socket_option_set(l, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_FASTOPEN, 16));
    must(fdsafe_socket_option_get(l, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_FASTOPEN, &got));
    assert_int_equal(got, 16);
    /* The IPv6 hop limit is its own (level, name), as in the kernel. */
    fdsafe_handle l6;
    must(fdsafe_tcp_listen("[::1]:0", 1, 0, &l6));
    must(fdsafe_socket_option_set(l6, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_UNICAST_HOPS, 9));
    must(fdsafe_socket_option_get(l6, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_UNICAST_HOPS, &got));
    assert_int_equal(got, 9);
    expect_code(fdsafe_socket_option_get(c, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_UNICAST_HOPS, &got), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(l6));
    /* Misuse. */
    got = 4242;
    expect_code(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_BROADCAST, &got), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, &got), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_option_get(c, 0, 0, &got), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_option_get(c, FDSAFE_SOL_SOCKET, 999, &got), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_option_get(c, FDSAFE_IPPROTO_TCP, FDSAFE_SO_REUSEADDR, &got), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_option_get(c, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_NODELAY, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(got, 4242);
    expect_code(fdsafe_socket_option_set(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_LINGER, -2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_option_set(c, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_V6ONLY, 1), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_option_set(c, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_KEEPIDLE, -5), -EINVAL);
    expect_code(fdsafe_socket_option_set(0, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_NODELAY, 1), -EBADF);
    expect_code(fdsafe_socket_option_set(closed_handle(), FDSAFE_IPPROTO_TCP, FDSAFE_TCP_NODELAY, 1), -EBADF);
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_socket_option_set(e, FDSAFE_IPPROTO_TCP, FDSAFE_TCP_NODELAY, 1), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(e));
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

static void test_tcp_zerocopy(void **state) {
    (void)state;
    fdsafe_handle l, c, s;
    tcp_pair(&l, &c, &s);
    static char payload[100000], sink[100000];
    memset(payload, 'z', sizeof payload);
    fdsafe_zerocopy_completion done[8];
    expect_code(fdsafe_socket_zerocopy_completions(c, done, 8), 0);
    /* Without SO_ZEROCOPY the kernel ignores the flag: a plain send, never completed. */
    expect_code(fdsafe_socket_send(c, payload, 10, FDSAFE_MSG_ZEROCOPY), 10);
    expect_code(fdsafe_socket_recv(s, sink, 10, FDSAFE_MSG_WAITALL), 10);
    expect_code(fdsafe_socket_zerocopy_completions(c, done, 8), 0);
    must(fdsafe_socket_option_set(c, FDSAFE_SOL_SOCKET, FDSAFE_SO_ZEROCOPY, 1));
    for (int i = 0; i < 3; i++) {
        int64_t sent = must(fdsafe_socket_send(c, payload, sizeof payload, FDSAFE_MSG_ZEROCOPY));
        while (sent > 0) sent -= must(fdsafe_socket_recv(s, sink, (size_t)sent, 0));
    }
    uint32_t next = 0;
    for (int tries = 0; next < 3 && tries < 100; tries++) {
        int64_t n = must(fdsafe_socket_zerocopy_completions(c, done, 8));
        for (int64_t i = 0; i < n; i++) {
            assert_int_equal(done[i].first, next);
            assert_true(done[i].last >= done[i].first);
            assert_int_equal(done[i].copied, 1); /* loopback always copies */
            next = done[i].last + 1;
        }
        if (next < 3) fdsafe_wait(c, FDSAFE_EVENT_ERR, 20);
    }
    assert_int_equal(next, 3);
    expect_code(fdsafe_socket_zerocopy_completions(c, NULL, 8), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_zerocopy_completions(l, done, 8), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_zerocopy_completions(0, done, 8), -EBADF);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

static void test_socat_talks_to_tcp_listener(void **state) {
    (void)state;
    if (system("command -v socat >/dev/null 2>&1") != 0) {
        print_message("socat is not installed: skipping\n");
        skip();
    }
    fdsafe_handle l, s;
    char addr[FDSAFE_ADDRESS_TEXT_MAX], target[FDSAFE_ADDRESS_TEXT_MAX + 8];
    must(fdsafe_tcp_listen("127.0.0.1:0", 8, 0, &l));
    must(fdsafe_socket_local_address(l, addr, sizeof addr));
    snprintf(target, sizeof target, "TCP:%s", addr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 1);
        execlp("socat", "socat", "SYSTEM:echo hello-from-socat", target, (char *)NULL);
        _exit(127);
    }
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    char buf[64] = {0};
    expect_code(fdsafe_socket_recv(s, buf, 17, FDSAFE_MSG_WAITALL), 17);
    assert_string_equal(buf, "hello-from-socat\n");
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

static void test_generic_bad_input(void **state) {
    (void)state;
    fdsafe_handle l, c, s, e, dead = closed_handle();
    tcp_pair(&l, &c, &s);
    must(fdsafe_eventfd_create(0, 0, &e));
    char buf[8];
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    struct sockaddr_storage ss;
    size_t len = 0;
    fdsafe_handle out = 777;
    /* Stale, zero and wrong-kind handles. */
    expect_code(fdsafe_socket_send(0, "x", 1, 0), -EBADF);
    expect_code(fdsafe_socket_send(dead, "x", 1, 0), -EBADF);
    expect_code(fdsafe_socket_send(STALE_MARK, "x", 1, 0), -EBADF);
    expect_code(fdsafe_socket_send(e, "x", 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_recv(e, buf, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_recv(dead, buf, 1, 0), -EBADF);
    expect_code(fdsafe_socket_shutdown(e, FDSAFE_SHUT_RD), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_shutdown(dead, FDSAFE_SHUT_RD), -EBADF);
    expect_code(fdsafe_socket_local_address(e, text, sizeof text), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_peer_address(dead, text, sizeof text), -EBADF);
    expect_code(fdsafe_socket_local_sockaddr(e, &ss, sizeof ss, &len), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_peer_sockaddr(dead, &ss, sizeof ss, &len), -EBADF);
    expect_code(fdsafe_socket_accept(c, 0, &out, NULL, 0, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_accept(e, 0, &out, NULL, 0, NULL), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_accept(dead, 0, &out, NULL, 0, NULL), -EBADF);
    expect_code(fdsafe_socket_connect(c, "127.0.0.1:1"), -EISCONN);
    expect_code(fdsafe_socket_connect(e, "127.0.0.1:1"), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_connect(dead, "127.0.0.1:1"), -EBADF);
    expect_code(fdsafe_socket_connect_finish(e, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_connect_finish(dead, 0), -EBADF);
    expect_code(fdsafe_socket_send_to(dead, "x", 1, 0, "127.0.0.1:1"), -EBADF);
    expect_code(fdsafe_socket_recv_from(e, buf, 1, 0, NULL, 0, NULL), FDSAFE_E_WRONG_KIND);
    assert_int_equal(out, 777);
    /* Pointers, lengths and flags. */
    expect_code(fdsafe_socket_send(c, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send(c, "x", SIZE_MAX, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send(c, "x", 1, 0x80), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv(c, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv(c, buf, 1, 0x80), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_shutdown(c, -1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_shutdown(c, 3), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_shutdown(c, 4), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_local_address(c, NULL, 10), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_local_address(c, NULL, 0), FDSAFE_E_INVALID_ARGUMENT); /* no size query */
    expect_code(fdsafe_socket_peer_address(c, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_local_address(c, text, 3), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_socket_local_sockaddr(c, NULL, sizeof ss, &len), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_local_sockaddr(c, &ss, sizeof ss, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_local_sockaddr(c, &ss, 2, &len), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_socket_accept(l, 0, NULL, NULL, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_accept(l, 2, &out, NULL, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_accept(l, 0, &out, &ss, sizeof ss, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_finish(c, -2), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_to(c, "x", 1, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_to(c, "x", 1, 0, "nonsense"), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_to_sockaddr(c, "x", 1, 0, NULL, 16), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_to_sockaddr(c, "x", 1, 0, &ss, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_from(c, buf, 1, 0, &ss, 16, &len), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_socket_recv_from(c, buf, 1, 0, &ss, sizeof ss, NULL), FDSAFE_E_INVALID_ARGUMENT);
    /* Creation. */
    expect_code(fdsafe_tcp_listen(NULL, 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen("127.0.0.1:0", 1, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen("127.0.0.1:0", 1, 0x100, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen("127.0.0.1:0", 1, FDSAFE_SOCKET_V6ONLY, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen("/tmp/x.sock", 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen("127.0.0.1:99999", 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_socket_local_address(l, text, sizeof text));
    fdsafe_handle l2;
    expect_code(fdsafe_tcp_listen(text, 1, FDSAFE_SOCKET_NO_REUSEADDR, &l2), -EADDRINUSE);
    expect_code(fdsafe_tcp_listen_sockaddr(NULL, 16, 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_listen_sockaddr(&ss, 1, 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect(NULL, 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect("127.0.0.1:1", -2, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect("127.0.0.1:1", 1, 2, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect("127.0.0.1:1", 1, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect("@abstract", 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_tcp_connect_sockaddr(NULL, 16, 1, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(out, 777);
    must(fdsafe_close(e));
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

/* ------------------------------------------------------------ Unix: path binding */

static void test_unix_bind_path_rules(void **state) {
    (void)state;
    char path[PATH_MAX], dir[PATH_MAX];
    path_in_tmp(dir, sizeof dir, "d1");
    path_in_tmp(path, sizeof path, "d1/d2/app.sock");
    fdsafe_unix_bind_options opts = {.flags = 0, .dir_mode = 0750, .socket_mode = 0660};
    fdsafe_handle l, c, s;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, &opts, &l));
    expect_code(fdsafe_handle_kind(l), FDSAFE_KIND_UNIX_LISTENER);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0660);
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(l, text, sizeof text));
    assert_string_equal(text, path);
    /* A live socket at the path: refused, untouched, and nothing left for it to accept
     * (a stream probe once left the live listener an empty client). */
    fdsafe_handle other = 5;
    expect_code(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, NULL, &other), -EADDRINUSE);
    assert_int_equal(other, 5);
    expect_code(fdsafe_unix_listen(path, FDSAFE_SOCK_SEQPACKET, 8, NULL, &other), -EADDRINUSE);
    expect_code(fdsafe_unix_bind(path, NULL, &other), -EADDRINUSE);
    must(fdsafe_nonblocking_set(l, true));
    expect_code(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL), -EAGAIN);
    must(fdsafe_nonblocking_set(l, false));
    must(fdsafe_unix_connect(path, FDSAFE_SOCK_STREAM, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    expect_code(fdsafe_handle_kind(s), FDSAFE_KIND_UNIX_STREAM);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    /* Close removes the path: it is still our socket. */
    must(fdsafe_close(l));
    assert_int_equal(lstat(path, &st), -1);
    /* Defaults: 0700 folders, 0600 socket. */
    char p2[PATH_MAX], d2[PATH_MAX];
    path_in_tmp(d2, sizeof d2, "def");
    path_in_tmp(p2, sizeof p2, "def/s.sock");
    must(fdsafe_unix_listen(p2, FDSAFE_SOCK_STREAM, 8, NULL, &l));
    assert_int_equal(stat(d2, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(lstat(p2, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    /* Replaced behind our back: close leaves the newcomer alone. */
    unlink(p2);
    int f = open(p2, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(f >= 0);
    close(f);
    must(fdsafe_close(l));
    assert_int_equal(lstat(p2, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* ...and a regular file at the path is never removed. */
    expect_code(fdsafe_unix_listen(p2, FDSAFE_SOCK_STREAM, 8, NULL, &other), -EEXIST);
    assert_int_equal(lstat(p2, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(p2);
    /* A directory and a symlink (even one to a stale socket) are never followed or removed. */
    assert_int_equal(mkdir(p2, 0700), 0);
    expect_code(fdsafe_unix_listen(p2, FDSAFE_SOCK_STREAM, 8, NULL, &other), -EEXIST);
    assert_int_equal(rmdir(p2), 0);
    char target[PATH_MAX];
    path_in_tmp(target, sizeof target, "def/target.sock");
    int raw = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, target);
    assert_int_equal(bind(raw, (struct sockaddr *)&sun, sizeof sun), 0);
    close(raw); /* target is now a stale socket */
    assert_int_equal(symlink(target, p2), 0);
    expect_code(fdsafe_unix_listen(p2, FDSAFE_SOCK_STREAM, 8, NULL, &other), -EEXIST);
    assert_int_equal(lstat(p2, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(target, &st), 0);
    unlink(p2);
    /* A stale socket: removed and replaced; with KEEP_STALE refused. */
    fdsafe_unix_bind_options keep = {.flags = FDSAFE_UNIX_BIND_KEEP_STALE};
    expect_code(fdsafe_unix_listen(target, FDSAFE_SOCK_STREAM, 8, &keep, &other), -EADDRINUSE);
    must(fdsafe_unix_listen(target, FDSAFE_SOCK_STREAM, 8, NULL, &l));
    must(fdsafe_close(l));
    assert_int_equal(lstat(target, &st), -1);
    /* A live socket of another type (seqpacket) is not stale either. */
    fdsafe_handle sp;
    must(fdsafe_unix_listen(target, FDSAFE_SOCK_SEQPACKET, 8, NULL, &sp));
    expect_code(fdsafe_unix_listen(target, FDSAFE_SOCK_STREAM, 8, NULL, &other), -EADDRINUSE);
    expect_code(fdsafe_unix_bind(target, NULL, &other), -EADDRINUSE);
    assert_int_equal(lstat(target, &st), 0);
    must(fdsafe_close(sp));
    /* KEEP_PATH leaves the file; NO_MKDIR refuses to create folders. */
    fdsafe_unix_bind_options keep_path = {.flags = FDSAFE_UNIX_BIND_KEEP_PATH | FDSAFE_UNIX_BIND_KEEP_MODE};
    must(fdsafe_unix_listen(target, FDSAFE_SOCK_STREAM, 8, &keep_path, &l));
    must(fdsafe_close(l));
    assert_int_equal(lstat(target, &st), 0);
    unlink(target);
    char deep[PATH_MAX];
    path_in_tmp(deep, sizeof deep, "nope/s.sock");
    fdsafe_unix_bind_options nomk = {.flags = FDSAFE_UNIX_BIND_NO_MKDIR};
    expect_code(fdsafe_unix_listen(deep, FDSAFE_SOCK_STREAM, 8, &nomk, &other), -ENOENT);
    assert_int_equal(other, 5);
}

/* A listen that fails after making the folders above its path takes them away again: here
 * the process has room for the socket but not for the descriptor fdsafe opens on the new
 * file (-EMFILE), in a child whose only descriptors are 0, 1 and 2. */
static void test_a_failed_listen_leaves_no_folder_it_made(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE is emulated (valgrind keeps descriptors of its own above the soft limit)")) skip();
    char top[PATH_MAX], path[PATH_MAX];
    path_in_tmp(top, sizeof top, "made");
    path_in_tmp(path, sizeof path, "made/deeper/s.sock");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        for (int fd = 3; fd < 65536; fd++) close(fd);
        struct rlimit few = {4, 4};
        if (setrlimit(RLIMIT_NOFILE, &few) != 0) _exit(2);
        fdsafe_handle l;
        int rc = fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 8, NULL, &l);
        _exit(rc == -EMFILE ? 0 : 3);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    assert_int_equal(lstat(top, &st), -1); /* neither folder is left */
    assert_int_equal(errno, ENOENT);
}

static void test_unix_bad_input(void **state) {
    (void)state;
    fdsafe_handle out = 9, a, b;
    char longpath[300];
    memset(longpath, 'y', sizeof longpath);
    memcpy(longpath, "/tmp/", 5);
    longpath[120] = '\0';
    expect_code(fdsafe_unix_listen(longpath, FDSAFE_SOCK_STREAM, 1, NULL, &out), -ENAMETOOLONG);
    longpath[107] = '\0';
    assert_int_equal(access(longpath, F_OK), -1); /* nothing was created under a truncated name */
    fdsafe_unix_bind_options bad_flags = {.flags = 0x100};
    fdsafe_unix_bind_options bad_mode = {.dir_mode = 010000};
    expect_code(fdsafe_unix_listen("@x", FDSAFE_SOCK_STREAM, 1, &bad_flags, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("@x", FDSAFE_SOCK_STREAM, 1, &bad_mode, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("@x", FDSAFE_SOCK_DGRAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("@x", 0, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("@x", 9, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("@x", FDSAFE_SOCK_STREAM, 1, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("127.0.0.1:80", FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen("relative.sock", FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind("@x", &bad_flags, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind("@x", NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind("[::1]:5", NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect(NULL, FDSAFE_SOCK_STREAM, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect("@x", 7, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect("@x", FDSAFE_SOCK_STREAM, 4, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect("@x", FDSAFE_SOCK_STREAM, 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect("/nonexistent/fdsafe.sock", FDSAFE_SOCK_STREAM, 0, &out), -ENOENT);
    expect_code(fdsafe_unix_pair(0, 0, &a, &b), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 8, &a, &b), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, NULL, &b), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, NULL), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(out, 9);
}

static void test_unix_abstract_autobind_pairs_seqpacket(void **state) {
    (void)state;
    char name[64], text[FDSAFE_ADDRESS_TEXT_MAX];
    snprintf(name, sizeof name, "@fdsafe-c-%d", (int)getpid());
    fdsafe_handle l, c, s, out = 3;
    must(fdsafe_unix_listen(name, FDSAFE_SOCK_SEQPACKET, 8, NULL, &l));
    expect_code(fdsafe_handle_kind(l), FDSAFE_KIND_UNIX_SEQPACKET_LISTENER);
    must(fdsafe_socket_local_address(l, text, sizeof text));
    assert_string_equal(text, name);
    struct sockaddr_storage ss;
    size_t len;
    must(fdsafe_socket_local_sockaddr(l, &ss, sizeof ss, &len));
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + strlen(name)); /* '@' stands for the NUL */
    expect_code(fdsafe_unix_listen(name, FDSAFE_SOCK_SEQPACKET, 8, NULL, &out), -EADDRINUSE);
    expect_code(fdsafe_unix_connect(name, FDSAFE_SOCK_STREAM, 0, &out), -ECONNREFUSED); /* type mismatch */
    must(fdsafe_unix_connect(name, FDSAFE_SOCK_SEQPACKET, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    expect_code(fdsafe_handle_kind(s), FDSAFE_KIND_UNIX_SEQPACKET);
    /* Message boundaries are kept. */
    expect_code(fdsafe_socket_send(c, "abc", 3, 0), 3);
    expect_code(fdsafe_socket_send(c, "defgh", 5, 0), 5);
    char buf[32];
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 3);
    assert_memory_equal(buf, "abc", 3);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "defgh", 5);
    expect_code(fdsafe_socket_send(c, "", 0, 0), 0);
    expect_code(fdsafe_socket_recv(s, buf, sizeof buf, 0), 0);
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
    /* Autobind: the kernel picks "@xxxxx". */
    must(fdsafe_unix_listen(NULL, FDSAFE_SOCK_STREAM, 8, NULL, &l));
    expect_code(fdsafe_socket_local_address(l, text, sizeof text), 6);
    assert_int_equal(text[0], '@');
    must(fdsafe_unix_connect(text, FDSAFE_SOCK_STREAM, FDSAFE_NONBLOCK, &c));
    must(fdsafe_socket_accept(l, 0, &s, &ss, sizeof ss, &len));
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path)); /* unnamed client */
    expect_code(fdsafe_socket_peer_address(s, text, sizeof text), 0);
    assert_string_equal(text, "");
    must(fdsafe_close(c));
    must(fdsafe_close(s));
    must(fdsafe_close(l));
    /* Pairs of each type. */
    uint32_t types[] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_DGRAM, FDSAFE_SOCK_SEQPACKET};
    int kinds[] = {FDSAFE_KIND_UNIX_STREAM, FDSAFE_KIND_UNIX_DATAGRAM, FDSAFE_KIND_UNIX_SEQPACKET};
    for (int i = 0; i < 3; i++) {
        fdsafe_handle a, b;
        must(fdsafe_unix_pair(types[i], i == 1 ? FDSAFE_NONBLOCK : 0, &a, &b));
        expect_code(fdsafe_handle_kind(a), kinds[i]);
        expect_code(fdsafe_nonblocking_get(b), i == 1);
        expect_code(fdsafe_socket_send(a, "q", 1, 0), 1);
        expect_code(fdsafe_socket_recv(b, buf, 1, 0), 1);
        must(fdsafe_close(a));
        must(fdsafe_close(b));
    }
}

/* A sender bound at a path that is not UTF-8 has no text address (-EILSEQ); its sockaddr
 * answers it. The text once carried U+FFFD and named another file: a reply sent to it went
 * to whatever socket was bound there. */
static void test_unix_path_without_text_is_answered_by_sockaddr(void **state) {
    (void)state;
    char path[PATH_MAX], decoy_path[PATH_MAX], text[FDSAFE_ADDRESS_TEXT_MAX];
    path_in_tmp(path, sizeof path, "srv.sock");
    path_in_tmp(decoy_path, sizeof decoy_path, "\xef\xbf\xbd.sock"); /* U+FFFD in UTF-8 */
    struct sockaddr_un sender = {.sun_family = AF_UNIX};
    path_in_tmp(sender.sun_path, sizeof sender.sun_path, "\xff.sock");
    fdsafe_handle srv, cli, decoy;
    must(fdsafe_unix_bind(path, NULL, &srv));
    must(fdsafe_unix_bind(decoy_path, NULL, &decoy));
    must(fdsafe_unix_bind_sockaddr(&sender, sizeof sender, NULL, &cli));
    expect_code(fdsafe_socket_local_address(cli, text, sizeof text), -EILSEQ);
    expect_code(fdsafe_socket_send_to(cli, "q", 1, 0, path), 1);
    struct sockaddr_storage from;
    size_t from_len = 0;
    char buf[8];
    expect_code(fdsafe_socket_recv_from(srv, buf, sizeof buf, 0, &from, sizeof from, &from_len), 1);
    expect_code(fdsafe_address_format(&from, from_len, text, sizeof text), -EILSEQ);
    expect_code(fdsafe_socket_send_to_sockaddr(srv, "r", 1, 0, &from, from_len), 1);
    expect_code(fdsafe_socket_recv(cli, buf, sizeof buf, FDSAFE_MSG_DONTWAIT), 1);
    expect_code(fdsafe_socket_recv(decoy, buf, sizeof buf, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    fdsafe_handle all[] = {srv, cli, decoy};
    expect_code(fdsafe_close_many(all, 3), 3);
}

static void test_unix_datagram_and_batches(void **state) {
    (void)state;
    char path[PATH_MAX], text[FDSAFE_ADDRESS_TEXT_MAX], from[FDSAFE_ADDRESS_TEXT_MAX];
    path_in_tmp(path, sizeof path, "dg.sock");
    fdsafe_handle srv, cli, out = 1;
    must(fdsafe_unix_bind(path, NULL, &srv));
    expect_code(fdsafe_handle_kind(srv), FDSAFE_KIND_UNIX_DATAGRAM);
    must(fdsafe_unix_bind("", NULL, &cli)); /* autobind */
    must(fdsafe_socket_local_address(cli, text, sizeof text));
    expect_code(fdsafe_socket_send_to(cli, "one", 3, 0, path), 3);
    char buf[16];
    struct sockaddr_storage ss;
    size_t len = 0;
    expect_code(fdsafe_socket_recv_from(srv, buf, sizeof buf, 0, &ss, sizeof ss, &len), 3);
    must(fdsafe_address_format(&ss, len, from, sizeof from));
    assert_string_equal(from, text);
    /* Reply with the sockaddr form. */
    expect_code(fdsafe_socket_send_to_sockaddr(srv, "two", 3, 0, &ss, len), 3);
    expect_code(fdsafe_socket_recv_from(cli, buf, sizeof buf, 0, NULL, 0, NULL), 3);
    /* Batches. */
    struct sockaddr_storage dst;
    size_t dlen;
    must(fdsafe_address_parse(path, &dst, sizeof dst, &dlen));
    fdsafe_datagram msgs[3] = {
        {.data = "a", .len = 1, .addr = &dst, .addr_len = dlen},
        {.data = "bb", .len = 2, .addr = &dst, .addr_len = dlen},
        {.data = "ccc", .len = 3, .addr = &dst, .addr_len = dlen},
    };
    expect_code(fdsafe_socket_send_batch(cli, msgs, 3, 0), 3);
    char b0[8], b1[8], b2[1];
    struct sockaddr_storage a0, a1, a2;
    fdsafe_datagram in[4] = {
        {.data = b0, .len = sizeof b0, .addr = &a0, .addr_len = sizeof a0},
        {.data = b1, .len = sizeof b1, .addr = &a1, .addr_len = sizeof a1},
        {.data = b2, .len = sizeof b2, .addr = &a2, .addr_len = sizeof a2},
        {.data = b2, .len = sizeof b2, .addr = NULL, .addr_len = 0},
    };
    expect_code(fdsafe_socket_recv_batch(srv, in, 4, 0), 3);
    assert_int_equal(in[0].received, 1);
    assert_int_equal(in[1].received, 2);
    assert_memory_equal(b1, "bb", 2);
    assert_int_equal(in[2].received, 1);
    assert_int_equal(in[2].truncated, 1);
    must(fdsafe_address_format(&a1, in[1].addr_len, from, sizeof from));
    assert_string_equal(from, text);
    expect_code(fdsafe_socket_recv_batch(srv, in, 4, FDSAFE_MSG_DONTWAIT), FDSAFE_E_BUFFER_TOO_SMALL);
    in[0].addr_len = in[1].addr_len = in[2].addr_len = sizeof(struct sockaddr_storage); /* in/out field */
    expect_code(fdsafe_socket_recv_batch(srv, in, 4, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    /* Connected datagram sockets. */
    must(fdsafe_socket_connect(cli, path));
    expect_code(fdsafe_socket_send(cli, "c", 1, 0), 1);
    fdsafe_datagram conn_msg = {.data = "d", .len = 1};
    expect_code(fdsafe_socket_send_batch(cli, &conn_msg, 1, 0), 1);
    expect_code(fdsafe_socket_recv(srv, buf, sizeof buf, 0), 1);
    expect_code(fdsafe_socket_recv(srv, buf, sizeof buf, 0), 1);
    /* Misuse of batches. */
    fdsafe_handle l;
    must(fdsafe_unix_listen(NULL, FDSAFE_SOCK_STREAM, 1, NULL, &l));
    expect_code(fdsafe_socket_send_batch(l, msgs, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_recv_batch(l, in, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_send_batch(cli, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_batch(cli, msgs, 1, 0x80), FDSAFE_E_INVALID_ARGUMENT); /* MSG_EOR */
    expect_code(fdsafe_socket_recv_batch(cli, in, 1, FDSAFE_MSG_WAITALL), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_datagram small = {.data = b0, .len = 1, .addr = &a0, .addr_len = 8};
    expect_code(fdsafe_socket_recv_batch(srv, &small, 1, 0), FDSAFE_E_BUFFER_TOO_SMALL);
    fdsafe_datagram nulldata = {.data = NULL, .len = 4};
    expect_code(fdsafe_socket_send_batch(cli, &nulldata, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_batch(closed_handle(), msgs, 1, 0), -EBADF);
    expect_code(fdsafe_socket_connect(srv, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect(srv, "@no-such-fdsafe-name"), -ECONNREFUSED);
    assert_int_equal(out, 1);
    must(fdsafe_close(l));
    must(fdsafe_close(cli));
    must(fdsafe_close(srv));
    struct stat st;
    assert_int_equal(lstat(path, &st), -1);
}

/* ------------------------------------------------------------ descriptor passing */

static void test_pass_handles_kinds_and_cloexec(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w, e, x, y;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &x, &y));
    fdsafe_handle send_list[4] = {r, w, e, x};
    expect_code(fdsafe_socket_send_handles(a, "m", 1, send_list, 4, 0), 1);
    fdsafe_handle got[8];
    fdsafe_recv_info info;
    char buf[4];
    expect_code(fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, got, 8, &info), 1);
    assert_int_equal(info.handle_count, 4);
    assert_int_equal(info.flags, 0);
    assert_int_equal(info.closed_count, 0);
    int kinds[4] = {FDSAFE_KIND_PIPE, FDSAFE_KIND_PIPE, FDSAFE_KIND_EVENTFD, FDSAFE_KIND_UNIX_SEQPACKET};
    for (int i = 0; i < 4; i++) {
        expect_code(fdsafe_handle_kind(got[i]), kinds[i]);
        assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(got[i]))), 1);
    }
    /* The sender's handles still work; the received ones reach the same objects. */
    expect_code(fdsafe_write(got[1], "via", 3), 3);
    expect_code(fdsafe_read(r, buf, 3), 3);
    assert_memory_equal(buf, "via", 3);
    /* A stale handle in the list: nothing is sent. */
    fdsafe_handle with_dead[2] = {r, closed_handle()};
    expect_code(fdsafe_socket_send_handles(a, "m", 1, with_dead, 2, 0), -EBADF);
    expect_code(fdsafe_socket_recv(b, buf, 1, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    /* Raw descriptors (borrowed, not closed). */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int raw[2] = {devnull, devnull};
    expect_code(fdsafe_socket_send_fds(a, "r", 1, raw, 2, 0), 1);
    assert_true(fd_is_open(devnull));
    fdsafe_handle got2[2];
    expect_code(fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, got2, 2, &info), 1);
    assert_int_equal(info.handle_count, 2);
    expect_code(fdsafe_handle_kind(got2[0]), FDSAFE_KIND_CHARDEV);
    must(fdsafe_close(got2[0]));
    must(fdsafe_close(got2[1]));
    close(devnull);
    for (int i = 0; i < 4; i++) must(fdsafe_close(got[i]));
    fdsafe_handle all[] = {a, b, r, w, e, x, y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_pass_253_refuse_254_and_truncation(void **state) {
    (void)state;
    uint32_t types[] = {FDSAFE_SOCK_STREAM, FDSAFE_SOCK_DGRAM, FDSAFE_SOCK_SEQPACKET};
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[254];
    for (int i = 0; i < 254; i++) fds[i] = devnull;
    static fdsafe_handle got[253];
    for (int t = 0; t < 3; t++) {
        fdsafe_handle a, b;
        must(fdsafe_unix_pair(types[t], 0, &a, &b));
        expect_code(fdsafe_socket_send_fds(a, "x", 1, fds, 253, 0), 1);
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 253, &info), 1);
        assert_int_equal(info.handle_count, 253);
        assert_int_equal(info.flags, 0);
        for (int i = 0; i < 253; i++) must(fdsafe_close(got[i]));
        expect_code(fdsafe_socket_send_fds(a, "x", 1, fds, 254, 0), -EINVAL);
        /* 20 descriptors, room for 2: CTRUNC, the rest closed, nothing leaks. */
        expect_code(fdsafe_socket_send_fds(a, "y", 1, fds, 20, 0), 1);
        expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 2, &info), 1);
        assert_int_equal(info.handle_count, 2);
        assert_true(info.flags & FDSAFE_RECV_INFO_CTRUNC);
        must(fdsafe_close(got[0]));
        must(fdsafe_close(got[1]));
        /* Room for none: the data still arrives. */
        expect_code(fdsafe_socket_send_fds(a, "z", 1, fds, 3, 0), 1);
        expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, NULL, 0, &info), 1);
        assert_int_equal(c, 'z');
        assert_int_equal(info.handle_count, 0);
        /* More were sent than fitted: CTRUNC, whoever closed them (the kernel, or fdsafe for
         * those the room kept for credentials let in, then also CLOSED). */
        assert_true(info.flags & FDSAFE_RECV_INFO_CTRUNC);
        /* 4 to 9 descriptors with room for 3: the room kept for credentials lets them all in,
         * fdsafe closes the rest, and CTRUNC still says some did not fit. */
        for (int sent = 4; sent <= 9; sent++) {
            expect_code(fdsafe_socket_send_fds(a, "w", 1, fds, (size_t)sent, 0), 1);
            expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 3, &info), 1);
            assert_int_equal(info.handle_count, 3);
            assert_true(info.flags & FDSAFE_RECV_INFO_CTRUNC);
            for (int i = 0; i < 3; i++) must(fdsafe_close(got[i]));
        }
        must(fdsafe_close(a));
        must(fdsafe_close(b));
    }
    close(devnull);
}

/* Lowers the soft RLIMIT_NOFILE to a few numbers above the highest open descriptor, so that
 * the free numbers left are those below it plus at least two: a caller that keeps two spare
 * numbers has them even when the open descriptors are 0 to N with no gap (as under CI, which
 * inherits no stray descriptor above them). Returns setrlimit's result. */
static int limit_to_open_descriptors(void) {
    int highest = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0) highest = fd;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = (rlim_t)highest + 3;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

static void test_receiver_at_rlimit_gets_data_and_ctrunc(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE is emulated (valgrind keeps descriptors of its own above the soft limit)")) skip();
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[3] = {devnull, devnull, devnull};
    expect_code(fdsafe_socket_send_fds(a, "data", 4, fds, 3, 0), 4);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Fill every free number below the limit, so the kernel has nowhere to install
         * received descriptors. */
        if (limit_to_open_descriptors() != 0) _exit(3);
        while (fcntl(0, F_DUPFD, 0) >= 0) {}
        if (errno != EMFILE) _exit(4);
        fdsafe_handle got[3];
        fdsafe_recv_info info;
        char buf[8];
        int64_t n = fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, got, 3, &info);
        int ok = n == 4 && memcmp(buf, "data", 4) == 0 && info.handle_count == 0 && (info.flags & FDSAFE_RECV_INFO_CTRUNC);
        _exit(ok ? 0 : 5);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(devnull);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* Received descriptors that take the receiver's last free numbers still get their true kinds:
 * detection reads /proc/self/fd links, through a directory descriptor when a message brings
 * several, and with no number left for that directory it read none (eventfd, timerfd and
 * epoll came back as FDSAFE_KIND_OTHER, a memfd as a file). */
static void test_kinds_detected_when_the_received_take_the_last_numbers(void **state) {
    (void)state;
    if (skipped_under_valgrind("RLIMIT_NOFILE is emulated (valgrind keeps descriptors of its own above the soft limit)")) skip();
    fdsafe_handle a, b, sent[4];
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &sent[0]));
    must(fdsafe_memfd_create("kind", 0, &sent[1]));
    must(fdsafe_timerfd_create(FDSAFE_CLOCK_MONOTONIC, 0, &sent[2]));
    must(fdsafe_epoll_create(&sent[3]));
    expect_code(fdsafe_socket_send_handles(a, "1", 1, sent, 2, 0), 1);
    expect_code(fdsafe_socket_send_handles(a, "2", 1, sent + 2, 2, 0), 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (limit_to_open_descriptors() != 0) _exit(3);
        int spare[2] = {-1, -1}, fd;
        while ((fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0) /* fill every number, keep two */
            if (spare[1] < 0) spare[spare[0] < 0 ? 0 : 1] = fd;
        if (spare[1] < 0) _exit(8); /* no two numbers to free: the limit left no room */
        const fdsafe_kind expected[2][2] = {{FDSAFE_KIND_EVENTFD, FDSAFE_KIND_MEMFD},
                                            {FDSAFE_KIND_TIMERFD, FDSAFE_KIND_EPOLL}};
        for (int message = 0; message < 2; message++) {
            close(spare[0]);
            close(spare[1]); /* two free numbers: the two received descriptors take them */
            fdsafe_handle got[2];
            fdsafe_recv_info info;
            char c;
            if (fdsafe_socket_recv_handles(b, &c, 1, 0, got, 2, &info) != 1 || info.handle_count != 2) _exit(4);
            for (int i = 0; i < 2; i++)
                if (fdsafe_handle_kind(got[i]) != expected[message][i]) _exit(5 + i);
            fdsafe_close(got[0]);
            fdsafe_close(got[1]);
            spare[0] = fcntl(0, F_DUPFD_CLOEXEC, 0);
            spare[1] = fcntl(0, F_DUPFD_CLOEXEC, 0);
            if (spare[0] < 0 || spare[1] < 0 || fcntl(0, F_DUPFD_CLOEXEC, 0) >= 0) _exit(7); /* again full */
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (int i = 0; i < 4; i++) must(fdsafe_close(sent[i]));
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

static void test_scm_bad_input(void **state) {
    (void)state;
    fdsafe_handle a, b, l, c, s, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    tcp_pair(&l, &c, &s);
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_handle list[1] = {e};
    int fds[1] = {0};
    fdsafe_recv_info info = {.handle_count = 99};
    fdsafe_handle got[2];
    char buf[2];
    expect_code(fdsafe_socket_send_handles(a, "", 0, list, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_handles(a, "x", 1, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_handles(a, "x", 1, list, SIZE_MAX, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_handles(a, "x", 1, list, 1, 0x100), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_handles(a, "x", 1, list, 1, FDSAFE_MSG_ZEROCOPY), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_handles(c, "x", 1, list, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_send_handles(e, "x", 1, list, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_send_handles(closed_handle(), "x", 1, list, 1, 0), -EBADF);
    expect_code(fdsafe_socket_send_fds(a, "x", 1, NULL, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    int negative[1] = {-1};
    expect_code(fdsafe_socket_send_fds(a, "x", 1, negative, 1, 0), -EBADF); /* as sendmsg says for it */
    int notopen[1] = {19999};
    expect_code(fdsafe_socket_send_fds(a, "x", 1, notopen, 1, 0), -EBADF);
    expect_code(fdsafe_socket_send_fds(c, "x", 1, fds, 1, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_send_credentials(a, "", 0, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_credentials(c, "x", 1, NULL, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_send_credentials(closed_handle(), "x", 1, NULL, 0), -EBADF);
    fdsafe_credentials fake = {.pid = 1, .uid = 0, .gid = 0};
    int64_t r = fdsafe_socket_send_credentials(a, "x", 1, &fake, 0);
    assert_true(r == -EPERM || r == 1); /* pid 1 needs CAP_SYS_ADMIN */
    if (r == 1) must(fdsafe_socket_recv(b, buf, 1, 0));
    /* A pid no process has: -ESRCH for a sender allowed to name others' pids, else -EPERM. */
    fdsafe_credentials nobody = {.pid = 4194304 + 1, .uid = getuid(), .gid = getgid()}; /* above pid_max */
    r = fdsafe_socket_send_credentials(a, "x", 1, &nobody, 0);
    assert_true(r == -ESRCH || r == -EPERM);
    expect_code(fdsafe_socket_recv_handles(b, buf, 2, 0, got, 2, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, buf, 2, 0, NULL, 2, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, buf, 2, 0, got, 254, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(b, buf, 2, 0x80, got, 2, &info), FDSAFE_E_INVALID_ARGUMENT); /* MSG_EOR */
    expect_code(fdsafe_socket_recv_handles(b, NULL, 2, 0, got, 2, &info), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_handles(s, buf, 2, 0, got, 2, &info), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_recv_handles(closed_handle(), buf, 2, 0, got, 2, &info), -EBADF);
    expect_code(fdsafe_socket_recv_handles(b, buf, 2, FDSAFE_MSG_DONTWAIT, got, 2, &info), -EAGAIN);
    assert_int_equal(info.handle_count, 99);
    fdsafe_handle all[] = {a, b, l, c, s, e};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

/* ------------------------------------------------------------ credentials */

static void test_credentials(void **state) {
    (void)state;
    fdsafe_handle a, b, p;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    fdsafe_credentials cr;
    must(fdsafe_socket_peer_credentials(a, &cr));
    assert_int_equal(cr.pid, getpid());
    assert_int_equal(cr.uid, getuid());
    assert_int_equal(cr.gid, getgid());
    /* A listener answers with its own process as of its listen(), as SO_PEERCRED does. */
    char path[128];
    path_in_tmp(path, sizeof path, "creds.sock");
    fdsafe_handle listener;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 4, NULL, &listener));
    fdsafe_credentials own = {0, 0, 0};
    must(fdsafe_socket_peer_credentials(listener, &own));
    struct ucred raw;
    socklen_t raw_len = sizeof raw;
    assert_int_equal(getsockopt((int)must(fdsafe_fd_borrow(listener)), SOL_SOCKET, SO_PEERCRED, &raw, &raw_len), 0);
    assert_int_equal(own.pid, raw.pid);
    assert_int_equal(own.pid, getpid());
    assert_int_equal(own.uid, raw.uid);
    must(fdsafe_close(listener));
    must(fdsafe_socket_option_set(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, 1));
    int on = 0;
    must(fdsafe_socket_option_get(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, &on));
    assert_int_equal(on, 1);
    expect_code(fdsafe_socket_send_credentials(a, "c", 1, NULL, 0), 1);
    fdsafe_recv_info info;
    char buf[4];
    expect_code(fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, NULL, 0, &info), 1);
    assert_true(info.flags & FDSAFE_RECV_INFO_CREDENTIALS);
    assert_int_equal(info.credentials.pid, getpid());
    fdsafe_credentials mine = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    expect_code(fdsafe_socket_send_credentials(a, "d", 1, &mine, 0), 1);
    /* Credentials and descriptors in the same message. */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    expect_code(fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, NULL, 0, &info), 1);
    assert_int_equal(info.credentials.uid, getuid());
    expect_code(fdsafe_socket_send_fds(a, "e", 1, &devnull, 1, 0), 1);
    fdsafe_handle got[1];
    expect_code(fdsafe_socket_recv_handles(b, buf, sizeof buf, 0, got, 1, &info), 1);
    assert_int_equal(info.handle_count, 1);
    assert_true(info.flags & FDSAFE_RECV_INFO_CREDENTIALS); /* the kernel adds them with PASSCRED */
    must(fdsafe_close(got[0]));
    close(devnull);
    /* Groups. */
    expect_code(fdsafe_socket_peer_groups(a, NULL, 0), getgroups(0, NULL)); /* how many, nothing written */
    uint32_t groups[256];
    int n = (int)must(fdsafe_socket_peer_groups(a, groups, 256));
    assert_int_equal(n, getgroups(0, NULL));
    /* pidfd of the peer (ourselves). */
    int pr = fdsafe_socket_peer_pidfd(a, &p);
    if (pr == -ENOPROTOOPT) {
        print_message("SO_PEERPIDFD: the kernel refused (needs 6.5)\n");
    } else {
        expect_code(pr, 0);
        expect_code(fdsafe_handle_kind(p), FDSAFE_KIND_PIDFD);
        int fd = (int)must(fdsafe_fd_borrow(p));
        assert_int_equal(fd_is_cloexec(fd), 1);
        char link[64] = {0};
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        assert_true(readlink(proc, link, sizeof link - 1) > 0);
        assert_string_equal(link, "anon_inode:[pidfd]");
        expect_code(fdsafe_wait(p, FDSAFE_EVENT_IN, 0), 0); /* alive */
        must(fdsafe_close(p));
    }
    /* Misuse. */
    fdsafe_handle l, c, s, out = 8;
    tcp_pair(&l, &c, &s);
    expect_code(fdsafe_socket_peer_credentials(a, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_peer_credentials(c, &cr), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_peer_credentials(closed_handle(), &cr), -EBADF);
    expect_code(fdsafe_socket_peer_groups(a, NULL, 4), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_peer_groups(c, groups, 4), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_peer_groups(closed_handle(), groups, 4), -EBADF);
    expect_code(fdsafe_socket_peer_groups(a, groups, 0), n); /* cap 0: the count */
    if (n > 1) expect_code(fdsafe_socket_peer_groups(a, groups, 1), FDSAFE_E_BUFFER_TOO_SMALL);
    expect_code(fdsafe_socket_peer_pidfd(a, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_peer_pidfd(c, &out), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_peer_pidfd(closed_handle(), &out), -EBADF);
    assert_int_equal(out, 8);
    fdsafe_handle all[] = {a, b, l, c, s};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_peer_pidfd_names_the_child_and_sees_exit(void **state) {
    (void)state;
    fdsafe_handle a, b, p;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    int go[2];
    assert_int_equal(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The child connects a fresh socket to a listener of the parent's. */
        char c;
        _exit(read(go[0], &c, 1) == 1 ? 0 : 1);
    }
    close(go[0]);
    fdsafe_close(a);
    fdsafe_close(b);
    /* socketpair credentials belong to the creator; use a listener the child connects to. */
    fdsafe_handle l, s;
    char name[64];
    snprintf(name, sizeof name, "@fdsafe-pidfd-%d", (int)getpid());
    must(fdsafe_unix_listen(name, FDSAFE_SOCK_STREAM, 1, NULL, &l));
    pid_t pid2 = fork();
    assert_true(pid2 >= 0);
    if (pid2 == 0) {
        fdsafe_handle c;
        if (fdsafe_unix_connect(name, FDSAFE_SOCK_STREAM, 0, &c) != 0) _exit(2);
        char ch;
        _exit(fdsafe_socket_recv(c, &ch, 1, 0) >= 0 ? 0 : 3);
    }
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    fdsafe_credentials cr;
    must(fdsafe_socket_peer_credentials(s, &cr));
    assert_int_equal(cr.pid, pid2);
    int pr = fdsafe_socket_peer_pidfd(s, &p);
    if (pr == 0) {
        expect_code(fdsafe_wait(p, FDSAFE_EVENT_IN, 0), 0);
        must(fdsafe_socket_send(s, "!", 1, 0));
        int status;
        waitpid(pid2, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(fdsafe_wait(p, FDSAFE_EVENT_IN, 2000) & FDSAFE_EVENT_IN); /* exit seen */
        must(fdsafe_close(p));
    } else {
        expect_code(pr, -ENOPROTOOPT);
        must(fdsafe_socket_send(s, "!", 1, 0));
        waitpid(pid2, NULL, 0);
    }
    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    waitpid(pid, NULL, 0);
    must(fdsafe_close(s));
    must(fdsafe_close(l));
}

/* ------------------------------------------------------------ UDP */

static void test_udp(void **state) {
    (void)state;
    fdsafe_handle u, v, out = 4;
    char ua[FDSAFE_ADDRESS_TEXT_MAX], va[FDSAFE_ADDRESS_TEXT_MAX], from[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &u));
    expect_code(fdsafe_handle_kind(u), FDSAFE_KIND_UDP);
    must(fdsafe_udp_bind("127.0.0.1:0", FDSAFE_NONBLOCK, &v));
    must(fdsafe_socket_local_address(u, ua, sizeof ua));
    must(fdsafe_socket_local_address(v, va, sizeof va));
    expect_code(fdsafe_socket_send_to(u, "hi", 2, 0, va), 2);
    char buf[16];
    struct sockaddr_storage ss;
    size_t len;
    struct pollfd pfd = {.fd = (int)must(fdsafe_fd_borrow(v)), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    expect_code(fdsafe_socket_recv_from(v, buf, sizeof buf, 0, &ss, sizeof ss, &len), 2);
    must(fdsafe_address_format(&ss, len, from, sizeof from));
    assert_string_equal(from, ua);
    /* Batch send to an address, batch receive. */
    struct sockaddr_storage dst;
    size_t dlen;
    must(fdsafe_address_parse(va, &dst, sizeof dst, &dlen));
    fdsafe_datagram msgs[2] = {{.data = "1", .len = 1, .addr = &dst, .addr_len = dlen},
                               {.data = "22", .len = 2, .addr = &dst, .addr_len = dlen}};
    expect_code(fdsafe_socket_send_batch(u, msgs, 2, 0), 2);
    char b0[4], b1[4];
    fdsafe_datagram in[2] = {{.data = b0, .len = 4}, {.data = b1, .len = 4}};
    int got = 0;
    for (int i = 0; i < 50 && got < 2; i++) {
        poll(&pfd, 1, 100);
        int64_t n = fdsafe_socket_recv_batch(v, in + got, (size_t)(2 - got), 0);
        if (n > 0) got += (int)n;
    }
    assert_int_equal(got, 2);
    assert_int_equal(in[1].received, 2);
    /* Connect, broadcast, multicast. */
    must(fdsafe_socket_connect(u, va));
    expect_code(fdsafe_socket_send(u, "c", 1, 0), 1);
    struct { int level, name, value; } cases[] = {
        {FDSAFE_SOL_SOCKET, FDSAFE_SO_BROADCAST, 1}, {FDSAFE_IPPROTO_IP, FDSAFE_IP_MULTICAST_LOOP, 0}, {FDSAFE_IPPROTO_IP, FDSAFE_IP_MULTICAST_TTL, 4},
        {FDSAFE_IPPROTO_IP, FDSAFE_IP_TTL, 33},      {FDSAFE_SOL_SOCKET, FDSAFE_SO_REUSEADDR, 1},      {FDSAFE_SOL_SOCKET, FDSAFE_SO_BUSY_POLL, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int value = -9;
        must(fdsafe_socket_option_set(u, cases[i].level, cases[i].name, cases[i].value));
        must(fdsafe_socket_option_get(u, cases[i].level, cases[i].name, &value));
        assert_int_equal(value, cases[i].value);
    }
    fdsafe_handle m;
    must(fdsafe_udp_bind("0.0.0.0:0", FDSAFE_SOCKET_REUSEPORT, &m));
    expect_code(fdsafe_udp_multicast_join(m, "239.255.1.2", "lo"), 0);
    expect_code(fdsafe_udp_multicast_join(m, "239.255.1.2", "lo"), -EADDRINUSE);
    expect_code(fdsafe_udp_multicast_leave(m, "239.255.1.2", "lo"), 0);
    expect_code(fdsafe_udp_multicast_leave(m, "239.255.1.2", "lo"), -EADDRNOTAVAIL);
    expect_code(fdsafe_udp_multicast_join(m, "239.255.1.3", NULL), 0);
    expect_code(fdsafe_udp_multicast_join(m, "10.1.1.1", "lo"), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_multicast_join(m, "239.255.1.4", "no-such-if0"), -ENODEV);
    expect_code(fdsafe_udp_multicast_join(m, NULL, "lo"), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_multicast_join(m, "239.1.1.1:5", "lo"), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_multicast_leave(m, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_multicast_join(closed_handle(), "239.255.1.2", "lo"), -EBADF);
    expect_code(fdsafe_udp_multicast_leave(closed_handle(), "239.255.1.2", "lo"), -EBADF);
    expect_code(fdsafe_udp_multicast_join(v, "ff02::1:3", "lo"), -ENOPROTOOPT); /* IPv6 group, IPv4 socket */
    fdsafe_handle m6;
    must(fdsafe_udp_bind("[::]:0", FDSAFE_SOCKET_V6ONLY, &m6));
    expect_code(fdsafe_udp_multicast_join(m6, "ff02::1:3", "lo"), 0);
    expect_code(fdsafe_udp_multicast_leave(m6, "ff02::1:3", "lo"), 0);
    int hops = 0;
    must(fdsafe_socket_option_set(m6, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_MULTICAST_HOPS, 3));
    must(fdsafe_socket_option_get(m6, FDSAFE_IPPROTO_IPV6, FDSAFE_IPV6_MULTICAST_HOPS, &hops));
    assert_int_equal(hops, 3);
    /* Misuse. */
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    expect_code(fdsafe_udp_multicast_join(a, "239.255.1.2", "lo"), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_udp_multicast_leave(a, "239.255.1.2", "lo"), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_udp_bind(NULL, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind("127.0.0.1:0", 0, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind("127.0.0.1:0", FDSAFE_SOCKET_NO_REUSEADDR, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind("127.0.0.1:0", 0x100, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind("@abstract", 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind(va, 0, &out), -EADDRINUSE);
    assert_int_equal(out, 4);
    fdsafe_handle all[] = {u, v, m, m6, a, b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_socket_adopt_and_dup(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    fdsafe_handle h, d;
    expect_code(fdsafe_fd_adopt(sv[0], FDSAFE_KIND_UNIX_STREAM, &h), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_fd_adopt(sv[0], FDSAFE_KIND_UNIX_SEQPACKET, &h));
    assert_int_equal(fd_is_cloexec(sv[0]), 1);
    must(fdsafe_dup(h, &d));
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_UNIX_SEQPACKET);
    expect_code(fdsafe_socket_send(d, "x", 1, 0), 1);
    char c;
    assert_int_equal(read(sv[1], &c, 1), 1);
    must(fdsafe_close(h));
    must(fdsafe_close(d));
    close(sv[1]);
    /* A duplicate of a path-bound listener does not remove the path when closed. */
    char path[PATH_MAX];
    path_in_tmp(path, sizeof path, "dup.sock");
    fdsafe_handle l, ld;
    must(fdsafe_unix_listen(path, FDSAFE_SOCK_STREAM, 1, NULL, &l));
    must(fdsafe_dup(l, &ld));
    expect_code(fdsafe_handle_kind(ld), FDSAFE_KIND_UNIX_LISTENER);
    must(fdsafe_close(ld));
    assert_true(access(path, F_OK) == 0);
    must(fdsafe_close(l));
    assert_true(access(path, F_OK) != 0);
}

static void test_sockaddr_forms_of_unix_and_udp(void **state) {
    (void)state;
    char path[PATH_MAX], text[FDSAFE_ADDRESS_TEXT_MAX];
    path_in_tmp(path, sizeof path, "raw.sock");
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);
    socklen_t sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
    fdsafe_handle l, c, s, d, e, u, out = 6;
    must(fdsafe_unix_listen_sockaddr(&sun, sunlen, FDSAFE_SOCK_STREAM, 4, NULL, &l));
    must(fdsafe_socket_local_address(l, text, sizeof text));
    assert_string_equal(text, path);
    must(fdsafe_unix_connect_sockaddr(&sun, sunlen, FDSAFE_SOCK_STREAM, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    must(fdsafe_close(s));
    must(fdsafe_close(c));
    must(fdsafe_close(l));
    /* The full sizeof(struct sockaddr_un) with zero padding is fine for a path too. */
    must(fdsafe_unix_bind_sockaddr(&sun, sizeof sun, NULL, &d));
    expect_code(fdsafe_handle_kind(d), FDSAFE_KIND_UNIX_DATAGRAM);
    /* Just the family: autobind. */
    must(fdsafe_unix_bind_sockaddr(&sun, offsetof(struct sockaddr_un, sun_path), NULL, &e));
    must(fdsafe_socket_local_address(e, text, sizeof text));
    assert_int_equal(text[0], '@');
    must(fdsafe_socket_connect_sockaddr(e, &sun, sunlen));
    expect_code(fdsafe_socket_send(e, "k", 1, 0), 1);
    char ch;
    expect_code(fdsafe_socket_recv(d, &ch, 1, 0), 1);
    /* An abstract name: leading NUL, exact length. */
    struct sockaddr_un abs;
    memset(&abs, 0, sizeof abs);
    abs.sun_family = AF_UNIX;
    memcpy(abs.sun_path, "\0fdsafe-raw-abs", 15);
    must(fdsafe_unix_listen_sockaddr(&abs, offsetof(struct sockaddr_un, sun_path) + 15, FDSAFE_SOCK_SEQPACKET, 1, NULL, &l));
    must(fdsafe_socket_local_address(l, text, sizeof text));
    assert_string_equal(text, "@fdsafe-raw-abs");
    must(fdsafe_close(l));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    must(fdsafe_udp_bind_sockaddr(&sin, sizeof sin, 0, &u));
    must(fdsafe_socket_local_address(u, text, sizeof text));
    assert_true(strncmp(text, "127.0.0.1:", 10) == 0);
    /* Misuse. */
    expect_code(fdsafe_unix_listen_sockaddr(NULL, sunlen, FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen_sockaddr(&sun, 1, FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen_sockaddr(&sun, 4096, FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen_sockaddr(&sin, sizeof sin, FDSAFE_SOCK_STREAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen_sockaddr(&sun, sunlen, FDSAFE_SOCK_DGRAM, 1, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_listen_sockaddr(&sun, sunlen, FDSAFE_SOCK_STREAM, 1, NULL, NULL), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind_sockaddr(NULL, sunlen, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind_sockaddr(&sin, sizeof sin, NULL, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_bind_sockaddr(&sun, sunlen, NULL, &out), -EADDRINUSE); /* d is live */
    expect_code(fdsafe_unix_connect_sockaddr(NULL, sunlen, FDSAFE_SOCK_STREAM, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect_sockaddr(&sun, 2, FDSAFE_SOCK_STREAM, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect_sockaddr(&sun, sunlen, 0, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_unix_connect_sockaddr(&sun, sunlen, FDSAFE_SOCK_DGRAM, 9, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind_sockaddr(NULL, sizeof sin, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind_sockaddr(&sun, sunlen, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind_sockaddr(&sin, 3, 0, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_udp_bind_sockaddr(&sin, sizeof sin, 0x100, &out), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_sockaddr(e, NULL, 16), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_sockaddr(e, &sun, 1), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_connect_sockaddr(closed_handle(), &sun, sunlen), -EBADF);
    fdsafe_handle tl, tc, ts;
    tcp_pair(&tl, &tc, &ts);
    expect_code(fdsafe_socket_connect_sockaddr(tc, &sin, sizeof sin), -EISCONN);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC}; /* a disconnect: not offered */
    expect_code(fdsafe_socket_connect_sockaddr(tc, &unspec, sizeof unspec), FDSAFE_E_INVALID_ARGUMENT);
    assert_int_equal(out, 6);
    fdsafe_handle all[] = {d, e, u, tl, tc, ts};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

/* SO_PASSPIDFD (76) makes the kernel add an SCM_PIDFD message carrying a descriptor; fdsafe
 * did not ask for it, so it closes it and says so. */
static void test_unexpected_control_message_descriptor_is_closed(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_pipe_create(0, &r, &w));
    int on = 1;
    if (setsockopt((int)must(fdsafe_fd_borrow(b)), SOL_SOCKET, 76, &on, sizeof on) != 0) {
        print_message("SO_PASSPIDFD refused by the kernel (%s): skipping\n", strerror(errno));
        fdsafe_close(a), fdsafe_close(b), fdsafe_close(r), fdsafe_close(w);
        skip();
    }
    expect_code(fdsafe_socket_send_handles(a, "p", 1, &r, 1, 0), 1);
    fdsafe_handle got[4];
    fdsafe_recv_info info;
    char c;
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 4, &info), 1);
    assert_int_equal(info.handle_count, 1);
    assert_true(info.flags & FDSAFE_RECV_INFO_CLOSED);
    assert_int_equal(info.closed_count, 1);
    expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_PIPE);
    must(fdsafe_close(got[0]));
    fdsafe_handle all[] = {a, b, r, w};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

/* With SO_PASSCRED and SO_PASSPIDFD both on, the kernel adds credentials and an SCM_PIDFD to
 * every message. Without room for both, every message came with CTRUNC, descriptors or not. */
static void test_credentials_and_pidfd_together_are_no_truncation(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    must(fdsafe_pipe_create(0, &r, &w));
    must(fdsafe_socket_option_set(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, 1));
    int on = 1;
    if (setsockopt((int)must(fdsafe_fd_borrow(b)), SOL_SOCKET, 76, &on, sizeof on) != 0) {
        print_message("SO_PASSPIDFD refused by the kernel (%s): skipping\n", strerror(errno));
        fdsafe_close(a), fdsafe_close(b), fdsafe_close(r), fdsafe_close(w);
        skip();
    }
    fdsafe_handle both[2] = {r, w};
    for (size_t sent = 0; sent <= 2; sent++) {
        expect_code(fdsafe_socket_send_handles(a, "p", 1, both, sent, 0), 1);
        fdsafe_handle got[2];
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, sent, &info), 1);
        assert_int_equal(info.flags & FDSAFE_RECV_INFO_CTRUNC, 0);
        assert_int_equal(info.handle_count, sent);
        assert_int_equal(info.closed_count, 1); /* the pidfd */
        assert_true(info.flags & FDSAFE_RECV_INFO_CREDENTIALS);
        assert_int_equal(info.credentials.pid, getpid());
        for (size_t i = 0; i < info.handle_count; i++) must(fdsafe_close(got[i]));
    }
    fdsafe_handle all[] = {a, b, r, w};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

/* A peer that closes with a message of ours unread resets the connection: the receive calls
 * say -ECONNRESET, as documented (a worker whose parent died). */
static void test_receive_after_the_peer_closed_with_data_unread(void **state) {
    (void)state;
    uint32_t types[] = {FDSAFE_SOCK_SEQPACKET, FDSAFE_SOCK_STREAM};
    for (size_t t = 0; t < 2; t++) {
        fdsafe_handle parent, worker;
        must(fdsafe_unix_pair(types[t], 0, &parent, &worker));
        expect_code(fdsafe_socket_send(worker, "w", 1, 0), 1); /* never read */
        must(fdsafe_close(parent));
        fdsafe_handle got[1];
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles(worker, &c, 1, 0, got, 1, &info), -ECONNRESET);
        must(fdsafe_close(worker));
    }
    /* A seqpacket send meets the reset first when it comes first (the error is reported once). */
    fdsafe_handle parent, worker;
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &parent, &worker));
    expect_code(fdsafe_socket_send(worker, "w", 1, 0), 1);
    must(fdsafe_close(parent));
    expect_code(fdsafe_socket_send_handles(worker, "w", 1, NULL, 0, 0), -ECONNRESET);
    expect_code(fdsafe_socket_send_handles(worker, "w", 1, NULL, 0, 0), -EPIPE);
    must(fdsafe_close(worker));
}

/* An O_PATH descriptor names a file without opening it: received, it is an OTHER handle, as
 * adoption makes it, not a FILE handle whose every call fails with -EBADF. */
static void test_received_path_only_descriptor_is_other(void **state) {
    (void)state;
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    const char *paths[] = {"/proc/self/status", "/dev/null", "/tmp"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int fd = open(paths[i], O_PATH | O_CLOEXEC);
        assert_true(fd >= 0);
        expect_code(fdsafe_socket_send_fds(a, "o", 1, &fd, 1, 0), 1);
        close(fd);
        fdsafe_handle got[1];
        fdsafe_recv_info info;
        char c;
        expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 1, &info), 1);
        assert_int_equal(info.handle_count, 1);
        expect_code(fdsafe_handle_kind(got[0]), FDSAFE_KIND_OTHER);
        must(fdsafe_close(got[0]));
    }
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* A message queued before SO_PASSCRED was on carries the kernel's placeholder (pid 0, the
 * overflow ids: nobody), which must not read as a sender's identity. */
static void test_placeholder_credentials_are_not_reported(void **state) {
    (void)state;
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    expect_code(fdsafe_socket_send(a, "1", 1, 0), 1);
    must(fdsafe_socket_option_set(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, 1));
    expect_code(fdsafe_socket_send(a, "2", 1, 0), 1);
    fdsafe_handle got[1];
    fdsafe_recv_info info;
    char c;
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 1, &info), 1);
    assert_int_equal(c, '1');
    assert_int_equal(info.flags & FDSAFE_RECV_INFO_CREDENTIALS, 0);
    assert_int_equal(info.credentials.uid, 0);
    assert_int_equal(info.credentials.gid, 0);
    expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, got, 1, &info), 1);
    assert_int_equal(c, '2');
    assert_true(info.flags & FDSAFE_RECV_INFO_CREDENTIALS);
    assert_int_equal(info.credentials.pid, getpid());
    assert_int_equal(info.credentials.uid, getuid());
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* A descriptor closed behind fdsafe's back (a borrowed number given to close(2)): when the
 * kernel hands that number out again with a received message, the handle that still records
 * it must not get a second owner. The received descriptor is closed and reported instead,
 * with kind detection and without (whose owner claim is a plain store, see
 * docs/performance.md). */
static void test_received_number_a_live_handle_records_is_closed(void **state) {
    (void)state;
    fdsafe_handle a, b, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    uint32_t kinds[] = {0, FDSAFE_KIND_OTHER};
    for (size_t k = 0; k < 2; k++) {
        fdsafe_handle stale;
        must(fdsafe_fd_adopt(fcntl((int)must(fdsafe_fd_borrow(e)), F_DUPFD_CLOEXEC, 0), FDSAFE_KIND_OTHER, &stale));
        int n = (int)must(fdsafe_fd_borrow(stale));
        close(n); /* the caller's mistake; n is now the lowest free number */
        expect_code(fdsafe_socket_send_handles(a, "x", 1, &e, 1, 0), 1);
        fdsafe_handle got[4];
        fdsafe_recv_info info;
        char c;
        int64_t rc = kinds[k] ? fdsafe_socket_recv_handles_as(b, &c, 1, 0, kinds[k], got, 4, &info)
                              : fdsafe_socket_recv_handles(b, &c, 1, 0, got, 4, &info);
        expect_code(rc, 1);
        assert_int_equal(info.handle_count, 0);
        assert_true(info.flags & FDSAFE_RECV_INFO_CLOSED);
        assert_int_equal(info.closed_count, 1);
        assert_int_equal(fcntl(n, F_GETFD), -1); /* closed again, not open under two handles */
        must(fdsafe_close(stale));
    }
    fdsafe_handle all[] = {a, b, e};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

struct closer_args {
    fdsafe_handle target;
    int result;
};

static void *closer(void *p) {
    struct closer_args *args = p;
    args->result = fdsafe_close(args->target);
    return NULL;
}

/* Another thread closing a handle while it is being sent: each send either carries the
 * descriptor (the send held the handle) or fails with -EBADF before sending; nothing leaks
 * and the descriptor is never a recycled one. */
static void test_send_races_with_close(void **state) {
    (void)state;
    fdsafe_handle a, b;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    for (int round = 0; round < 200; round++) {
        fdsafe_handle e;
        must(fdsafe_eventfd_create(7, 0, &e));
        struct closer_args args = {.target = e, .result = 1};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, closer, &args), 0);
        int64_t sent = fdsafe_socket_send_handles(a, "e", 1, &e, 1, 0);
        pthread_join(t, NULL);
        assert_int_equal(args.result, 0);
        assert_true(sent == 1 || sent == -EBADF);
        if (sent == 1) {
            fdsafe_handle got;
            fdsafe_recv_info info;
            char c;
            expect_code(fdsafe_socket_recv_handles(b, &c, 1, 0, &got, 1, &info), 1);
            assert_int_equal(info.handle_count, 1);
            expect_code(fdsafe_handle_kind(got), FDSAFE_KIND_EVENTFD);
            uint64_t v = 0;
            must(fdsafe_eventfd_read(got, &v));
            assert_int_equal(v, 7); /* the very eventfd that was sent */
            must(fdsafe_close(got));
        }
    }
    must(fdsafe_close(a));
    must(fdsafe_close(b));
}

/* A peer with more groups than the caller's room: FDSAFE_E_BUFFER_TOO_SMALL, nothing
 * written, and cap 0 gives the count. The peer is a child that took three groups
 * (setgroups needs CAP_SETGID: skipped with the kernel's reason without it) and connects
 * after, since SO_PEERGROUPS keeps the groups of connect time. */
static void test_peer_groups_count_and_too_small(void **state) {
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "@fdsafe-groups-%d", getpid());
    fdsafe_handle l, served;
    must(fdsafe_unix_listen(name, FDSAFE_SOCK_STREAM, 1, NULL, &l));
    int report[2];
    assert_int_equal(pipe2(report, O_CLOEXEC), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        gid_t three[3] = {1, 2, 3};
        int refused = setgroups(3, three) == 0 ? 0 : errno;
        if (write(report[1], &refused, sizeof refused) != sizeof refused || refused) _exit(0);
        fdsafe_handle c;
        char byte;
        if (fdsafe_unix_connect(name, FDSAFE_SOCK_STREAM, 0, &c) != 0) _exit(1);
        _exit(fdsafe_socket_recv(c, &byte, 1, 0) == 0 ? 0 : 2); /* wait for the parent's close */
    }
    close(report[1]);
    int refused = -1;
    assert_int_equal(read(report[0], &refused, sizeof refused), sizeof refused);
    close(report[0]);
    if (refused) {
        waitpid(child, NULL, 0);
        must(fdsafe_close(l));
        printf("skipped: setgroups: the kernel refused (%s)\n", strerror(refused));
        skip();
    }
    must(fdsafe_socket_accept(l, 0, &served, NULL, 0, NULL));
    uint32_t groups[3] = {7, 7, 7};
    expect_code(fdsafe_socket_peer_groups(served, NULL, 0), 3);
    expect_code(fdsafe_socket_peer_groups(served, groups, 2), FDSAFE_E_BUFFER_TOO_SMALL);
    assert_true(groups[0] == 7 && groups[1] == 7); /* nothing written */
    expect_code(fdsafe_socket_peer_groups(served, groups, 3), 3);
    assert_true(groups[0] == 1 && groups[1] == 2 && groups[2] == 3);
    must(fdsafe_close(served));
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    must(fdsafe_close(l));
}

int main(void) {
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: fdsafe must never raise one */
    const struct CMUnitTest tests[] = {
        FD_TEST(test_address_parse_and_format),
        FD_TEST(test_address_bad_input),
        FD_TEST(test_tcp_listen_accept_send_recv),
        FD_TEST(test_tcp_sockaddr_forms_and_ipv6),
        FD_TEST(test_tcp_connect_timeout_refused_and_nonblocking),
        FD_TEST(test_tcp_send_to_closed_peer_is_epipe),
        FD_TEST(test_tcp_send_to_refuses_to_send_elsewhere),
        FD_TEST(test_out_of_band_byte),
        FD_TEST(test_connect_and_listen_on_typed_sockets_answer_as_the_kernel),
        FD_TEST(test_tcp_options),
        FD_TEST(test_tcp_zerocopy),
        FD_TEST(test_socat_talks_to_tcp_listener),
        FD_TEST(test_generic_bad_input),
        FD_TEST(test_unix_bind_path_rules),
        FD_TEST(test_a_failed_listen_leaves_no_folder_it_made),
        FD_TEST(test_unix_bad_input),
        FD_TEST(test_unix_abstract_autobind_pairs_seqpacket),
        FD_TEST(test_unix_path_without_text_is_answered_by_sockaddr),
        FD_TEST(test_unix_datagram_and_batches),
        FD_TEST(test_pass_handles_kinds_and_cloexec),
        FD_TEST(test_pass_253_refuse_254_and_truncation),
        FD_TEST(test_receiver_at_rlimit_gets_data_and_ctrunc),
        FD_TEST(test_kinds_detected_when_the_received_take_the_last_numbers),
        FD_TEST(test_scm_bad_input),
        FD_TEST(test_credentials),
        FD_TEST(test_peer_groups_count_and_too_small),
        FD_TEST(test_peer_pidfd_names_the_child_and_sees_exit),
        FD_TEST(test_udp),
        FD_TEST(test_socket_adopt_and_dup),
        FD_TEST(test_sockaddr_forms_of_unix_and_udp),
        FD_TEST(test_unexpected_control_message_descriptor_is_closed),
        FD_TEST(test_credentials_and_pidfd_together_are_no_truncation),
        FD_TEST(test_placeholder_credentials_are_not_reported),
        FD_TEST(test_received_path_only_descriptor_is_other),
        FD_TEST(test_receive_after_the_peer_closed_with_data_unread),
        FD_TEST(test_received_number_a_live_handle_records_is_closed),
        FD_TEST(test_send_races_with_close),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
