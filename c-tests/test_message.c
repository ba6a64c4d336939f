/* Whole messages (fdsafe_socket_send_message / fdsafe_socket_recv_message), peer identities
 * that are never the kernel's placeholders, and addresses that round-trip: every address
 * fdsafe returns is accepted back by parse, connect and send-to, as text and as sockaddr.
 *
 * Cases learnt from CPython's test_socket (SendmsgTests: gather from several buffers;
 * RecvmsgTests: scatter, MSG_TRUNC on a short buffer; SCMRightsTest: testFDPassSimple,
 * testFDPassEmpty on datagram sockets, testCmsgTrunc: no descriptor leaks when the control
 * room is short) and the uds crate's tests (descriptors to an address on an unconnected
 * datagram socket, replying to the address a message came from, unnamed and abstract
 * addresses). */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static int setup_dir(void **state) { return temp_dir_create(state); }
static int remove_dir(void **state) { return temp_dir_remove(state); }

/* An autobound Unix datagram socket and its address. */
static fdsafe_handle bound_datagram(struct sockaddr_storage *ss, size_t *len) {
    fdsafe_handle h = 0;
    must(fdsafe_unix_bind(NULL, NULL, &h));
    must(fdsafe_socket_local_sockaddr(h, ss, sizeof *ss, len));
    return h;
}

static void test_gather_scatter_handles_and_credentials(void **state) {
    (void)state;
    fdsafe_handle a, b, r, w;
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &a, &b));
    must(fdsafe_socket_option_set(b, FDSAFE_SOL_SOCKET, FDSAFE_SO_PASSCRED, 1));
    must(fdsafe_pipe_create(0, &r, &w));
    struct iovec out[3] = {{"ab", 2}, {"cd", 2}, {"ef", 2}};
    fdsafe_credentials mine = {getpid(), getuid(), getgid()};
    fdsafe_send_message sm = {.iov = out, .iov_count = 3, .handles = &r, .handle_count = 1, .credentials = &mine};
    expect_code(fdsafe_socket_send_message(a, &sm, 0), 6);

    char x[3], y[3];
    struct iovec in[2] = {{x, 3}, {y, 3}};
    fdsafe_handle got[4] = {0};
    struct sockaddr_storage from;
    fdsafe_recv_message rm = {.iov = in, .iov_count = 2, .addr = &from, .addr_cap = sizeof from, .handles = got,
                              .handles_cap = 4};
    expect_code(fdsafe_socket_recv_message(b, &rm, 0), 6);
    assert_memory_equal(x, "abc", 3);
    assert_memory_equal(y, "def", 3);
    assert_int_equal(rm.msg_flags, 0);
    assert_int_equal(rm.addr_len, 0); /* a socket pair: no address */
    assert_int_equal(rm.info.handle_count, 1);
    assert_true(rm.info.flags & FDSAFE_RECV_INFO_CREDENTIALS);
    assert_int_equal(rm.info.credentials.pid, getpid());
    assert_int_equal(rm.info.credentials.uid, getuid());
    assert_int_equal(fdsafe_handle_kind(got[0]), FDSAFE_KIND_PIPE);
    assert_int_equal(fd_is_cloexec((int)must(fdsafe_fd_borrow(got[0]))), 1);
    expect_code(fdsafe_write(w, "z", 1), 1);
    char c = 0;
    expect_code(fdsafe_read(got[0], &c, 1), 1); /* the very pipe */
    assert_int_equal(c, 'z');
    fdsafe_handle all[] = {a, b, r, w, got[0]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
}

