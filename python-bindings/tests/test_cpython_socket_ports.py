"""Cases ported from CPython 3.11 Lib/test/test_socket.py to fdsafe's socket objects.
Each test names the CPython case it follows. Cases already covered by the repository's own
tests (test_stdlib_sockets.py, test_socket_habits.py, test_stdlib_habits.py,
test_stream_habits.py, test_message.py) are not repeated."""
import errno
import fcntl
import gc
import os
import select
import selectors
import socket
import threading
import time
import weakref

import pytest

import fdsafe
from fdsafe import socket as fs

MSG = b"Michael Gilfix was here\\u1234\r\n"


def tcp_pair():
    """(listener, client, server_conn) over 127.0.0.1."""
    lst = fs.tcp_listen(("127.0.0.1", 0))
    cli = fs.tcp_connect(("127.0.0.1", lst.getsockname()[1]), timeout=5)
    conn, _ = lst.accept()
    return lst, cli, conn


def fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


# ------------------------------------------------------------ GeneralModuleTests

def test_weakref():
    # GeneralModuleTests.test_weakref
    a, b = fs.unix_pair()
    with b:
        p = weakref.proxy(a)
        assert p.fileno() == a.fileno()
        a.close()
        del a
        gc.collect()
        with pytest.raises(ReferenceError):
            p.fileno()


def test_repr_mentions_closed():
    # GeneralModuleTests.test_repr: repr works open and closed
    a, b = fs.unix_pair()
    b.close()
    r = repr(a)
    assert "closed" not in r
    a.close()
    assert "closed" in repr(a)


def test_send_after_close_raises_oserror():
    # GeneralModuleTests.testSendAfterClose
    with fs.udp_bind(("127.0.0.1", 0)) as s:
        pass
    with pytest.raises(OSError):
        s.sendto(b"spam", ("127.0.0.1", 9))


def test_close_is_idempotent_and_context_manager_closes():
    # ContextManagersTest.testCreateConnectionBase / testCreateConnectionClose
    lst, cli, conn = tcp_pair()
    with lst, conn:
        with cli as c:
            assert c is cli and not c.closed
        assert cli.closed
        with pytest.raises(OSError):
            cli.sendall(b"foo")
        cli.close()
        cli.close()


def test_port_out_of_range_is_overflow_error():
    # GeneralModuleTests.test_getsockaddrarg / testSocketBindPortOverflow (bind with port -1 / 65536)
    for port in (-1, 65536):
        with pytest.raises(OverflowError):
            fs.tcp_listen(("127.0.0.1", port))
        with pytest.raises(OverflowError):
            fs.udp_bind(("127.0.0.1", port))
        with pytest.raises(OverflowError):
            fs.tcp_connect(("127.0.0.1", port))


def test_port_of_wrong_type_is_type_error():
    # GeneralModuleTests.test_getsockaddrarg (port must be an int)
    with pytest.raises(TypeError):
        fs.tcp_listen(("127.0.0.1", "80"))
    with pytest.raises(TypeError):
        fs.tcp_listen(("127.0.0.1", 80.0))


def test_getsockopt_setsockopt_with_stdlib_constants():
    # GeneralModuleTests.testGetSockOpt / testSetSockOpt
    with fs.udp_bind(("127.0.0.1", 0)) as u:
        assert u.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert u.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        assert u.getopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, b"\0\0\0\0")
        assert u.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0
        assert u.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_DGRAM


def test_sock_ioctl_style_getsockopt_bytes():
    # GeneralModuleTests.testGetSockOpt with buflen: bytes back
    with fs.udp_bind(("127.0.0.1", 0)) as u:
        raw = u.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4)
        assert isinstance(raw, bytes) and len(raw) == 4


def test_unknown_sockopt_is_enoprotoopt():
    # what socket.getsockopt raises for an option the kernel does not know
    with fs.udp_bind(("127.0.0.1", 0)) as u, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as py:
        with pytest.raises(OSError) as theirs:
            py.getsockopt(socket.SOL_SOCKET, 9999)
        with pytest.raises(OSError) as ours:
            u.getsockopt(socket.SOL_SOCKET, 9999)
        assert ours.value.errno == theirs.value.errno == errno.ENOPROTOOPT


def test_getpeername_unconnected_enotconn():
    # GeneralModuleTests: getpeername on a socket with no peer
    with fs.tcp_listen(("127.0.0.1", 0)) as lst, fs.udp_bind(("127.0.0.1", 0)) as u:
        for s in (lst, u):
            with pytest.raises(OSError) as info:
                s.getpeername()
            assert info.value.errno == errno.ENOTCONN


def test_makefile_invalid_modes():
    # GeneralModuleTests.test_makefile_invalid_mode ('rt', 'x', '+', 'a')
    a, b = fs.unix_pair()
    with a, b, socket.socket() as py:
        for mode in ("rt", "x", "+", "a"):
            with pytest.raises(ValueError, match="invalid mode"):
                py.makefile(mode)
            with pytest.raises(ValueError, match="invalid mode"):
                a.makefile(mode)


