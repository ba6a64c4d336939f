"""The standard library's habits for the kinds other than sockets: arguments checked as ``os``
and ``signal`` check them (never cut by ctypes, never converted from a float or a str), one
exception for every use after close, ``select.epoll``'s registration of a reused descriptor
number and truthiness, typeshed's raw stream types. Each test names the stdlib call it
follows."""
import contextlib
import errno
import io
import importlib.util
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fdsafe
from fdsafe import (ClosedFileError, Epoll, EventFd, File, InvalidArgumentError, IOBatch, MemFd, MessageQueue,
                    PidFd, SignalFd, TimerFd, open_pty, pipe, spawn_pty)
from fdsafe import splice as sp
from fdsafe.signals import SIG_BLOCK, members, signal_mask, sigset


@pytest.fixture
def restore_mask():
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, old)


# ---------------------------------------------------------------- IOBatch steps

def test_iobatch_read_size_is_checked_before_it_reaches_the_c_structure():
    # -(2**64) + 2**20 was a 1-byte buffer with a 1 MiB op.len (c_size_t wraps): the kernel
    # wrote past the buffer. As os.read: ValueError below 0, OverflowError beyond ssize_t.
    r, w = pipe()
    with r, w:
        for size in (-(2**64) + (1 << 20), -1):
            with pytest.raises(ValueError):
                IOBatch([(r, "r", size)])
        for size in (2**63, 2**64 + 5):
            with pytest.raises(OverflowError):
                IOBatch([(r, "r", size)])
        with pytest.raises(OverflowError):
            os.read(r.fileno(), 2**63)


def test_iobatch_steps_take_what_os_read_and_os_write_take():
    r, w = pipe()
    with r, w:
        with pytest.raises(TypeError):
            os.write(w.fileno(), 5)
        for data in (5, "abc", [1, 2]):  # not five NUL bytes, not an encoding guess
            with pytest.raises(TypeError):
                IOBatch([(w, "w", data)])
        for size in (2.7, "3", True):
            with pytest.raises(TypeError):
                IOBatch([(r, "r", size)])
        for not_a_handle in (r.fileno(), None, object()):
            with pytest.raises(TypeError):
                IOBatch([(not_a_handle, "r", 1)])
        b = IOBatch([(w, "w", bytearray(b"ab")), (w, "w", memoryview(b"cd")), (r, "r", 4)])
        b.run()
        assert b.data(2) == b"abcd"


def test_close_all_refuses_a_non_handle_and_closes_nothing():
    with EventFd.create() as e:
        with pytest.raises(TypeError):
            fdsafe.close_all([e, e.fileno()])
        assert not e.closed
        assert fdsafe.close_all([e]) == 1


def test_iobatch_failure_carries_the_errno_text():
    r, w = pipe()
    w.close()
    dead, _ = pipe()
    dead.close()
    _.close()
    with r:
        with pytest.raises(OSError) as info:
            IOBatch([(r, "r", 1), (dead, "r", 1)]).run()
    assert info.value.errno == errno.EBADF
    assert os.strerror(errno.EBADF) in info.value.strerror
    assert "operation 1" in info.value.strerror


# ---------------------------------------------------------------- integers, as os.kill

def test_send_signal_takes_an_integer_as_os_kill():
    p = PidFd.spawn(["sleep", "30"])
    with p:
        try:
            for bad in (0.9, "0"):
                with pytest.raises(TypeError):
                    os.kill(p.pid, bad)
                with pytest.raises(TypeError):
                    p.send_signal(bad)
            with pytest.raises(OverflowError):
                p.send_signal(2**32 + signal.SIGKILL)  # never cut to SIGKILL
            assert p.poll_exit() is None
            p.send_signal(signal.SIGTERM)
            assert p.wait_exit(5).signal == signal.SIGTERM
        finally:
            with contextlib.suppress(OSError):
                p.send_signal(signal.SIGKILL)
                p.wait_exit(5)


def test_mq_notify_signal_takes_integers():
    name = f"/fdsafe_habits_{os.getpid()}"
    q = MessageQueue.open(name, create=True, exclusive=True)
    try:
        with q:
            for bad in (10.5, "10"):
                with pytest.raises(TypeError):
                    q.notify_signal(bad)
            with pytest.raises(TypeError):
                q.notify_signal(signal.SIGUSR1, 1.5)
            with pytest.raises(OverflowError):
                q.notify_signal(2**32 + signal.SIGUSR1)
    finally:
        MessageQueue.unlink(name)


