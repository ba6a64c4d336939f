"""fdsafe sockets where Python code expects a ``socket.socket``: given to asyncio as they are
(what asyncio calls on a socket it is given, answered as ``socket.socket`` answers in the same
state), typed for ``mypy --strict`` with their concrete classes, and closed by another thread
during a call with a timeout. Each behaviour is compared with the standard library's on the
same input."""
import asyncio
import errno
import importlib.util
import os
import select
import shutil
import socket as pysocket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import fdsafe
from fdsafe import socket as fs

# What asyncio (3.9 to 3.13: base_events, selector_events, unix_events, streams) calls on a
# socket it is given, by loop.sock_*, open_connection, start_server, create_connection,
# create_datagram_endpoint, connect_accepted_socket and their transports. (``bind`` is called
# only on sockets asyncio makes itself; ``sendmsg`` by the transports of 3.12 and later.)
ASYNCIO_CALLS = ["accept", "close", "connect", "family", "fileno", "getpeername", "getsockname", "getsockopt",
                 "gettimeout", "listen", "proto", "recv", "recv_into", "recvfrom", "recvfrom_into", "send",
                 "sendmsg", "sendto", "setblocking", "setsockopt", "shutdown", "type"]
CLASSES = [fs.TcpListener, fs.TcpStream, fs.UdpSocket, fs.UnixListener, fs.UnixStream, fs.UnixDatagram,
           fs.UnixSeqpacketListener, fs.UnixSeqpacket, fs.GenericSocket]


def run(coro, timeout=10):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def oserror(call):
    """(class name, errno) of the OSError ``call()`` raises, or "ok"."""
    try:
        call()
    except OSError as err:
        return type(err).__name__, err.errno
    return "ok"


async def aoserror(awaitable):
    try:
        await awaitable
    except OSError as err:
        return type(err).__name__, err.errno
    return "ok"


# ---------------------------------------------------------------- asyncio takes fdsafe sockets

@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_socket_class_has_what_asyncio_calls(cls):
    assert [name for name in ASYNCIO_CALLS if not hasattr(cls, name)] == []