static void test_handles_to_an_address_and_reply_to_the_sender(void **state) {
    (void)state;
    struct sockaddr_storage xa, ya;
    size_t xlen, ylen;
    fdsafe_handle x = bound_datagram(&xa, &xlen), y = bound_datagram(&ya, &ylen), e;
    must(fdsafe_eventfd_create(5, 0, &e));
    /* An empty message carrying a descriptor, to an address: allowed on datagram sockets. */
    fdsafe_send_message sm = {.addr = &xa, .addr_len = xlen, .handles = &e, .handle_count = 1};
    expect_code(fdsafe_socket_send_message(y, &sm, 0), 0);

    fdsafe_handle got = 0;
    struct sockaddr_storage from;
    char buf[8];
    struct iovec in = {buf, sizeof buf};
    fdsafe_recv_message rm = {.iov = &in, .iov_count = 1, .addr = &from, .addr_cap = sizeof from, .handles = &got,
                              .handles_cap = 1};
    expect_code(fdsafe_socket_recv_message(x, &rm, 0), 0);
    assert_int_equal(rm.info.handle_count, 1);
    assert_int_equal(fdsafe_handle_kind(got), FDSAFE_KIND_EVENTFD);
    assert_int_equal(rm.addr_len, ylen);
    assert_memory_equal(&from, &ya, ylen);

    /* Reply to the address as received, as sockaddr and as text. */
    struct iovec pong = {"pong", 4};
    fdsafe_send_message reply = {.addr = &from, .addr_len = rm.addr_len, .iov = &pong, .iov_count = 1};
    expect_code(fdsafe_socket_send_message(x, &reply, 0), 4);
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_address_format(&from, rm.addr_len, text, sizeof text));
    expect_code(fdsafe_socket_send_to(x, "pong", 4, 0, text), 4);
    expect_code(fdsafe_socket_recv(y, buf, sizeof buf, 0), 4);
    expect_code(fdsafe_socket_recv(y, buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "pong", 4);
    must(fdsafe_close(x));
    must(fdsafe_close(y));
    must(fdsafe_close(e));
    must(fdsafe_close(got));
}

static void test_truncation_is_reported_and_nothing_leaks(void **state) {
    (void)state;
    struct sockaddr_storage xa, ya;
    size_t xlen, ylen;
    fdsafe_handle x = bound_datagram(&xa, &xlen), y = bound_datagram(&ya, &ylen), e;
    must(fdsafe_eventfd_create(0, 0, &e));
    fdsafe_handle many[40];
    for (int i = 0; i < 40; i++) many[i] = e;
    struct iovec ten = {"0123456789", 10};
    fdsafe_send_message sm = {.addr = &xa, .addr_len = xlen, .iov = &ten, .iov_count = 1, .handles = many,
                              .handle_count = 40};
    expect_code(fdsafe_socket_send_message(y, &sm, 0), 10);
    char buf[4];
    struct iovec in = {buf, sizeof buf};
    fdsafe_handle got = 0;
    struct sockaddr_storage from;
    fdsafe_recv_message rm = {.iov = &in, .iov_count = 1, .addr = &from, .addr_cap = sizeof from, .handles = &got,
                              .handles_cap = 1};
    expect_code(fdsafe_socket_recv_message(x, &rm, 0), 4);
    assert_int_equal(rm.msg_flags, FDSAFE_MSG_TRUNC | FDSAFE_MSG_CTRUNC); /* nothing else */
    assert_int_equal(rm.info.handle_count, 1);
    assert_int_equal(rm.addr_len, ylen); /* the sender, with the truncation */
    assert_memory_equal(&from, &ya, ylen);
    must(fdsafe_close(got)); /* the other 39 were closed: fd_check compares the open set */

    /* recv and recv_from report a datagram's real length with FDSAFE_MSG_TRUNC. */
    expect_code(fdsafe_socket_send_to_sockaddr(y, "0123456789", 10, 0, &xa, xlen), 10);
    expect_code(fdsafe_socket_recv(x, buf, sizeof buf, FDSAFE_MSG_TRUNC), 10);
    expect_code(fdsafe_socket_send_to_sockaddr(y, "0123456789", 10, 0, &xa, xlen), 10);
    size_t flen = 0;
    expect_code(fdsafe_socket_recv_from(x, buf, sizeof buf, FDSAFE_MSG_TRUNC, &from, sizeof from, &flen), 10);
    assert_int_equal(flen, ylen);
    expect_code(fdsafe_socket_send_to_sockaddr(y, "0123456789", 10, 0, &xa, xlen), 10);
    expect_code(fdsafe_socket_recv(x, buf, sizeof buf, 0), 4); /* without it: the copied bytes */
    must(fdsafe_close(x));
    must(fdsafe_close(y));
    must(fdsafe_close(e));
}

