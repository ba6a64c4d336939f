"""Sockets of any family (fdsafe.socket.socket, like socket.socket), any option
(getsockopt/setsockopt, SO_RCVTIMEO honoured), bind before connect (connect_from,
create_connection(source_address=...)) and netlink for real, with the stdlib's socket module
as the peer."""
import errno
import os
import socket
import struct
import time

import pytest

import fdsafe
from fdsafe import socket as fs

RTM_GETLINK, RTM_NEWLINK, NLMSG_DONE, NLMSG_ERROR = 18, 16, 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFLA_IFNAME = 3
NETLINK_KOBJECT_UEVENT = 15  # linux/netlink.h; the socket module lacks it


def _links(nl):
    """The interface names an RTM_GETLINK dump over ``nl`` reports."""
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)  # struct ifinfomsg
    header = struct.pack("=IHHII", 16 + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    assert nl.sendto(header + body, (0, 0)) == 16 + len(body)  # (pid 0, groups 0): the kernel
    names = []
    while True:
        data = nl.recv(65536)
        at = 0
        while at + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, at)
            assert kind != NLMSG_ERROR
            if kind == NLMSG_DONE:
                return names
            if kind == RTM_NEWLINK:
                attr = at + 16 + 16
                while attr + 4 <= at + length:
                    alen, atype = struct.unpack_from("=HH", data, attr)
                    if atype == IFLA_IFNAME:
                        names.append(data[attr + 4:attr + alen].rstrip(b"\0").decode())
                    attr += (alen + 3) & ~3
            at += (length + 3) & ~3


def test_netlink_route_dump_lists_the_loopback():
    with fs.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        assert isinstance(nl, fs.GenericSocket) and nl.kind == fs.KIND_SOCKET
        assert (nl.family, nl.type, nl.proto) == (socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        assert not os.get_inheritable(nl.fileno())
        nl.bind((0, 0))
        pid, groups = nl.getsockname()
        assert pid != 0 and groups == 0
        assert "lo" in _links(nl)


def test_netlink_socket_passes_over_scm_rights():
    a, b = fs.unix_pair()
    with a, b, fs.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        a.send_fds(b"n", [nl])
        got = b.recv_fds(1)
        (received,) = got.handles
        with received:
            assert isinstance(received, fs.GenericSocket)  # detected as a socket, not "other"
            assert "lo" in _links(received)


def test_a_stdlib_netlink_socket_is_adopted_as_the_generic_kind():
    stdlib = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with fs.from_socket(stdlib) as nl:
        assert isinstance(nl, fs.GenericSocket) and stdlib.fileno() == -1  # detached
        assert "lo" in _links(nl)
        with nl.to_socket() as back:
            assert back.family == socket.AF_NETLINK and back.proto == socket.NETLINK_ROUTE


def test_netlink_uevent_subscription_sees_a_change():
    with fs.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT) as ue:
        try:
            ue.bind((0, 1))
        except OSError as err:
            pytest.skip(f"uevent subscription refused by the kernel: {err}")
        ue.settimeout(3.0)
        try:
            with open("/sys/devices/virtual/mem/null/uevent", "w") as f:
                f.write("change")
        except OSError as err:
            pytest.skip(f"cannot trigger a uevent: {err}")
        for _ in range(50):
            message = ue.recv(8192).split(b"\0")
            if message[0] == b"change@/devices/virtual/mem/null":
                assert b"ACTION=change" in message
                return
        pytest.fail("no uevent for /dev/null")


