"""fdsafe sockets where they once parted from the socket module's habits (a tester's report):
Unix addresses read as socket reads them ("@x" is a file, "\\0x" an abstract name), the
timeout create_connection leaves on its socket, makefile writes without SIGPIPE, host names
resolved for the socket's own family, getblocking with a timeout, IPv6 flowinfo/scope_id
checks, whole credential triples, and getsockopt buflen, closed-socket timeouts and negative
backlogs. Each case compares with the stdlib on this machine where it has an answer. Last,
where they still part by design, as the docstrings say: detach and release refuse while
another thread is in a call, and a Unix listener's path goes with its last descriptor."""
import errno
import io
import os
import pathlib
import signal
import select
import socket
import threading
import time

import pytest

import fdsafe
from fdsafe import socket as fs

# "@name" as str, bytes and os.PathLike: the socket module reads each as a path.
FORMS = [pytest.param(str, id="str"), pytest.param(os.fsencode, id="bytes"), pytest.param(pathlib.Path, id="PathLike")]


def _abstract(tag):
    return f"\0fdsafe-habits-{tag}-{os.getpid()}"


# ---------------------------------------------------------------- 1. Unix addresses

def test_a_reply_to_an_at_path_sender_reaches_it_not_an_abstract_decoy(tmp_path, monkeypatch):
    # The tester's reproducer: a stdlib client bound to the relative FILE "@client.sock"; the
    # server replies to the address recvfrom() gave it. A decoy sits at the abstract name
    # "\0client.sock", where fdsafe's text "@client.sock" would have sent the reply.
    monkeypatch.chdir(tmp_path)
    with fs.unix_bind(str(tmp_path / "server.sock")) as server, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as decoy, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        decoy.bind(b"\0client.sock")
        client.bind("@client.sock")
        assert (tmp_path / "@client.sock").exists()
        client.sendto(b"ping", str(tmp_path / "server.sock"))
        data, source = server.recvfrom(100)
        assert (data, source) == (b"ping", "@client.sock") == (data, client.getsockname())
        server.sendto(b"pong", source)
        client.settimeout(2)
        assert client.recv(100) == b"pong"
        decoy.setblocking(False)
        with pytest.raises(BlockingIOError):
            decoy.recv(100)  # nothing went to the abstract name
        server.sendmsg([b"pong2"], address=source)  # and the same through sendmsg
        assert client.recv(100) == b"pong2"


@pytest.mark.parametrize("form", FORMS)
def test_an_at_name_is_a_file_for_every_call_and_form(tmp_path, monkeypatch, form):
    monkeypatch.chdir(tmp_path)
    with fs.unix_listen(form("@l.sock")) as listener:
        assert (tmp_path / "@l.sock").exists() and listener.getsockname() == "@l.sock"
        with socket.socket(socket.AF_UNIX) as py:
            py.connect("@l.sock")  # the stdlib's client reaches it: the same file
            listener.accept()[0].close()
        with fs.unix_connect(form("@l.sock")) as c:
            listener.accept()[0].close()
            assert c.getpeername() == "@l.sock"
    with socket.socket(socket.AF_UNIX) as py_server:  # a stdlib server on the file "@srv.sock"
        py_server.bind("@srv.sock")
        py_server.listen()
        with fs.unix_connect(form("@srv.sock")) as c:
            py_server.accept()[0].close()
            assert c.getpeername() == "@srv.sock"
    with fs.unix_bind(form("@d.sock")) as d, fs.unix_bind(None) as e:
        assert d.getsockname() == "@d.sock"
        e.sendto(b"1", form("@d.sock"))
        e.sendto(b"2", 0, form("@d.sock"))
        e.sendmsg([b"3"], address=form("@d.sock"))
        e.send_batch([(b"4", form("@d.sock"))])
        e.connect(form("@d.sock"))
        e.send(b"5")
        with fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as g:
            g.bind(form("@g.sock"))
            assert g.getsockname() == "@g.sock"
            g.sendto(b"6", form("@d.sock"))
            g.sendmsg([b"6"], address=form("@d.sock"))
            g.connect(form("@d.sock"))
            g.send(b"7")
        with fs.connect_from(form("@f.sock"), form("@d.sock"), socket.SOCK_DGRAM) as f:
            assert f.getsockname() == "@f.sock" and f.getpeername() == "@d.sock"
            f.send(b"8")
        d.settimeout(2)
        assert [d.recv(9) for _ in range(9)] == [b"1", b"2", b"3", b"4", b"5", b"6", b"6", b"7", b"8"]
    assert {"@srv.sock", "@g.sock", "@f.sock"} <= set(os.listdir(tmp_path))  # files, each of them


