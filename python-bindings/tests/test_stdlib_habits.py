"""The rest of the standard library's habits: star imports that shadow nothing, ResourceWarning
for a collected open handle, io.RawIOBase's None for a would-block read or write (so the io
layers work), sizes checked in Python, select.epoll-like registration, timer results."""
import errno
import gc
import importlib
import io
import os
import pkgutil
import select
import socket
import sys
import warnings

import pytest

import fdsafe
from fdsafe import Epoll, File, TimerFd, pipe, splice
from fdsafe.timerfd import TimerValueNs


# ---------------------------------------------------------------- star imports

def _modules():
    yield "fdsafe"
    for info in pkgutil.iter_modules(fdsafe.__path__):
        # Python modules only: an installed wheel also holds the C library, libfdsafe.so.
        if not info.name.startswith("libfdsafe"):
            yield "fdsafe." + info.name


@pytest.mark.parametrize("name", list(_modules()))
def test_star_import_shadows_no_stdlib_module(name):
    namespace = {}
    exec(f"from {name} import *", namespace)
    names = set(namespace) - {"__builtins__"}
    assert names, f"{name} exports nothing"
    assert not names & set(sys.stdlib_module_names), f"{name} shadows {names & set(sys.stdlib_module_names)}"


@pytest.mark.parametrize("name", list(_modules()))
def test_every_module_has_a_true_all(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    assert len(set(module.__all__)) == len(module.__all__), "a name listed twice"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what does not exist: {missing}"


def test_star_import_keeps_the_stdlib_socket_module():
    namespace = {"socket": socket}
    exec("from fdsafe import *", namespace)
    assert namespace["socket"] is socket
    assert fdsafe.socket.__name__ == "fdsafe.socket", "the submodule is still reachable"


# ---------------------------------------------------------------- ResourceWarning

def test_collected_open_handle_warns_and_closes():
    r, w = pipe()
    fd = w.fileno()
    value = w.value
    with pytest.warns(ResourceWarning, match="unclosed"):
        del w
        gc.collect()
    assert fdsafe.Handle(value, owned=False).closed
    with pytest.raises(OSError):
        os.fstat(fd)  # the descriptor really went
    r.close()


def test_closed_handle_collects_silently():
    r, w = pipe()
    r.close(), w.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del r, w
        gc.collect()


# ---------------------------------------------------------------- io.RawIOBase

def test_buffered_writer_on_a_full_nonblocking_pipe_reports_characters_written():
    # What io.FileIO over os.pipe does, the fdsafe pipe end must do too.
    def fill(raw):
        writer = io.BufferedWriter(raw, buffer_size=4096)
        total = 0
        with pytest.raises(BlockingIOError) as info:
            while True:
                total += writer.write(b"x" * 1000)
        assert info.value.characters_written >= 0
        return total + info.value.characters_written

    r, w = pipe(nonblocking=True)
    with r, w:
        w.capacity = 4096
        ours = fill(w)
        got = 0
        while True:
            chunk = r.read(65536)
            if chunk is None:
                break
            got += len(chunk)
        assert got <= ours, "characters_written counts what the raw stream accepted"
    pr, pw = os.pipe()
    os.set_blocking(pw, False)
    with io.FileIO(pr, "r") as fr, io.FileIO(pw, "w") as fw:
        fill(fw)  # the same contract, from the standard library itself
        assert fr.read(10) is not None


def test_raw_read_returns_none_when_it_would_block():
    r, w = pipe(nonblocking=True)
    with r, w:
        assert r.read(10) is None and r.readinto(bytearray(4)) is None
        w.write(memoryview(b"line one\nline two\n"))
        text = io.TextIOWrapper(io.BufferedReader(r), encoding="utf-8")
        assert text.readline() == "line one\n"
        text.detach().detach()  # the handle is closed by the with block


# ---------------------------------------------------------------- sizes and types

def test_negative_lengths_are_value_errors(tmp_path):
    (tmp_path / "a").write_bytes(b"0123456789")
    with File.open(tmp_path / "a") as a, File.open(tmp_path / "b", read=True, write=True, create=True) as b:
        with pytest.raises(ValueError):
            splice.copy_file_range(a, b, -10)
        assert os.path.getsize(tmp_path / "b") == 0, "nothing copied"
        with pytest.raises(ValueError):
            splice.sendfile(a, b, -1)
    r, w = pipe()
    r2, w2 = pipe()
    with r, w, r2, w2:
        w.write(b"data")
        with pytest.raises(ValueError):
            splice.splice(r, w2, -10)
        with pytest.raises(ValueError):
            splice.tee(r, w2, -1)
        with pytest.raises(ValueError):
            fdsafe.Handle.read(r, -1)
        with pytest.raises(TypeError):
            fdsafe.Handle.read(r, 1.5)
        assert r.read(4) == b"data", "nothing moved by the refused calls"


def test_epoll_takes_handles_descriptors_and_fileno_objects():
    a, b = socket.socketpair()
    r, w = pipe()
    pr, pw = os.pipe()
    with Epoll.create() as ep, a, b, r, w:
        with pytest.raises(TypeError):
            ep.add(object())
        with pytest.raises(TypeError):
            ep.register(r, "in")
        ep.register(a, select.EPOLLIN)   # an object with fileno()
        ep.register(pr, select.EPOLLIN)  # a plain descriptor
        ep.register(r)
        b.send(b"x")
        os.write(pw, b"y")
        w.write(b"z")
        ready = dict(ep.poll(1.0))
        assert set(ready) == {a, pr, r} and all(ev & select.EPOLLIN for ev in ready.values())
        ep.modify(pr, select.EPOLLOUT)
        ep.unregister(a)
        ep.unregister(pr)
        assert dict(ep.poll(0)) == {r: select.EPOLLIN}
        with pytest.raises(OSError):
            ep.unregister(pr)
        ep.register(pr)  # left registered: closing the set closes its duplicate
    os.close(pr), os.close(pw)  # the fd-balance fixture sees any duplicate left open


# ---------------------------------------------------------------- results reach Python

def test_timerfd_nanosecond_forms_return_the_previous_setting():
    with TimerFd.create() as t:
        assert t.set_ns(5_000_000_000, 1_000_000_000) == TimerValueNs(0, 0)
        left = t.get_ns()
        assert 0 < left.value_ns <= 5_000_000_000 and left.interval_ns == 1_000_000_000
        previous = t.set_ns(0)
        assert 0 < previous.value_ns <= left.value_ns and previous.interval_ns == 1_000_000_000
        assert t.get_ns() == TimerValueNs(0, 0)


def test_pipe_set_capacity_returns_the_capacity_in_force():
    r, w = pipe()
    with r, w:
        assert w.set_capacity(5000) == r.capacity >= 5000


# ---------------------------------------------------------------- found by a stranger's first hour

@pytest.fixture
def signals_every_20ms():
    """A no-op SIGALRM handler fired every 20 ms, as a program with a periodic timer has."""
    import signal
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def test_timeouts_run_out_while_signals_keep_arriving(signals_every_20ms):
    # PEP 475: a call interrupted by a signal whose handler returns is retried for what is
    # left of its timeout. Retried with the whole timeout, these never returned.
    import time
    from fdsafe import socket as fs
    from fdsafe.eventfd import EventFd
    from fdsafe.pidfd import PidFd

    def ends_in_time(call):
        start = time.monotonic()
        call()
        assert time.monotonic() - start < 3.0, "the wait outlived its timeout"

    with EventFd.create() as ev, Epoll.create() as ep:
        ends_in_time(lambda: ev.wait(fdsafe.EVENT_IN, 0.3))
        ends_in_time(lambda: ep.poll(0.3))
        ends_in_time(lambda: ep.wait_ns(300_000_000))
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(0.3)

        def times_out():
            with pytest.raises(TimeoutError):
                a.recv(1)
        ends_in_time(times_out)
    with PidFd.spawn(["sleep", "5"]) as child:
        ends_in_time(lambda: child.wait_exit(0.3))
        child.send_signal(9)
        child.wait_exit()


def test_a_nul_inside_a_name_is_a_value_error(tmp_path):
    # The standard library raises "embedded null byte"; C would read up to the NUL and act on
    # another name (these opened, watched and ran the shorter one).
    from fdsafe import MemFd, socket as fs
    from fdsafe.inotify import IN_CREATE, Inotify
    from fdsafe.terminal import spawn_pty
    real = tmp_path / "real"
    real.write_bytes(b"x")
    for call in (lambda: File.open(str(real) + "\0junk"),
                 lambda: File.open(os.fsencode(real) + b"\0junk"),
                 lambda: MemFd.create("a\0b"),
                 lambda: spawn_pty(["echo", "a\0b"]),
                 lambda: fs.unix_listen(str(tmp_path / "s\0x"))):
        with pytest.raises(ValueError, match="embedded null"):
            call()
    with Inotify.create() as ino, pytest.raises(ValueError, match="embedded null"):
        ino.add_watch(str(tmp_path) + "\0/nope", IN_CREATE)
    with MemFd.create(b"bytes-name") as named:  # bytes names, as os.memfd_create takes them
        assert named.size == 0


def test_integers_out_of_range_are_refused_not_wrapped():
    # ctypes wraps an int into the C type silently: 2**32 became a counter of 0, a timer of
    # 584 years fired after a second, a window of 70000 rows read back 4464.
    from fdsafe import socket as fs
    from fdsafe.eventfd import EventFd
    from fdsafe.terminal import open_pty
    with pytest.raises(ValueError):
        EventFd.create(-1)
    with pytest.raises(OverflowError):
        EventFd.create(2**32)
    with TimerFd.create() as timer:
        with pytest.raises(OverflowError):
            timer.set(18446744074.709553)
        with pytest.raises(OverflowError):
            timer.set_ns(2**63)
        timer.set(1e-10)  # under a nanosecond: the shortest timer, not "disarmed"
        assert timer.wait(fdsafe.EVENT_IN, 2) and timer.expirations() == 1
    master, slave = open_pty()
    with master, slave:
        for bad in ((-1, 5), (70000, 5)):
            with pytest.raises((ValueError, OverflowError)):
                master.window_size = bad
        master.window_size = (65535, 80)
        assert master.window_size == (65535, 80)
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        listener.setsockopt(fs.IPPROTO_TCP, fs.TCP_NODELAY, True)  # a bool, as socket takes it
        assert listener.getsockopt(fs.IPPROTO_TCP, fs.TCP_NODELAY) == 1
        with pytest.raises(OverflowError):
            listener.setsockopt(fs.SOL_SOCKET, fs.SO_RCVBUF, 2**40)


def test_every_c_integer_argument_is_checked_not_cut(tmp_path):
    # Each wrapper passes ints to ctypes, which cut them to the C type: shutdown(2**32 + 1)
    # shut the writing side, pwrite at 2**64 wrote at 0, 2**32 + SIGKILL killed, a mode of
    # 2**32 + 0o640 made a 0o640 file. Every declared function now refuses such a value.
    import signal
    from fdsafe import socket as fs
    from fdsafe.inotify import IN_CREATE, IN_MODIFY, Inotify
    from fdsafe.memfd import MemFd
    from fdsafe.pidfd import PidFd
    a, b = fs.unix_pair()
    with a, b:
        with pytest.raises(OverflowError):
            a.shutdown(2**32 + socket.SHUT_WR)
        with pytest.raises(OverflowError):
            a.send(b"x", 2**40)
        b.settimeout(0)
        with pytest.raises(BlockingIOError):
            b.recv(1)  # nothing was shut down or sent
    with MemFd.create("wrap") as m:
        m.write(b"abcdef")
        with pytest.raises(OverflowError):
            m.pwrite(b"ZZ", 2**64)
        with pytest.raises(OverflowError):
            m.seek(0, 2**32)
        assert m.pread(6, 0) == b"abcdef"
    with pytest.raises(OverflowError):
        File.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 2**32 + 0o640)
    assert not (tmp_path / "f").exists()
    with Inotify.create(nonblocking=True) as watcher:
        watcher.add_watch(tmp_path, IN_CREATE)
        with pytest.raises(OverflowError):
            watcher.add_watch(tmp_path, 2**32 + IN_MODIFY)
        (tmp_path / "g").touch()
        assert [e.name for e in watcher] == ["g"]  # the watch kept its mask
    child = PidFd.spawn(["sleep", "5"])
    with child:
        with pytest.raises(OverflowError):
            child.send_signal(2**32 + signal.SIGKILL)
        assert child.wait_exit(0.2) is None  # alive: nothing was sent
        child.send_signal(signal.SIGTERM)
        child.wait_exit(5)


