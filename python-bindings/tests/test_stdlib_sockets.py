"""fdsafe sockets with the socket module's habits: addresses as socket takes them, any buffer
as data, recv_into, seconds as timeouts, family/type/proto, and conversions to and from
socket.socket that asyncio accepts. Cases marked "CPython" are ported from the ideas of
CPython's Lib/test/test_socket.py (rewritten for fdsafe)."""
import array
import asyncio
import errno
import os
import pathlib
import socket
import threading
import time

import pytest

from fdsafe import socket as fs


def _port(sock):
    return sock.getsockname()[1]


# ---------------------------------------------------------------- Unix addresses

def test_nul_inside_a_path_is_a_value_error_and_binds_nothing(tmp_path):
    for bad in (str(tmp_path / "a\0b"), os.fsencode(tmp_path / "a\0b")):
        with pytest.raises(ValueError):
            fs.unix_listen(bad)
    assert not (tmp_path / "a").exists(), "the path must never be cut at the NUL"


def test_str_bytes_and_pathlike_paths(tmp_path, monkeypatch):
    with fs.unix_listen(tmp_path / "p.sock") as a, fs.unix_listen(os.fsencode(tmp_path / "b.sock")) as b:
        assert a.getsockname() == str(tmp_path / "p.sock")
        assert b.getsockname() == str(tmp_path / "b.sock")
    monkeypatch.chdir(tmp_path)
    with fs.unix_listen("relative.sock"):  # no slash: still a path, as for socket.bind
        assert (tmp_path / "relative.sock").exists()


def test_surrogate_escaped_and_non_utf8_paths(tmp_path):
    # CPython: TestUnixDomain.testSurrogateescapeBind / testBytesAddr
    raw = os.fsencode(tmp_path) + b"/sock-\xff\xfe"
    name = os.fsdecode(raw)  # a str holding surrogates
    with fs.unix_listen(name) as listener:
        assert os.path.exists(raw)
        assert listener.getsockname() == name  # CPython asserts this too
        client = socket.socket(socket.AF_UNIX)
        client.connect(raw)
        conn, _ = listener.accept()
        with conn:
            client.sendall(b"x")
            assert conn.recv(1) == b"x"
        client.close()
    with fs.unix_bind(raw + b".dg") as d:
        assert os.path.exists(raw + b".dg")
        with fs.unix_bind(None) as e:
            e.sendto(b"to bytes path", raw + b".dg")
            assert d.recv(100) == b"to bytes path"


def test_abstract_names_as_a_leading_nul(tmp_path):
    # CPython: TestLinuxAbstractNamespace.testLinuxAbstractNamespace
    name = f"fdsafe-test-{os.getpid()}"
    with fs.unix_listen("\0" + name) as listener:
        assert listener.getsockname() == b"\0" + name.encode()  # bytes, as CPython asserts
        assert listener.local_address() == "@" + name
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(b"\0" + name.encode())
            conn, peer = listener.accept()
            conn.close()
            assert peer == s.getsockname() == ""  # an unnamed client
        with fs.unix_connect(b"\0" + name.encode()) as c:
            assert c.getpeername() == b"\0" + name.encode()
            assert c.peer_address() == "@" + name
            listener.accept()[0].close()


def test_name_overflow_is_refused():
    # CPython: TestLinuxAbstractNamespace.testNameOverflow / testMaxName
    with pytest.raises(OSError) as info:
        fs.unix_listen("\0" + "h" * 108)
    assert info.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as info:
        fs.unix_listen("/" + "x" * 108)  # 108 bytes fill sun_path, which the kernel allows
    assert info.value.errno == errno.ENAMETOOLONG
    with fs.unix_listen("\0" + "h" * 107) as longest:
        assert len(longest.local_sockaddr()) == 2 + 108


def test_raw_sockaddr_needs_sockaddr_wrapper(tmp_path):
    raw = fs.address_parse(str(tmp_path / "r.sock"))
    for wrong in (bytearray(raw), memoryview(raw)):
        with pytest.raises(TypeError):
            fs.unix_listen(wrong)
    with fs.unix_listen(fs.SockAddr(raw)) as listener:
        assert listener.getsockname() == str(tmp_path / "r.sock")


# ---------------------------------------------------------------- internet addresses

