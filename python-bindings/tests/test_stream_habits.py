"""Streams and epoll sets behave as io.FileIO and select.epoll where the standard library
leans on them: a closed one's fileno() raises (subprocess, mmap and selectors rely on it), a
leaked handle's ResourceWarning made an error still reaches sys.unraisablehook, a full
non-blocking pipe's BlockingIOError carries EAGAIN, append mode starts at the end, a set's
dup() shares every registration, and ``with`` keeps the stream's class for type checkers."""
import errno
import gc
import importlib.util
import io
import mmap
import os
import select
import selectors
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import fdsafe
from fdsafe import Epoll, EventFd, File, MemFd, pipe
from fdsafe import socket as fs
from fdsafe.fifo import CharDevice, Fifo, mkfifo
from fdsafe.terminal import open_pty


def _closed_fileio():
    f = io.FileIO(os.devnull, "rb")
    f.close()
    return f


# ---------------------------------------------------------------- fileno() once closed

def _pipe_end():
    r, w = pipe()
    w.close()
    return r


def _fifo(tmp_path):
    path = tmp_path / "fifo"
    mkfifo(path)
    return Fifo.open(path, read=True, nonblocking=True)


def _terminal():
    master, slave = open_pty()
    slave.close()
    return master


STREAMS = {
    "pipe end": lambda tmp_path: _pipe_end(),
    "file": lambda tmp_path: File.open(tmp_path / "file", write=True, create=True),
    "memfd": lambda tmp_path: MemFd.create(),
    "fifo": _fifo,
    "char device": lambda tmp_path: CharDevice.open("/dev/null"),
    "terminal": lambda tmp_path: _terminal(),
}


@pytest.mark.parametrize("kind", list(STREAMS))
def test_closed_stream_fileno_raises_as_fileio(kind, tmp_path):
    stream = STREAMS[kind](tmp_path)
    assert stream.fileno() >= 0
    stream.close()
    with pytest.raises(ValueError, match="I/O operation on closed file") as ours:
        stream.fileno()
    with pytest.raises(ValueError, match="I/O operation on closed file"):
        _closed_fileio().fileno()
    assert isinstance(ours.value, fdsafe.ClosedFileError) and ours.value.errno == errno.EBADF


def test_subprocess_refuses_a_closed_pipe_end_as_a_closed_file():
    # With -1 from fileno(), Popen took "no redirection": the child wrote to our stdout.
    r, w = pipe()
    r.close(), w.close()
    for closed in (w, _closed_fileio()):
        with pytest.raises(ValueError, match="I/O operation on closed file"):
            subprocess.run(["/bin/echo", "must not run"], stdout=closed)
    with pytest.raises(ValueError, match="I/O operation on closed file"):
        subprocess.run(["/bin/cat"], stdin=r, stdout=subprocess.DEVNULL)


def test_mmap_of_a_closed_memfd_raises_as_of_a_closed_file():
    # mmap.mmap(-1, n) is an anonymous mapping: the data would go nowhere, silently.
    m = MemFd.create()
    m.truncate(mmap.PAGESIZE)
    m.close()
    std = io.FileIO(os.memfd_create("std"), "r+b")
    std.truncate(mmap.PAGESIZE)
    std.close()
    for closed in (m, std):
        with pytest.raises(ValueError, match="I/O operation on closed file"):
            mmap.mmap(closed.fileno(), mmap.PAGESIZE)


@pytest.mark.parametrize("make", [pipe, lambda: (lambda r, w: (io.FileIO(r, "rb"), io.FileIO(w, "wb")))(*os.pipe())],
                         ids=["fdsafe", "io.FileIO"])
def test_selectors_unregister_a_closed_stream(make):
    r, w = make()
    with selectors.DefaultSelector() as sel:
        sel.register(r, selectors.EVENT_READ)
        r.close()
        key = sel.unregister(r)  # found by the object when its fileno() raises ValueError
        assert key.fileobj is r and len(sel.get_map()) == 0
    w.close()