def test_recv_of_nothing_and_fileno_after_close_are_the_stdlib_s():
    import selectors
    from fdsafe import socket as fs
    a, b = fs.unix_pair()
    with b:
        assert a.recv(0) == b""  # at once, as socket.recv(0); the kernel would wait
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            a.close()
            assert a.fileno() == -1  # as socket.fileno() after close
            sel.unregister(a)  # found by its object, as for a closed socket.socket
            assert len(sel.get_map()) == 0


def test_invalid_arguments_are_also_os_errors_with_einval():
    import errno
    from fdsafe import socket as fs
    a, b = fs.unix_pair()
    with a, b:
        with pytest.raises(OSError) as info:
            a.shutdown(7)  # socket.shutdown(7) raises OSError EINVAL
        assert info.value.errno == errno.EINVAL
        assert isinstance(info.value, ValueError) and isinstance(info.value, fdsafe.InvalidArgumentError)


def test_programs_and_open_flags_as_the_stdlib_takes_them(tmp_path):
    from fdsafe.pidfd import PidFd
    from fdsafe.terminal import spawn_pty
    with PidFd.spawn("true") as child:  # a str is the program alone, as for subprocess
        status = child.wait_exit(5)
        assert status is not None and status.exited and status.status == 0
    master, child = spawn_pty("true")  # as pty.spawn("true")
    with master, child:
        status = child.wait_exit(5)
        assert status is not None and status.exited and status.status == 0
    path = tmp_path / "flags"
    with File.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600) as f:  # os.open's habit
        f.write(b"abc")
    assert path.read_bytes() == b"abc" and (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(TypeError):
        File.open(path, os.O_RDONLY, write=True)  # flags or switches, not both


def test_epoll_poll_takes_select_epoll_s_arguments():
    from fdsafe.eventfd import EventFd
    with Epoll.create() as ep, EventFd.create(1) as ev:
        ep.register(ev, select.EPOLLIN)
        assert len(ep.poll(1, -1)) == 1  # maxevents -1: the default, as select.epoll
        assert len(ep.poll(timeout=0, maxevents=10)) == 1
        with pytest.raises(ValueError):
            ep.poll(0, 0)


def test_recvmsg_takes_msg_cmsg_cloexec_and_adopt_says_what_it_needs():
    from fdsafe import Handle, socket as fs
    from fdsafe.eventfd import EventFd
    a, b = fs.unix_pair()
    with a, b, EventFd.create() as ev:
        a.sendmsg([b"h"], [ev])
        m = b.recvmsg(4, 1, socket.MSG_CMSG_CLOEXEC)  # as the stdlib's recvmsg habit passes it
        assert m.data == b"h" and len(m.handles) == 1
        for h in m.handles:
            h.close()
    r, w = os.pipe()
    try:
        with pytest.raises(TypeError, match="kind"):
            Handle.adopt(r)  # the base class cannot know the kind; it says so
    finally:
        os.close(r)
        os.close(w)


def test_a_closed_socket_still_names_its_type_and_family():
    # CPython keeps answering socket.socket.type and .family after close.
    from fdsafe import socket as fs
    with fs.tcp_listen(("127.0.0.1", 0)) as listener:
        assert listener.family == socket.AF_INET
    assert (listener.type, listener.family) == (socket.SOCK_STREAM, socket.AF_INET)
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    a.close()
    b.close()
    assert (a.type, a.family) == (socket.SOCK_DGRAM, socket.AF_UNIX)


def test_handles_refuse_to_be_copied_or_pickled():
    # A copy was a second owner of the same value: collecting it closed the original, and a
    # multiprocessing pool's second task in a worker got EBADF. socket.socket refuses too.
    import copy
    import pickle
    from fdsafe.eventfd import EventFd
    r, w = pipe()
    with r, w, EventFd.create() as ev:
        for h in (w, ev):
            for make_copy in (copy.copy, copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))):
                with pytest.raises(TypeError, match="cannot pickle"):
                    make_copy(h)
        assert w.write(b"x") == 1  # the original still works