@pytest.mark.parametrize("form", [pytest.param(str, id="str"), pytest.param(os.fsencode, id="bytes")])
def test_a_leading_nul_is_an_abstract_name_for_every_call(tmp_path, monkeypatch, form):
    monkeypatch.chdir(tmp_path)
    name, dname = _abstract("l"), _abstract("d")
    with fs.unix_listen(form(name)) as listener:
        assert listener.getsockname() == name.encode()
        assert listener.local_address() == "@" + name[1:]  # fdsafe's text for it
        with fs.unix_connect(form(name)) as c, socket.socket(socket.AF_UNIX) as py:
            py.connect(name)
            listener.accept()[0].close()
            listener.accept()[0].close()
            assert c.getpeername() == name.encode()
    with fs.unix_bind(form(dname)) as d, fs.unix_bind(None) as e:
        e.sendto(b"1", form(dname))
        e.sendmsg([b"2"], address=form(dname))
        e.connect(form(dname))
        e.send(b"3")
        with fs.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as g:
            g.bind(form(_abstract("g")))
            assert g.getsockname() == _abstract("g").encode()
            g.sendto(b"4", form(dname))
            g.sendmsg([b"5"], address=form(dname))
        d.settimeout(2)
        assert [d.recv(9) for _ in range(5)] == [b"1", b"2", b"3", b"4", b"5"]
    assert os.listdir(tmp_path) == []  # no file made for any of them


def test_fdsafe_text_is_read_only_through_address_parse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = b"\0fdsafe-habits-\x01\xff-" + str(os.getpid()).encode()  # bytes the text escapes
    with fs.unix_listen(raw) as listener:
        text = listener.local_address()
        assert text.startswith("@") and "\\x01" in text
        with fs.unix_connect(fs.address_parse(text)) as c:  # asked for explicitly: the abstract name
            listener.accept()[0].close()
            assert c.getpeername() == raw
        with pytest.raises(OSError) as info:
            fs.unix_connect(text)  # a str is a path: no such file here
        assert info.value.errno == errno.ENOENT


# ---------------------------------------------------------------- 2. create_connection's timeout

@pytest.mark.parametrize("source", [None, ("127.0.0.1", 0)], ids=["plain", "source_address"])
def test_create_connection_leaves_its_timeout_on_the_socket(source):
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never sends
        address = server.getsockname()
        with socket.create_connection(address, 0.2, source) as py:
            expected = py.gettimeout()
        server.accept()[0].close()
        with fs.create_connection(address, 0.2, source) as c:
            assert c.gettimeout() == expected == 0.2 and c.getblocking()
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                c.recv(1)
            assert 0.2 <= time.monotonic() - start < 5
            server.accept()[0].close()
        with fs.create_connection(address, source_address=source) as c:
            assert c.gettimeout() is None  # no timeout given: blocking, as socket's default
            server.accept()[0].close()


# ---------------------------------------------------------------- 3. makefile

def _in_child(body):
    """Runs ``body`` in a forked child with SIGPIPE at its default action; its exit code,
    or the signal that killed it (negative)."""
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@pytest.mark.parametrize("mode,buffering", [("wb", 0), ("wb", None), ("w", None), ("rwb", None)])
def test_makefile_write_to_a_closed_peer_is_broken_pipe_not_sigpipe(mode, buffering):
    def body():
        a, b = fs.unix_pair()
        b.close()
        f = a.makefile(mode, buffering, **({} if "b" in mode else {"encoding": "utf-8"}))
        try:
            f.write(b"x" if "b" in mode else "x")
            f.flush()
        except BrokenPipeError:
            return 0
        finally:
            try:
                f.close()
            except BrokenPipeError:
                pass
            a.close()
        return 1
    assert _in_child(body) == 0  # not -SIGPIPE: the process lives, the write raised


@pytest.mark.parametrize("mode,buffering", [("r", None), ("rb", None), ("rb", 0), ("w", None), ("wb", None),
                                            ("wb", 0), ("rw", None), ("rwb", None), ("rwb", 0), ("b", None)])