def test_offsets_given_through_pointers_are_checked(tmp_path):
    m = MemFd.create()
    r, w = pipe()
    f = File.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    with m, r, w, f:
        m.write(b"0123456789")
        for call in (lambda off: sp.splice(m, w, 4, src_offset=off),
                     lambda off: sp.splice(m.fileno(), w, 4, src_offset=off),
                     lambda off: sp.sendfile(m, w, 4, offset=off),
                     lambda off: sp.copy_file_range(m, f, 4, src_offset=off),
                     lambda off: sp.copy_file_range(m, f, 4, src_offset=0, dst_offset=off)):
            with pytest.raises(OverflowError):
                call(2**64 + 2)  # was offset 2
            with pytest.raises(TypeError):
                call(2.0)
            with pytest.raises(ValueError):
                call(-1)
        assert r.wait(timeout=0) == 0  # nothing moved
        assert sp.splice(m, w, 4, src_offset=2) == 4 and r.read(4) == b"2345"
        for bad in (2**64, -1 - 2**63):
            with pytest.raises(OverflowError):
                os.pwrite(m.fileno(), b"ZZ", bad)
            with pytest.raises(OverflowError):
                m.pwrite(b"ZZ", bad)
        assert m.pread(10, 0) == b"0123456789"


def test_chown_ids_are_checked_as_os_fchown(tmp_path):
    with File.open(tmp_path / "f", os.O_RDWR | os.O_CREAT) as f:
        before = os.stat(tmp_path / "f")
        for uid in (2**32 + 1234, -2):
            with pytest.raises(OverflowError):
                os.fchown(f.fileno(), uid, -1)
            with pytest.raises(OverflowError):
                f.chown(uid, -1)  # was uid 1234
            with pytest.raises(OverflowError):
                f.chown(-1, uid)
        with pytest.raises(TypeError):
            f.chown(1.5, -1)
        f.chown(-1, -1)
        f.chown(2**32 - 1, 2**32 - 1)  # (uid_t)-1 too: unchanged, as os.fchown takes it
        after = os.stat(tmp_path / "f")
        assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)


# ---------------------------------------------------------------- signal sets

def test_signal_sets_take_integers_as_pthread_sigmask(restore_mask):
    for bad in (10.7, "10"):
        with pytest.raises(TypeError):
            signal.pthread_sigmask(signal.SIG_BLOCK, [bad])
        with pytest.raises(TypeError):
            sigset([bad])
        with pytest.raises(TypeError):
            signal_mask(SIG_BLOCK, [bad])
        with pytest.raises(TypeError):
            SignalFd.create([bad])
    for bad in (0, 65, -1, 2**32 + signal.SIGUSR1):
        with pytest.raises(ValueError):
            signal.pthread_sigmask(signal.SIG_BLOCK, [bad])
        with pytest.raises(ValueError):
            sigset([bad])
    assert signal.SIGUSR2 not in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert members(sigset([signal.SIGUSR1, 64])) == {signal.SIGUSR1, 64}


# ---------------------------------------------------------------- message queue sizes

def test_mq_zero_capacity_is_refused_not_replaced_by_the_default():
    name = f"/fdsafe_habits_{os.getpid()}"
    for kw in (dict(max_messages=0, message_size=16), dict(max_messages=2, message_size=0),
               dict(max_messages=0), dict(message_size=0)):
        try:
            with pytest.raises(InvalidArgumentError) as info:
                MessageQueue.open(name, create=True, **kw).close()
            assert info.value.errno == errno.EINVAL
        finally:
            with contextlib.suppress(FileNotFoundError):
                MessageQueue.unlink(name)
    with pytest.raises(OverflowError):
        MessageQueue.open(name, create=True, max_messages=2**64 + 5)  # never cut to 5
    with pytest.raises(TypeError):
        MessageQueue.open(name, create=True, max_messages=2.5)
    with MessageQueue.open(name, create=True, max_messages=2) as q:  # None: the default
        assert (q.attributes.max_messages, q.attributes.message_size) == (2, 8192)
    MessageQueue.unlink(name)


# ---------------------------------------------------------------- terminal structures

def test_spawn_pty_window_size_is_checked_as_the_setter():
    m, s = open_pty()
    with m, s:
        for size, error in (((70000, 80), OverflowError), ((-1, 80), ValueError), ((24, 2.5), TypeError)):
            with pytest.raises(error):
                s.window_size = size
            with pytest.raises(error):
                spawn_pty(["true"], window_size=size)  # was 4464 rows, 65535 rows
    t, p = spawn_pty(["stty", "size"], window_size=(65535, 80))
    with t, p:
        out = b""
        with contextlib.suppress(OSError):
            while True:
                chunk = t.read(100)
                if not chunk:
                    break
                out += chunk
        assert out.split() == [b"65535", b"80"]
        assert p.wait_exit(5).status == 0


