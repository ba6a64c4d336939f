"""Cases ported from CPython's own tests (Lib/test/test_epoll.py, test_os.py's EventfdTests,
test_signal.py's pthread_sigmask and sigwait tests, test_selectors.py), adapted to fdsafe's
objects: where fdsafe and the standard library overlap, they must answer alike. Then what a
stranger found when threads share the objects."""
import errno
import os
import select
import selectors
import signal
import socket
import threading
import time
import pytest
import fdsafe
from fdsafe import Epoll, EventFd, SignalFd, TimerFd, signal_mask, SIG_BLOCK, SIG_SETMASK

# ---- test_epoll.py
def _connected_pair():
    a, b = socket.socketpair()
    return a, b

def test_create_and_close():
    ep = Epoll.create()
    assert ep.fileno() > 0
    assert not ep.closed
    ep.close()
    assert ep.closed
    with pytest.raises(ValueError):
        ep.fileno()

def test_context_manager():
    with Epoll.create() as ep:
        assert not ep.closed
    assert ep.closed
    with pytest.raises(ValueError):   # select.epoll: "I/O operation on closed epoll object"
        with ep:
            pass

def test_add():
    server, client = _connected_pair()
    ep = Epoll.create()
    try:
        ep.register(server.fileno(), select.EPOLLIN | select.EPOLLOUT)
        ep.register(client, select.EPOLLIN | select.EPOLLOUT)
    finally:
        ep.unregister(server.fileno())
        ep.unregister(client)
        ep.close()
    with pytest.raises(TypeError):
        Epoll.create().register(1, "x")   # bad event mask
    with pytest.raises(TypeError):
        Epoll.create().register(None, select.EPOLLIN)
    with pytest.raises(OSError) as cm:     # epoll on a closed fd
        Epoll.create().register(9999, select.EPOLLIN)
    assert cm.value.errno == errno.EBADF
    # add twice
    ep = Epoll.create()
    ep.register(server, select.EPOLLIN)
    with pytest.raises(FileExistsError):
        ep.register(server, select.EPOLLIN)
    ep.unregister(server)
    ep.close()
    server.close()
    client.close()

def test_fromfd():
    server, client = _connected_pair()
    with Epoll.create() as ep:
        ep2 = Epoll.fromfd(os.dup(ep.fileno()))
        ep2.register(server.fileno(), select.EPOLLIN | select.EPOLLOUT)
        ep2.register(client.fileno(), select.EPOLLIN | select.EPOLLOUT)
        events = ep.poll(1, 4)
        events2 = ep2.poll(0.9, 4)
        assert len(events) == 2 and len(events2) == 2
        ep2.unregister(server.fileno())
        ep2.unregister(client.fileno())
        ep2.close()
    with pytest.raises(OSError) as cm:
        Epoll.fromfd(9999)
    assert cm.value.errno == errno.EBADF
    server.close()
    client.close()

def test_control_and_wait():
    client, server = _connected_pair()
    ep = Epoll.create()
    ep.register(server.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLET)
    ep.register(client.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLET)
    now = time.monotonic()
    events = ep.poll(1, 4)
    assert time.monotonic() - now < 0.1
    events.sort()
    expected = [(client.fileno(), select.EPOLLOUT), (server.fileno(), select.EPOLLOUT)]
    expected.sort()
    assert events == expected
    events = ep.poll(timeout=0.1, maxevents=4)
    assert events == []
    client.send(b"Hello!")
    server.send(b"world!!!")
    events = ep.poll(1, 4)
    events.sort()
    expected = [(client.fileno(), select.EPOLLIN | select.EPOLLOUT), (server.fileno(), select.EPOLLIN | select.EPOLLOUT)]
    expected.sort()
    assert events == expected
    ep.unregister(client.fileno())
    ep.modify(server.fileno(), select.EPOLLOUT)
    events = ep.poll(1, 4)
    assert events == [(server.fileno(), select.EPOLLOUT)]
    ep.unregister(server.fileno())
    ep.close()
    client.close()
    server.close()

def test_errors():
    with pytest.raises(ValueError):
        Epoll.create().register(-1, select.EPOLLIN)
    with pytest.raises(FileNotFoundError):   # select.epoll: OSError(ENOENT)
        Epoll.create().unregister(EventFd.create())

def test_unregister_closed():
    """select.epoll raises EBADF for unregistering a descriptor already closed (the kernel
    dropped it with the file). fdsafe's set holds a duplicate of a descriptor registered by
    number, so the file lives on: unregistering after the close is accepted, and it is what
    releases the duplicate, so the peer sees the connection end."""
    server, client = _connected_pair()
    fd = server.fileno()
    ep = Epoll.create()
    ep.register(server)
    ep.poll(1, 4)
    server.close()
    client.settimeout(1.0)
    ep.unregister(fd)
    assert client.recv(1) == b""  # the duplicate is gone: end of stream
    with pytest.raises(FileNotFoundError):
        ep.unregister(fd)  # and the number is unknown now
    ep.close()
    client.close()