def test_makefile_builds_what_socket_makefile_builds(mode, buffering):
    a, b = fs.unix_pair()
    s, t = socket.socketpair()
    kwargs = {} if "b" in mode else {"encoding": "utf-8"}
    with a, b, s, t, a.makefile(mode, buffering, **kwargs) as ours, s.makefile(mode, buffering, **kwargs) as theirs:
        if buffering == 0:
            assert isinstance(ours, io.RawIOBase) and type(theirs).__name__ == "SocketIO"
        else:
            assert type(ours) is type(theirs)
        assert getattr(ours, "mode", None) == getattr(theirs, "mode", None)  # BufferedRWPair has none
        assert (ours.readable(), ours.writable(), ours.seekable()) == \
               (theirs.readable(), theirs.writable(), theirs.seekable())
    c, d = fs.unix_pair()
    with c, d, socket.socket() as py:
        for bad in ("x", "r+", "a"):
            with pytest.raises(ValueError):
                py.makefile(bad)
            with pytest.raises(ValueError):
                c.makefile(bad)
        with pytest.raises(ValueError):
            py.makefile("r", 0)
        with pytest.raises(ValueError):
            c.makefile("r", 0)  # unbuffered streams must be binary


def test_makefile_reads_and_writes_through_its_own_duplicate_with_the_timeout():
    a, b = fs.unix_pair()
    with b:
        a.settimeout(0.1)
        reader = a.makefile("r", encoding="utf-8", newline="")
        writer = a.makefile("wb")
        a.close()  # the files hold their own duplicates
        with reader, writer:
            writer.write(b"to b\r\n")
            writer.flush()
            assert b.recv(100) == b"to b\r\n"
            b.sendall("é\r\n".encode())
            assert reader.readline() == "é\r\n"  # newline="" keeps \r\n, as io does
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                reader.readline()
            assert time.monotonic() - start >= 0.1
            with pytest.raises(OSError, match="timed out"):
                reader.readline()  # as socket.SocketIO: refused after a timeout
            assert writer.fileno() >= 0 and writer.raw.name == writer.fileno()
        assert writer.raw.name == -1


# ---------------------------------------------------------------- 4. the socket's own family