async def echo_once(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()


async def round_trip(server, open_client):
    """A line through ``server`` (an asyncio server echoing once) with a client from
    ``open_client()``; closes the server."""
    async with server:
        reader, writer = await open_client()
        writer.write(b"ping\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
    return line


@pytest.mark.parametrize("listen", [fs.tcp_listen, pysocket.create_server], ids=["fdsafe", "stdlib"])
def test_start_server_serves_on_a_given_tcp_listener(listen):
    listener = listen(("127.0.0.1", 0))
    address = listener.getsockname()

    async def main():
        server = await asyncio.start_server(echo_once, sock=listener)
        assert [s.fileno() for s in server.sockets] == [listener.fileno()]
        return await round_trip(server, lambda: asyncio.open_connection(*address))

    with listener:
        assert run(main()) == b"ping\n"
        assert listener.fileno() == -1  # the server closed it


def test_start_unix_server_serves_on_an_fdsafe_unix_listener(tmp_path):
    path = str(tmp_path / "echo.sock")
    listener = fs.unix_listen(path)

    async def main():
        server = await asyncio.start_unix_server(echo_once, sock=listener)
        return await round_trip(server, lambda: asyncio.open_unix_connection(path))

    with listener:
        assert run(main()) == b"ping\n"
        assert listener.closed
        assert not os.path.exists(path)


def test_create_server_and_connection_take_fdsafe_sockets():
    # loop.create_server(sock=) and loop.create_connection(sock=) with an fdsafe client too
    listener = fs.tcp_listen(("127.0.0.1", 0))
    client = fs.tcp_connect(listener.getsockname(), nonblocking=True)

    async def main():
        loop = asyncio.get_running_loop()
        got = loop.create_future()

        class Echo(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.transport.write(data)

        class Client(asyncio.Protocol):
            def data_received(self, data):
                got.set_result(data)

        server = await loop.create_server(Echo, sock=listener)
        async with server:
            transport, _ = await loop.create_connection(Client, sock=client)
            transport.write(b"through transports")
            data = await got
            transport.close()
        return data

    with listener, client:
        assert run(main()) == b"through transports"
        assert listener.closed and client.closed


def backlog_is_full(address):
    """Whether a second client's connect stays unfinished once one client fills the queue of
    the listener at ``address`` (its SYN dropped, the client waits to send it again)."""
    with pysocket.create_connection(address, timeout=5), pysocket.socket() as second:
        second.setblocking(False)
        assert second.connect_ex(address) in (0, errno.EINPROGRESS)
        poller = select.poll()
        poller.register(second, select.POLLOUT)
        return not poller.poll(300)


@pytest.mark.parametrize("lib", ["fdsafe", "stdlib"])
def test_listen_again_sets_the_backlog_as_socket_listen_does(lib):
    # listen(0) leaves room for one connection not yet accepted: the second one's SYN is
    # dropped, so its connect does not finish. asyncio's start_server(sock=) calls listen.
    if lib == "fdsafe":
        listener = fs.tcp_listen(("127.0.0.1", 0), backlog=128)
    else:
        listener = pysocket.create_server(("127.0.0.1", 0), backlog=128)
    with listener:
        address = listener.getsockname()
        assert not backlog_is_full(address)
        for accepted in (listener.accept()[0], listener.accept()[0]):
            accepted.close()
        listener.listen(0)
        assert backlog_is_full(address)


def test_listen_on_a_closed_listener_raises_ebadf_as_socket_does():
    ours, theirs = fs.tcp_listen(("127.0.0.1", 0)), pysocket.create_server(("127.0.0.1", 0))
    ours.close()
    theirs.close()
    assert oserror(ours.listen) == oserror(theirs.listen) == ("OSError", errno.EBADF)


def test_sock_connect_connects_an_unconnected_generic_socket():
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()

        async def connect(sock):
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, address)
            return sock.getpeername()

        for sock in (fs.socket(pysocket.AF_INET, pysocket.SOCK_STREAM), pysocket.socket()):
            with sock:
                assert run(connect(sock)) == address
                listener.accept()[0].close()


def pairs_in_state(state, tmp_path):
    """(fdsafe socket, stdlib socket, address to connect to, other sockets to close) for a
    socket in ``state``: connected streams of each kind, and listeners."""
    if state == "tcp stream":
        fl, pl = fs.tcp_listen(("127.0.0.1", 0)), pysocket.create_server(("127.0.0.1", 0))
        ours, theirs = fs.tcp_connect(fl.getsockname()), pysocket.create_connection(pl.getsockname())
        return ours, theirs, fl.getsockname(), [fl, pl]
    if state in ("unix stream", "unix seqpacket"):
        kind = pysocket.SOCK_STREAM if state == "unix stream" else pysocket.SOCK_SEQPACKET
        listener = fs.unix_listen(str(tmp_path / "l.sock"), kind)
        a, b = fs.unix_pair(kind)
        c, d = pysocket.socketpair(pysocket.AF_UNIX, kind)
        return a, c, str(tmp_path / "l.sock"), [b, d, listener]
    if state == "tcp listener":
        ours, theirs = fs.tcp_listen(("127.0.0.1", 0)), pysocket.create_server(("127.0.0.1", 0))
        return ours, theirs, theirs.getsockname(), []
    assert state == "unix listener"
    ours = fs.unix_listen(str(tmp_path / "a.sock"))
    theirs = pysocket.socket(pysocket.AF_UNIX)
    theirs.bind(str(tmp_path / "b.sock"))
    theirs.listen()
    return ours, theirs, str(tmp_path / "b.sock"), []


STATES = ["tcp stream", "unix stream", "unix seqpacket", "tcp listener", "unix listener"]


@pytest.mark.parametrize("state", STATES)
def test_connect_where_socket_connect_refuses_raises_the_same_error(state, tmp_path):
    ours, theirs, address, others = pairs_in_state(state, tmp_path)
    try:
        expected = oserror(lambda: theirs.connect(address))
        assert expected != "ok"  # EISCONN; EINVAL for a Unix listener
        assert oserror(lambda: ours.connect(address)) == expected

        async def via_loop(sock):
            sock.setblocking(False)
            return await aoserror(asyncio.get_running_loop().sock_connect(sock, address))
        assert run(via_loop(ours)) == run(via_loop(theirs)) == expected
    finally:
        for s in [ours, theirs] + others:
            s.close()


def test_sock_connect_waits_for_a_connect_in_progress():
    # A non-blocking connect whose SYN the full listener dropped: connect again is EALREADY,
    # as for socket.socket, and loop.sock_connect waits until the kernel's next try gets
    # through (once a place is free).
    with fs.tcp_listen(("127.0.0.1", 0), backlog=0) as listener:
        address = listener.getsockname()
        with pysocket.create_connection(address, timeout=5), fs.tcp_connect(address, nonblocking=True) as ours:
            with pysocket.socket() as theirs:
                theirs.setblocking(False)
                assert theirs.connect_ex(address) == errno.EINPROGRESS
                assert oserror(lambda: ours.connect(address)) == oserror(lambda: theirs.connect(address)) \
                    == ("BlockingIOError", errno.EALREADY)
            listener.accept()[0].close()

            async def main():
                await asyncio.get_running_loop().sock_connect(ours, address)
                return ours.getpeername()
            assert run(main()) == address
            listener.accept()[0].close()


def test_connect_refuses_an_af_unspec_address():
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        with pytest.raises(OSError) as info:
            listener.connect(fs.SockAddr(bytes(16)))
        assert info.value.errno == errno.EAFNOSUPPORT
        with fs.tcp_connect(listener.getsockname()) as client:  # still listening
            listener.accept()[0].close()
            assert client.getpeername() == listener.getsockname()


def streams_and_datagrams():
    """(fdsafe socket, stdlib socket in the same state) for each kind that does not listen."""
    fl, pl = fs.tcp_listen(("127.0.0.1", 0)), pysocket.create_server(("127.0.0.1", 0))
    tcp = fs.tcp_connect(fl.getsockname()), pysocket.create_connection(pl.getsockname())
    udp = fs.udp_bind(("127.0.0.1", 0)), pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    udp[1].bind(("127.0.0.1", 0))
    pairs = [tcp, udp]
    for kind in (pysocket.SOCK_STREAM, pysocket.SOCK_DGRAM, pysocket.SOCK_SEQPACKET):
        a, b = fs.unix_pair(kind)
        c, d = pysocket.socketpair(pysocket.AF_UNIX, kind)
        pairs.append((a, c))
        b.close()
        d.close()
    fl.close()
    pl.close()
    return pairs


def test_listen_and_accept_on_sockets_that_do_not_listen_raise_as_socket_does():
    for ours, theirs in streams_and_datagrams():
        with ours, theirs:
            ours.setblocking(False)
            theirs.setblocking(False)
            for call in ("listen", "accept"):
                expected = oserror(getattr(theirs, call))
                assert expected in (("OSError", errno.EINVAL), ("OSError", errno.EOPNOTSUPP))
                assert oserror(getattr(ours, call)) == expected, (type(ours).__name__, call)

            async def via_loop(sock):
                return await aoserror(asyncio.get_running_loop().sock_accept(sock))
            assert run(via_loop(ours)) == run(via_loop(theirs))
    closed = fs.unix_pair()[0]
    closed.close()
    assert oserror(closed.listen) == oserror(closed.accept) == ("OSError", errno.EBADF)


def test_start_server_on_a_connected_stream_raises_as_for_a_socket():
    fl, pl = fs.tcp_listen(("127.0.0.1", 0)), pysocket.create_server(("127.0.0.1", 0))
    ours, theirs = fs.tcp_connect(fl.getsockname()), pysocket.create_connection(pl.getsockname())
    with fl, pl, ours, theirs:
        assert run(aoserror(asyncio.start_server(echo_once, sock=ours))) == \
            run(aoserror(asyncio.start_server(echo_once, sock=theirs))) == ("OSError", errno.EINVAL)


# ---------------------------------------------------------------- typing

def mypy(*args, env=None, cwd=None):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    # In a process of its own: mypy's objects would slow every later test's collections.
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, *args],
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_unix_factories_and_accept_type_check_as_their_classes(tmp_path):
    source = tmp_path / "uses.py"
    source.write_text(textwrap.dedent("""\
        import socket
        from typing import Tuple
        from typing_extensions import assert_type
        from fdsafe import EventFd
        from fdsafe import socket as fs

        def use(kind: int) -> None:
            a, b = fs.unix_pair()
            a.send_fds(b"x", [EventFd.create()])  # the documented way to pass a handle
            b.recv_fds(1)
            assert_type(fs.unix_pair(fs.UNIX_DATAGRAM), Tuple[fs.UnixDatagram, fs.UnixDatagram])
            assert_type(fs.unix_pair(socket.SOCK_DGRAM), Tuple[fs.UnixDatagram, fs.UnixDatagram])
            assert_type(fs.unix_pair(type=fs.UNIX_SEQPACKET, nonblocking=True)[1], fs.UnixSeqpacket)
            assert_type(fs.unix_pair(kind), Tuple[fs.Socket, fs.Socket])
            assert_type(fs.unix_connect("/x"), fs.UnixStream)
            assert_type(fs.unix_connect("/x", fs.UNIX_DATAGRAM), fs.UnixDatagram)
            assert_type(fs.unix_connect("/x", socket.SOCK_SEQPACKET, nonblocking=True), fs.UnixSeqpacket)
            assert_type(fs.unix_connect("/x", kind), fs.Socket)
            assert_type(fs.tcp_listen(("", 0)).accept()[0], fs.TcpStream)
            assert_type(fs.unix_listen("/x").accept()[0], fs.UnixStream)
            assert_type(fs.unix_listen("/x", fs.UNIX_SEQPACKET).accept()[0], fs.UnixSeqpacket)
            assert_type(fs.socket(socket.AF_UNIX).accept()[0], fs.GenericSocket)
            fs.unix_listen("/x").accept()[0].recv_fds(1)
        """))
    env = dict(os.environ, MYPYPATH=str(Path(fdsafe.__file__).resolve().parent.parent))
    done = mypy(str(source), env=env)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind,cls", [(None, fs.UnixStream), (fs.UNIX_STREAM, fs.UnixStream),
                                      (fs.UNIX_DATAGRAM, fs.UnixDatagram), (fs.UNIX_SEQPACKET, fs.UnixSeqpacket),
                                      (pysocket.SOCK_DGRAM, fs.UnixDatagram)])