def test_terminal_settings_fields_are_checked_not_cut():
    m, s = open_pty()
    with m, s:
        settings = s.settings
        bad = settings.copy()
        bad.cc[0] = 256
        with pytest.raises(OverflowError):
            s.apply(bad)
        bad = settings.copy()
        bad.lflag = 2**32 + settings.lflag
        with pytest.raises(OverflowError):
            s.apply(bad)
        with pytest.raises(OverflowError):
            settings.baud = 2**32 + 9600
        assert s.settings == settings


# ---------------------------------------------------------------- use after close

def _closed_errors(calls):
    for name, call in calls:
        with pytest.raises(ClosedFileError) as info:
            call()
        assert isinstance(info.value, ValueError) and info.value.errno == errno.EBADF, name


def test_a_closed_epoll_raises_closed_file_error_everywhere_as_select_epoll():
    e = select.epoll()
    e.close()
    r, w = pipe()
    with r, w:
        with pytest.raises(ValueError):
            e.register(r.fileno())
        ep = Epoll.create()
        ep.register(r)
        ep.register(w.fileno(), select.EPOLLOUT)
        ep.close()
        _closed_errors([("poll", lambda: ep.poll(0)), ("register", lambda: ep.register(r)),
                        ("register fd", lambda: ep.register(w.fileno())),
                        ("unregister", lambda: ep.unregister(r)), ("unregister fd", lambda: ep.unregister(w.fileno())),
                        ("modify", lambda: ep.modify(r, select.EPOLLIN)),
                        ("modify fd", lambda: ep.modify(w.fileno(), select.EPOLLIN)), ("len", lambda: len(ep)),
                        ("wait", lambda: ep.wait(0)), ("pwait", lambda: ep.pwait([], 0)), ("dup", ep.dup),
                        ("nonblocking", lambda: ep.nonblocking)])
        _closed_errors([("read", lambda: ep.read(8)), ("readinto", lambda: ep.readinto(bytearray(8))),
                        ("write", lambda: ep.write(b"x"))])
        # A closed target in an open set is the target's fault: a plain OSError(EBADF).
        with Epoll.create() as ep2:
            dead, other = pipe()
            dead.close()
            other.close()
            with pytest.raises(OSError) as info:
                ep2.register(dead)
            assert info.value.errno == errno.EBADF and not isinstance(info.value, ClosedFileError)


def test_closed_files_and_memfds_raise_closed_file_error_everywhere_as_io(tmp_path):
    f = open(tmp_path / "x", "wb", buffering=0)
    f.close()
    with pytest.raises(ValueError):
        f.seek(0)
    for stream in (MemFd.create(), File.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)):
        stream.close()
        _closed_errors([("read", lambda: stream.read(1)), ("seek", lambda: stream.seek(0)), ("tell", stream.tell),
                        ("pread", lambda: stream.pread(1, 0)), ("pwrite", lambda: stream.pwrite(b"x", 0)),
                        ("truncate", lambda: stream.truncate(0)), ("truncate()", stream.truncate),
                        ("size", lambda: stream.size), ("stat", stream.stat), ("sync", stream.sync),
                        ("allocate", lambda: stream.allocate(0, 1)), ("chmod", lambda: stream.chmod(0o600)),
                        ("chown", lambda: stream.chown(-1, -1)), ("readv", lambda: stream.readv([1])),
                        ("writev", lambda: stream.writev([b"x"])), ("nonblocking", lambda: stream.nonblocking),
                        ("wait", lambda: stream.wait(timeout=0)), ("dup", stream.dup), ("kind", lambda: stream.kind)])


def test_a_closed_timer_still_raises_a_plain_oserror():
    # Only streams and epoll sets take io's and select.epoll's ValueError.
    t = TimerFd.create()
    t.close()
    for call in (t.get, t.expirations, lambda: t.wait(timeout=0), lambda: t.nonblocking):
        with pytest.raises(OSError) as info:
            call()
        assert info.value.errno == errno.EBADF and not isinstance(info.value, ValueError)


def test_a_closed_terminal_raises_closed_file_error_everywhere():
    m, s = open_pty()
    m.close()
    s.close()
    _closed_errors([("read", lambda: m.read(1)), ("settings", lambda: m.settings),
                    ("window_size", lambda: m.window_size), ("isatty", m.isatty), ("drain", m.drain),
                    ("peer_path", lambda: m.peer_path), ("in_waiting", lambda: s.in_waiting)])


# ---------------------------------------------------------------- epoll registration

def test_epoll_registers_a_descriptor_number_reused_by_another_file():
    # As select.epoll: a descriptor registered, closed without unregister, and its number
    # reused by a new file. The set's duplicate of the old file must not stand in for it.
    def reuse(ep):
        r1, w1 = os.pipe()
        ep.register(r1, select.EPOLLIN)
        os.close(r1)
        os.close(w1)
        r2, w2 = os.pipe()
        try:
            assert r2 == r1
            ep.register(r2, select.EPOLLIN)
            os.write(w2, b"x")
            return ep.poll(1)
        finally:
            os.close(r2)
            os.close(w2)

    e = select.epoll()
    with e:
        expected = reuse(e)
    with Epoll.create() as ep:
        assert reuse(ep) == expected == [(expected[0][0], select.EPOLLIN)]
        assert len(ep) == 1  # the old file's registration is gone


