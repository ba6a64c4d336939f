"""The rest of the standard library's habits: star imports that shadow nothing, ResourceWarning
for a collected open handle, io.RawIOBase's None for a would-block read or write (so the io
layers work), sizes checked in Python, select.epoll-like registration, timer results."""
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