def test_so_rcvtimeo_set_as_an_option_bounds_a_blocking_receive():
    a, b = fs.unix_pair()
    with a, b:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", 0, 150000))
        sec, usec = struct.unpack("@ll", b.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
        assert sec == 0 and 150000 <= usec < 160000
        start = time.monotonic()
        with pytest.raises(BlockingIOError):  # as socket.socket does with SO_RCVTIMEO
            b.recv(4)
        assert time.monotonic() - start >= 0.12
        a.send(b"x")
        assert b.recv(4) == b"x"


def test_any_option_on_a_typed_tcp_stream():
    with socket.create_server(("127.0.0.1", 0)) as server:
        with fs.tcp_connect(server.getsockname()) as c:
            peer, _ = server.accept()
            with peer:
                info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                assert info[0] == 1  # TCP_ESTABLISHED
                c.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
                assert c.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 0x10
                with pytest.raises(OSError) as err:
                    c.getsockopt(socket.SOL_SOCKET, 12345)
                assert err.value.errno == errno.ENOPROTOOPT


def test_generic_tcp_listener_with_a_stdlib_client():
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host, port = listener.getsockname()
        with socket.create_connection((host, port)) as client:
            conn, peer = listener.accept()
            with conn:
                assert peer == client.getsockname()
                assert conn.kind == fs.KIND_SOCKET
                client.sendall(b"hello")
                assert conn.recv(5, fs.MSG_WAITALL) == b"hello"


def _free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_create_connection_from_a_source_address():
    with socket.create_server(("127.0.0.1", 0)) as server:
        source = ("127.0.0.2", _free_port(socket.SOCK_STREAM))
        with fs.create_connection(server.getsockname(), timeout=2, source_address=source) as c:
            assert isinstance(c, fs.TcpStream)
            conn, peer = server.accept()
            conn.close()
            assert peer == source  # the stdlib server sees the chosen source


def test_udp_client_bound_before_connect():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        source = ("127.0.0.1", _free_port(socket.SOCK_DGRAM))
        with fs.connect_from(source, receiver.getsockname(), socket.SOCK_DGRAM) as u:
            assert isinstance(u, fs.UdpSocket)
            u.send(b"dg")
            assert receiver.recvfrom(8) == (b"dg", source)


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_SEQPACKET])
def test_unix_client_with_an_abstract_name_and_autobind(kind):
    name = f"\0fdsafe-py-listen-{os.getpid()}".encode()
    client_name = f"\0fdsafe-py-client-{os.getpid()}".encode()
    with socket.socket(socket.AF_UNIX, kind) as server:
        server.bind(name)
        server.listen()
        with fs.connect_from(client_name, name, kind) as c:
            conn, peer = server.accept()
            conn.close()
            assert peer == client_name
        with fs.connect_from("", name, kind):  # autobind
            conn, peer = server.accept()
            conn.close()
            assert peer.startswith(b"\0") and len(peer) == 6


def test_type_flags_do_what_the_socket_module_makes_them_do():
    """socket.socket(family, SOCK_STREAM | SOCK_NONBLOCK) is non-blocking and its type is
    SOCK_STREAM; SOCK_CLOEXEC is taken (always in force). Both were refused."""
    with fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC) as s, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC) as std:
        assert s.type == std.type == socket.SOCK_DGRAM
        assert s.gettimeout() == std.gettimeout() == 0.0
        assert not os.get_inheritable(s.fileno())
        with pytest.raises(BlockingIOError):
            s.recv(1)
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        assert s.gettimeout() is None
        assert not os.get_inheritable(s.fileno())


def test_recvfrom_with_no_source_address_gives_none():
    """As socket.socket and the typed sockets: None where the kernel gives no address (a
    connected TCP stream, an unnamed Unix sender), not empty address bytes."""
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.connect(listener.getsockname())
            server, _ = listener.accept()
            with server:
                client.sendall(b"hey!")
                assert server.recvfrom(3) == (b"hey", None)
                buf = bytearray(4)
                assert server.recvfrom_into(buf) == (1, None)
    with fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver, \
            fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unnamed:
        receiver.bind(b"\0fdsafe-generic-recvfrom-%d" % os.getpid())
        unnamed.sendto(b"x", receiver.getsockname())
        assert receiver.recvfrom(1) == (b"x", None)


