"""Sockets end to end: addresses, TCP, Unix (path binding rules), descriptor passing,
credentials, UDP, options and zero-copy, tested against Python's socket module and socat."""
import errno
import os
import selectors
import shutil
import socket as pysocket
import stat
import subprocess
import threading

import pytest

import fdsafe
from fdsafe import socket as fs
from fdsafe.errors import InvalidArgumentError, WrongKindError


# ---------------------------------------------------------------- addresses

@pytest.mark.parametrize("text", ["127.0.0.1:8080", "[::1]:80", "/run/app.sock", "@app", "@a\\x00b", "[fe80::1%1]:9",
                                  "", "./app.sock"])
def test_address_round_trip(text):
    assert fs.address_format(fs.address_parse(text)) == text


@pytest.mark.parametrize("text", ["localhost:80", "127.0.0.1", "1.2.3.4:65536", "::1:80", "app.sock", "1.2.3:80"])
def test_bad_address_text_is_refused(text):
    with pytest.raises(InvalidArgumentError) as info:
        fs.address_parse(text)
    assert "address" in str(info.value)


def test_address_lengths_are_exact():
    assert len(fs.address_parse("@abc")) == 2 + 1 + 3
    assert len(fs.address_parse("/a")) == 2 + 2 + 1
    assert len(fs.address_parse("127.0.0.1:1")) == 16
    assert len(fs.address_parse("[::1]:1")) == 28
    assert len(fs.address_parse("/" + "x" * 107)) == 2 + 108  # fills sun_path: no NUL
    with pytest.raises(OSError) as info:
        fs.address_parse("/" + "x" * 108)
    assert info.value.errno == errno.ENAMETOOLONG


# ---------------------------------------------------------------- TCP