def test_makefile_mode_attribute():
    # GeneralModuleTests.test_makefile_mode
    a, b = fs.unix_pair()
    with a, b:
        for mode in ("r", "rb", "rw", "w", "wb"):
            kw = {} if "b" in mode else {"encoding": "utf-8"}
            with a.makefile(mode, **kw) as fp, socket.socket() as py, py.makefile(mode, **kw) as theirs:
                assert getattr(fp, "mode", None) == getattr(theirs, "mode", None), mode


def test_unusable_closed_socketio():
    # GeneralModuleTests.test_unusable_closed_socketio
    a, b = fs.unix_pair()
    with a, b:
        fp = a.makefile("rb", buffering=0)
        assert fp.readable() and not fp.writable() and not fp.seekable()
        fp.close()
        with pytest.raises(ValueError):
            fp.readable()
        with pytest.raises(ValueError):
            fp.writable()
        with pytest.raises(ValueError):
            fp.seekable()


def test_makefile_after_close_raises():
    # stdlib: makefile on a closed socket gives a file whose reads raise OSError EBADF;
    # fdsafe refuses at makefile() (it dups): an OSError with EBADF either way.
    a, b = fs.unix_pair()
    b.close()
    a.close()
    with socket.socket() as py:
        pass
    with py.makefile("rb") as f, pytest.raises(OSError) as theirs:
        f.read(1)
    with pytest.raises(OSError) as ours:
        a.makefile("rb").read(1)
    assert ours.value.errno == theirs.value.errno == errno.EBADF


def test_socket_error_tree():
    # TestExceptions.testExceptionTree / test_setblocking_invalidfd
    assert socket.error is OSError and socket.timeout is TimeoutError
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(0.01)
        with pytest.raises(socket.timeout):
            a.recv(1)
        a.setblocking(False)
        with pytest.raises(BlockingIOError) as info:
            a.recv(1)
        assert info.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)


def test_connection_refused_is_connection_refused_error():
    # GeneralModuleTests / NetworkConnectionNoServer.test_connect / test_create_connection
    with fs.tcp_listen(("127.0.0.1", 0)) as lst:
        port = lst.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        fs.tcp_connect(("127.0.0.1", port), timeout=5)
    with pytest.raises(ConnectionRefusedError):
        fs.create_connection(("127.0.0.1", port))


def test_setdefaulttimeout_is_not_taken():
    # GeneralModuleTests.testDefaultTimeout: socket.setdefaulttimeout(10) gives new
    # socket.socket objects 10. fdsafe's sockets are not socket.socket objects and do not read
    # that process-wide default (docs/sockets.md says so): each call states its own timeout.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        with socket.socket() as py:
            assert py.gettimeout() == 10.0
        with fs.udp_bind(("127.0.0.1", 0)) as u:
            assert u.gettimeout() is None
    finally:
        socket.setdefaulttimeout(old)


# ------------------------------------------------------------ BasicTCPTest

def test_tcp_recv_overflow_recv_recvfrom():
    # BasicTCPTest.testRecv / testOverFlowRecv / testRecvFrom / testOverFlowRecvFrom
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        conn.send(MSG)
        assert cli.recv(1024) == MSG
        conn.send(MSG)
        seg1 = cli.recv(len(MSG) - 3)
        assert seg1 + cli.recv(1024) == MSG
        conn.send(MSG)
        msg, addr = cli.recvfrom(1024)
        assert msg == MSG
        with socket.socket() as p:  # the stdlib's address on a connected TCP recvfrom
            pass
        assert addr is None
        conn.send(MSG)
        s1, _ = cli.recvfrom(len(MSG) - 3)
        s2, _ = cli.recvfrom(1024)
        assert s1 + s2 == MSG


def test_tcp_sendall_then_eof():
    # BasicTCPTest.testSendAll
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        conn.sendall(b"f" * 2048)
        conn.close()
        msg = b""
        while True:
            r = cli.recv(1024)
            if not r:
                break
            msg += r
        assert msg == b"f" * 2048