def test_a_socket_timeout_holds_whatever_the_shared_file_s_flag_says():
    # The timeout is the handle's; O_NONBLOCK is the open file's, shared with duplicates.
    import time
    from fdsafe import socket as fs
    a, b = fs.unix_pair()
    with a, b:
        a.settimeout(0.3)
        d = a.dup()
        with d:
            assert d.gettimeout() == 0.3  # socket.dup keeps the timeout
            d.settimeout(None)  # clears O_NONBLOCK for both
            import threading
            late = threading.Timer(2.0, lambda: b.send(b"k"))  # ends a wait that ignored the timeout
            late.start()
            start = time.monotonic()
            with pytest.raises(TimeoutError):
                a.recv(1)
            assert time.monotonic() - start < 1.5
            late.join()
        a.settimeout(5)
        assert a.recv(1) == b"k"


def test_open_for_writing_is_write_only_as_open_wb(tmp_path):
    # File.open(p, write=True) opened O_RDWR (read defaulted to True): a file the caller may
    # write but not read could not be opened, and the handle read what open(p, "wb") refuses.
    path = tmp_path / "write-only"
    with File.open(path, write=True, create=True) as f:
        assert f.write(b"w") == 1
        with pytest.raises(io.UnsupportedOperation, match="not open for reading"):  # as an "wb" file
            f.pread(1, 0)
    with File.open(path, append=True) as g:
        assert g.write(b"x") == 1
    with File.open(path) as r:  # nothing asked: reading
        assert r.pread(8, 0) == b"wx"
    with File.open(path, read=True, write=True) as both:
        assert both.pread(1, 0) == b"w"