static void test_empty_payload_by_socket_type(void **state) {
    (void)state;
    fdsafe_handle a, b, e, got = 0;
    fdsafe_recv_info info;
    must(fdsafe_eventfd_create(0, 0, &e));
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &a, &b));
    fdsafe_send_message sm = {.handles = &e, .handle_count = 1};
    expect_code(fdsafe_socket_send_message(a, &sm, 0), FDSAFE_E_INVALID_ARGUMENT); /* stream: one byte needed */
    expect_code(fdsafe_socket_send_handles(a, "", 0, &e, 1, 0), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_unix_pair(FDSAFE_SOCK_SEQPACKET, 0, &a, &b));
    expect_code(fdsafe_socket_send_handles(a, "", 0, &e, 1, 0), 0);
    expect_code(fdsafe_socket_recv_handles(b, NULL, 0, 0, &got, 1, &info), 0);
    assert_int_equal(info.handle_count, 1);
    assert_int_equal(fdsafe_handle_kind(got), FDSAFE_KIND_EVENTFD);
    must(fdsafe_close(got));
    expect_code(fdsafe_socket_send_credentials(a, NULL, 0, NULL, 0), 0);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(e));
}

static void test_udp_whole_message_and_port(void **state) {
    (void)state;
    fdsafe_handle u, v;
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &u));
    must(fdsafe_udp_bind("127.0.0.1:0", 0, &v));
    struct sockaddr_in ua, va;
    size_t ulen, vlen;
    must(fdsafe_socket_local_sockaddr(u, &ua, sizeof ua, &ulen));
    must(fdsafe_socket_local_sockaddr(v, &va, sizeof va, &vlen));
    uint16_t port = 0;
    must(fdsafe_socket_local_port(v, &port));
    assert_int_equal(port, ntohs(va.sin_port));
    assert_true(port != 0);
    struct iovec parts[2] = {{"hello ", 6}, {"udp", 3}};
    fdsafe_send_message sm = {.addr = &va, .addr_len = vlen, .iov = parts, .iov_count = 2};
    expect_code(fdsafe_socket_send_message(u, &sm, 0), 9);
    char buf[16];
    struct iovec in = {buf, sizeof buf};
    struct sockaddr_storage from;
    fdsafe_recv_message rm = {.iov = &in, .iov_count = 1, .addr = &from, .addr_cap = sizeof from};
    expect_code(fdsafe_socket_recv_message(v, &rm, 0), 9);
    assert_memory_equal(buf, "hello udp", 9);
    assert_int_equal(rm.addr_len, ulen);
    assert_memory_equal(&from, &ua, ulen);
    /* Descriptors and credentials travel on Unix sockets only. */
    fdsafe_send_message with_handle = {.addr = &va, .addr_len = vlen, .iov = parts, .iov_count = 1, .handles = &u,
                                       .handle_count = 1};
    expect_code(fdsafe_socket_send_message(u, &with_handle, 0), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle p, q;
    must(fdsafe_unix_pair(FDSAFE_SOCK_STREAM, 0, &p, &q));
    expect_code(fdsafe_socket_local_port(p, &port), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_local_port(u, NULL), FDSAFE_E_INVALID_ARGUMENT);
    must(fdsafe_close(p));
    must(fdsafe_close(q));
    must(fdsafe_close(u));
    expect_code(fdsafe_socket_local_port(u, &port), -EBADF);
    must(fdsafe_close(v));
}