def test_host_port_tuples_and_host_names():
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        port = _port(listener)
        with fs.tcp_connect(("localhost", port), timeout=5) as c:
            conn, peer = listener.accept()
            with conn:
                assert peer == c.getsockname() and peer[0] == "127.0.0.1"
                c.sendall(b"hi")
                assert conn.recv(2) == b"hi"
    with fs.tcp_listen(("", 0)) as anywhere:
        assert anywhere.getsockname() == ("0.0.0.0", _port(anywhere))


@pytest.mark.skipif(not socket.has_ipv6, reason="this Python has no IPv6")
def test_four_tuple_is_ipv6():
    try:
        listener = fs.tcp_listen(("::1", 0, 0, 0))
    except OSError as err:
        pytest.skip(f"no IPv6 loopback here: {err}")
    with listener:
        assert listener.family == socket.AF_INET6
        with fs.tcp_connect(("::1", _port(listener), 0, 0), timeout=5):
            listener.accept()[0].close()


def test_udp_sendto_connect_with_tuples():
    with fs.udp_bind(("127.0.0.1", 0)) as server, fs.udp_bind(("127.0.0.1", 0)) as client:
        target = ("127.0.0.1", _port(server))
        assert client.sendto(b"one", target) == 3
        assert client.sendto(b"two", 0, target) == 3  # sendto(data, flags, address)
        assert server.recvfrom(10)[0] == b"one"
        assert server.recvfrom(10)[0] == b"two"
        client.connect(target)
        client.send(b"three")
        assert server.recv(10) == b"three"


def test_sendto_argument_errors():
    # CPython: GeneralModuleTests.testSendtoErrors
    with fs.udp_bind(("127.0.0.1", 0)) as s:
        target = ("127.0.0.1", _port(s))
        with pytest.raises(TypeError):
            s.sendto("\u2620", target)
        with pytest.raises(TypeError):
            s.sendto(b"foo", None)
        with pytest.raises(TypeError):
            s.sendto(b"foo", "bar", target)
        with pytest.raises(TypeError):
            s.sendto(b"foo", 0, 42)
        with pytest.raises(OverflowError):
            s.sendto(b"foo", ("127.0.0.1", 70000))
        with pytest.raises(TypeError):
            s.send(b"foo", "flags")  # a ctypes.ArgumentError inside: a TypeError outside
    with pytest.raises(TypeError):
        fs.tcp_listen(b"127.0.0.1:0")  # bytes are no internet address, as for socket.bind


# ---------------------------------------------------------------- buffers

def test_send_any_buffer_and_recv_into():
    # CPython: SocketConnectedTest testRecvIntoArray / Bytearray / Memoryview
    a, b = fs.unix_pair()
    with a, b:
        a.sendall(array.array("b", b"array"))
        a.send(bytearray(b"bytearray"))
        a.send(memoryview(b"..memoryview..")[2:-2])
        buf = array.array("b", [0] * 32)
        n = b.recv_into(buf, 5)
        assert n == 5 and buf.tobytes()[:5] == b"array"
        target = bytearray(32)
        n = b.recv_into(memoryview(target)[4:], 19)
        assert target[4:4 + n] == b"bytearraymemoryview"[:n]
        with pytest.raises(TypeError):
            b.recv_into(b"read-only")
        with pytest.raises(ValueError):
            b.recv_into(bytearray(4), 5)
        with pytest.raises(ValueError):
            b.recv(-1)


def test_recvfrom_into():
    # CPython: testRecvFromIntoSmallBuffer / testRecvFromIntoEmptyBuffer
    with fs.udp_bind(("127.0.0.1", 0)) as server, fs.udp_bind(("127.0.0.1", 0)) as client:
        client.sendto(b"datagram", ("127.0.0.1", _port(server)))
        buf = bytearray(100)
        n, source = server.recvfrom_into(buf)
        assert buf[:n] == b"datagram" and source == client.getsockname()
        with pytest.raises(ValueError):
            server.recvfrom_into(bytearray(1), 1024)
        client.sendto(b"", ("127.0.0.1", _port(server)))
        assert server.recvfrom_into(bytearray())[0] == 0


# ---------------------------------------------------------------- timeouts