def test_fromfd_of_an_fdsafe_socket():
    # BasicTCPTest.testFromFd
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        sock = socket.fromfd(cli.fileno(), socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            conn.send(MSG)
            assert sock.recv(1024) == MSG
        assert fd_is_open(cli.fileno()) and not cli.closed


def test_dup():
    # BasicTCPTest.testDup
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        d = cli.dup()
        with d:
            assert d.fileno() != cli.fileno()
            assert not os.get_inheritable(d.fileno())  # socket.dup() is non-inheritable
            conn.send(MSG)
            assert d.recv(1024) == MSG


def test_shutdown_with_stdlib_constant_and_overflow():
    # BasicTCPTest.testShutdown / testShutdown_overflow
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        conn.send(MSG)
        with pytest.raises(OverflowError):
            conn.shutdown(2**31)
        with pytest.raises(OverflowError):
            conn.shutdown(2 + 2**32)
        conn.shutdown(socket.SHUT_RDWR)
        assert cli.recv(1024) == MSG
        assert cli.recv(1024) == b""


def test_shutdown_invalid_how_is_einval():
    # socket.shutdown(3) -> OSError EINVAL (the kernel's answer)
    lst, cli, conn = tcp_pair()
    with lst, cli, conn, socket.socket() as py:
        with pytest.raises(OSError) as theirs:
            py.shutdown(3)
        with pytest.raises(OSError) as ours:
            cli.shutdown(3)
        assert ours.value.errno == errno.EINVAL
        assert theirs.value.errno == errno.EINVAL or theirs.value.errno == errno.ENOTCONN


def test_shutdown_write_half():
    # shutdown(SHUT_WR): the peer reads EOF, this side still reads
    a, b = fs.unix_pair()
    with a, b:
        a.shutdown(socket.SHUT_WR)
        assert b.recv(10) == b""
        b.send(b"back")
        assert a.recv(10) == b"back"
        with pytest.raises(BrokenPipeError):
            a.send(b"x")


def test_shutdown_unconnected_enotconn():
    with fs.tcp_listen(("127.0.0.1", 0)) as lst, socket.socket() as py:
        py.bind(("127.0.0.1", 0))
        py.listen()
        # Linux lets a listening socket be shut down (it wakes accept): same answer both sides
        py.shutdown(socket.SHUT_RDWR)
        lst.shutdown(socket.SHUT_RDWR)
    with fs.udp_bind(("127.0.0.1", 0)) as u, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as py:
        py.bind(("127.0.0.1", 0))
        with pytest.raises(OSError) as theirs:
            py.shutdown(socket.SHUT_RDWR)
        with pytest.raises(OSError) as ours:
            u.shutdown(socket.SHUT_RDWR)
        assert ours.value.errno == theirs.value.errno == errno.ENOTCONN


def test_detach_release():
    # BasicTCPTest.testDetach: detach() -> fd; the object is unusable; socket(fileno=fd) works
    lst, cli, conn = tcp_pair()
    with lst, conn:
        fileno = cli.fileno()
        f = cli.detach()  # socket.detach; release() under its fdsafe name
        assert f == fileno
        assert cli.closed
        with pytest.raises(OSError):
            cli.recv(1024)
        cli.close()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, fileno=f)
        with sock:
            conn.send(MSG)
            assert sock.recv(1024) == MSG


def test_tcp_closer_select_and_eof():
    # TCPCloserTest.testClose
    lst, cli, conn = tcp_pair()
    with lst, cli:
        conn.close()
        r, w, x = select.select([cli], [], [], 1.0)
        assert r == [cli]
        assert cli.recv(1) == b""
        conn.close()
        conn.close()


# ------------------------------------------------------------ BasicUDPTest

def test_udp_sendto_flags_recv_and_negative():
    # BasicUDPTest.testSendtoAndRecv / testRecvFrom / testRecvFromNegative
    with fs.udp_bind(("127.0.0.1", 0)) as serv, fs.udp_bind(("127.0.0.1", 0)) as cli:
        port = serv.getsockname()[1]
        cli.sendto(MSG, 0, ("127.0.0.1", port))
        assert serv.recv(len(MSG)) == MSG
        cli.sendto(MSG, 0, ("127.0.0.1", port))
        msg, addr = serv.recvfrom(len(MSG))
        assert msg == MSG and addr == cli.getsockname()
        with pytest.raises(ValueError):
            serv.recvfrom(-1)
        with pytest.raises(ValueError):
            serv.recvfrom_into(bytearray(10), -1)


def test_udp_timeout():
    # UDPTimeoutTest.testUDPTimeout / testTimeoutZero
    with fs.udp_bind(("127.0.0.1", 0)) as serv:
        serv.settimeout(0.1)
        with pytest.raises(TimeoutError):
            serv.recv(1024)
        serv.settimeout(0.0)
        with pytest.raises(BlockingIOError):
            serv.recv(1024)


def test_tcp_accept_timeout_zero():
    # TCPTimeoutTest.testTimeoutZero
    with fs.tcp_listen(("127.0.0.1", 0)) as lst:
        lst.settimeout(0.0)
        with pytest.raises(BlockingIOError):
            lst.accept()


def test_udp_truncated_datagram():
    # recvfrom smaller than the datagram: the rest is dropped, as with socket
    with fs.udp_bind(("127.0.0.1", 0)) as serv, fs.udp_bind(("127.0.0.1", 0)) as cli:
        cli.sendto(b"abcdef", serv.getsockname())
        cli.sendto(b"second", serv.getsockname())
        assert serv.recvfrom(3)[0] == b"abc"
        assert serv.recvfrom(10)[0] == b"second"


# ------------------------------------------------------------ BasicSocketPairTest

def test_socketpair_defaults_and_stdlib_type_constants():
    # BasicSocketPairTest.testDefaults; socketpair types given as socket.SOCK_*
    for t, cls in ((socket.SOCK_STREAM, fs.UnixStream), (socket.SOCK_DGRAM, fs.UnixDatagram),
                   (socket.SOCK_SEQPACKET, fs.UnixSeqpacket)):
        a, b = fs.unix_pair(t)
        with a, b:
            assert isinstance(a, cls)
            assert (a.family, a.type, a.proto) == (socket.AF_UNIX, t, 0)
            a.send(MSG)
            assert b.recv(1024) == MSG
            b.send(MSG)
            assert a.recv(1024) == MSG