static void test_message_bad_input(void **state) {
    (void)state;
    fdsafe_handle a, b, e;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &a, &b));
    must(fdsafe_eventfd_create(0, 0, &e));
    char buf[4];
    struct iovec one = {buf, sizeof buf};
    fdsafe_send_message sm = {.iov = &one, .iov_count = 1};
    fdsafe_recv_message rm = {.iov = &one, .iov_count = 1};
    expect_code(fdsafe_socket_send_message(a, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_message(b, NULL, 0), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_send_message bad = {.iov = NULL, .iov_count = 1};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    struct iovec null_base = {NULL, 4};
    bad = (fdsafe_send_message){.iov = &null_base, .iov_count = 1};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    bad = (fdsafe_send_message){.iov = &one, .iov_count = 1025};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    struct iovec huge[2] = {{buf, SIZE_MAX / 2}, {buf, SIZE_MAX / 2}};
    bad = (fdsafe_send_message){.iov = huge, .iov_count = 2};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    rm = (fdsafe_recv_message){.iov = huge, .iov_count = 2};
    expect_code(fdsafe_socket_recv_message(b, &rm, FDSAFE_MSG_DONTWAIT), FDSAFE_E_INVALID_ARGUMENT);
    unsigned char junk[3] = {99, 0, 0};
    bad = (fdsafe_send_message){.iov = &one, .iov_count = 1, .addr = junk, .addr_len = sizeof junk};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    bad = (fdsafe_send_message){.iov = &one, .iov_count = 1, .addr = NULL, .addr_len = 16};
    expect_code(fdsafe_socket_send_message(a, &bad, 0), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_message(a, &sm, 0x7fffffff), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_send_message(e, &sm, 0), FDSAFE_E_WRONG_KIND);
    fdsafe_handle stale;
    must(fdsafe_eventfd_create(0, 0, &stale));
    must(fdsafe_close(stale));
    fdsafe_send_message with_stale = {.iov = &one, .iov_count = 1, .handles = &stale, .handle_count = 1};
    expect_code(fdsafe_socket_send_message(a, &with_stale, 0), -EBADF);
    expect_code(fdsafe_socket_send_message(stale, &sm, 0), -EBADF);

    fdsafe_handle slots[254];
    rm = (fdsafe_recv_message){.iov = &one, .iov_count = 1, .handles = slots, .handles_cap = 254};
    expect_code(fdsafe_socket_recv_message(b, &rm, 0), FDSAFE_E_INVALID_ARGUMENT);
    rm = (fdsafe_recv_message){.iov = &one, .iov_count = 1, .handles = NULL, .handles_cap = 2};
    expect_code(fdsafe_socket_recv_message(b, &rm, 0), FDSAFE_E_INVALID_ARGUMENT);
    struct sockaddr_in small;
    rm = (fdsafe_recv_message){.iov = &one, .iov_count = 1, .addr = &small, .addr_cap = sizeof small};
    expect_code(fdsafe_socket_send(a, "x", 1, 0), 1);
    expect_code(fdsafe_socket_recv_message(b, &rm, 0), FDSAFE_E_BUFFER_TOO_SMALL);
    rm = (fdsafe_recv_message){.iov = &one, .iov_count = 1};
    expect_code(fdsafe_socket_recv_message(b, &rm, FDSAFE_MSG_DONTWAIT), 1); /* nothing was consumed before */
    expect_code(fdsafe_socket_recv_message(b, &rm, FDSAFE_MSG_DONTWAIT), -EAGAIN);
    expect_code(fdsafe_socket_recv_message(b, &rm, 0x7fffffff), FDSAFE_E_INVALID_ARGUMENT);
    expect_code(fdsafe_socket_recv_message(e, &rm, 0), FDSAFE_E_WRONG_KIND);
    expect_code(fdsafe_socket_recv_message(stale, &rm, 0), -EBADF);
    must(fdsafe_close(a));
    must(fdsafe_close(b));
    must(fdsafe_close(e));
}

static void test_peer_identity_is_never_a_placeholder(void **state) {
    (void)state;
    struct sockaddr_storage xa;
    size_t xlen;
    fdsafe_handle x = bound_datagram(&xa, &xlen), y;
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    must(fdsafe_socket_local_address(x, text, sizeof text));
    must(fdsafe_unix_connect(text, FDSAFE_SOCK_DGRAM, 0, &y));
    fdsafe_credentials cr = {7, 7, 7};
    uint32_t groups[8];
    fdsafe_handle pidfd = 0;
    /* Connected with connect(): the kernel keeps no peer credentials. */
    expect_code(fdsafe_socket_peer_credentials(y, &cr), -ENODATA);
    assert_int_equal(cr.pid, 7); /* untouched */
    expect_code(fdsafe_socket_peer_groups(y, groups, 8), -ENODATA);
    expect_code(fdsafe_socket_peer_pidfd(y, &pidfd), -ENODATA);
    /* Unconnected. */
    expect_code(fdsafe_socket_peer_credentials(x, &cr), -ENODATA);
    expect_code(fdsafe_socket_peer_pidfd(x, &pidfd), -ENODATA);
    must(fdsafe_close(y));

    /* A stream connected with connect(): the connecting process. */
    fdsafe_handle l, c, s;
    must(fdsafe_unix_listen(NULL, FDSAFE_SOCK_STREAM, 1, NULL, &l));
    must(fdsafe_socket_local_address(l, text, sizeof text));
    must(fdsafe_unix_connect(text, FDSAFE_SOCK_STREAM, 0, &c));
    must(fdsafe_socket_accept(l, 0, &s, NULL, 0, NULL));
    must(fdsafe_socket_peer_credentials(s, &cr));
    assert_int_equal(cr.pid, getpid());
    assert_int_equal(cr.uid, getuid());

    char label[256];
    int rc = fdsafe_socket_peer_security_label(s, label, sizeof label);
    if (rc == -ENOPROTOOPT) {
        char why[256];
        fdsafe_last_error(why, sizeof why);
        printf("[  SKIP    ] SO_PEERSEC: %s\n", why);
    } else {
        assert_true(rc > 0);
        assert_int_equal(strlen(label), (size_t)rc);
        expect_code(fdsafe_socket_peer_security_label(s, label, (size_t)rc), FDSAFE_E_BUFFER_TOO_SMALL);
    }
    expect_code(fdsafe_socket_peer_security_label(s, NULL, 5), FDSAFE_E_INVALID_ARGUMENT);
    fdsafe_handle e;
    must(fdsafe_eventfd_create(0, 0, &e));
    expect_code(fdsafe_socket_peer_security_label(e, label, sizeof label), FDSAFE_E_WRONG_KIND);
    must(fdsafe_close(e));
    expect_code(fdsafe_socket_peer_security_label(e, label, sizeof label), -EBADF);
    must(fdsafe_close(x));
    must(fdsafe_close(l));
    must(fdsafe_close(c));
    must(fdsafe_close(s));
}

/* Binds a datagram socket to raw sockaddr_un bytes (a relative path, a full sun_path...). */
static fdsafe_handle bind_raw(const void *path, size_t path_len, int nul) {
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    memcpy(un.sun_path, path, path_len);
    fdsafe_handle h = 0;
    must(fdsafe_unix_bind_sockaddr(&un, offsetof(struct sockaddr_un, sun_path) + path_len + (nul ? 1 : 0), NULL, &h));
    return h;
}

/* `from` answers whatever address `to` reports for itself, as text and as sockaddr. */
static void reply_both_ways(fdsafe_handle from, fdsafe_handle to, const char *expected_text) {
    char text[FDSAFE_ADDRESS_TEXT_MAX], buf[8];
    struct sockaddr_storage ss, parsed;
    size_t len, plen;
    must(fdsafe_socket_local_address(to, text, sizeof text));
    if (expected_text) assert_string_equal(text, expected_text);
    must(fdsafe_socket_local_sockaddr(to, &ss, sizeof ss, &len));
    must(fdsafe_address_parse(text, &parsed, sizeof parsed, &plen));
    expect_code(fdsafe_socket_send_to(from, "t", 1, 0, text), 1);
    expect_code(fdsafe_socket_send_to_sockaddr(from, "s", 1, 0, &ss, len), 1);
    expect_code(fdsafe_socket_recv(to, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 't');
    expect_code(fdsafe_socket_recv(to, buf, sizeof buf, 0), 1);
    assert_int_equal(buf[0], 's');
    /* And what recv_from reports for `from` works back the same way. */
    expect_code(fdsafe_socket_send_to(to, "r", 1, 0, text), 1); /* to itself: fine for datagrams */
    size_t flen;
    expect_code(fdsafe_socket_recv_from(to, buf, sizeof buf, 0, &ss, sizeof ss, &flen), 1);
    must(fdsafe_address_format(&ss, flen, text, sizeof text));
    must(fdsafe_address_parse(text, &parsed, sizeof parsed, &plen));
    expect_code(fdsafe_socket_send_to(to, "r", 1, 0, text), 1);
    expect_code(fdsafe_socket_recv(to, buf, sizeof buf, 0), 1);
}

static void test_every_returned_address_is_accepted_back(void **state) {
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(temp_dir), 0);
    struct sockaddr_storage ya;
    size_t ylen;
    fdsafe_handle y = bound_datagram(&ya, &ylen);

    /* A peer bound to a relative path, as another program may bind it: "./a.sock" back. */
    fdsafe_handle rel = bind_raw("a.sock", 6, 1);
    reply_both_ways(y, rel, "./a.sock");
    fdsafe_handle z = 0;
    must(fdsafe_unix_bind(NULL, NULL, &z));
    must(fdsafe_socket_connect(z, "./a.sock"));
    must(fdsafe_close(z));

    /* A path that fills sun_path: 108 bytes, no NUL. */
    char full[109];
    int n = snprintf(full, sizeof full, "%s/", temp_dir);
    memset(full + n, 'f', 108 - (size_t)n);
    full[108] = 0;
    fdsafe_handle f = 0;
    must(fdsafe_unix_bind(full, NULL, &f));
    struct sockaddr_storage fs;
    size_t flen;
    must(fdsafe_socket_local_sockaddr(f, &fs, sizeof fs, &flen));
    /* The kernel reports the NUL it keeps past sun_path: 111 bytes, taken back as 110. */
    assert_int_equal(flen, offsetof(struct sockaddr_un, sun_path) + 108 + 1);
    reply_both_ways(y, f, full);
    must(fdsafe_unix_bind(NULL, NULL, &z));
    must(fdsafe_socket_connect(z, full));
    must(fdsafe_close(z));
    full[107] = 'g';
    char longer[120];
    snprintf(longer, sizeof longer, "%sx", full);
    expect_code(fdsafe_unix_bind(longer, NULL, &z), -ENAMETOOLONG);

    /* An abstract name with any bytes: NUL, 0xff, a backslash, an @. */
    const unsigned char name[] = {0, 0, 0xff, '\\', '@', 'q', 1, '\n'};
    fdsafe_handle ab = bind_raw(name, sizeof name, 0);
    reply_both_ways(y, ab, NULL);

    /* An unnamed socket: the empty text, parsed back to the bare family. */
    fdsafe_handle p, q;
    must(fdsafe_unix_pair(FDSAFE_SOCK_DGRAM, 0, &p, &q));
    char text[FDSAFE_ADDRESS_TEXT_MAX];
    expect_code(fdsafe_socket_local_address(p, text, sizeof text), 0);
    struct sockaddr_storage un;
    size_t ulen = 0;
    must(fdsafe_address_parse(text, &un, sizeof un, &ulen));
    assert_int_equal(ulen, offsetof(struct sockaddr_un, sun_path));
    assert_int_equal(un.ss_family, AF_UNIX);
    expect_code(fdsafe_unix_connect("", FDSAFE_SOCK_DGRAM, 0, &z), FDSAFE_E_INVALID_ARGUMENT);

    fdsafe_handle all[] = {y, rel, f, ab, p, q};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) must(fdsafe_close(all[i]));
    unlink("a.sock");
    assert_int_equal(chdir(cwd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        FD_TEST(test_gather_scatter_handles_and_credentials),
        FD_TEST(test_handles_to_an_address_and_reply_to_the_sender),
        FD_TEST(test_truncation_is_reported_and_nothing_leaks),
        FD_TEST(test_empty_payload_by_socket_type),
        FD_TEST(test_udp_whole_message_and_port),
        FD_TEST(test_message_bad_input),
        FD_TEST(test_peer_identity_is_never_a_placeholder),
        FD_TEST(test_every_returned_address_is_accepted_back),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