def test_settimeout_gettimeout_setblocking():
    # CPython: GeneralModuleTests.testDefaultTimeout / testTimeoutSetting / testSetBlocking
    a, b = fs.unix_pair()
    with a, b:
        assert a.gettimeout() is None and a.getblocking()
        a.settimeout(0.05)
        assert a.gettimeout() == 0.05 and a.getblocking()  # gettimeout() != 0, as socket's
        start = time.monotonic()
        with pytest.raises(socket.timeout) as info:
            a.recv(1)
        assert isinstance(info.value, TimeoutError)
        assert time.monotonic() - start >= 0.05
        a.setblocking(False)
        assert a.gettimeout() == 0.0 and not a.getblocking()
        with pytest.raises(BlockingIOError):
            a.recv(1)
        a.setblocking(True)
        assert a.gettimeout() is None and a.nonblocking is False
        with pytest.raises(ValueError):
            a.settimeout(-1)
        with pytest.raises(TypeError):
            a.settimeout("1")


def test_timeout_lets_late_data_through():
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(5)
        threading.Timer(0.05, lambda: b.send(b"late")).start()
        assert a.recv(10) == b"late"


def test_sendall_timeout_bounds_the_whole_call():
    # CPython: the timeout of sendall is its total duration (Python 3.5)
    a, b = fs.unix_pair()
    stop = threading.Event()

    def slow_reader():  # keeps each send making progress: only a total bound can expire
        while not stop.wait(0.005):
            b.recv(65536)

    reader = threading.Thread(target=slow_reader)
    with a, b:
        reader.start()
        try:
            a.settimeout(0.3)
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                a.sendall(b"x" * (64 << 20))  # many seconds at the reader's pace
            assert time.monotonic() - start < 2
        finally:
            stop.set()
            reader.join()


def test_accept_times_out():
    # CPython: TCPTimeoutTest.testTCPTimeout
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.05)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_nonblocking_creation_reads_as_timeout_zero():
    with fs.udp_bind(("127.0.0.1", 0), nonblocking=True) as u:
        assert u.gettimeout() == 0.0


# ---------------------------------------------------------------- identity and closing

@pytest.mark.parametrize("make", [
    lambda: fs.unix_pair(fs.UNIX_STREAM),
    lambda: fs.unix_pair(fs.UNIX_DATAGRAM),
    lambda: fs.unix_pair(fs.UNIX_SEQPACKET),
])
def test_family_type_proto_match_the_socket_module(make):
    a, b = make()
    with a, b, a.to_socket() as py:
        assert (a.family, a.type, a.proto) == (py.family, py.type, py.proto)


def test_tcp_and_udp_identity():
    with fs.tcp_listen(("127.0.0.1", 0)) as t, fs.udp_bind(("127.0.0.1", 0)) as u:
        for ours in (t, u):
            with ours.to_socket() as py:
                assert (ours.family, ours.type, ours.proto) == (py.family, py.type, py.proto)


def test_closed_socket_raises_ebadf():
    # CPython: GeneralModuleTests.testCloseException
    a, b = fs.unix_pair()
    b.close()
    a.close()
    for use in (lambda: a.recv(1), lambda: a.send(b"x"), lambda: a.getsockname()):
        with pytest.raises(OSError) as info:
            use()
        assert info.value.errno == errno.EBADF
    assert a.fileno() == -1  # as socket.fileno() after close


# ---------------------------------------------------------------- conversions

def test_to_socket_and_makefile():
    a, b = fs.unix_pair()
    with a, b:
        with a.to_socket() as py:
            py.sendall(b"from socket.socket\n")
        assert a.fileno() >= 0, "the handle stays open"
        with b.makefile("rb") as f:
            assert f.readline() == b"from socket.socket\n"
        with a.makefile("w", encoding="utf-8") as f:
            f.write("text line\n")
        assert b.recv(100) == b"text line\n"


def test_from_socket_and_from_descriptor():
    left, right = socket.socketpair()
    left.settimeout(2.5)
    ours = fs.from_socket(left)
    with ours, right:
        assert isinstance(ours, fs.UnixStream) and left.fileno() == -1
        assert ours.gettimeout() == 2.5
        ours.sendall(b"adopted")
        assert right.recv(10) == b"adopted"
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = raw.detach()
    with fs.from_socket(fd) as udp:
        assert isinstance(udp, fs.UdpSocket)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        with fs.from_socket(listening) as listener:
            assert isinstance(listener, fs.TcpListener)