def test_a_host_is_resolved_for_the_sockets_own_family():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(2)
        port = peer.getsockname()[1]
        with fs.udp_bind(("127.0.0.1", 0)) as u, fs.socket(socket.AF_INET, socket.SOCK_DGRAM) as g:
            u.sendto(b"1", ("", port))  # "" on an IPv4 socket: IPv4, as socket takes it
            u.sendmsg([b"2"], address=("", port))
            u.send_batch([(b"3", ("", port))])
            u.connect(("", port))
            u.send(b"4")
            g.sendto(b"5", ("", port))
            g.connect(("", port))
            g.send(b"6")
            assert [peer.recv(9) for _ in range(6)] == [b"1", b"2", b"3", b"4", b"5", b"6"]
            with pytest.raises(TypeError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as py:
                py.sendto(b"x", ("127.0.0.1", port, 0, 0))
            with pytest.raises(TypeError):
                u.sendto(b"x", ("127.0.0.1", port, 0, 0))  # AF_INET takes a pair, as for socket
    with fs.udp_bind(("::1", 0)) as peer6, fs.udp_bind(("::", 0)) as u6, \
            fs.socket(socket.AF_INET6, socket.SOCK_DGRAM) as g6:
        g6.bind(("", 0))  # the IPv6 wildcard, not 0.0.0.0
        assert g6.getsockname()[0] == "::"
        u6.sendto(b"v6", ("", peer6.getsockname()[1]))
        g6.sendto(b"g6", ("", peer6.getsockname()[1]))
        peer6.settimeout(2)
        assert peer6.recv(9) == b"v6" and peer6.recv(9) == b"g6"


# ---------------------------------------------------------------- 5. getblocking

def test_getblocking_is_gettimeout_not_zero():
    a, b = fs.unix_pair()
    s, t = socket.socketpair()
    with a, b, s, t:
        for value in (None, 0.0, 2.5, None):
            a.settimeout(value)
            s.settimeout(value)
            assert (a.gettimeout(), a.getblocking()) == (s.gettimeout(), s.getblocking())
        a.settimeout(2.5)
        assert a.getblocking() is True


# ---------------------------------------------------------------- 6. IPv6 flowinfo and scope_id

@pytest.mark.parametrize("flowinfo,scope_id,error", [
    (-1, 0, OverflowError), (2**20, 0, OverflowError), ("a", 0, TypeError), (1.5, 0, TypeError),
    (0, "a", TypeError), (0, None, TypeError)])
def test_bad_flowinfo_or_scope_id_raise_as_socket_does(flowinfo, scope_id, error):
    address = ("::1", 0, flowinfo, scope_id)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as py, pytest.raises(error):
        py.bind(address)
    with pytest.raises(error):
        fs.udp_bind(address)
    with pytest.raises(error):
        fs.tcp_connect(address)
    with fs.udp_bind(("::1", 0)) as u, fs.socket(socket.AF_INET6, socket.SOCK_DGRAM) as g:
        with pytest.raises(error):
            u.sendto(b"x", address)
        with pytest.raises(error):
            g.bind(address)


def test_flowinfo_range_and_scope_id_taken_as_socket_takes_them():
    with fs.udp_bind(("::1", 0, 2**20 - 1, 0)) as u:
        assert u.getsockname()[0] == "::1"
    # socket takes a scope_id modulo 2**32 (2**32 + 1 is interface 1); so does fdsafe
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as py:
        py.bind(("ff02::1", 0, 0, 2**32 + 1))
        expected = py.getsockname()[3]
    with fs.udp_bind(("ff02::1", 0, 0, 2**32 + 1)) as u:
        assert u.getsockname()[3] == expected == 1
    with pytest.raises(OSError) as info:
        fs.udp_bind(("ff02::1", 0, 0, -1))  # interface 4294967295: none has it, as with socket
    assert info.value.errno == errno.ENODEV


def test_out_of_band_data_as_socket_does():
    # socket.MSG_OOB: the urgent byte is received apart from the stream, on both kinds of socket
    assert fs.MSG_OOB == socket.MSG_OOB
    with socket.create_server(("127.0.0.1", 0)) as pl, fs.tcp_listen(("127.0.0.1", 0)) as fl:
        py_c = socket.create_connection(pl.getsockname())
        py_s = pl.accept()[0]
        fs_c = fs.tcp_connect(fl.getsockname())
        fs_s = fl.accept()[0]
        with py_c, py_s, fs_c, fs_s:
            for c, s in ((py_c, py_s), (fs_c, fs_s)):
                assert c.send(b"ab") == 2 and c.send(b"!", socket.MSG_OOB) == 1
                assert select.select([], [], [s], 2)[2] == [s]  # urgent: the "exceptional" set
                assert s.recv(1, socket.MSG_OOB) == b"!"
                with pytest.raises(OSError) as info:
                    s.recv(1, socket.MSG_OOB)  # taken: none left
                assert info.value.errno == errno.EINVAL
                assert s.recv(10) == b"ab"


def test_a_three_tuple_is_an_ipv6_address_with_flowinfo_as_socket_takes_it():
    # socket takes (host, port, flowinfo) for AF_INET6, scope_id 0
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as py:
        py.bind(("::1", 0, 5))
        assert py.getsockname()[:1] + py.getsockname()[2:] == ("::1", 0, 0)
    with fs.udp_bind(("::1", 0, 5)) as u, fs.udp_bind(("::1", 0)) as peer:
        assert u.getsockname()[0] == "::1" and u.getsockname()[3] == 0
        assert u.sendto(b"x", (peer.getsockname()[0], peer.getsockname()[1], 0)) == 1
        assert peer.recvfrom(10)[0] == b"x"
    with pytest.raises(OverflowError):
        fs.udp_bind(("::1", 0, 2**20))  # flowinfo beyond the 20-bit label, as socket says
    with fs.socket(socket.AF_INET, socket.SOCK_DGRAM) as g, pytest.raises(TypeError):
        g.bind(("127.0.0.1", 0, 0))  # AF_INET takes only a pair, as socket


def test_broadcast_names_inaddr_broadcast_as_in_socket():
    # CPython's setipaddr reads "<broadcast>" as 255.255.255.255 (AF_INET only)
    with fs.udp_bind(("", 0)) as receiver, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as py:
        port = receiver.getsockname()[1]
        py.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            py.sendto(b"py", ("<broadcast>", port))
        except OSError as exc:  # no interface that broadcasts: fdsafe must say the same
            with fs.udp_bind(("", 0)) as sender, pytest.raises(OSError) as info:
                sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sender.sendto(b"fs", ("<broadcast>", port))
            assert info.value.errno == exc.errno
            return
        assert receiver.recvfrom(10)[0] == b"py"
        with fs.udp_bind(("", 0)) as sender:
            sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            assert sender.sendto(b"fs", ("<broadcast>", port)) == 2
            assert receiver.recvfrom(10)[0] == b"fs"
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as py6, pytest.raises(OSError):
        py6.sendto(b"x", ("<broadcast>", 9))
    with fs.udp_bind(("::1", 0)) as u6, pytest.raises(OSError):
        u6.sendto(b"x", ("<broadcast>", 9))


# ---------------------------------------------------------------- 7. credentials

def test_credentials_are_a_whole_triple_never_padded():
    pid, uid, gid = os.getpid(), os.getuid(), os.getgid()
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        for bad, error in [((pid,), ValueError), ((pid, uid), ValueError), ((pid, uid, gid, 0), ValueError),
                           (pid, TypeError), ("abc", TypeError), ((pid, "0", gid), TypeError),
                           ((2**32 + pid, uid, gid), OverflowError), ((pid, -1, gid), ValueError),
                           ((pid, uid, 2**32), OverflowError)]:
            with pytest.raises(error):
                a.sendmsg([b"m"], credentials=bad)
            with pytest.raises(error):
                a.send_credentials(b"m", bad)
        b.setblocking(False)
        with pytest.raises(BlockingIOError):
            b.recv(1)  # none of them was sent
        a.sendmsg([b"ok"], credentials=(pid, uid, gid))
        assert b.recvmsg(10).credentials == (pid, uid, gid)
        a.send_credentials(b"ok", [pid, uid, gid])  # any sequence of exactly three
        assert b.recv_fds(10).credentials == (pid, uid, gid)


# ---------------------------------------------------------------- 8. smaller differences

def test_getsockopt_buflen_checked_as_socket_checks_it():
    a, b = fs.unix_pair()
    with a, b, socket.socket(socket.AF_UNIX) as py:
        for buflen, error in [(2**40, OverflowError), (2**31, OverflowError), (1025, OSError), (2000, OSError),
                              (-1, OSError), (1.5, TypeError)]:
            with pytest.raises(error):
                py.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, buflen)
            with pytest.raises(error):
                a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, buflen)
        assert a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, 1024) == \
            py.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE, 1024)


