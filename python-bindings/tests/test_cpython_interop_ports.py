"""Argument forms and interop, ported from CPython 3.11 test_socket (InterruptedTimeoutBase,
TestUnixDomain, SendfileUsingSendTest ideas, UDP IPv6) for fdsafe sockets."""
import errno
import asyncio
import os
import signal
import socket
import tempfile
import time

import pytest

from fdsafe import socket as fs


# ------------------------------------------------------------ InterruptedTimeoutBase

@pytest.mark.parametrize("call", ["recv", "recvfrom", "recv_into", "recvmsg", "accept"])
def test_signal_handler_exception_interrupts_a_timed_call(call):
    # InterruptedRecvTimeoutTest: a SIGALRM whose handler raises interrupts the call
    def handler(signum, frame):
        1 / 0

    old = signal.signal(signal.SIGALRM, handler)
    lst = fs.tcp_listen(("127.0.0.1", 0))
    u = fs.udp_bind(("127.0.0.1", 0))
    try:
        target = lst if call == "accept" else u
        target.settimeout(5)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        t0 = time.monotonic()
        with pytest.raises(ZeroDivisionError):
            if call == "recv":
                target.recv(1024)
            elif call == "recvfrom":
                target.recvfrom(1024)
            elif call == "recv_into":
                target.recv_into(bytearray(10))
            elif call == "recvmsg":
                target.recvmsg(1024)
            else:
                target.accept()
        assert time.monotonic() - t0 < 3
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        lst.close()
        u.close()


def test_sendall_interrupted_by_signal_with_timeout():
    # InterruptedSendTimeoutTest.testInterruptedSendallTimeout
    def handler(signum, frame):
        1 / 0

    old = signal.signal(signal.SIGALRM, handler)
    a, b = fs.unix_pair()
    try:
        a.settimeout(5)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(ZeroDivisionError):
            a.sendall(b"x" * (64 << 20))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        a.close()
        b.close()


# ------------------------------------------------------------ argument forms

def test_udp_ipv6_four_tuple_sendto_recvfrom():
    # BasicUDP over IPv6 with 4-tuples (SendrecvmsgUDP6TestBase addresses)
    try:
        serv = fs.udp_bind(("::1", 0))
    except OSError as err:
        pytest.skip(f"no IPv6: {err}")
    with serv, fs.udp_bind(("::1", 0, 0, 0)) as cli:
        name = serv.getsockname()
        assert len(name) == 4
        cli.sendto(b"six", name)
        data, addr = serv.recvfrom(10)
        assert data == b"six" and addr == cli.getsockname()
        serv.sendto(b"back", socket.MSG_DONTWAIT, addr)
        assert cli.recv(10) == b"back"


def test_bytes_host_in_tuple():
    # socket accepts a bytes host? (socket.bind((b"127.0.0.1", 0)) raises TypeError in 3.11)
    with socket.socket() as py:
        try:
            py.bind((b"127.0.0.1", 0))
            theirs = None
        except TypeError as err:
            theirs = TypeError
    try:
        lst = fs.tcp_listen((b"127.0.0.1", 0))
        lst.close()
        ours = None
    except TypeError:
        ours = TypeError
    assert ours is theirs, f"bytes host: stdlib {theirs}, fdsafe {ours}"


def test_unix_datagram_pathlike_and_bytes_addresses(tmp_path):
    # TestUnixDomain.testStrAddr / testBytesAddr / testPathLikeAddr on datagram sockets
    p = tmp_path / "dg.sock"
    with fs.unix_bind(p) as server, fs.unix_bind(os.fsencode(tmp_path / "c.sock")) as client:
        client.sendto(b"pathlike", p)
        client.sendto(b"bytes", os.fsencode(p))
        client.sendto(b"str", str(p))
        assert [server.recvfrom(20) for _ in range(3)] == [(b"pathlike", str(tmp_path / "c.sock")),
                                                           (b"bytes", str(tmp_path / "c.sock")),
                                                           (b"str", str(tmp_path / "c.sock"))]
        client.connect(p)
        client.send(b"connected")
        assert server.recv(20) == b"connected"