# ------------------------------------------------------------ NonBlockingTCPTests

def _assert_sock_timeout(sock, timeout):
    assert sock.gettimeout() == timeout
    assert sock.getblocking() == (timeout != 0.0)
    flag = fcntl.fcntl(sock, fcntl.F_GETFL, os.O_NONBLOCK)  # fcntl takes fileno() objects
    assert (not bool(flag & os.O_NONBLOCK)) == (timeout is None)


def test_nonblocking_set_blocking_fd_flags():
    # NonBlockingTCPTests.testSetBlocking
    with fs.tcp_listen(("127.0.0.1", 0)) as serv:
        serv.setblocking(True)
        _assert_sock_timeout(serv, None)
        serv.setblocking(False)
        _assert_sock_timeout(serv, 0.0)
        serv.settimeout(None)
        _assert_sock_timeout(serv, None)
        serv.settimeout(0)
        _assert_sock_timeout(serv, 0)
        serv.settimeout(10)
        _assert_sock_timeout(serv, 10)
        serv.settimeout(0)
        _assert_sock_timeout(serv, 0)


def test_setblocking_takes_any_truth_value():
    # NonBlockingTCPTests.testSetBlocking_overflow: setblocking(UINT_MAX + 1) is blocking
    with fs.tcp_listen(("127.0.0.1", 0)) as serv:
        serv.setblocking(False)
        serv.setblocking(2**32)
        _assert_sock_timeout(serv, None)


def test_accept_inherits_no_timeout():
    # NonBlockingTCPTests.testInheritFlagsBlocking: accept() on a listener with a timeout
    # gives a blocking socket
    with fs.tcp_listen(("127.0.0.1", 0)) as serv:
        serv.settimeout(10)
        with fs.tcp_connect(("127.0.0.1", serv.getsockname()[1]), timeout=5):
            conn, _ = serv.accept()
            with conn:
                assert conn.gettimeout() is None
                assert not conn.nonblocking


def test_nonblocking_accept_then_select():
    # NonBlockingTCPTests.testAccept
    with fs.tcp_listen(("127.0.0.1", 0)) as serv:
        serv.setblocking(False)
        t0 = time.monotonic()
        with pytest.raises(BlockingIOError):
            serv.accept()
        assert time.monotonic() - t0 < 1.0
        c = socket.create_connection(serv.getsockname())
        with c:
            r, _, _ = select.select([serv], [], [], 5)
            assert serv in r
            conn, _ = serv.accept()
            with conn:
                assert conn.gettimeout() is None


def test_nonblocking_recv_then_select():
    # NonBlockingTCPTests.testRecv
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        conn.setblocking(False)
        with pytest.raises(BlockingIOError):
            conn.recv(len(MSG))
        cli.sendall(MSG)
        r, _, _ = select.select([conn], [], [], 5)
        assert conn in r
        assert conn.recv(len(MSG)) == MSG


# ------------------------------------------------------------ MSG_PEEK / MSG_DONTWAIT with stdlib constants

def test_msg_peek_and_dontwait_stdlib_constants():
    a, b = fs.unix_pair()
    with a, b:
        with pytest.raises(BlockingIOError):
            b.recv(10, socket.MSG_DONTWAIT)  # a blocking socket, one call not waiting
        assert b.gettimeout() is None and not b.nonblocking
        a.send(b"peekaboo")
        assert b.recv(4, socket.MSG_PEEK) == b"peek"
        buf = bytearray(8)
        assert b.recv_into(buf, 0, socket.MSG_PEEK) == 8
        assert b.recv(8) == b"peekaboo"


def test_udp_recvfrom_peek():
    with fs.udp_bind(("127.0.0.1", 0)) as serv, fs.udp_bind(("127.0.0.1", 0)) as cli:
        cli.sendto(b"datagram", serv.getsockname())
        assert serv.recvfrom(100, socket.MSG_PEEK) == (b"datagram", cli.getsockname())
        buf = bytearray(100)
        assert serv.recvfrom_into(buf, 0, socket.MSG_PEEK) == (8, cli.getsockname())
        assert serv.recvfrom(100) == (b"datagram", cli.getsockname())
        with pytest.raises(BlockingIOError):
            serv.recvfrom(100, socket.MSG_DONTWAIT)


def test_send_msg_dontwait_on_a_full_socket():
    a, b = fs.unix_pair()
    with a, b:
        with pytest.raises(BlockingIOError):
            while True:
                a.send(b"x" * 65536, socket.MSG_DONTWAIT)


def test_recv_waitall():
    a, b = fs.unix_pair()
    with a, b:
        threading.Timer(0.05, lambda: a.send(b"rest")).start()
        a.send(b"first")
        assert b.recv(9, socket.MSG_WAITALL) == b"firstrest"


# ------------------------------------------------------------ sendall with big buffers, recv_into

