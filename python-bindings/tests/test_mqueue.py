import os
import signal
import time

import pytest

from fdsafe import (EPOLL_IN, Epoll, EventFd, InvalidArgumentError, MessageQueue, SignalFd,
                    WrongKindError)
from fdsafe import mqueue


@pytest.fixture
def name():
    n = f"/fdsafe-py-{os.getpid()}-{time.monotonic_ns()}"
    yield n
    try:
        mqueue.unlink(n)
    except FileNotFoundError:
        pass


def test_send_receive_priorities_and_attributes(name):
    with MessageQueue.open(name, create=True, exclusive=True, max_messages=4, message_size=32) as q:
        assert q.attributes == (False, 4, 32, 0)
        q.send(b"low", 1)
        q.send(b"high", 7)
        assert q.attributes.current_messages == 2
        assert q.receive() == (b"high", 7)
        assert q.receive() == (b"low", 1)
        with pytest.raises(FileExistsError):
            MessageQueue.open(name, create=True, exclusive=True)
    mqueue.unlink(name)
    with pytest.raises(OSError) as err:  # fs.mqueue.msg_max is 10 here, even for root
        MessageQueue.open(name, create=True, max_messages=11, message_size=16).close()
    assert err.value.errno == 22


def test_timeouts_and_nonblocking(name):
    with MessageQueue.open(name, create=True, max_messages=1, message_size=8) as q:
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            q.receive(timeout=0.02)
        assert time.monotonic() - start >= 0.02
        q.send(b"x")
        with pytest.raises(TimeoutError):
            q.send(b"y", timeout=0.02)
        assert q.set_nonblocking(True).nonblocking is False
        with pytest.raises(BlockingIOError):
            q.send(b"y")


def test_epoll_and_signal_notification(name):
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        with MessageQueue.open(name, create=True, max_messages=2, message_size=8) as q, \
                SignalFd.create([signal.SIGUSR2], nonblocking=True) as sfd, Epoll.create() as ep:
            ep.add(q, EPOLL_IN, data="queue")
            ep.add(sfd, EPOLL_IN, data="signal")
            q.notify_signal(signal.SIGUSR2, 5)
            q.send(b"hi")
            got = dict(ep.wait(1.0))
            assert got.get("queue") == EPOLL_IN
            if "signal" not in got:
                got.update(ep.wait(1.0))
            assert got["signal"] == EPOLL_IN
            (info,) = sfd.read_signals()
            assert info.signo == signal.SIGUSR2 and info.int_value == 5 and info.code == -3  # SI_MESGQ
            q.notify_none()
    finally:
        for s in signal.sigpending() - set(old_mask):
            signal.sigtimedwait([s], 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def test_bad_names_and_kinds(name):
    for bad in ("noslash", "/a/b", "/", "/" + "x" * 256):
        with pytest.raises(InvalidArgumentError):
            MessageQueue.open(bad, create=True)
    with pytest.raises(InvalidArgumentError):
        mqueue.unlink("nope")
    e = EventFd.create()
    with pytest.raises(WrongKindError):
        MessageQueue(e.value, owned=False).attributes
    e.close()