def test_epoll_register_of_a_reused_anonymous_inode_number():
    # eventfds share one inode: only kcmp tells two of them apart.
    with EventFd.create() as x, EventFd.create() as y:
        same_file = getattr(fdsafe.epoll, "_same_file", None)
        if same_file is not None and same_file(x.fileno(), y.fileno()):
            pytest.skip("no kcmp here: two eventfds look like one file")
    with Epoll.create() as ep:
        a = EventFd.create().release()
        ep.register(a, select.EPOLLIN)
        os.close(a)
        b = EventFd.create().release()
        try:
            assert b == a
            ep.register(b, select.EPOLLIN)
            os.eventfd_write(b, 1)
            assert ep.poll(1) == [(b, select.EPOLLIN)]
        finally:
            os.close(b)


def test_epoll_registering_the_same_file_again_keeps_its_registration():
    r, w = os.pipe()
    try:
        with Epoll.create() as ep:
            ep.register(r, select.EPOLLIN)
            with pytest.raises(FileExistsError):
                ep.register(r, select.EPOLLIN)  # as select.epoll
            os.write(w, b"x")
            assert ep.poll(1) == [(r, select.EPOLLIN)]  # the failed call dropped nothing
            ep.unregister(r)
    finally:
        os.close(r)
        os.close(w)


def test_an_empty_epoll_is_true_as_select_epoll():
    with select.epoll() as e:
        assert bool(e)
    with Epoll.create() as ep:
        assert len(ep) == 0
        assert bool(ep)
        assert (ep or None) is ep


# ---------------------------------------------------------------- typing

def test_raw_streams_type_check_as_buffered_raw_streams(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    source = tmp_path / "uses.py"
    source.write_text(textwrap.dedent("""\
        import io
        from fdsafe import File, MemFd, pipe

        def use(f: File, m: MemFd) -> None:
            r, w = pipe()
            io.BufferedReader(r)
            io.BufferedReader(f)
            io.BufferedReader(m)
            io.BufferedWriter(w)
            io.BufferedRandom(m)
            io.TextIOWrapper(io.BufferedReader(r))
            data = r.read(1)
            if data is not None:
                data.decode()
        """))
    # In a process of its own: mypy's objects would slow every later test's collections.
    env = dict(os.environ, MYPYPATH=str(Path(fdsafe.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, str(source)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_failure_between_a_call_and_its_message_changes_neither_class_nor_state(monkeypatch):
    # A signal handler or a finalizer may make a failing fdsafe call after a failed call and
    # before its message is read, replacing this thread's last error. The error's class must
    # not follow that message: a write to a live read-only end is io.UnsupportedOperation.
    real_last_error = fdsafe.errors.last_error
    stale = EventFd.create()
    stale_value = stale._value
    stale.close()

    def interfering():
        fdsafe.errors.lib.fdsafe_close(stale_value)  # "fdsafe_close: stale handle: ... closed"
        return real_last_error()

    r, w = pipe()
    with r, w:
        monkeypatch.setattr(fdsafe.errors, "last_error", interfering)
        with pytest.raises(io.UnsupportedOperation):
            r.write(b"x")
        monkeypatch.setattr(fdsafe.errors, "last_error", real_last_error)
    # Closing again what this object closed makes no call, so it replaces no message.
    with pytest.raises(OSError):
        w.write(b"x")
    message = fdsafe.last_error()
    assert message.startswith("fdsafe_write")
    stale.close()
    r.close()
    assert fdsafe.last_error() == message


def test_module_state_survives_a_reload():
    # importlib.reload re-runs a module over its old namespace. Registries must carry over:
    # a fresh key count would hand a new registration a key a live set still holds (its
    # events then named the wrong object), and a fresh kind table would make bare Handles.
    code = textwrap.dedent("""
        import importlib, fdsafe, fdsafe.epoll, fdsafe.handle
        from fdsafe import pipe, socket
        ra, wa = pipe(); rb, wb = pipe()
        ep = fdsafe.epoll.Epoll.create()
        ep.add(ra)
        importlib.reload(fdsafe.epoll)
        importlib.reload(fdsafe.handle)
        ep.add(rb)
        wa.write(b"x")
        events = ep.wait(0)
        assert [data is ra for data, _ in events] == [True], events
        a, b = socket.unix_pair()
        assert hasattr(a, "recv"), type(a)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok"]