@pytest.mark.parametrize("nonblocking", [False, True])
def test_timeout_still_answered_after_close(nonblocking):
    a, b = fs.unix_pair(nonblocking=nonblocking)
    s, t = socket.socketpair()
    s.setblocking(not nonblocking)
    b.close()
    t.close()
    a.close()  # no timeout was ever set: the O_NONBLOCK flag it had
    s.close()
    assert (a.gettimeout(), a.getblocking()) == (s.gettimeout(), s.getblocking())
    assert a.gettimeout() == (0.0 if nonblocking else None)


def test_listen_takes_a_negative_backlog_as_socket_does():
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as g, socket.socket() as py:
        g.bind(("127.0.0.1", 0))
        py.bind(("127.0.0.1", 0))
        py.listen(-1)
        g.listen(-1)  # the kernel gets 0
        with fs.tcp_connect(g.getsockname()) as c:
            g.accept()[0].close()
            assert c.getpeername() == g.getsockname()
    with fs.socket(socket.AF_INET, socket.SOCK_STREAM) as g, socket.socket() as py:
        for backlog in (2**31, -2**31 - 1):
            with pytest.raises(OverflowError):
                py.listen(backlog)
            with pytest.raises(OverflowError):
                g.listen(backlog)


def test_listening_factories_take_a_negative_backlog_as_create_server_does(tmp_path):
    # socket.create_server(addr, backlog=-1) listens with 0, as socket.listen(-1) does.
    with socket.create_server(("127.0.0.1", 0), backlog=-1) as py:
        assert py.getsockname()[1] > 0
    with fs.tcp_listen(("127.0.0.1", 0), backlog=-1) as listener:
        with fs.tcp_connect(listener.getsockname()) as c:
            listener.accept()[0].close()
            assert c.getpeername() == listener.getsockname()
    with fs.unix_listen(str(tmp_path / "x.sock"), backlog=-5) as listener:
        with fs.unix_connect(str(tmp_path / "x.sock")) as c:
            listener.accept()[0].close()
    for factory, address in ((fs.tcp_listen, ("127.0.0.1", 0)), (fs.unix_listen, str(tmp_path / "y.sock"))):
        for backlog in (2**31, -2**31 - 1):
            with pytest.raises(OverflowError):
                factory(address, backlog=backlog)
        with pytest.raises(TypeError):
            factory(address, backlog=1.5)


