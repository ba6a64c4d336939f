"""Whole messages (sendmsg/recvmsg shaped like the socket module's), peer identities that are
never the kernel's placeholders, and addresses that round-trip, with Python's own socket
module as the real peer. Cases marked "CPython" follow the ideas of CPython's
Lib/test/test_socket.py (SendmsgTests, RecvmsgTests, RecvmsgIntoTests, SCMRightsTest); cases
marked "uds" follow the uds crate's tests (rewritten for fdsafe)."""
import array
import errno
import os
import shutil
import socket
import subprocess

import pytest

import fdsafe
from fdsafe import socket as fs


def _autobound_datagram():
    return fs.unix_bind(None)


# ---------------------------------------------------------------- whole messages

def test_sendmsg_gathers_buffers_of_any_kind():
    # CPython: SendmsgTests.testSendmsgGather (several buffers of several types)
    a, b = fs.unix_pair(fs.UNIX_SEQPACKET)
    with a, b:
        assert a.sendmsg([b"data", bytearray(b"gath"), memoryview(b"ered"), array.array("b", b"!")]) == 13
        assert b.recv(64) == b"datagathered!"


def test_recvmsg_reports_truncation_like_the_socket_module():
    # CPython: RecvmsgTests.testRecvmsgShorter: MSG_TRUNC set, the start kept
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        a.send(b"0123456789")
        data, handles, flags, address = b.recvmsg(4)
        assert (data, handles, address) == (b"0123", [], None)
        assert flags == fs.MSG_TRUNC == socket.MSG_TRUNC
        a.send(b"0123456789")
        assert b.recv_into(bytearray(4), 4, fs.MSG_TRUNC) == 10  # the real length, as recv(2)


def test_recvmsg_into_scatters():
    # CPython: RecvmsgIntoTests.testRecvmsgIntoScatter
    a, b = fs.unix_pair(fs.UNIX_SEQPACKET)
    with a, b:
        a.send(b"Mary had a little lamb")
        first, second, third = bytearray(4), bytearray(5), bytearray(20)
        n, handles, flags, address = b.recvmsg_into([first, memoryview(second)[:3], third])
        assert n == 22 and flags == 0
        assert (bytes(first), bytes(second[:3]), bytes(third[:15])) == (b"Mary", b" ha", b"d a little lamb")


def test_handles_travel_and_keep_their_kind_and_cloexec(tmp_path):
    # CPython: SCMRightsTest.testFDPassSimple (a file's descriptor, read through the copy)
    path = tmp_path / "f"
    path.write_bytes(b"passed")
    a, b = fs.unix_pair(fs.UNIX_STREAM)
    with a, b, fdsafe.File.open(str(path)) as f:
        assert a.sendmsg([b"x"], [f]) == 1
        m = b.recvmsg(8, 4)
        assert m.data == b"x" and len(m.handles) == 1
        with m.handles[0] as got:
            assert type(got) is type(f)
            assert not os.get_inheritable(got.fileno())
            assert os.pread(got.fileno(), 6, 0) == b"passed"


def test_stdlib_sockets_arrive_as_their_kinds(tmp_path):
    # Connected sockets (told apart by their peer) and unconnected ones (a listener, a UDP
    # socket with no peer), sent by the socket module and received with full detection.
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    udp_connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_connected.connect(server.getsockname())
    udp_alone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unix_server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_server.bind(str(tmp_path / "s"))
    unix_server.listen()
    unix_client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_client.connect(str(tmp_path / "s"))
    sent = [server, client, accepted, udp_connected, udp_alone, unix_server, unix_client]
    kinds = [fs.TcpListener, fs.TcpStream, fs.TcpStream, fs.UdpSocket, fs.UdpSocket, fs.UnixListener,
             fs.UnixStream]
    left, right = socket.socketpair()
    ours = fs.from_socket(right)
    try:
        socket.send_fds(left, [b"k"], [s.fileno() for s in sent])
        m = ours.recvmsg(8, len(sent))
        assert m.data == b"k"
        assert [type(h) for h in m.handles] == kinds
        with m.handles[1] as got:  # the received client works: the server reads what it sends
            got.sendall(b"ok")
            assert accepted.recv(2) == b"ok"
        for h in m.handles:
            h.close()
    finally:
        ours.close()
        left.close()
        for s in sent:
            s.close()