def test_sendall_big_buffer_memoryview():
    # SocketConnectedTest-style: sendall of a large buffer (memoryview of a bytearray)
    lst, cli, conn = tcp_pair()
    data = bytearray(os.urandom(1 << 16)) * 160  # 10 MiB
    got = bytearray()

    def reader():
        buf = bytearray(1 << 16)
        while True:
            n = conn.recv_into(buf)
            if not n:
                break
            got.extend(buf[:n])

    t = threading.Thread(target=reader)
    with lst, cli, conn:
        t.start()
        cli.sendall(memoryview(data)[1:])
        cli.shutdown(socket.SHUT_WR)
        t.join(30)
        assert bytes(got) == bytes(data[1:])


def test_recv_into_nbytes_and_zero():
    # SocketConnectedTest.testRecvIntoBytearray with nbytes; recv_into(buf, 0) means len(buf)
    a, b = fs.unix_pair()
    with a, b:
        a.send(b"0123456789")
        buf = bytearray(4)
        assert b.recv_into(buf) == 4 and buf == b"0123"
        buf = bytearray(10)
        assert b.recv_into(buf, 3) == 3 and buf[:3] == b"456"
        with pytest.raises(ValueError):
            b.recv_into(buf, -1)


def test_recv_into_empty_buffer():
    # testRecvFromIntoEmptyBuffer for a stream: recv_into(bytearray()) returns 0 at once
    a, b = fs.unix_pair()
    with a, b:
        b.settimeout(2)
        t0 = time.monotonic()
        assert b.recv_into(bytearray()) == 0
        assert time.monotonic() - t0 < 1


# ------------------------------------------------------------ sendmsg / recvmsg

def test_sendmsg_data_generator_and_bad_args():
    # SendmsgTests.testSendmsgDataGenerator / testSendmsgBadArgs
    a, b = fs.unix_pair()
    with a, b:
        assert a.sendmsg((o for o in [MSG])) == len(MSG)
        assert b.recv(1024) == MSG
        with pytest.raises(TypeError):
            a.sendmsg(b"not in an iterable of buffers" if False else [object()])
        with pytest.raises(TypeError):
            a.sendmsg(["not bytes"])
        with pytest.raises(TypeError):
            a.sendmsg([MSG], (), "not an int")


def test_sendmsg_after_close():
    # SendmsgTests.testSendmsgAfterClose
    a, b = fs.unix_pair()
    b.close()
    a.close()
    with pytest.raises(OSError):
        a.sendmsg([MSG])


def test_sendmsg_timeout_and_dontwait():
    # SendmsgStreamTests.testSendmsgTimeout / testSendmsgDontWait
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(0.1)
        with pytest.raises(TimeoutError):
            while True:
                a.sendmsg([b"x" * 65536])
        a.settimeout(None)
        with pytest.raises(BlockingIOError):
            for _ in range(1000):  # (a Unix socket may still take some: the stdlib's does too)
                a.sendmsg([b"x" * 65536], (), socket.MSG_DONTWAIT)
        assert a.gettimeout() is None


def test_recvmsg_eof_peek_badargs_after_close():
    # RecvmsgGenericTests.testRecvmsgEOF / testRecvmsgPeek / testRecvmsgBadArgs / testRecvmsgAfterClose
    a, b = fs.unix_pair()
    a.sendall(MSG)
    m = b.recvmsg(len(MSG) - 3, 0, socket.MSG_PEEK)
    assert m[0] == MSG[:-3] and m[1] == []
    m = b.recvmsg(len(MSG), 0, socket.MSG_PEEK)
    assert m[0] == MSG
    assert b.recvmsg(len(MSG))[0] == MSG
    with pytest.raises(ValueError):
        b.recvmsg(-1, 0)
    with pytest.raises(TypeError):
        b.recvmsg(len(MSG), object())
    a.close()
    data, anc, flags, addr = b.recvmsg(1024)
    assert data == b"" and anc == []
    b.close()
    with pytest.raises(OSError):
        b.recvmsg(1024)


def test_recvmsg_timeout():
    # RecvmsgGenericTests.testRecvmsgTimeout
    a, b = fs.unix_pair()
    with a, b:
        b.settimeout(0.05)
        with pytest.raises(TimeoutError):
            b.recvmsg(1024)


def test_recvmsg_into_bad_args_and_generator():
    # RecvmsgIntoTests.testRecvmsgIntoBadArgs / testRecvmsgIntoGenerator
    a, b = fs.unix_pair()
    with a, b:
        a.sendall(MSG)
        with pytest.raises(TypeError):
            b.recvmsg_into(bytearray(100))  # not an iterable of buffers
        with pytest.raises(TypeError):
            b.recvmsg_into([b"read-only"])
        with pytest.raises(TypeError):
            b.recvmsg_into([bytearray(10)], object())
        buf = bytearray(1024)
        nbytes, anc, flags, addr = b.recvmsg_into((x for x in [buf]))
        assert nbytes == len(MSG) and buf[:nbytes] == MSG and anc == []


def test_recvmsg_into_array():
    # RecvmsgIntoTests.testRecvmsgIntoArray
    import array
    a, b = fs.unix_pair()
    with a, b:
        a.sendall(MSG)
        buf = array.array("B", [0] * 1024)
        nbytes, anc, flags, addr = b.recvmsg_into([buf])
        assert buf.tobytes()[:nbytes] == MSG