def test_bad_input_is_refused():
    with pytest.raises(OSError) as err:
        fs.socket(socket.AF_CAN, socket.SOCK_RAW, 1)
    assert err.value.errno == errno.EAFNOSUPPORT
    with pytest.raises(TypeError):
        fs.connect_from(("127.0.0.1", 0), "/nowhere", socket.SOCK_STREAM)  # families differ
    with pytest.raises(fdsafe.errors.InvalidArgumentError):  # and in C
        fs.connect_from(fs.SockAddr(struct.pack("=H", socket.AF_UNIX)), ("127.0.0.1", 9), socket.SOCK_STREAM)
    with fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        with pytest.raises(OSError) as err:
            s.listen()
        assert err.value.errno == errno.EOPNOTSUPP
        with pytest.raises(TypeError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, object())  # type: ignore[arg-type]
    a, b = fs.unix_pair()
    with a, b, pytest.raises(fdsafe.errors.WrongKindError):  # typed sockets are bound when made
        fdsafe.errors.check(fdsafe._lib.lib.fdsafe_socket_bind(a._value, b"\1\0", 2))


def test_generic_socket_timeouts_as_socket_has_them():
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.1)
        assert listener.gettimeout() == 0.1
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            listener.accept()
        assert time.monotonic() - start >= 0.08
        with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(listener.getsockname())  # non-blocking connect, finished within 2 s
            conn, peer = listener.accept()
            with conn:
                assert peer == client.getsockname() and conn.getpeername() == peer


def test_socket_takes_fileno_as_the_socket_module_does():
    """socket.socket(family, type, proto, fileno): the fourth argument adopts a descriptor.
    It used to be `nonblocking`, so (AF_INET, SOCK_STREAM, 0, fd) made a new socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as std:
        std.bind(("127.0.0.1", 0))
        std.listen()
        address = std.getsockname()
        fd = std.detach()
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fd) as adopted:
        assert adopted.fileno() == fd
        assert adopted.getsockname() == address
    with pytest.raises(OSError):
        os.fstat(fd)  # the adopted socket owned it and closed it
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        with pytest.raises(fdsafe.InvalidArgumentError):
            fs.socket(fileno=r)  # not a socket: refused, still the caller's
        os.fstat(r)
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(TypeError):
        fs.socket(socket.AF_INET, socket.SOCK_STREAM, 0, True, False)  # no fifth positional


def test_an_ipv4_host_on_an_ipv6_socket_goes_as_its_mapped_address():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with fs.socket(socket.AF_INET6, socket.SOCK_STREAM) as client:
            client.connect(("127.0.0.1", listener.getsockname()[1]))  # was EINVAL
            assert client.getpeername()[:2] == ("::ffff:127.0.0.1", listener.getsockname()[1])
            listener.accept()[0].close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, fs.udp_bind(("::", 0)) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sender.sendto(b"v4", ("127.0.0.1", receiver.getsockname()[1]))
        assert receiver.recv(10) == b"v4"


def _raw_or_skip(family, type, proto):
    try:
        return fs.socket(family, type, proto)
    except PermissionError as err:  # CAP_NET_RAW
        pytest.skip(f"the kernel refused a raw socket: {err}")


def test_raw_ip_sockets_take_host_port_tuples_as_the_stdlib():
    # getaddrinfo gives no port for SOCK_RAW ("Servname not supported for ai_socktype"), so
    # (host, port) was refused on raw sockets although recvfrom gives addresses in that form.
    checksum = lambda b: (~(sum(struct.unpack("!4H", b)) % 65535)) & 0xFFFF  # noqa: E731
    header = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1)
    echo = struct.pack("!BBHHH", 8, 0, checksum(header), 0x1234, 1)
    with _raw_or_skip(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.bind(("127.0.0.1", 0))
        assert s.sendto(echo, ("127.0.0.1", 0)) == len(echo)
        s.settimeout(5)
        data, source = s.recvfrom(1024)
        assert source == ("127.0.0.1", 0)
        s.connect(source)  # what recvfrom gave, taken back
        assert s.send(echo) == len(echo)


def test_a_socket_type_without_a_member_is_its_number():
    with _raw_or_skip(socket.AF_PACKET, 10, socket.htons(3)) as s:  # SOCK_PACKET
        assert s.type == 10