def test_close():
    open_file = open(__file__, "rb")
    ep = Epoll.create()
    ep.close()
    ep.close()                       # idempotent
    with pytest.raises(ValueError): ep.fileno()
    with pytest.raises(ValueError): ep.poll(1.0)
    with pytest.raises(ValueError): ep.register(open_file.fileno(), select.EPOLLIN)
    with pytest.raises(ValueError): ep.modify(open_file.fileno(), select.EPOLLIN)
    with pytest.raises(ValueError): ep.unregister(open_file.fileno())
    open_file.close()

def test_fd_non_inheritable():
    ep = Epoll.create()
    assert os.get_inheritable(ep.fileno()) is False
    ep.close()

# ---- test_os.EventfdTests
def test_eventfd_initval():
    def pack(value): return value.to_bytes(8, "little")
    initval = 42
    e = EventFd.create(initval)
    assert e.read(8) == pack(initval)
    e.close()

def test_eventfd_semaphore():
    e = EventFd.create(2, semaphore=True, nonblocking=True)
    assert e.read_value() == 1
    assert e.read_value() == 1
    with pytest.raises(BlockingIOError): e.read_value()
    e.close()

def test_eventfd_write_read():
    e = EventFd.create(0, nonblocking=True)
    with pytest.raises(BlockingIOError): e.read_value()
    e.add(1)
    assert e.read_value() == 1
    e.add(2)
    e.add(3)
    assert e.read_value() == 5
    e.add(2**64 - 2)
    with pytest.raises(BlockingIOError): e.add(42)
    assert e.read_value() == 2**64 - 2
    e.close()

def test_eventfd_select():
    e = EventFd.create(0, nonblocking=True)
    rfd, wfd, xfd = select.select([e], [e], [e], 0)
    assert rfd == [] and wfd == [e] and xfd == []
    e.add(1)
    rfd, wfd, xfd = select.select([e], [e], [e], 0)
    assert rfd == [e] and wfd == [e]
    assert e.read_value() == 1
    e.add(2**64 - 2)
    rfd, wfd, xfd = select.select([e], [e], [e], 0)
    assert rfd == [e] and wfd == []
    assert e.read_value() == 2**64 - 2
    e.close()

def test_eventfd_negative_add_is_valueerror():
    # os.eventfd_write(fd, -1) raises ValueError("value must be positive")
    e = EventFd.create()
    with pytest.raises(ValueError):
        e.add(-1)

# ---- test_signal pthread_sigmask / sigwait
def test_pthread_sigmask_arguments():
    with pytest.raises(TypeError): signal_mask()
    with pytest.raises(TypeError): signal_mask(1)
    with pytest.raises(OSError): signal_mask(1700, [])
    with pytest.raises(ValueError): signal_mask(SIG_BLOCK, [signal.NSIG])
    with pytest.raises(ValueError): signal_mask(SIG_BLOCK, [0])
    with pytest.raises(ValueError): signal_mask(SIG_BLOCK, [1 << 1000])

def test_pthread_sigmask_valid_signals():
    s = signal_mask(SIG_BLOCK, signal.valid_signals())
    try:
        assert set(signal_mask(SIG_BLOCK, [])) <= set(signal.valid_signals())
    finally:
        signal_mask(SIG_SETMASK, s)

def test_pthread_sigmask_returns_signals_enum():
    old = signal_mask(SIG_BLOCK, [signal.SIGUSR1])
    try:
        cur = signal_mask(SIG_BLOCK, [])
        assert signal.SIGUSR1 in cur
        assert all(isinstance(s, signal.Signals) for s in cur if s in signal.Signals._value2member_map_), cur
    finally:
        signal_mask(SIG_SETMASK, old)

def test_sigwait_like_signalfd():
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    sf = SignalFd.create([signal.SIGALRM])
    try:
        signal.alarm(1)
        recs = sf.read_signals()
        assert [r.signo for r in recs] == [signal.SIGALRM]
    finally:
        sf.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

def test_sigwait_thread_signalfd():
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    sf = SignalFd.create([signal.SIGUSR1])
    def kill_later():
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGUSR1)
    t = threading.Thread(target=kill_later)
    t.start()
    try:
        assert [r.signo for r in sf.read_signals()] == [signal.SIGUSR1]
    finally:
        t.join()
        sf.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