def test_stdlib_sender_fdsafe_receiver_and_back():
    # A real peer: socket.socket on the other end, sending with send_fds and receiving with
    # recv_fds from fdsafe's sendmsg.
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours = fs.from_socket(right)
    r, w = os.pipe()
    try:
        socket.send_fds(left, [b"hi"], [w])
        m = ours.recvmsg(8, 2)
        assert m.data == b"hi" and len(m.handles) == 1
        with m.handles[0] as wend:
            os.write(wend.fileno(), b"!")
        assert os.read(r, 1) == b"!"
        reader, writer = fdsafe.pipe()
        with reader, writer:
            ours.sendmsg([b"yo"], [writer])
            data, fds, flags, _ = socket.recv_fds(left, 8, 2)
            assert data == b"yo" and len(fds) == 1 and flags == 0
            os.write(fds[0], b"?")
            os.close(fds[0])
            assert reader.read(1) == b"?"
    finally:
        os.close(r)
        os.close(w)
        ours.close()
        left.close()


def test_handles_with_an_empty_payload_on_datagram_and_seqpacket():
    # CPython: SCMRightsTest.testFDPassEmpty, on the socket types where the kernel carries it
    for kind in (fs.UNIX_DATAGRAM, fs.UNIX_SEQPACKET):
        a, b = fs.unix_pair(kind)
        with a, b, fdsafe.EventFd.create(3) as ev:
            assert a.sendmsg([], [ev]) == 0
            m = b.recvmsg(8, 1)
            assert m.data == b"" and len(m.handles) == 1
            with m.handles[0] as got:
                assert got.read_value() == 3
    a, b = fs.unix_pair(fs.UNIX_STREAM)
    with a, b, fdsafe.EventFd.create() as ev:
        with pytest.raises(fdsafe.InvalidArgumentError):
            a.sendmsg([], [ev])  # a stream socket needs a byte: the kernel would drop it


def test_handles_to_an_address_and_the_reply_to_the_sender():
    # uds: descriptors to an address on an unconnected datagram socket; reply to the source
    with _autobound_datagram() as server, _autobound_datagram() as client, fdsafe.EventFd.create(9) as ev:
        client.sendmsg([b"req"], [ev], 0, server.getsockname())
        m = server.recvmsg(16, 1)
        assert m.data == b"req" and m.address == client.getsockname()
        with m.handles[0] as got:
            assert got.read_value() == 9
        server.sendmsg([b"re", b"ply"], address=m.address)
        server.sendto(b"again", m.address)
        assert client.recv(16) == b"reply"
        assert client.recv(16) == b"again"


def test_too_many_handles_are_closed_and_reported():
    # CPython: SCMRightsTest.testCmsgTruncLen0... (control room short): nothing leaks
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b, fdsafe.EventFd.create() as ev:
        a.sendmsg([b"m"], [ev] * 30)
        m = b.recvmsg(1, 2)
        assert len(m.handles) == 2
        assert m.msg_flags & fs.MSG_CTRUNC
        for h in m.handles:
            h.close()
    # the fd_balance fixture checks that the other 28 were closed


def test_credentials_in_a_whole_message():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        b.setopt(fs.SOL_SOCKET, fs.SO_PASSCRED, 1)
        a.sendmsg([b"c"], credentials=(os.getpid(), os.getuid(), os.getgid()))
        m = b.recvmsg(4)
        assert m.credentials == (os.getpid(), os.getuid(), os.getgid())
        a.sendmsg([b"d"])
        assert b.recvmsg(4).credentials == (os.getpid(), os.getuid(), os.getgid())  # SO_PASSCRED: always


def test_udp_whole_message_with_a_tuple_address():
    with fs.udp_bind(("127.0.0.1", 0)) as u, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.sendto(b"ping", ("127.0.0.1", u.local_port()))
        m = u.recvmsg(16)
        assert m.data == b"ping" and m.address == ("127.0.0.1", peer.getsockname()[1]) == peer.getsockname()
        assert u.sendmsg([b"po", b"ng"], (), 0, m.address) == 4
        assert peer.recvfrom(16) == (b"pong", ("127.0.0.1", u.local_port()))
        with fdsafe.EventFd.create() as ev, pytest.raises(fdsafe.InvalidArgumentError):
            u.sendmsg([b"x"], [ev], 0, m.address)  # descriptors travel on Unix sockets only


def test_sendmsg_and_recvmsg_bad_input():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        with pytest.raises(TypeError):
            a.sendmsg([b"x"], [0])  # raw numbers are not handles
        with pytest.raises(TypeError):
            a.sendmsg(["text"])
        with pytest.raises(fdsafe.InvalidArgumentError):
            b.recvmsg(4, 254)
        with pytest.raises(ValueError):
            b.recvmsg(-1)
        with pytest.raises(fdsafe.InvalidArgumentError):
            a.sendmsg([b"x"], flags=0x7FFFFFFF)
        b.settimeout(0.05)
        with pytest.raises(TimeoutError):
            b.recvmsg(4)