def test_unix_factories_return_the_classes_their_annotations_name(kind, cls, tmp_path):
    # What the overloads promise, at run time: the literal types are the values.
    assert (fs.UNIX_STREAM, fs.UNIX_DATAGRAM, fs.UNIX_SEQPACKET) == (1, 2, 5)
    args = () if kind is None else (kind,)
    a, b = fs.unix_pair(*args)
    with a, b:
        assert type(a) is type(b) is cls
    path = str(tmp_path / "s.sock")
    if cls is fs.UnixDatagram:
        with fs.unix_bind(path), fs.unix_connect(path, *args) as c:
            assert type(c) is cls
        return
    with fs.unix_listen(path, *args) as listener, fs.unix_connect(path, *args) as c:
        conn, _ = listener.accept()
        with conn:
            assert type(c) is type(conn) is cls


def test_the_installed_package_type_checks(tmp_path):
    # As a wheel installs it: fdsafe (with py.typed) beside the single-file pytest_fdsafe,
    # found through sys.path as installed packages are (so an untyped import is an error).
    site = tmp_path / "site"
    shutil.copytree(Path(fdsafe.__file__).resolve().parent, site / "fdsafe",
                    ignore=shutil.ignore_patterns("__pycache__", "libfdsafe*"))
    plugin = importlib.util.find_spec("pytest_fdsafe")
    assert plugin is not None and plugin.origin is not None
    shutil.copy(plugin.origin, site)
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    env["PYTHONPATH"] = str(site)
    done = mypy("-p", "fdsafe", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pytest_plugin_module_gives_the_fixture():
    from fdsafe import pytest_plugin
    import pytest_fdsafe
    assert pytest_plugin.fd_leak_check is pytest_fdsafe.fd_leak_check


# ---------------------------------------------------------------- closed during a call with a timeout

TIMEOUT = 0.3


def full_pair(make_pair):
    """A connected pair whose first socket cannot send: its buffer and the peer's are full."""
    a, b = make_pair()
    a.setblocking(False)
    try:
        while True:
            a.send(b"x" * 65536)
    except BlockingIOError:
        pass
    return a, b


def blocked_call(lib, call):
    """(socket to close, the call that waits on it with a timeout, sockets to close after)."""
    ours = lib == "fdsafe"
    pair = fs.unix_pair if ours else pysocket.socketpair
    if call == "recv":
        a, b = pair()
        return a, lambda: a.recv(10), [b]
    if call == "send":
        a, b = full_pair(pair)
        return a, lambda: a.send(b"y" * 65536), [b]
    if call == "accept":
        listener = fs.tcp_listen(("127.0.0.1", 0)) if ours else pysocket.create_server(("127.0.0.1", 0))
        return listener, listener.accept, []
    assert call == "connect"
    # A listener with room for one pending connection, taken: the next SYN is dropped.
    listener = fs.tcp_listen(("127.0.0.1", 0), backlog=0) if ours else pysocket.create_server(("127.0.0.1", 0),
                                                                                                backlog=0)
    first = pysocket.create_connection(listener.getsockname(), timeout=5)
    sock = fs.socket(pysocket.AF_INET, pysocket.SOCK_STREAM) if ours else pysocket.socket()
    address = listener.getsockname()
    return sock, lambda: sock.connect(address), [first, listener]


@pytest.mark.parametrize("call", ["recv", "send", "accept", "connect"])
def test_close_during_a_call_with_a_timeout_raises_ebadf_as_socket_does(call):
    outcomes = {}
    for lib in ("fdsafe", "stdlib"):
        sock, blocking, others = blocked_call(lib, call)
        sock.settimeout(TIMEOUT)
        result = []

        def worker():
            start = time.monotonic()
            try:
                blocking()
                result.append(("returned", None))
            except OSError as err:
                result.append((type(err).__name__, err.errno))
            result.append(time.monotonic() - start)

        thread = threading.Thread(target=worker)
        thread.start()
        time.sleep(TIMEOUT / 3)
        sock.close()
        thread.join(10)
        for s in others:
            s.close()
        outcomes[lib] = result[0]
        assert result[1] >= TIMEOUT * 0.9  # both wait out the timeout: a close does not wake the call
    assert outcomes["fdsafe"] == outcomes["stdlib"] == ("OSError", errno.EBADF)


def test_a_timeout_without_a_close_is_still_a_timeout():
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(0.05)
        with pytest.raises(TimeoutError):
            a.recv(1)
        assert not a.closed