def test_sendmsg_with_stdlib_ancillary_is_refused_clearly():
    # stdlib: sendmsg(buffers, ancdata, flags, address) with ancdata a list of (level, type, data) tuples
    a, b = fs.unix_pair()
    r, w = os.pipe()
    try:
        with a, b:
            with pytest.raises(TypeError):
                a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, __import__("array").array("i", [r]).tobytes())])
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------ SCMRightsTest

def test_fd_pass_multiple_and_separate():
    # SCMRightsTest.testFDPassMultiple / testFDPassSeparate
    a, b = fs.unix_pair()
    pipes = [fdsafe.pipe() for _ in range(4)]
    try:
        with a, b:
            a.sendmsg([b"1"], [p[1] for p in pipes[:2]])
            a.sendmsg([b"2"], [p[1] for p in pipes[2:]])
            m1 = b.recvmsg(1, 10)
            m2 = b.recvmsg(1, 10)
            assert m1[0] == b"1" and len(m1[1]) == 2
            assert m2[0] == b"2" and len(m2[1]) == 2
            for i, h in enumerate(m1[1] + m2[1]):
                assert isinstance(h, fdsafe.PipeEnd)
                assert not os.get_inheritable(h.fileno())
                h.write(b"%d" % i)
                h.close()
            for i, (r, w) in enumerate(pipes):
                assert r.read(1) == b"%d" % i
    finally:
        for r, w in pipes:
            r.close()
            w.close()


def test_fd_pass_with_stdlib_recvmsg_ancillary():
    # SCMRightsTest via the stdlib receiver: socket.recv_fds on the other end
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w, b.to_socket() as py:
        a.sendmsg([b"x"], [w])
        msg, fds, flags, addr = socket.recv_fds(py, 1, 4)
        assert msg == b"x" and len(fds) == 1
        os.write(fds[0], b"via stdlib")
        os.close(fds[0])
        assert r.read(100) == b"via stdlib"


# ------------------------------------------------------------ InheritanceTest

def test_everything_is_non_inheritable():
    # InheritanceTest.test_default_inheritable / test_dup / accept / socketpair
    lst, cli, conn = tcp_pair()
    u = fs.udp_bind(("127.0.0.1", 0))
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    m, s = fdsafe.open_pty()
    objs = [lst, cli, conn, u, a, b, r, w, m, s]
    try:
        for o in objs:
            assert not os.get_inheritable(o.fileno()), o
        with cli.dup() as d:
            assert not os.get_inheritable(d.fileno())
    finally:
        for o in objs:
            o.close()


def test_get_set_inheritable_methods():
    # InheritanceTest.test_set_inheritable / test_get_inheritable: socket has
    # get_inheritable()/set_inheritable(); fdsafe sockets?
    a, b = fs.unix_pair()
    with a, b:
        # left out by design (docs/sockets-any-family.md: every descriptor is close-on-exec):
        # refused with AttributeError, and the stdlib's os.get_inheritable answers instead
        assert not hasattr(a, "set_inheritable")
        assert os.get_inheritable(a.fileno()) is False


# ------------------------------------------------------------ interop

def test_selectors_default_selector():
    a, b = fs.unix_pair()
    with a, b, selectors.DefaultSelector() as sel:
        sel.register(b, selectors.EVENT_READ, "data")
        assert sel.select(0) == []
        a.send(b"x")
        events = sel.select(1)
        assert len(events) == 1 and events[0][0].fileobj is b
        sel.unregister(b)


def test_socket_socket_takes_the_descriptor_by_detach():
    # socket.socket(fileno=...) owns the descriptor it is given. fileno() is lent (a second
    # owner closing it would close fdsafe's descriptor behind its back); detach() hands the
    # descriptor over, as socket.socket.detach does, and the fdsafe object is closed.
    a, b = fs.unix_pair()
    with b:
        fd = a.fileno()
        py = socket.socket(fileno=a.detach())
        assert a.closed and a.detach() == -1  # socket.detach on a closed socket: -1
        assert py.fileno() == fd and py.family == socket.AF_UNIX
        py.sendall(b"x")
        assert b.recv(1) == b"x"
        py.close()
        assert not fd_is_open(fd)
        assert b.recv(1) == b""  # the one owner closed it: end of stream


def test_ssl_wrap_socket_takes_the_socket_over():
    # ssl.SSLContext.wrap_socket builds an SSLSocket on sock.fileno(), then calls
    # sock.detach(): the SSLSocket owns the descriptor and the fdsafe socket is closed, never
    # left holding a number someone else closes.
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lst, cli, conn = tcp_pair()
    with lst, conn:
        fd = cli.fileno()
        wrapped = ctx.wrap_socket(cli, server_hostname="localhost", do_handshake_on_connect=False)
        assert cli.closed and wrapped.fileno() == fd
        wrapped.close()
        conn.settimeout(5)
        assert conn.recv(1) == b""  # the SSLSocket's close was the last