# ---- test_selectors
@pytest.mark.parametrize("cls", [selectors.DefaultSelector, selectors.SelectSelector, selectors.PollSelector, selectors.EpollSelector])
def test_selectors_register_unregister_closed(cls):
    s = cls()
    e = EventFd.create()
    key = s.register(e, selectors.EVENT_READ, "data")
    assert key.fileobj is e and key.fd == e.fileno()
    with pytest.raises(KeyError): s.register(e, selectors.EVENT_READ)
    e.add(1)
    assert [(k.data, m) for k, m in s.select(0)] == [("data", selectors.EVENT_READ)]
    e.close()
    s.unregister(e)       # test_unregister_after_fd_close / fileobj close
    assert len(s.get_map()) == 0
    s.close()

def test_selectors_timeout_timerfd():
    s = selectors.DefaultSelector()
    t = TimerFd.create()
    s.register(t, selectors.EVENT_READ)
    t0 = time.monotonic()
    assert s.select(0.05) == []
    assert time.monotonic() - t0 >= 0.04
    t.set(0.01)
    assert len(s.select(1)) == 1
    s.unregister(t)
    t.close()
    s.close()

def test_epoll_fdsafe_as_selector_backend_modify_data():
    # selectors.EpollSelector-like use of fdsafe.Epoll: data round-trips through modify
    ep = Epoll.create()
    e = EventFd.create(1)
    ep.register(e, select.EPOLLIN, data="a")
    ep.modify(e, select.EPOLLIN, data="b")
    assert ep.poll(0) == [("b", select.EPOLLIN)]
    ep.close()
    e.close()


# ---- threads sharing the objects (found by a stranger; each failed on the old code)
def test_eventfd_read_by_several_threads_counts_every_add():
    """Four threads read one EventFd while 20,000 adds of 1 arrive: the values read add up
    to exactly 20,000 (each read's answer used to land in one buffer shared by all)."""
    e = EventFd.create(nonblocking=True)
    totals, done = [0] * 4, threading.Event()

    def reader(i):
        while True:
            try:
                totals[i] += e.read_value()
            except BlockingIOError:
                if done.is_set():
                    return

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in readers:
        t.start()
    for _ in range(20_000):
        e.add(1)
    done.set()
    for t in readers:
        t.join()
    try:
        left = e.read_value()
    except BlockingIOError:
        left = 0
    assert sum(totals) + left == 20_000
    e.close()


def test_epoll_modify_from_another_thread_keeps_the_data():
    """A worker re-arms a one-shot registration while the loop polls: the loop gets the
    registration's data, never a bare handle (the key used to change under the waiter)."""
    ep = Epoll.create()
    e = EventFd.create(1)
    r, w = os.pipe()
    try:
        ep.register(e, select.EPOLLIN | select.EPOLLONESHOT, data="eventfd")
        ep.register(r, select.EPOLLIN | select.EPOLLONESHOT, data="pipe")
        os.write(w, b"x")
        seen, stop = [], threading.Event()

        def rearm():
            while not stop.is_set():
                ep.modify(e, select.EPOLLIN | select.EPOLLONESHOT, data="eventfd")
                ep.modify(r, select.EPOLLIN | select.EPOLLONESHOT, data="pipe")

        worker = threading.Thread(target=rearm)
        worker.start()
        try:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                seen.extend(data for data, _ in ep.poll(0.01))
        finally:
            stop.set()
            worker.join()
        assert seen, "the re-armed registrations reported nothing"
        assert set(seen) <= {"eventfd", "pipe"}, {type(x).__name__ for x in seen}
    finally:
        ep.close()
        e.close()
        os.close(r)
        os.close(w)


def test_arguments_answer_as_the_standard_library():
    with Epoll.create() as ep:
        with pytest.raises(TypeError, match="timeout"):
            ep.poll("1")  # type: ignore[arg-type]
        assert ep.poll(0, 2**40) == []  # select.epoll: fine below INT_MAX; never a MemoryError
        with pytest.raises(ValueError):
            ep.poll(0, 0)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        with SignalFd.create([signal.SIGUSR2], nonblocking=True) as sf:
            with pytest.raises(BlockingIOError):
                sf.read_signals(10**9)  # capped at one read's worth, not allocated
            with pytest.raises(ValueError):
                sf.read_signals(-1)
            with pytest.raises(TypeError):
                sf.read_signals(1.5)  # type: ignore[arg-type]
        with fdsafe.Inotify.create(nonblocking=True) as ino:
            with pytest.raises(TypeError):
                ino.read_events(1.5)  # type: ignore[arg-type]
            with pytest.raises(BlockingIOError):
                ino.read_events(10**12)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    with EventFd.create(nonblocking=True) as e:
        class Two:
            def __index__(self):
                return 2
        e.add(Two())  # as os.eventfd_write: an __index__ is an integer
        assert e.read_value() == 2
        with pytest.raises(OverflowError):
            e.add(2**64)
        with pytest.raises(TypeError):
            e.add(1.0)  # type: ignore[arg-type]