def test_local_port_is_a_number():
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        assert listener.local_port() == listener.getsockname()[1] > 0
        assert listener.local_address() == "127.0.0.1:%d" % listener.local_port()
    a, b = fs.unix_pair()
    with a, b, pytest.raises(fdsafe.WrongKindError):
        a.local_port()


# ---------------------------------------------------------------- no junk answers

def test_peer_identity_is_an_error_where_there_is_no_peer():
    with _autobound_datagram() as server, fs.unix_connect(server.getsockname(), fs.UNIX_DATAGRAM) as client:
        for ask in (client.peer_credentials, client.peer_groups, client.peer_pidfd, server.peer_credentials):
            with pytest.raises(OSError) as info:
                ask()
            assert info.value.errno == errno.ENODATA, ask
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:  # a datagram pair has a real peer
        assert a.peer_credentials() == (os.getpid(), os.getuid(), os.getgid())


def test_peer_security_label_or_a_clear_error():
    a, b = fs.unix_pair()
    with a, b:
        try:
            label = a.peer_security_label()
        except OSError as err:
            if err.errno == errno.ENOPROTOOPT:
                pytest.skip(f"SO_PEERSEC: {err}")
            raise
        assert label and b"\0" not in label


# ---------------------------------------------------------------- addresses that round-trip

def test_a_peer_on_a_relative_path_can_be_answered(tmp_path, monkeypatch):
    # the case: a peer bound to "a.sock" came back as text nobody accepted
    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as peer, _autobound_datagram() as ours:
        peer.bind("a.sock")
        peer.sendto(b"hello", ours.getsockname())
        data, source = ours.recvfrom(16)
        assert (data, source) == (b"hello", "a.sock")  # as the socket module gives it
        ours.sendto(b"back", source)
        assert peer.recv(16) == b"back"
        with fs.unix_connect(ours.getsockname(), fs.UNIX_DATAGRAM) as other:
            other.send(b"text")
            assert ours.recvfrom(16)[0] == b"text"
            assert other.local_address() == ""  # unnamed, in fdsafe's text too


def test_a_path_filling_sun_path(tmp_path):
    # The socket module refuses to bind one (it wants room for a NUL); the kernel does not.
    path = str(tmp_path) + "/" + "p" * (107 - len(str(tmp_path)))
    assert len(os.fsencode(path)) == 108
    with fs.unix_bind(path) as peer, _autobound_datagram() as ours:
        assert peer.getsockname() == path
        peer.sendto(b"full", ours.getsockname())
        m = ours.recvmsg(8)
        assert m.address == path
        ours.sendmsg([b"ok"], address=m.address)
        assert peer.recv(8) == b"ok"
        with fs.unix_connect(path, fs.UNIX_DATAGRAM) as c:
            c.send(b"c")
            assert peer.recv(8) == b"c"


def test_abstract_names_with_any_bytes():
    name = b"\0fdsafe\0\xff\\@x\n" + os.urandom(4).hex().encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as peer, _autobound_datagram() as ours:
        peer.bind(name)
        autobound = ours.getsockname()
        assert isinstance(autobound, bytes) and autobound.startswith(b"\0") and len(autobound) == 6
        peer.sendto(b"abs", autobound)
        data, source = ours.recvfrom(8)
        assert source == name == peer.getsockname()
        raw = fs.address_parse("@x")[:2] + name  # the family, then the name
        assert fs.address_parse(fs.address_format(raw)) == raw  # fdsafe's text holds any byte
        ours.sendto(b"a", source)
        ours.sendmsg([b"b"], address=source)
        assert peer.recv(8) == b"a" and peer.recv(8) == b"b"


def test_unnamed_address_text_parses_back():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        assert a.getsockname() == ""
        assert fs.address_parse("") == a.local_sockaddr()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_socat_datagram_peer_is_answered_at_its_address(tmp_path):
    # socat binds its own Unix datagram socket (a path fdsafe did not choose), sends, and
    # prints what comes back to that address.
    with fs.unix_bind(tmp_path / "ours.sock") as ours:
        peer_path = str(tmp_path / "socat.sock")
        proc = subprocess.Popen(["socat", "-t", "5", "-", f"UNIX-SENDTO:{ours.getsockname()},bind={peer_path}"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(b"from socat\n")
            proc.stdin.flush()
            ours.settimeout(5)
            m = ours.recvmsg(64)
            assert m.data == b"from socat\n" and m.address == peer_path
            ours.sendmsg([b"to ", b"socat\n"], address=m.address)
            assert proc.stdout.readline() == b"to socat\n"
        finally:
            proc.kill()
            proc.wait()