def test_ssl_handshake_and_echo_over_fdsafe_sockets(tmp_path):
    import shutil
    import ssl
    import subprocess
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_verify_locations(cert)
    lst, cli, conn = tcp_pair()
    with lst:
        result = {}

        def serve():
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                result["got"] = tls.recv(100)
                tls.sendall(result["got"].upper())

        t = threading.Thread(target=serve)
        t.start()
        with client_ctx.wrap_socket(cli, server_hostname="localhost") as tls:
            tls.sendall(b"over tls")
            assert tls.recv(100) == b"OVER TLS"
        t.join(10)
        assert result["got"] == b"over tls"
        assert cli.closed and conn.closed


def test_ssl_wrap_of_to_socket_works():
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    lst, cli, conn = tcp_pair()
    with lst, cli, conn:
        s = ctx.wrap_socket(cli.to_socket(), server_hostname="localhost", do_handshake_on_connect=False)
        s.close()
        assert not cli.closed


def test_http_client_over_an_fdsafe_socket():
    import http.client
    lst, cli, conn = tcp_pair()

    def server():
        with conn:
            f = conn.makefile("rb")
            req = f.readline()
            while f.readline() not in (b"\r\n", b""):
                pass
            f.close()
            body = b"hello " + req.split()[1]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-A: b\r\n\r\n" % len(body) + body)

    t = threading.Thread(target=server)
    t.start()
    with lst:
        hc = http.client.HTTPConnection("127.0.0.1", lst.getsockname()[1])
        hc.sock = cli
        hc.request("GET", "/path")
        resp = hc.getresponse()
        assert resp.status == 200 and resp.getheader("X-A") == "b"
        assert resp.read() == b"hello /path"
        hc.close()
    t.join(5)
    assert cli.closed


def test_socketserver_handler_on_fdsafe_client():
    import socketserver

    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(self.rfile.readline().upper())

    with socketserver.TCPServer(("127.0.0.1", 0), Echo) as srv:
        t = threading.Thread(target=srv.handle_request)
        t.start()
        with fs.tcp_connect(srv.server_address, timeout=5) as c:
            with c.makefile("rwb") as f:
                f.write(b"hello\n")
                f.flush()
                assert f.readline() == b"HELLO\n"
        t.join(5)


# ------------------------------------------------------------ FileObjectClassTestCase / Unbuffered

def _file_pair(bufsize, read_mode="rb", write_mode="wb"):
    lst, cli, conn = tcp_pair()
    lst.close()
    kw = {} if "b" in read_mode else {"encoding": "utf-8"}
    read_file = cli.makefile(read_mode, bufsize, **kw)
    kw = {} if "b" in write_mode else {"encoding": "utf-8"}
    write_file = conn.makefile(write_mode, bufsize, **kw)
    return cli, conn, read_file, write_file


@pytest.mark.parametrize("bufsize", [-1, 0, 1, 2])
def test_fileobject_small_full_unbuffered_readline(bufsize):
    # FileObjectClassTestCase.testSmallRead / testFullRead / testUnbufferedRead / testReadline
    cli, conn, rf, wf = _file_pair(bufsize)
    with cli, conn, rf:
        wf.write(MSG)
        wf.flush()
        assert rf.read(len(MSG) - 3) + rf.read(3) == MSG
        wf.write(MSG)
        wf.flush()
        buf = b""
        while len(buf) < len(MSG):
            buf += rf.read(1)
        assert buf == MSG
        wf.write(MSG)
        wf.flush()
        assert rf.readline() == MSG
        wf.write(MSG)
        wf.close()
        assert wf.closed
        conn.close()
        assert rf.read() == MSG


@pytest.mark.parametrize("bufsize", [-1, 0])
def test_fileobject_attributes_and_real_close(bufsize):
    # FileObjectClassTestCase.testAttributes / testRealClose / testClosedAttr
    cli, conn, rf, wf = _file_pair(bufsize)
    with conn, wf:
        assert not rf.closed
        assert rf.mode == "rb" and wf.mode == "wb"
        assert rf.name == cli.fileno(), f"makefile().name {rf.name} vs sock.fileno() {cli.fileno()}"
        rf.close()
        with pytest.raises(ValueError):
            rf.fileno()
        cli.close()
        with pytest.raises(OSError):
            cli.getsockname()


def test_fileobject_close_after_makefile():
    # FileObjectClassTestCase.testCloseAfterMakefile
    cli, conn, rf, wf = _file_pair(-1)
    with conn, rf:
        cli.close()
        wf.write(MSG)
        wf.close()
        conn.close()
        assert rf.read() == MSG


def test_fileobject_makefile_after_makefile_close():
    # FileObjectClassTestCase.testMakefileAfterMakefileClose
    cli, conn, rf, wf = _file_pair(-1)
    with cli, conn, wf:
        rf.close()
        wf.write(MSG)
        wf.flush()
        assert cli.recv(len(MSG)) == MSG


def test_fileobject_read_after_timeout_set_after_makefile():
    # FileObjectClassTestCase.testReadAfterTimeout: settimeout(1) AFTER makefile()
    cli, conn, rf, wf = _file_pair(-1)
    with cli, conn, rf, wf:
        cli.settimeout(0.2)
        wf.write(MSG[:3])
        wf.flush()
        assert rf.read(3) == MSG[:3]
        with pytest.raises(TimeoutError):
            got = rf.read(1)
            print("read after timeout returned", got)
        with pytest.raises(OSError, match="cannot read from timed out object"):
            rf.read(1)