def test_unix_bind_options_out_of_range_are_refused(tmp_path):
    for name in ("flags", "dir_mode", "socket_mode"):
        with pytest.raises(OverflowError):
            fs.unix_listen(str(tmp_path / "sub" / "x.sock"), **{name: 2**32 + 0o700})
        with pytest.raises(ValueError):
            fs.unix_bind(str(tmp_path / "sub" / "y.sock"), **{name: -1})
    assert not (tmp_path / "sub").exists()


# Where fdsafe still parts from the socket module, by design (the docstrings say so).

def wait_until_blocked_in_a_call(thread):
    """Waits until ``thread`` sleeps in the kernel in a call other than a futex wait (the
    interpreter's lock): a fixed sleep was not enough on a loaded machine."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/self/task/{thread.native_id}/wchan") as f:
            where = f.read()
        if where not in ("", "0") and "futex" not in where:
            return
        time.sleep(0.001)
    raise AssertionError(f"the thread never blocked in its call (last in {where!r})")


def test_detach_refuses_while_another_thread_is_in_a_call_and_works_after():
    # socket.detach would hand over the descriptor under the blocked recv; fdsafe raises
    # EBUSY and the socket keeps working. Once the call has returned, detach works.
    a, b = fs.unix_pair()
    with a, b:
        got = []
        entering = threading.Event()

        def reader():
            entering.set()
            got.append(a.recv(10))

        t = threading.Thread(target=reader)
        t.start()
        entering.wait(10)
        wait_until_blocked_in_a_call(t)
        try:
            with pytest.raises(OSError) as info:
                a.detach()
            assert info.value.errno == errno.EBUSY
            assert not a.closed
            a.send(b"still")  # both ways still work
            assert b.recv(10) == b"still"
        finally:
            b.send(b"wake")  # what the thread waits for
            t.join(10)
        assert got == [b"wake"]
        fd = a.detach()
        assert a.closed
        os.close(fd)


def test_release_refuses_while_another_thread_reads_a_pipe():
    r, w = fdsafe.pipe()
    with r, w:
        entering = threading.Event()
        t = threading.Thread(target=lambda: (entering.set(), r.read(1)))
        t.start()
        entering.wait(10)
        wait_until_blocked_in_a_call(t)
        try:
            with pytest.raises(OSError) as info:
                r.release()
            assert info.value.errno == errno.EBUSY and not r.closed
        finally:
            w.write(b"x")
            t.join(10)
        os.close(r.release())


def test_a_listener_path_goes_with_its_last_descriptor_in_the_binding_process(tmp_path):
    # socket.socket never removes the path it bound; fdsafe removes it when the binding
    # process closes the socket's last descriptor through a handle.
    path = tmp_path / "x.sock"
    fs.unix_listen(str(path)).close()
    assert not path.exists()
    # A dup kept open keeps the path (it still gets clients) until it is closed too.
    listener = fs.unix_listen(str(path))
    copy = listener.dup()
    listener.close()
    assert path.exists()
    with fs.unix_connect(str(path)):
        copy.accept()[0].close()
    copy.close()
    assert not path.exists()
    # A raw os.dup closed last: no fdsafe handle closes last, so nothing removes the path.
    listener = fs.unix_listen(str(path))
    raw = os.dup(listener.fileno())
    listener.close()
    os.close(raw)
    assert path.exists()
    with pytest.raises(ConnectionRefusedError):
        fs.unix_connect(str(path))
    # Nor after release(): the descriptor is the caller's, and so is the path.
    os.close(fs.unix_listen(str(path)).release())  # binding again removes the stale socket
    assert path.exists()


def test_msg_oob_on_a_udp_receive_is_refused_not_taken_for_a_datagram():
    """The kernel ignores MSG_OOB on a UDP receive and hands over the next datagram; fdsafe
    refuses it (EOPNOTSUPP, as a Unix datagram socket's kernel says), leaving it queued."""
    with fs.udp_bind(("127.0.0.1", 0)) as u, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"datagram", u.getsockname())
        with pytest.raises(OSError) as refused:
            u.recv(16, socket.MSG_OOB)
        assert refused.value.errno == errno.EOPNOTSUPP
        assert u.recv(16) == b"datagram"
