"""Files, pipes, memfds and pidfds where a comparison with os, io, pickle and subprocess
found them behaving otherwise: the cost of a large read, waiting for a process that is not
our child, copying errors, leak warnings through the buffered layers, closed and
wrong-mode streams, names and modes, OSError.filename, open flags, integer-like sizes,
argument types and the PATH a spawn searches."""
import concurrent.futures
import copy
import errno
import gc
import inspect
import io
import multiprocessing
import os
import pickle
import subprocess
import sys
import warnings

import pytest

import fdsafe
from fdsafe import File, MemFd, pipe
from fdsafe.errors import ClosedFileError
from fdsafe.fifo import CharDevice, Fifo, mkfifo
from fdsafe.inotify import IN_CREATE
from fdsafe.socket import SOCK_DGRAM, unix_pair
from fdsafe.terminal import open_pty


# ---------------------------------------------------------------- the cost of a large read

def _vm(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


def _peak_rss_growth(call):
    """How far above the resident size before it call() took the peak resident size."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from the resident size now
    before = _vm("VmRSS")
    call()
    return _vm("VmHWM") - before


BIG = 256 << 20  # before the fix, each of these reads touched about twice this


def test_large_read_costs_what_it_reads_as_os_read():
    r, w = pipe()
    with r, w:
        w.write(b"abc")
        got = []
        assert _peak_rss_growth(lambda: got.append(r.read(BIG))) < 32 << 20
        assert got == [b"abc"]
        w.write(b"defg")
        assert _peak_rss_growth(lambda: got.append(r.readv([1, BIG, 2]))) < 32 << 20
        assert got[1] == [b"d", b"efg", b""]


def test_large_pread_costs_what_it_reads_as_os_pread():
    with MemFd.create() as m:
        m.write(b"abc")
        got = []
        assert _peak_rss_growth(lambda: got.append(m.pread(BIG, 1))) < 32 << 20
        assert got == [b"bc"]


def test_large_receives_cost_what_they_receive_as_socket_recv():
    a, b = unix_pair(SOCK_DGRAM)
    with a, b:
        got = []
        for receive in (lambda: b.recv(BIG), lambda: b.recvfrom(BIG)[0], lambda: b.recvmsg(BIG)[0],
                        lambda: b.recv_fds(BIG, 1).data):
            a.send(b"abc")
            assert _peak_rss_growth(lambda: got.append(receive())) < 32 << 20
        assert got == [b"abc"] * 4
        data = os.urandom(200_000)
        a.send(data)
        assert b.recv(len(data) + 1) == data  # above the lazy size, every byte


def test_reads_above_and_below_the_lazy_size_return_the_data():
    data = os.urandom(300_000)
    with MemFd.create() as m:
        m.write(data)
        for size in (0, 1, 65536, 65537, 300_000, 1 << 20):
            assert m.pread(size, 0) == data[:size]
            m.seek(0)
            assert m.read(size) == data[:size]
            m.seek(0)
            assert m.readv([size, 100_000, 5]) == [data[:size], data[size:size + 100_000],
                                                   data[size + 100_000:size + 100_005]]


# ---------------------------------------------------------------- errors through pickle and copy

def _errors():
    from fdsafe import errors as e
    yield e.WrongKindError(e.FDSAFE_E_WRONG_KIND, "wrong kind")
    yield e.BufferTooSmallError(e.FDSAFE_E_BUFFER_TOO_SMALL, "too small")
    yield e.InternalError(e.FDSAFE_E_INTERNAL, "a bug")
    yield e.FdsafeError(e.FDSAFE_E_INTERNAL, "any")
    yield e.InvalidArgumentError(e.FDSAFE_E_INVALID_ARGUMENT, "refused")
    named = e.InvalidArgumentError(e.FDSAFE_E_INVALID_ARGUMENT, "refused")
    named.filename, named.filename2 = "/a", b"/b"
    yield named
    yield e.ClosedFileError(errno.EBADF, "I/O operation on closed file")


def _same_error(a, b):
    assert type(a) is type(b) and a.args == b.args and str(a) == str(b) and vars(a) == vars(b)
    if isinstance(a, OSError):
        assert (a.errno, a.strerror, a.filename, a.filename2) == (b.errno, b.strerror, b.filename, b.filename2)


@pytest.mark.parametrize("err", list(_errors()), ids=lambda err: type(err).__name__)
def test_errors_survive_pickle_and_copy_as_the_stdlibs(err):
    for again in (copy.copy(err), copy.deepcopy(err), pickle.loads(pickle.dumps(err))):
        _same_error(err, again)


def _wrong_kind():
    r, w = pipe()
    with r, w:
        fdsafe.PidFd(r.value, owned=False).waitid()


def test_a_workers_error_reaches_the_caller_of_a_process_pool():
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(fdsafe.WrongKindError):  # was: BrokenProcessPool
            pool.submit(_wrong_kind).result(timeout=30)


# ---------------------------------------------------------------- leak warnings through io's layers

@pytest.mark.parametrize("layers", ["buffered", "text"])
def test_leaked_stream_under_io_layers_warns_as_fileio(layers, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x\n")

    def leak():
        f = io.BufferedReader(File.open(path))
        if layers == "text":
            f = io.TextIOWrapper(f, encoding="ascii")
        fd = f.fileno()
        del f
        gc.collect()
        return fd

    with pytest.warns(ResourceWarning, match=r"unclosed fdsafe handle File .* in <_io\.(BufferedReader|TextIOWrapper)"):
        fd = leak()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed all the same
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with io.BufferedReader(File.open(path)) as f:  # closed: nothing to say
            pass
        del f
        gc.collect()


# ---------------------------------------------------------------- every method once closed

def _closed_pipe_end(tmp_path):
    r, w = pipe()
    w.close()
    return r


def _closed_fifo(tmp_path):
    mkfifo(tmp_path / "fifo")
    return Fifo.open(tmp_path / "fifo", read=True, nonblocking=True)


def _closed_terminal(tmp_path):
    master, slave = open_pty()
    slave.close()
    return master


CLOSABLE_STREAMS = {
    "pipe end": _closed_pipe_end,
    "file": lambda tmp_path: File.open(tmp_path / "f", write=True, create=True),
    "memfd": lambda tmp_path: MemFd.create(),
    "fifo": _closed_fifo,
    "char device": lambda tmp_path: CharDevice.open("/dev/null"),
    "terminal": _closed_terminal,
}
# Arguments for the methods that need some; the rest are called without.
_ARGS = {"read": (1,), "readinto": (bytearray(1),), "write": (b"x",), "writelines": ([b"x"],),
         "writev": ([b"x"],), "readv": ([1],), "seek": (0,), "truncate": (0,), "pread": (1, 0),
         "pwrite": (b"x", 0), "allocate": (0, 1), "chmod": (0o600,), "chown": (-1, -1),
         "set_capacity": (4096,), "add_seals": (1,), "open_at": ("x",), "flow": (0,), "spawn": (["true"],)}
# What a closed stream still answers: its state, its identity, and closing again; the name
# and mode it was opened with by path (as io.FileIO: tested with them below).
_STILL_ANSWERED = {"close", "closed", "value", "adopt", "wrap", "open", "create", "tmpfile", "open_directory",
                   "name", "mode"}


@pytest.mark.parametrize("kind", list(CLOSABLE_STREAMS))
def test_every_method_of_a_closed_stream_raises_closed_file_error(kind, tmp_path):
    stream = CLOSABLE_STREAMS[kind](tmp_path)
    stream.close()
    cls = type(stream)
    names = [n for n in dir(cls) if not n.startswith("_") and n not in _STILL_ANSWERED and n != "KIND"]
    names += ["__iter__", "__enter__"]
    if kind == "terminal":
        names.remove("apply")  # takes settings: checked below with the ones it had
    for name in names:
        member = inspect.getattr_static(cls, name)
        with pytest.raises(ClosedFileError):
            if isinstance(member, property):
                getattr(stream, name)
            else:
                getattr(stream, name)(*_ARGS.get(name, ()))
            pytest.fail(f"{kind}.{name} answered once closed")
    if kind == "terminal":
        with pytest.raises(ClosedFileError):
            stream.apply(fdsafe.TerminalSettings())


# ---------------------------------------------------------------- use against the access mode

def test_use_against_the_access_mode_raises_unsupported_operation_as_fileio(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with io.FileIO(path) as f, pytest.raises(io.UnsupportedOperation, match="not open for writing"):
        f.write(b"x")
    with File.open(path) as f:
        for call in (lambda: f.write(b"x"), lambda: f.truncate(0), lambda: f.pwrite(b"x", 0),
                     lambda: f.writev([b"x"]), lambda: f.writelines([b"x"])):
            with pytest.raises(io.UnsupportedOperation, match="File not open for writing"):
                call()
    with File.open(path, write=True) as f:
        for call in (lambda: f.read(1), f.read, f.readall, lambda: f.readinto(bytearray(1)),
                     lambda: f.pread(1, 0), lambda: f.readv([1]), f.readline):
            with pytest.raises(io.UnsupportedOperation, match="File not open for reading"):
                call()
    r, w = pipe()
    with r, w:
        with pytest.raises(io.UnsupportedOperation, match="not open for writing"):
            r.write(b"x")
        with pytest.raises(io.UnsupportedOperation, match="not open for reading"):
            w.read(1)
    assert path.read_bytes() == b"data"


# ---------------------------------------------------------------- name and mode

@pytest.mark.parametrize("flags, keywords, expected", [
    ("r", {}, "rb"), ("w", {"write": True, "create": True, "truncate": True}, "wb"),
    ("r+", {"read": True, "write": True}, "rb+"), ("w+", {"read": True, "write": True, "create": True}, "rb+"),
    ("a", {"append": True}, "ab"), ("a+", {"read": True, "append": True}, "ab+"),
    ("x", {"write": True, "create": True, "exclusive": True}, "xb"),
    ("x+", {"read": True, "write": True, "create": True, "exclusive": True}, "xb+"),
])
def test_file_name_and_mode_as_fileio(flags, keywords, expected, tmp_path):
    if flags.startswith("r"):
        (tmp_path / "std").write_bytes(b"")
    with io.FileIO(tmp_path / "std", flags) as std:
        assert std.mode == expected
    for i, as_given in enumerate((str, os.fsencode, lambda p: p)):
        path = tmp_path / str(i)
        if "x" not in flags:
            path.write_bytes(b"")
        name = as_given(path)
        with File.open(name, **keywords) as f:
            assert f.name is name and f.mode == expected
            layer = io.BufferedReader(f) if f.readable() else io.BufferedWriter(f)
            assert repr(layer).endswith(f"name={name!r}>")
        assert f.name is name and f.mode == expected, "still known once closed, as FileIO's"


def test_name_and_mode_of_other_streams(tmp_path):
    with File.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_APPEND) as f:
        assert f.mode == "ab"
    with File.open_directory(tmp_path) as d:
        assert (d.name, d.mode) == (tmp_path, "rb")
        with d.open_at("g", read=True, write=True, create=True) as g:
            assert (g.name, g.mode) == ("g", "rb+")
    with CharDevice.open("/dev/null", write=True) as c:
        assert (c.name, c.mode) == ("/dev/null", "wb")
    r, w = pipe()
    with r, w, io.FileIO(os.dup(w.fileno()), "w") as std:
        assert (r.name, r.mode) == (r.fileno(), "rb")
        assert (w.name, w.mode, std.mode) == (w.fileno(), "wb", "wb")
    with pytest.raises(ClosedFileError):
        r.name


# ---------------------------------------------------------------- OSError.filename

def test_path_failures_name_the_path_as_os_open(tmp_path):
    missing = tmp_path / "no-such-dir" / "x"
    with pytest.raises(FileNotFoundError) as std:
        os.open(missing, os.O_RDONLY)
    assert std.value.filename == str(missing)  # os.fspath of a path-like one
    with File.open_directory(tmp_path) as d, fdsafe.Inotify.create() as ino:
        for as_given in (missing, str(missing), os.fsencode(missing)):
            for call in (lambda: File.open(as_given), lambda: File.open_directory(as_given),
                         lambda: File.tmpfile(as_given), lambda: mkfifo(as_given),
                         lambda: fdsafe.mknod(as_given, fdsafe.NODE_FIFO),
                         lambda: Fifo.open(as_given, read=True), lambda: CharDevice.open(as_given),
                         lambda: fdsafe.Terminal.open(as_given), lambda: ino.add_watch(as_given, IN_CREATE)):
                with pytest.raises(FileNotFoundError) as info:
                    call()
                assert info.value.filename == os.fspath(as_given)
        with pytest.raises(FileNotFoundError) as info:
            d.open_at("no-such-dir/x")
        assert info.value.filename == "no-such-dir/x"
    with pytest.raises(fdsafe.InvalidArgumentError) as refused:
        Fifo.open(tmp_path, read=True)  # not a FIFO: fdsafe's refusal of that path
    assert refused.value.filename == str(tmp_path)


# ---------------------------------------------------------------- open flags

def test_truncate_without_write_is_refused_and_leaves_the_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"precious")
    with pytest.raises(ValueError, match="truncate needs write"):
        File.open(path, truncate=True)  # was: emptied, and a read-only handle
    with pytest.raises(ValueError, match="truncate needs write"):
        File.open(path, read=True, truncate=True)
    with File.open_directory(tmp_path) as d, pytest.raises(ValueError):
        d.open_at("f", truncate=True)
    assert path.read_bytes() == b"precious"
    with File.open(path, write=True, truncate=True) as f:
        assert f.mode == "wb"
    assert path.read_bytes() == b""


# ---------------------------------------------------------------- integer-like sizes

class _Size:
    """An integer only through __index__, as operator.index takes it."""

    def __init__(self, n):
        self.n = n

    def __index__(self):
        return self.n


def test_sizes_take_what_operator_index_takes_as_os_read():
    with MemFd.create() as m:
        m.write(b"abcdef")
        m.seek(0)
        with io.FileIO(os.dup(m.fileno())) as std:
            assert std.read(_Size(2)) == b"ab" and std.read(True) == b"c"
        m.seek(0)
        assert m.read(_Size(2)) == b"ab" and m.read(True) == b"c" and m.read(_Size(-1)) == b"def"
        assert m.pread(_Size(2), 1) == b"bc" and m.pread(True, 0) == b"a"
        m.seek(0)
        assert m.readv([True, _Size(2)]) == [b"a", b"bc"]
        assert fdsafe.Handle.read(m, True) == b"d"
        for wrong in (1.0, "1", b"1"):
            with pytest.raises(TypeError):
                m.read(wrong)
            with pytest.raises(TypeError):
                m.pread(wrong, 0)
    r, w = pipe()
    with r, w:
        assert w.set_capacity(_Size(8192)) >= 8192


# ---------------------------------------------------------------- argument types

@pytest.mark.parametrize("what", [0, sys.stdin, None, "x"], ids=repr)
def test_is_terminal_refuses_what_is_not_a_handle_with_type_error(what):
    with pytest.raises(TypeError, match="fdsafe handle"):
        fdsafe.is_terminal(what)


def test_a_refused_handle_value_leaves_nothing_to_complain_about_when_collected(monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    for cls, value in ((fdsafe.PipeEnd, "x"), (fdsafe.Handle, 1.5), (File, None), (fdsafe.Epoll, b"")):
        with pytest.raises(TypeError):
            cls(value)
        gc.collect()
    assert unraisable == []


# ---------------------------------------------------------------- the PATH a spawn searches

def _read_to_eio(master):
    out = b""
    while True:
        try:
            chunk = master.read(1024)
        except OSError:  # EIO: the child closed the terminal
            return out
        if not chunk:
            return out
        out += chunk


def test_spawn_with_env_searches_envs_path_as_subprocess(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    prog = bin_dir / "fdsafe_only_here"
    prog.write_text("#!/bin/sh\necho ALT\nexit 7\n")
    prog.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    assert subprocess.run(["fdsafe_only_here"], env=env, capture_output=True).stdout == b"ALT\n"
    for argv in (["fdsafe_only_here"], [b"fdsafe_only_here"], "fdsafe_only_here"):
        with fdsafe.PidFd.spawn(argv, env=env) as p:
            assert p.wait_exit(timeout=20).status == 7
    master, p = fdsafe.spawn_pty(["fdsafe_only_here"], env=env)
    with master, p:
        assert b"ALT" in _read_to_eio(master)
        assert p.wait_exit(timeout=20).status == 7
    master, slave = open_pty()
    with master, slave:
        with slave.spawn(["fdsafe_only_here"], env=env) as p:
            assert p.wait_exit(timeout=20).status == 7
    # Not in env's PATH: not found, even where this process's PATH has it, as subprocess.
    empty = {"PATH": str(tmp_path)}
    with pytest.raises(FileNotFoundError):
        subprocess.run(["sh", "-c", "true"], env=empty)
    for spawn in (lambda: fdsafe.PidFd.spawn(["sh", "-c", "true"], env=empty),
                  lambda: fdsafe.spawn_pty(["sh", "-c", "true"], env=empty)):
        with pytest.raises(FileNotFoundError):
            spawn()


# ---------------------------------------------------------------- adoption and close-on-exec

def test_adopt_says_it_makes_the_descriptor_close_on_exec(tmp_path):
    assert "close-on-exec" in fdsafe.Handle.adopt.__doc__
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    os.set_inheritable(fd, True)
    with File.adopt(fd) as f:
        assert f.fileno() == fd and os.get_inheritable(fd) is False