def test_unbuffered_readline_then_new_file():
    # UnbufferedFileObjectClassTestCase.testUnbufferedReadline
    cli, conn, rf, wf = _file_pair(0)
    with cli, conn, wf:
        wf.write(b"A. " + MSG)
        wf.write(b"B. " + MSG)
        assert rf.readline() == b"A. " + MSG
        rf.close()
        rf = cli.makefile("rb", 0)
        with rf:
            assert rf.readline() == b"B. " + MSG


def test_unbuffered_small_read_nonblocking():
    # UnbufferedFileObjectClassTestCase.testSmallReadNonBlocking (setblocking after makefile)
    cli, conn, rf, wf = _file_pair(0)
    with cli, conn, rf, wf:
        cli.setblocking(False)
        assert rf.readinto(bytearray(10)) is None
        assert rf.read(len(MSG) - 3) is None
        wf.write(MSG)
        time.sleep(0.2)
        first = rf.read(len(MSG) - 3)
        buf = bytearray(10)
        n = rf.readinto(buf)
        assert n == 3 and first + buf[:n] == MSG
        assert rf.readinto(bytearray(16)) is None
        assert rf.read(1) is None


def test_unbuffered_write_nonblocking():
    # UnbufferedFileObjectClassTestCase.testWriteNonBlocking
    cli, conn, rf, wf = _file_pair(0)
    with cli, conn, rf, wf:
        conn.setblocking(False)
        big = b"x" * (1 << 20)
        n = wf.write(big)
        assert n > 0
        for _ in range(10):
            n = wf.write(big)
            if n is None:
                break
            assert n > 0
        else:
            pytest.fail("never saturated")


def test_makefile_close_leaves_the_file_working():
    # UnbufferedFileObjectClassTestCase.testMakefileClose: socket.socket defers close() while
    # a makefile() file is open, so sock.recv still works. fdsafe's file reads through a
    # duplicate: close() closes the socket at once (its calls raise EBADF, as after any
    # close), and the file keeps reading until it is closed itself (docs/sockets.md).
    cli, conn, rf, wf = _file_pair(0)
    with conn, wf:
        wf.write(MSG)
        cli.close()
        with pytest.raises(OSError) as closed:
            cli.recv(1024)
        assert closed.value.errno == errno.EBADF
        assert rf.read(len(MSG)) == MSG
        rf.close()


@pytest.mark.parametrize("mode", ["r", "w"])
def test_text_files_unicode(mode):
    # UnicodeReadFileObjectClassTestCase / UnicodeWriteFileObjectClassTestCase
    s = "Michael Gilfix was here\u1234\n"
    if mode == "r":
        cli, conn, rf, wf = _file_pair(-1, "r", "wb")
        with cli, conn, rf, wf:
            wf.write(s.encode("utf-8"))
            wf.flush()
            assert rf.read(len(s) - 3) + rf.read(3) == s
    else:
        cli, conn, rf, wf = _file_pair(-1, "rb", "w")
        with cli, conn, rf, wf:
            wf.write(s)
            wf.flush()
            assert rf.read(len(s.encode())) == s.encode()


def test_line_buffered_write_file():
    # LineBufferedFileObjectClassTestCase: bufsize=1 on a binary write file
    cli, conn, rf, wf = _file_pair(1)
    with cli, conn, rf, wf:
        wf.write(MSG)
        cli.settimeout(2)
        assert rf.readline() == MSG


def test_makefile_then_settimeout_readline_waits_for_late_data():
    # FileObjectClassTestCase.testReadAfterTimeout's setting (settimeout after makefile), with
    # data arriving within the timeout: socket.socket's file waits and returns the line.
    a, b = fs.unix_pair()
    with a, b:
        f = a.makefile("rb")
        a.settimeout(5)
        threading.Timer(0.2, lambda: b.sendall(b"late line\n")).start()
        try:
            line = f.readline()
        finally:
            f.close()
        assert line == b"late line\n", f"readline gave {line!r} (b'' reads as end of stream)"


def test_makefile_then_shorter_timeout_is_obeyed():
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(3)
        f = a.makefile("rb", 0)
        a.settimeout(0.2)
        t0 = time.monotonic()
        with f, pytest.raises(TimeoutError):
            f.read(5)
        assert time.monotonic() - t0 < 1.5, f"waited {time.monotonic() - t0:.1f}s for a 0.2s timeout"


def test_recv_into_empty_buffer_blocking_returns_at_once():
    # socket.recv_into(bytearray()) returns 0 at once (no wait); see test_recv_into_empty_buffer
    a, b = fs.unix_pair()
    with a, b:
        result = []
        t = threading.Thread(target=lambda: result.append(b.recv_into(bytearray())), daemon=True)
        t.start()
        t.join(1)
        alive = t.is_alive()
        if alive:
            a.send(b"x")  # release it
            t.join(5)
        assert not alive, "recv_into(bytearray()) on a blocking socket blocked until data came"