@pytest.mark.parametrize("host,family", [("127.0.0.1", pysocket.AF_INET), ("::1", pysocket.AF_INET6)])
def test_tcp_with_python_client(host, family):
    text = f"[{host}]:0" if ":" in host else f"{host}:0"
    with fs.tcp_listen(text) as listener:
        assert isinstance(listener, fs.TcpListener)
        assert listener.getopt(fs.SOL_SOCKET, fs.SO_REUSEADDR) == 1
        port = listener.getsockname()[1]
        assert listener.local_address() == (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        with pysocket.socket(family) as client:
            client.connect((host, port))
            conn, peer = listener.accept()
            with conn:
                assert isinstance(conn, fs.TcpStream)
                # the socket module's shapes: (host, port) or (host, port, flowinfo, scope_id)
                assert peer == conn.getpeername() == client.getsockname()
                assert conn.getsockname() == client.getpeername()
                client.sendall(b"hello")
                assert conn.recv(5, fs.MSG_PEEK) == b"hello"
                assert conn.recv(5) == b"hello"
                with pytest.raises(BlockingIOError):
                    conn.recv(5, fs.MSG_DONTWAIT)
                conn.sendall(b"world")
                assert client.recv(5) == b"world"
                conn.shutdown(fs.SHUT_WR)
                assert client.recv(1) == b""
                client.sendall(b"!")
                assert conn.recvfrom(1) == (b"!", None)  # a connected stream reports no source


def test_tcp_send_to_closed_peer_is_epipe_not_sigpipe():
    with fs.tcp_listen("127.0.0.1:0") as listener:
        conn = fs.tcp_connect(listener.getsockname(), timeout=5)
        peer, _ = listener.accept()
        peer.close()
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for _ in range(100):
                conn.send(b"x" * 65536)
        conn.close()


def test_tcp_connect_refused_and_nonblocking_finish():
    with fs.tcp_listen("127.0.0.1:0") as listener:
        address = listener.getsockname()
    with pytest.raises(ConnectionRefusedError):
        fs.tcp_connect(address, timeout=2)
    with fs.tcp_listen("127.0.0.1:0") as listener:
        with fs.tcp_connect(listener.getsockname(), nonblocking=True) as conn:
            conn.connect_finish(2000)
            assert conn.nonblocking
            assert conn.getpeername() == listener.getsockname()
            listener.accept()[0].close()


def test_tcp_ipv6_dual_stack_and_v6only():
    with fs.tcp_listen("[::]:0") as dual:
        port = dual.getsockname()[1]
        with fs.tcp_connect(f"127.0.0.1:{port}", timeout=2):
            conn, peer = dual.accept()
            conn.close()
            assert peer[0] == "::ffff:127.0.0.1" and len(peer) == 4
        assert dual.getopt(fs.IPPROTO_IPV6, fs.IPV6_V6ONLY) == 0
    with fs.tcp_listen("[::]:0", v6only=True) as v6:
        port = v6.getsockname()[1]
        assert v6.getopt(fs.IPPROTO_IPV6, fs.IPV6_V6ONLY) == 1
        with pytest.raises(ConnectionRefusedError):
            fs.tcp_connect(f"127.0.0.1:{port}", timeout=2)


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_tcp_with_socat_client():
    with fs.tcp_listen("127.0.0.1:0") as listener:
        port = listener.getsockname()[1]
        proc = subprocess.Popen(["socat", "-", f"TCP:127.0.0.1:{port}"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        conn, _ = listener.accept()
        with conn:
            proc.stdin.write(b"ping\n")
            proc.stdin.close()
            got = b""
            while not got.endswith(b"\n"):
                got += conn.recv(100)
            assert got == b"ping\n"
            conn.sendall(b"pong\n")
            conn.shutdown(fs.SHUT_WR)
            assert proc.stdout.read() == b"pong\n"
        proc.stdout.close()
        assert proc.wait(5) == 0


def test_tcp_options():
    with fs.tcp_listen("127.0.0.1:0") as listener, fs.tcp_connect(listener.getsockname()) as c:
        listener.accept()[0].close()
        for opt, value in [((fs.IPPROTO_TCP, fs.TCP_NODELAY), 1), ((fs.SOL_SOCKET, fs.SO_KEEPALIVE), 1), ((fs.IPPROTO_TCP, fs.TCP_KEEPIDLE), 30),
                           ((fs.IPPROTO_TCP, fs.TCP_KEEPINTVL), 5), ((fs.IPPROTO_TCP, fs.TCP_KEEPCNT), 4), ((fs.SOL_SOCKET, fs.SO_LINGER), 3),
                           ((fs.IPPROTO_IP, fs.IP_TTL), 17), ((fs.IPPROTO_TCP, fs.TCP_USER_TIMEOUT), 1500), ((fs.SOL_SOCKET, fs.SO_BUSY_POLL), 50),
                           ((fs.IPPROTO_TCP, fs.TCP_CORK), 1), ((fs.SOL_SOCKET, fs.SO_ZEROCOPY), 1)]:
            c.setopt(*opt, value)
            assert c.getopt(*opt) == value, opt
        c.setopt(fs.SOL_SOCKET, fs.SO_LINGER, -1)
        assert c.getopt(fs.SOL_SOCKET, fs.SO_LINGER) == -1
        c.setopt(fs.SOL_SOCKET, fs.SO_RCVBUF, 65536)
        assert c.getopt(fs.SOL_SOCKET, fs.SO_RCVBUF) == 131072  # the kernel doubles it
        c.setopt(fs.SOL_SOCKET, fs.SO_INCOMING_CPU, 0)
        assert c.getopt(fs.SOL_SOCKET, fs.SO_INCOMING_CPU) >= -1
        listener.setopt(fs.IPPROTO_TCP, fs.TCP_FASTOPEN, 16)
        assert listener.getopt(fs.IPPROTO_TCP, fs.TCP_FASTOPEN) == 16
        with pytest.raises(WrongKindError):
            c.getopt(fs.SOL_SOCKET, fs.SO_BROADCAST)
        with pytest.raises(InvalidArgumentError):
            c.getopt(fs.SOL_SOCKET, 999)


def test_tcp_zerocopy_completions():
    with fs.tcp_listen("127.0.0.1:0") as listener, fs.tcp_connect(listener.getsockname()) as c:
        conn, _ = listener.accept()
        with conn:
            c.setopt(fs.SOL_SOCKET, fs.SO_ZEROCOPY, 1)
            payload = b"z" * 100000
            total = 0
            for _ in range(3):
                total += c.send(payload, fs.SEND_ZEROCOPY)
                # The peer must read: a send completes once all its data left the queues.
                while total > 0:
                    total -= len(conn.recv(total))
            done = []
            got = 0
            while got < 3 and c.wait(fdsafe.EVENT_ERR, 2000):
                for first, last, copied in c.zerocopy_completions():
                    done.append((first, last, copied))
                    got = last + 1
            assert done and done[0][0] == 0 and got == 3
            assert all(copied for _, _, copied in done)  # loopback always copies


# ---------------------------------------------------------------- Unix: path binding

def test_unix_bind_creates_parents_sets_modes_and_removes_on_close(tmp_path):
    path = tmp_path / "a" / "b" / "app.sock"
    listener = fs.unix_listen(str(path), dir_mode=0o750, socket_mode=0o660)
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o750
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o660
    assert listener.getsockname() == str(path)
    with pysocket.socket(pysocket.AF_UNIX) as client:
        client.connect(str(path))
        conn, peer = listener.accept()
        assert peer == ""  # an unnamed client
        assert conn.peer_credentials() == (os.getpid(), os.getuid(), os.getgid())
        conn.close()
    listener.close()
    assert not path.exists()


def test_unix_default_modes(tmp_path):
    path = tmp_path / "new" / "s.sock"
    with fs.unix_listen(str(path)):
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600


def test_unix_stale_socket_is_replaced_but_live_one_is_not(tmp_path):
    path = str(tmp_path / "s.sock")
    stale = pysocket.socket(pysocket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays: a leftover of a dead process
    with fs.unix_listen(path) as listener:
        with pytest.raises(OSError) as info:
            fs.unix_listen(path)
        assert info.value.errno == errno.EADDRINUSE
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        with pysocket.socket(pysocket.AF_UNIX) as c:
            c.connect(path)
            listener.accept()[0].close()
    stale = pysocket.socket(pysocket.AF_UNIX)
    stale.bind(path)
    stale.close()
    with pytest.raises(OSError) as info:
        fs.unix_listen(path, flags=fs.UNIX_BIND_KEEP_STALE)
    assert info.value.errno == errno.EADDRINUSE


@pytest.mark.parametrize("what", ["file", "dir", "symlink", "dangling"])
def test_unix_bind_never_touches_other_files(tmp_path, what):
    path = tmp_path / "s.sock"
    target = tmp_path / "target"
    if what == "file":
        path.write_text("keep me")
    elif what == "dir":
        path.mkdir()
    elif what == "symlink":
        stale = pysocket.socket(pysocket.AF_UNIX)
        stale.bind(str(target))
        stale.close()
        path.symlink_to(target)
    else:
        path.symlink_to(tmp_path / "nowhere")
    before = os.lstat(path)
    with pytest.raises(OSError) as info:
        fs.unix_listen(str(path))
    assert info.value.errno == errno.EEXIST
    after = os.lstat(path)
    assert (before.st_ino, before.st_mode, before.st_mtime_ns) == (after.st_ino, after.st_mode, after.st_mtime_ns)
    if what == "file":
        assert path.read_text() == "keep me"


def test_unix_close_keeps_a_replaced_path(tmp_path):
    path = tmp_path / "s.sock"
    listener = fs.unix_listen(str(path))
    os.unlink(path)
    path.write_text("someone else's")
    listener.close()
    assert path.read_text() == "someone else's"


def test_unix_path_too_long_is_an_error_not_a_truncation(tmp_path):
    long_path = "/tmp/" + "x" * 110
    with pytest.raises(OSError) as info:
        fs.unix_listen(long_path)
    assert info.value.errno == errno.ENAMETOOLONG
    assert not os.path.exists(long_path[:107])


def test_unix_abstract_autobind_and_pairs():
    name = f"\0fdsafe-test-{os.getpid()}"  # an abstract name, as the socket module writes it
    with fs.unix_listen(name) as listener:
        assert listener.local_address() == "@" + name[1:]  # fdsafe's text for it
        assert listener.getsockname() == name.encode()  # as the socket module gives it
        with pysocket.socket(pysocket.AF_UNIX) as c:
            c.connect(name)
            conn, _ = listener.accept()
            assert conn.getsockname() == c.getpeername()
            conn.close()
    with fs.unix_listen(None) as auto:
        chosen = auto.local_address()
        assert chosen.startswith("@") and len(chosen) == 6
        with fs.unix_connect(fs.address_parse(chosen)) as c:  # the text, read explicitly
            auto.accept()[0].close()
            assert c.peer_address() == chosen
            assert c.getpeername() == auto.getsockname() == b"\0" + chosen[1:].encode()
    for kind, cls in [(fs.UNIX_STREAM, fs.UnixStream), (fs.UNIX_DATAGRAM, fs.UnixDatagram),
                      (fs.UNIX_SEQPACKET, fs.UnixSeqpacket)]:
        a, b = fs.unix_pair(kind)
        with a, b:
            assert isinstance(a, cls) and isinstance(b, cls)
            a.send(b"x")
            assert b.recv(1) == b"x"


def test_unix_seqpacket_keeps_message_boundaries(tmp_path):
    path = str(tmp_path / "sp.sock")
    with fs.unix_listen(path, fs.UNIX_SEQPACKET) as listener:
        assert isinstance(listener, fs.UnixSeqpacketListener)
        with fs.unix_connect(path, fs.UNIX_SEQPACKET) as c:
            conn, _ = listener.accept()
            with conn:
                assert isinstance(conn, fs.UnixSeqpacket)
                c.send(b"abc")
                c.send(b"defgh")
                assert conn.recv(100) == b"abc"
                assert conn.recv(100) == b"defgh"
                c.send(b"123456")
                r = conn.recv_fds(2, 0)
                assert r.data == b"12" and r.flags & fs.RECV_INFO_TRUNC


def test_unix_datagram_send_to_and_batch(tmp_path):
    path = str(tmp_path / "dg.sock")
    with fs.unix_bind(path) as server, fs.unix_bind(None) as client:
        client.sendto(b"one", path)
        data, source = server.recvfrom(100)
        assert data == b"one" and source == client.getsockname()
        assert client.send_batch([(b"a", path), (b"bb", path)]) == 2
        got = server.recv_batch(4, 10)
        assert [d for d, _ in got] == [b"a", b"bb"]


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_unix_with_socat_client(tmp_path):
    path = str(tmp_path / "socat.sock")
    with fs.unix_listen(path) as listener:
        proc = subprocess.Popen(["socat", "-", f"UNIX-CONNECT:{path}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        conn, _ = listener.accept()
        with conn:
            proc.stdin.write(b"hi\n")
            proc.stdin.close()
            assert conn.recv(3, fs.MSG_WAITALL) == b"hi\n"
            conn.sendall(b"ok\n")
            conn.shutdown()
            assert proc.stdout.read() == b"ok\n"
        proc.stdout.close()
        assert proc.wait(5) == 0


# ---------------------------------------------------------------- descriptor passing

def test_pass_handles_and_detect_kinds():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    e = fdsafe.EventFd.create()
    x, y = fs.unix_pair(fs.UNIX_SEQPACKET)
    with a, b, r, w, e, x, y:
        assert a.send_fds(b"m", [r, w, e, x]) == 1
        got = b.recv_fds(10, 8)
        assert got.data == b"m" and got.flags == 0
        kinds = [type(h) for h in got.handles]
        assert kinds == [fdsafe.PipeEnd, fdsafe.PipeEnd, fdsafe.EventFd, fs.UnixSeqpacket]
        for h in got.handles:
            assert fcntl_cloexec(h.fileno())
        got.handles[1].write(b"through")
        assert r.read(7) == b"through"
        assert not r.closed  # the sender's handles stay open
        for h in got.handles:
            h.close()


def fcntl_cloexec(fd):
    import fcntl
    return bool(fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)


def test_pass_253_and_refuse_254():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b, open("/dev/null") as devnull:
        fds = [devnull.fileno()] * 253
        assert a.send_fds(b"x", fds) == 1
        got = b.recv_fds(1, 253)
        assert len(got.handles) == 253 and got.flags == 0
        for h in got.handles:
            h.close()
        with pytest.raises(OSError) as info:
            a.send_fds(b"x", fds + [devnull.fileno()])
        assert info.value.errno == errno.EINVAL


def test_truncated_control_closes_the_rest():
    a, b = fs.unix_pair()
    with a, b, open("/dev/null") as devnull:
        # 20 descriptors, room for 2: the kernel installs what fits its control buffer
        # (sized with CMSG_SPACE, plus room for credentials), closes the rest and reports
        # MSG_CTRUNC; fdsafe hands over 2 and closes the extra ones it was given.
        a.send_fds(b"x", [devnull.fileno()] * 20)
        got = b.recv_fds(1, 2)
        handles = got.handles
        try:
            assert len(handles) == 2 and got.flags & fs.RECV_INFO_CTRUNC
            assert got.flags & fs.RECV_INFO_CLOSED and got.closed > 0
        finally:
            for h in handles:
                h.close()
        # 5 descriptors fit the kernel's buffer: fdsafe closes the 3 beyond room, and CTRUNC
        # still says more were sent than there was room for.
        a.send_fds(b"y", [devnull.fileno()] * 5)
        got = b.recv_fds(1, 2)
        handles = got.handles
        try:
            assert len(handles) == 2 and got.flags == fs.RECV_INFO_CLOSED | fs.RECV_INFO_CTRUNC and got.closed == 3
        finally:
            for h in handles:
                h.close()


def test_no_data_with_descriptors_is_refused():
    a, b = fs.unix_pair()
    with a, b:
        with pytest.raises(InvalidArgumentError):
            a.send_fds(b"", [0])


def test_send_fds_refuses_numbers_beyond_a_c_int():
    # As socket.send_fds: OverflowError, never the number cut to 32 bits (2**32 + fd would
    # send fd itself). A negative number in range is the kernel's EBADF, as there.
    a, b = fs.unix_pair()
    with a, b, open("/dev/null") as devnull:
        fd = devnull.fileno()
        for bad in (2**32 + fd, 2**31, -2**31 - 1):
            with pytest.raises(OverflowError):
                a.send_fds(b"x", [bad])
            with pytest.raises(OverflowError):
                a.send_fds(b"x", [fd, bad])
        with pytest.raises(OSError) as info:
            a.send_fds(b"x", [-1])
        assert info.value.errno == errno.EBADF
        with pytest.raises(BlockingIOError):
            b.recv_fds(10, 4, fs.MSG_DONTWAIT)  # nothing was sent


def test_interop_with_python_send_fds_and_recv_fds():
    a, b = fs.unix_pair()
    with a, b:
        sock = pysocket.socket(fileno=os.dup(b.fileno()))
        try:
            r, w = os.pipe()
            pysocket.send_fds(sock, [b"py"], [r, w])
            os.close(r)
            os.close(w)
            got = a.recv_fds(10, 4)
            assert got.data == b"py" and [type(h) for h in got.handles] == [fdsafe.PipeEnd, fdsafe.PipeEnd]
            e = fdsafe.EventFd.create()
            with e:
                a.send_fds(b"fd", [e, got.handles[0]])
                msg, fds, flags, _ = pysocket.recv_fds(sock, 10, 4)
                assert msg == b"fd" and len(fds) == 2
                assert os.readlink(f"/proc/self/fd/{fds[0]}") == "anon_inode:[eventfd]"
                for fd in fds:
                    os.close(fd)
            for h in got.handles:
                h.close()
        finally:
            sock.close()


def test_receiver_at_its_descriptor_limit_gets_data_and_ctrunc():
    a, b = fs.unix_pair()
    with a, b, open("/dev/null") as devnull:
        a.send_fds(b"data", [devnull.fileno()] * 3)
        pid = os.fork()
        if pid == 0:  # child: lower the soft limit to what is open now, then receive
            code = 1
            try:
                import resource
                highest = max(int(n) for n in os.listdir("/proc/self/fd"))
                resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
                filler = []
                try:
                    while True:  # take every free number below the limit
                        filler.append(os.dup(0))
                except OSError as err:
                    assert err.errno == errno.EMFILE
                got = b.recv_fds(10, 3)
                code = 0 if got.data == b"data" and not got.handles and got.flags & fs.RECV_INFO_CTRUNC else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


# ---------------------------------------------------------------- credentials

def test_passcred_and_explicit_credentials():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        b.setopt(fs.SOL_SOCKET, fs.SO_PASSCRED, 1)
        assert b.getopt(fs.SOL_SOCKET, fs.SO_PASSCRED) == 1
        a.send_credentials(b"c")
        got = b.recv_fds(1, 0)
        assert got.credentials == (os.getpid(), os.getuid(), os.getgid())
        a.send_credentials(b"d", (os.getpid(), os.getuid(), os.getgid()))
        assert b.recv_fds(1, 0).credentials == (os.getpid(), os.getuid(), os.getgid())


def test_peer_groups_and_pidfd():
    a, b = fs.unix_pair()
    with a, b:
        assert sorted(a.peer_groups()) == sorted(set(os.getgroups())) or a.peer_groups() == os.getgroups()
        pidfd = a.peer_pidfd()
        with pidfd:
            assert isinstance(pidfd, fdsafe.PidFd) and pidfd.pid == os.getpid()
            assert pidfd.kind == 9
            assert os.readlink(f"/proc/self/fd/{pidfd.fileno()}") == "anon_inode:[pidfd]"
            assert fcntl_cloexec(pidfd.fileno())
            assert pidfd.wait(fdsafe.EVENT_IN, 0) == 0  # we are alive


# ---------------------------------------------------------------- UDP

def test_udp_with_python_peer_and_batch():
    with fs.udp_bind("127.0.0.1:0") as u, pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM) as p:
        p.bind(("127.0.0.1", 0))
        paddr = f"127.0.0.1:{p.getsockname()[1]}"  # fdsafe's text, taken too
        u.sendto(b"hi", paddr)
        data, src = p.recvfrom(10)
        assert data == b"hi" and src == u.getsockname()
        p.sendto(b"back", u.getsockname())
        assert u.recvfrom(10) == (b"back", p.getsockname())
        assert u.send_batch([(b"1", paddr), (b"22", paddr), (b"333", p.getsockname())]) == 3
        assert [p.recv(10) for _ in range(3)] == [b"1", b"22", b"333"]
        for m in (b"x", b"yy"):
            p.sendto(m, u.getsockname())
        got = []
        while len(got) < 2:
            got += u.recv_batch(8, 100)
        assert got == [(b"x", p.getsockname()), (b"yy", p.getsockname())]
        assert u.sendto(b"raw", fs.address_parse(paddr)) == 3  # the sockaddr form
        assert p.recv(10) == b"raw"
        u.connect(paddr)
        u.send(b"c")
        assert p.recv(10) == b"c"


def test_udp_options_and_multicast():
    with fs.udp_bind("0.0.0.0:0") as u:
        for opt, value in [((fs.SOL_SOCKET, fs.SO_BROADCAST), 1), ((fs.IPPROTO_IP, fs.IP_MULTICAST_LOOP), 0), ((fs.IPPROTO_IP, fs.IP_MULTICAST_TTL), 4),
                           ((fs.IPPROTO_IP, fs.IP_TTL), 9)]:
            u.setopt(*opt, value)
            assert u.getopt(*opt) == value
        u.join("239.255.0.1", "lo")
        with pytest.raises(OSError):
            u.join("239.255.0.1", "lo")  # already a member
        u.leave("239.255.0.1", "lo")
        with pytest.raises(InvalidArgumentError):
            u.join("10.0.0.1")
        with pytest.raises(WrongKindError):
            u.getopt(fs.IPPROTO_TCP, fs.TCP_NODELAY)
    with fs.udp_bind("[::]:0") as u6:
        u6.setopt(fs.IPPROTO_IPV6, fs.IPV6_MULTICAST_HOPS, 3)
        assert u6.getopt(fs.IPPROTO_IPV6, fs.IPV6_MULTICAST_HOPS) == 3
        u6.join("ff02::1:3", "lo")
        u6.leave("ff02::1:3", "lo")


def test_udp_multicast_delivery_on_loopback():
    with fs.udp_bind("0.0.0.0:0") as r, fs.udp_bind("127.0.0.1:0") as s:
        port = r.getsockname()[1]
        r.join("239.255.0.2", "lo")
        s.setopt(fs.IPPROTO_IP, fs.IP_MULTICAST_LOOP, 1)
        import socket as _s, struct
        # route the send through lo
        sock = _s.socket(fileno=os.dup(s.fileno()))
        try:
            sock.setsockopt(_s.IPPROTO_IP, _s.IP_MULTICAST_IF, _s.inet_aton("127.0.0.1"))
        finally:
            sock.close()
        s.sendto(b"group", f"239.255.0.2:{port}")
        assert r.wait(fdsafe.EVENT_IN, 2000)
        assert r.recvfrom(10)[0] == b"group"


# ---------------------------------------------------------------- selectors and misuse

def test_sockets_work_with_selectors():
    a, b = fs.unix_pair()
    with a, b, selectors.DefaultSelector() as sel:
        sel.register(b, selectors.EVENT_READ)
        assert sel.select(0) == []
        a.send(b"!")
        [(key, events)] = sel.select(1)
        assert key.fileobj is b and events == selectors.EVENT_READ


def test_wrong_kinds_and_closed_handles():
    r, w = fdsafe.pipe()
    with r, w:
        with pytest.raises(WrongKindError):
            fs.TcpStream(r.value, owned=False).send(b"x")
    a, b = fs.unix_pair()
    b.close()
    with pytest.raises(OSError) as info:
        b.send(b"x")
    assert info.value.errno == errno.EBADF
    with a:
        with pytest.raises(WrongKindError):
            fs.TcpListener(a.value, owned=False).accept()


def test_close_never_shuts_down_the_socket_and_shutdown_wakes_a_blocked_receive():
    """Closing a handle touches only this process's descriptor: a thread blocked in recv
    stays blocked (the peer can still reach the socket), and the explicit shutdown, for the
    only copy, is what wakes it."""
    a, b = fs.unix_pair()
    result = []

    def reader():
        try:
            result.append(b.recv(1))
        except OSError as err:
            result.append(err)

    t = threading.Thread(target=reader)
    t.start()
    import time
    time.sleep(0.1)
    b.close()
    t.join(0.2)
    assert t.is_alive() and not result, "close woke the receive: it shut the socket down"
    a.send(b"x")  # the socket still works for the blocked call
    t.join(5)
    assert result == [b"x"]

    c, d = fs.unix_pair()
    t = threading.Thread(target=lambda: result.append(d.recv(1)))
    t.start()
    time.sleep(0.1)
    d.shutdown()
    t.join(5)
    assert not t.is_alive() and result[-1] == b"", "shutdown wakes the receive with end of stream"
    for s in (a, c, d):
        s.close()


def test_sockaddr_forms_everywhere(tmp_path):
    path = str(tmp_path / "raw.sock")
    with fs.unix_listen(fs.address_parse(path)) as listener:
        assert listener.getsockname() == path
        assert listener.local_sockaddr() == fs.address_parse(path)
        with fs.unix_connect(fs.address_parse(path)) as c:
            listener.accept()[0].close()
            assert c.peer_sockaddr() == fs.address_parse(path)
    with fs.unix_listen(fs.SockAddr(fs.address_parse("@x")[:2])) as auto:  # just the family: autobind
        assert auto.local_address().startswith("@") and auto.getsockname().startswith(b"\0")
    with fs.unix_bind(fs.address_parse(path + ".dg")) as d, fs.unix_bind(None) as e:
        e.connect(fs.address_parse(path + ".dg"))
        e.send(b"q")
        assert d.recv(1) == b"q"
    with fs.udp_bind(fs.address_parse("127.0.0.1:0")) as u, fs.tcp_listen(fs.address_parse("[::1]:0")) as l:
        assert u.getsockname()[0] == "127.0.0.1" and u.local_address().startswith("127.0.0.1:")
        with fs.tcp_connect(l.local_sockaddr(), timeout=2):
            l.accept()[0].close()
    with pytest.raises(InvalidArgumentError):
        fs.unix_listen(fs.address_parse("127.0.0.1:5"))
    with pytest.raises(InvalidArgumentError):
        fs.unix_connect(fs.SockAddr(b"\x01\x00"))


def test_send_fds_accepts_objects_with_fileno(tmp_path):
    a, b = fs.unix_pair(fs.UNIX_SEQPACKET)
    f = open(tmp_path / "data.txt", "w+")
    with a, b, f:
        f.write("content")
        f.flush()
        assert a.send_fds(b"f", [f, pysocket.socket(fileno=os.dup(a.fileno()))]) == 1
        got = b.recv_fds(1, 4)
        try:
            assert len(got.handles) == 2
            assert os.readlink(f"/proc/self/fd/{got.handles[0].fileno()}") == str(tmp_path / "data.txt")
            assert isinstance(got.handles[1], fs.UnixSeqpacket)
            assert os.pread(got.handles[0].fileno(), 7, 0) == b"content"
        finally:
            for h in got.handles:
                h.close()
    import gc
    gc.collect()  # the temporary Python socket above


def test_unix_stream_send_to_closed_peer_is_epipe():
    a, b = fs.unix_pair()
    b.close()
    with a:
        with pytest.raises(BrokenPipeError):
            a.send(b"x")
        with pytest.raises(BrokenPipeError):
            a.send_fds(b"x", [a])


def test_received_socket_handles_keep_working_across_processes(tmp_path):
    """A listener sent to a forked child keeps accepting there (the child owns its copy)."""
    path = str(tmp_path / "handoff.sock")
    a, b = fs.unix_pair()
    listener = fs.unix_listen(path)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            got = b.recv_fds(1, 1)
            conn, _ = got.handles[0].accept()
            conn.sendall(b"from child")
            conn.close()
            code = 0
        finally:
            os._exit(code)
    with a, b, listener:
        a.send_fds(b"L", [listener])
        with pysocket.socket(pysocket.AF_UNIX) as c:
            c.connect(path)
            assert c.recv(100) == b"from child"
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