def test_a_closed_stream_says_so_as_io_does():
    # io.FileIO raises ValueError("I/O operation on closed file") after close; fdsafe's
    # OSError(EBADF) for a closed handle holds too (one error is both).
    r, w = pipe()
    r.close()
    w.close()
    uses = (lambda: r.read(1), lambda: r.readall(), lambda: r.readinto(bytearray(1)), lambda: w.write(b"x"),
            lambda: w.flush(), lambda: r.readable(), lambda: w.writable(), lambda: r.readline())
    for use in uses:
        with pytest.raises(ValueError, match="closed file") as info:
            use()
        assert isinstance(info.value, OSError) and info.value.errno == errno.EBADF
    with pytest.raises(ValueError, match="closed file"):
        with r:  # io.FileIO refuses to enter a closed stream too
            pass
    ep = Epoll.create()
    ep.close()
    with pytest.raises(ValueError, match="closed epoll object") as closed:
        ep.poll(0)  # as select.epoll.poll after close
    assert closed.value.errno == errno.EBADF


def test_a_read_too_large_to_reserve_raises_memory_error_as_os_read():
    """os.read(fd, n) raises MemoryError when it cannot allocate n bytes; so does a handle's
    read (it used to raise OSError ENOMEM from the buffer's mmap)."""
    r, w = fdsafe.pipe(nonblocking=True)
    with r, w:
        # (os.read itself is not called here: under AddressSanitizer, which `make test` runs
        # these tests in too, its malloc of 2**62 bytes aborts the process instead.)
        with pytest.raises(MemoryError):
            r.read(2**62)