def test_asyncio_sock_calls_and_open_connection():
    async def main():
        loop = asyncio.get_running_loop()
        a, b = fs.unix_pair()
        with a, b, a.to_socket() as sa, b.to_socket() as sb:
            sa.setblocking(False)
            sb.setblocking(False)
            await loop.sock_sendall(sa, b"via loop.sock_sendall")
            assert await asyncio.wait_for(loop.sock_recv(sb, 100), 5) == b"via loop.sock_sendall"
        with fs.tcp_listen(("127.0.0.1", 0)) as listener:
            with fs.tcp_connect(("127.0.0.1", _port(listener)), timeout=5) as c:
                conn, _ = listener.accept()
                with conn:
                    reader, writer = await asyncio.open_connection(sock=c.to_socket())
                    writer.write(b"ping\n")
                    await writer.drain()
                    assert conn.recv(5) == b"ping\n"
                    conn.sendall(b"pong\n")
                    assert await asyncio.wait_for(reader.readline(), 5) == b"pong\n"
                    writer.close()
                    await writer.wait_closed()

    asyncio.run(main())


def test_pathlike_is_accepted_by_connect(tmp_path):
    path = pathlib.Path(tmp_path) / "pl.sock"
    with fs.unix_listen(path) as listener, fs.unix_connect(path) as c:
        listener.accept()[0].close()
        assert c.getpeername() == str(path)


# ---------------------------------------------------------------- addresses returned

def test_addresses_come_back_in_the_socket_modules_shapes(tmp_path):
    # CPython: GeneralModuleTests.testSockName, BasicUDPTest.testRecvFrom,
    # TestLinuxAbstractNamespace; each fdsafe answer is compared with the stdlib's own.
    with fs.tcp_listen(("127.0.0.1", 0)) as listener, socket.create_connection(listener.getsockname()) as client:
        name = listener.getsockname()
        assert isinstance(name, tuple) and name[0] == "127.0.0.1" and name[1] == listener.local_port()
        conn, peer = listener.accept()
        with conn:
            assert peer == conn.getpeername() == client.getsockname()
            assert conn.getsockname() == client.getpeername()
    with fs.udp_bind(("127.0.0.1", 0)) as u, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as p:
        p.bind(("127.0.0.1", 0))
        p.sendto(b"one", u.getsockname())
        assert u.recvfrom(8) == (b"one", p.getsockname())
        p.sendto(b"two", u.getsockname())
        buf = bytearray(8)
        assert u.recvfrom_into(buf) == (3, p.getsockname())
        p.sendto(b"three", u.getsockname())
        assert u.recvmsg(8).address == p.getsockname()
        u.sendto(b"back", p.getsockname())  # what came back is taken back
        assert p.recvfrom(8) == (b"back", u.getsockname())
    path = str(tmp_path / "named.sock")
    with fs.unix_bind(path) as named, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as plain:
        plain.bind(str(tmp_path / "plain.sock"))
        plain.sendto(b"x", named.getsockname())
        assert named.getsockname() == path
        assert named.recvfrom(4) == (b"x", plain.getsockname())
    with fs.unix_bind(None) as auto, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as unnamed:
        assert auto.getsockname().startswith(b"\0")  # an abstract name is bytes, as in CPython
        unnamed.sendto(b"y", auto.getsockname())
        assert auto.recvfrom(4) == (b"y", None)  # an unnamed sender: None, as socket gives it
    a, b = fs.unix_pair()
    with a, b:
        assert a.getsockname() == "" and a.getpeername() == ""
        assert a.local_address() == ""


@pytest.mark.skipif(not socket.has_ipv6, reason="this Python has no IPv6")
def test_ipv6_addresses_are_four_tuples():
    try:
        listener = fs.tcp_listen(("::1", 0))
    except OSError as err:
        pytest.skip(f"no IPv6 loopback here: {err}")
    with listener, socket.create_connection(listener.getsockname()[:2]) as client:
        name = listener.getsockname()
        assert len(name) == 4 and name[0] == "::1"
        conn, peer = listener.accept()
        with conn:
            assert peer == client.getsockname() and len(peer) == 4