def test_unix_seqpacket_listener_with_stdlib_constant(tmp_path):
    # socket.SOCK_SEQPACKET given to fdsafe's listen/connect
    p = tmp_path / "sp.sock"
    with fs.unix_listen(p, socket.SOCK_SEQPACKET) as lst:
        assert isinstance(lst, fs.UnixSeqpacketListener)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as py:
            py.connect(str(p))
            conn, _ = lst.accept()
            with conn:
                py.send(b"one")
                py.send(b"two")
                assert conn.recv(10) == b"one" and conn.recv(10) == b"two"
        with fs.unix_connect(p, socket.SOCK_SEQPACKET) as c:
            assert isinstance(c, fs.UnixSeqpacket)
            lst.accept()[0].close()


def test_so_reuseaddr_on_listener_default():
    # socket.create_server sets SO_REUSEADDR on POSIX; fdsafe's tcp_listen defaults to it too
    with fs.tcp_listen(("127.0.0.1", 0)) as lst, socket.create_server(("127.0.0.1", 0)) as py:
        assert bool(lst.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)) == \
            bool(py.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
    with fs.tcp_listen(("127.0.0.1", 0), reuseaddr=False) as lst:
        assert lst.getopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0


def test_sendall_nonblocking_raises_blocking_io_error():
    # socket.sendall on a non-blocking socket raises BlockingIOError once the buffer is full
    a, b = fs.unix_pair()
    with a, b:
        a.setblocking(False)
        with pytest.raises(BlockingIOError):
            a.sendall(b"x" * (16 << 20))


def test_sendto_on_connected_stream():
    # socket.sendto on a connected TCP socket sends to the peer: Linux ignores the address.
    # fdsafe refuses (EISCONN) rather than send somewhere other than where the call names.
    lst = fs.tcp_listen(("127.0.0.1", 0))
    with lst, fs.tcp_connect(lst.getsockname(), timeout=5) as c, socket.create_connection(lst.getsockname()) as py:
        conn1, _ = lst.accept()
        conn2, _ = lst.accept()
        with conn1, conn2:
            assert py.sendto(b"x", ("127.0.0.1", 9)) == 1  # the stdlib's: to the peer
            with pytest.raises(OSError) as err:
                c.sendto(b"x", ("127.0.0.1", 9))
            assert err.value.errno == errno.EISCONN
            for conn in (conn1, conn2):
                conn.setblocking(False)
            got = []
            for conn in (conn1, conn2):
                try:
                    got.append(conn.recv(8))
                except BlockingIOError:
                    pass
            assert got == [b"x"], "only the stdlib socket's byte arrived"


# ------------------------------------------------------------ asyncio sendfile / select

def test_asyncio_sock_sendfile():
    # the module docstring names loop.sock_sendfile
    async def main():
        loop = asyncio.get_running_loop()
        a, b = fs.unix_pair()
        with a, b, tempfile.TemporaryFile() as f:
            f.write(b"file contents " * 1000)
            f.seek(0)
            a.setblocking(False)
            sent = await asyncio.wait_for(loop.sock_sendfile(a, f), 5)
            a.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = b.recv(65536)
                if not chunk:
                    break
                got += chunk
            return sent, got

    sent, got = asyncio.run(main())
    assert sent == len(b"file contents " * 1000) and got == b"file contents " * 1000


def test_asyncio_sock_recv_into_and_sendto():
    async def main():
        loop = asyncio.get_running_loop()
        with fs.udp_bind(("127.0.0.1", 0), nonblocking=True) as s, fs.udp_bind(("127.0.0.1", 0),
                                                                              nonblocking=True) as c:
            await loop.sock_sendto(c, b"dgram", s.getsockname())
            data, addr = await asyncio.wait_for(loop.sock_recvfrom(s, 100), 5)
            assert data == b"dgram" and addr == c.getsockname()
        a, b = fs.unix_pair(nonblocking=True)
        with a, b:
            await loop.sock_sendall(a, b"into")
            buf = bytearray(10)
            n = await asyncio.wait_for(loop.sock_recv_into(b, buf), 5)
            assert buf[:n] == b"into"

    asyncio.run(main())


def test_poll_and_epoll_register_fdsafe_sockets():
    import select
    a, b = fs.unix_pair()
    with a, b:
        p = select.poll()
        p.register(b, select.POLLIN)
        assert p.poll(0) == []
        a.send(b"x")
        assert p.poll(1000) == [(b.fileno(), select.POLLIN)]
        ep = select.epoll()
        with ep:
            ep.register(b, select.EPOLLIN)
            assert ep.poll(1) == [(b.fileno(), select.EPOLLIN)]