def test_closed_epoll_fileno_raises_as_select_epoll():
    std = select.epoll()
    std.close()
    ep = Epoll.create()
    assert ep.fileno() >= 0
    ep.close()
    for closed in (std, ep):
        with pytest.raises(ValueError, match="I/O operation on closed epoll object"):
            closed.fileno()


def test_closed_socket_fileno_is_still_minus_one_as_socket_socket():
    a, b = fs.unix_pair()
    s, t = socket.socketpair()
    for x in (a, b, s, t):
        x.close()
    assert a.fileno() == s.fileno() == -1


# ---------------------------------------------------------------- ResourceWarning as an error

def _unraisable_when_warnings_are_errors(leak):
    """What reaches sys.unraisablehook when ``leak()`` drops an open object while
    ResourceWarning is an error (-W error, pytest's filterwarnings = error)."""
    seen = []  # (type, message): the exception itself would keep the leaking frames alive
    old = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append((unraisable.exc_type, str(unraisable.exc_value)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            leak()
            gc.collect()
    finally:
        sys.unraisablehook = old
    return seen


def test_stdlib_socket_leak_reaches_unraisablehook_when_warnings_are_errors():
    seen = _unraisable_when_warnings_are_errors(lambda: socket.socket(socket.AF_UNIX))
    assert [kind for kind, _ in seen] == [ResourceWarning]


def _write_end():
    r, w = pipe()
    r.close()
    return w


@pytest.mark.parametrize("make", [EventFd.create, _write_end, Epoll.create], ids=["eventfd", "pipe end", "epoll"])
def test_leaked_handle_reaches_unraisablehook_and_is_closed_when_warnings_are_errors(make):
    left = {}

    def leak():
        h = make()
        left["value"], left["fd"] = h.value, h.fileno()

    seen = _unraisable_when_warnings_are_errors(leak)
    assert [kind for kind, _ in seen] == [ResourceWarning]
    assert "unclosed fdsafe handle" in seen[0][1]
    assert fdsafe.Handle(left["value"], owned=False).closed
    with pytest.raises(OSError):
        os.fstat(left["fd"])  # the descriptor really went


@pytest.mark.parametrize("make", [_write_end, Epoll.create], ids=["pipe end", "epoll"])
def test_leak_warning_names_the_users_line(make):
    r_w = [make()]
    with pytest.warns(ResourceWarning, match="unclosed fdsafe handle") as record:
        r_w.clear()
        gc.collect()
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}


# ---------------------------------------------------------------- Epoll.dup and plain descriptors

def test_epoll_dup_shares_plain_descriptor_registrations_as_select_epoll():
    s1, s2 = socket.socketpair()
    std = select.epoll()
    std.register(s1, select.EPOLLIN)
    std2 = select.epoll.fromfd(os.dup(std.fileno()))
    ep = Epoll.create()
    ep.register(s1, fdsafe.EPOLL_IN)
    ep.register(s2.fileno(), fdsafe.EPOLL_IN)  # a plain int
    ep2 = ep.dup()
    try:
        with pytest.raises(FileExistsError):
            std2.register(s1, select.EPOLLIN)
        with pytest.raises(FileExistsError):  # not a second registration of one socket
            ep2.register(s1, fdsafe.EPOLL_IN)
        assert len(ep) == len(ep2) == 2
        s2.send(b"x")
        assert ep.poll(0) == ep2.poll(0) == [(s1, fdsafe.EPOLL_IN)]
        std2.modify(s1, select.EPOLLIN | select.EPOLLOUT)
        ep2.modify(s1, fdsafe.EPOLL_IN | fdsafe.EPOLL_OUT, data="s1")
        assert ep.poll(0) == ep2.poll(0) == [("s1", fdsafe.EPOLL_IN | fdsafe.EPOLL_OUT)]
        std2.unregister(s1)
        ep2.unregister(s1)
        ep2.unregister(s2.fileno())
        assert len(ep) == 0
        with pytest.raises(FileNotFoundError):
            std.unregister(s1)
        with pytest.raises(FileNotFoundError):
            ep.unregister(s1)
    finally:
        ep.close(), ep2.close(), std.close(), std2.close(), s1.close(), s2.close()


def test_epoll_twin_keeps_plain_descriptor_registrations_when_the_other_is_closed():
    s1, s2 = socket.socketpair()
    ep = Epoll.create()
    ep.register(s1, fdsafe.EPOLL_IN)
    ep2 = ep.dup()
    ep.close()
    s2.send(b"x")
    assert ep2.poll(0) == [(s1, fdsafe.EPOLL_IN)]
    twin = ep2.dup()
    with pytest.warns(ResourceWarning):
        del twin  # a collected twin leaves the registrations to ep2 too
    assert ep2.poll(0) == [(s1, fdsafe.EPOLL_IN)]
    ep2.close()  # the last wrapper: its held duplicate goes (the fd_balance fixture checks)
    s1.close(), s2.close()


# ---------------------------------------------------------------- BlockingIOError's errno

def _blocking_errnos(raw):
    """The errno of the BlockingIOError an ``io.BufferedWriter`` raises over ``raw``, the
    write end of a non-blocking pipe, as it fills: in ``write``, then in ``flush``."""
    writer = io.BufferedWriter(raw, buffer_size=4096)
    with pytest.raises(BlockingIOError) as in_write:
        while True:
            writer.write(b"x" * 1000)
    while raw.write(b"z"):  # to the last byte: what the writer left may take a few more
        pass
    small = io.BufferedWriter(raw, buffer_size=16)
    small.write(b"y" * 10)
    with pytest.raises(BlockingIOError) as in_flush:
        small.flush()
    return in_write.value.errno, in_flush.value.errno


def test_buffered_writer_on_a_full_pipe_raises_eagain_as_over_fileio():
    std_r, std_w = os.pipe()
    os.set_blocking(std_w, False)
    with io.FileIO(std_r, "rb"), io.FileIO(std_w, "wb") as std_w:
        theirs = _blocking_errnos(std_w)
    r, w = pipe(nonblocking=True)
    with r, w:
        ours = _blocking_errnos(w)
    assert ours == theirs == (errno.EAGAIN, errno.EAGAIN)


# ---------------------------------------------------------------- append mode

def test_append_mode_starts_at_the_end_as_fileio(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"hello\n")
    with io.FileIO(path, "a") as std:
        at_open = std.tell()
    assert at_open == 6
    with File.open(path, append=True) as f:
        assert f.tell() == at_open
    with File.open(path, os.O_WRONLY | os.O_APPEND) as f:
        assert f.tell() == at_open
    with File.open_directory(tmp_path) as d, d.open_at("log", append=True) as f:
        assert f.tell() == at_open
    with File.open(path, append=True) as f, io.TextIOWrapper(io.BufferedWriter(f)) as text, \
            open(path, "a") as std_text:
        assert text.tell() == std_text.tell() == at_open
        text.write("more\n")
        text.flush()
        assert text.tell() == f.tell() == 11


# ---------------------------------------------------------------- typing

def test_with_block_keeps_the_streams_class_for_mypy(tmp_path):
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    source = tmp_path / "uses.py"
    source.write_text(textwrap.dedent("""\
        from fdsafe import MemFd, PipeEnd, pipe

        def use(m: MemFd) -> int:
            r, w = pipe()
            with r as p:
                end: PipeEnd = p
                n = p.capacity
            with m as f:
                return n + f.size + end.capacity
        """))
    # In a process of its own: mypy's objects would slow every later test's collections.
    env = dict(os.environ, MYPYPATH=str(Path(fdsafe.__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", os.devnull, str(source)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_closed_stdio_fileno_raises_as_a_closed_sys_stream():
    with open(os.devnull, "w") as closed_stream:
        pass
    with pytest.raises(ValueError):
        closed_stream.fileno()  # what sys.stdout does once closed
    out = fdsafe.Stdio.open(fdsafe.STDOUT)
    assert out.fileno() > 2
    out.close()
    with pytest.raises(ValueError) as info:
        out.fileno()
    assert isinstance(info.value, fdsafe.ClosedFileError)
    with pytest.raises(ValueError):  # refused, never the parent's stdout by way of -1
        subprocess.run([sys.executable, "-c", "print('x')"], stdout=out, check=True)
