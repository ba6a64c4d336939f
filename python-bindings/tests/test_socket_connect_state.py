"""What a BSD-sockets port relies on, as a stranger's comparison with raw calls found it:
a socket fdsafe connected says EISCONN to the next connect (as one connected by a blocking
connect does), a listener has no connect to finish, and a socket of any kind made for IPv4
or IPv6 has a port."""

import contextlib
import errno
import select
import signal
import socket as pysocket
import time

import pytest

import fdsafe.socket
from fdsafe.socket import socket, tcp_connect, tcp_listen


def test_a_connected_stream_says_eisconn_from_the_first_connect():
    with tcp_listen(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        for stream in (tcp_connect(address, timeout=5), tcp_connect(address)):
            with stream:
                with pytest.raises(OSError) as again:
                    stream.connect(address)
                assert again.value.errno == errno.EISCONN
                listener.accept()[0].close()


def test_a_listener_has_no_connect_to_finish():
    with tcp_listen(("127.0.0.1", 0)) as listener:
        with pytest.raises(OSError) as finish:
            listener.connect_finish(None)  # no limit: it once waited forever
        assert finish.value.errno == errno.ENOTCONN


@pytest.mark.parametrize("family, kind", [(pysocket.AF_INET, pysocket.SOCK_STREAM),
                                          (pysocket.AF_INET6, pysocket.SOCK_DGRAM)])
def test_a_socket_of_any_kind_has_its_port(family, kind):
    with socket(family, kind) as s:
        s.bind(("::1" if family == pysocket.AF_INET6 else "127.0.0.1", 0))
        assert s.local_port() == s.getsockname()[1] != 0


# ---------------------------------------------------------------- connects through signals

@contextlib.contextmanager
def _full_listener():
    """A listener whose accept queue is full: its next SYNs are dropped, so a connect to it
    waits (the kernel retries after 1 s, 3 s...)."""
    listener = pysocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        while True:
            c = pysocket.socket()
            c.setblocking(False)
            fillers.append(c)
            if c.connect_ex(listener.getsockname()) == errno.EINPROGRESS:
                _, writable, _ = select.select([], [c], [], 0.2)
                if not writable:
                    break  # this one waits: the queue is full
        yield listener.getsockname()
    finally:
        for c in fillers:
            c.close()
        listener.close()


@contextlib.contextmanager
def _alarm_every(seconds):
    """SIGALRM every ``seconds``, to a handler that returns (so calls retry, PEP 475)."""
    handled = []
    old = signal.signal(signal.SIGALRM, lambda *_: handled.append(1))
    signal.setitimer(signal.ITIMER_REAL, seconds, seconds)
    try:
        yield handled
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_a_connect_with_a_timeout_keeps_its_deadline_through_signals():
    # Each signal used to restart the wait from the full timeout: with one every 0.1 s, a
    # 0.5 s timeout never passed. socket.connect keeps the deadline.
    with _full_listener() as address, socket(pysocket.AF_INET, pysocket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        start = time.monotonic()
        with _alarm_every(0.1) as handled, pytest.raises(TimeoutError):
            s.connect(address)
        assert time.monotonic() - start < 2.5 and handled


@pytest.mark.parametrize("connect", ["tcp_connect", "create_connection", "connect_from"])
def test_a_signal_does_not_abandon_a_tcp_connect(monkeypatch, connect):
    # socket.create_connection waits through a signal for the same attempt. A blocking C
    # connect ends its attempt at EINTR, so retrying it sent a new SYN per signal, and a
    # signal faster than the peer's answer kept it from ever connecting. One attempt only:
    calls = []
    for name in ("fdsafe_tcp_connect", "fdsafe_tcp_connect_sockaddr", "fdsafe_socket_connect_from"):
        real = getattr(fdsafe.socket.lib, name)
        monkeypatch.setattr(fdsafe.socket.lib, name,
                            lambda *args, real=real: calls.append(1) or real(*args))
    make = {"tcp_connect": lambda a: fdsafe.socket.tcp_connect(a, timeout=0.6),
            "create_connection": lambda a: fdsafe.socket.create_connection(a, timeout=0.6),
            "connect_from": lambda a: fdsafe.socket.connect_from(("127.0.0.1", 0), a, timeout=0.6)}[connect]
    with _full_listener() as address:
        with _alarm_every(0.05) as handled, pytest.raises(TimeoutError):
            make(address)
    assert len(handled) >= 5
    assert len(calls) == 1


@pytest.mark.parametrize("source", [("", 0), ("0.0.0.0", 0)])
def test_a_connect_from_a_source_tries_every_address_of_the_name(monkeypatch, source):
    # socket.create_connection(source_address=...) tries each address the name resolves to,
    # binding the source in that address's family; fdsafe tried only the first. The name
    # resolves to ::1 (where nothing listens, or "0.0.0.0" cannot bind), then 127.0.0.1.
    real = pysocket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "two-addresses.test":
            v6 = real("::1", port, pysocket.AF_INET6, pysocket.SOCK_STREAM)
            v4 = real("127.0.0.1", port, pysocket.AF_INET, pysocket.SOCK_STREAM)
            return v6 + v4
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(pysocket, "getaddrinfo", resolve)
    with tcp_listen(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with fdsafe.socket.create_connection(("two-addresses.test", port), timeout=5, source_address=source) as s:
            assert s.getpeername() == ("127.0.0.1", port)
            listener.accept()[0].close()


def test_a_connect_timeout_says_timed_out_as_the_stdlib():
    with _full_listener() as address:
        for connect in (lambda: fdsafe.socket.tcp_connect(address, timeout=0.3),
                        lambda: fdsafe.socket.create_connection(address, timeout=0.3),
                        lambda: fdsafe.socket.connect_from(("127.0.0.1", 0), address, timeout=0.3)):
            with pytest.raises(TimeoutError) as timed_out:
                connect()
            assert timed_out.value.errno is None and str(timed_out.value) == "timed out"


def test_a_unix_connect_from_keeps_its_timeout_on_a_full_listener(tmp_path):
    # A Unix stream connect waits for room in a full listener's queue: the timeout bounds
    # it. It was ignored, and the call waited for ever.
    path = str(tmp_path / "full.sock")
    with fdsafe.socket.unix_listen(path, backlog=0) as listener:
        fillers = []
        try:
            while len(fillers) < 8:
                try:
                    fillers.append(fdsafe.socket.connect_from("", path, timeout=0))
                except TimeoutError:
                    break
            assert 1 <= len(fillers) < 8
            start = time.monotonic()
            with pytest.raises(TimeoutError) as timed_out:
                fdsafe.socket.connect_from("", path, timeout=0.2)
            assert 0.15 <= time.monotonic() - start < 2 and str(timed_out.value) == "timed out"
        finally:
            for f in fillers:
                f.close()
