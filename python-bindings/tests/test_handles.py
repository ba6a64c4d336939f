import errno
import os

import pytest

import fdsafe
from fdsafe import EventFd, Handle, InvalidArgumentError, WrongKindError, pipe


def test_close_makes_every_later_use_ebadf():
    r, w = pipe()
    r.close()
    with pytest.raises(OSError) as e:
        r.read(1)
    assert e.value.errno == errno.EBADF
    assert "closed" in str(e.value)
    assert r.closed
    r.close()  # closing twice is harmless
    w.close()


def test_old_handles_stay_dead_after_many_reuses():
    old = []
    for _ in range(2000):
        ev = EventFd.create()
        ev.close()
        old.append(ev.value)
    live = EventFd.create()
    assert live.value not in old
    for value in old:
        stale = Handle(value, owned=False)
        assert stale.fileno() == -1  # no descriptor, as a closed socket.socket says
        with pytest.raises(OSError) as e:
            stale.wait(0)
        assert e.value.errno == errno.EBADF
    live.add(1)
    live.close()


def test_invalid_handle_zero():
    zero = Handle(fdsafe.INVALID_HANDLE, owned=False)
    with pytest.raises(OSError) as e:
        zero.wait(0)
    assert e.value.errno == errno.EBADF
    assert "invalid handle 0" in str(e.value)
    assert zero.fileno() == -1


def test_a_value_outside_uint64_is_refused_not_cut():
    """Cut to 64 bits, r.value + 2**64 named r: reads went to r's pipe and a close closed it."""
    r, w = pipe()
    with r, w:
        for value in (r.value + 2**64, -1, -r.value, 2**64):
            with pytest.raises(OverflowError):
                Handle(value, owned=False)
        assert not r.closed
        w.write(b"x")
        assert r.read(1) == b"x"


def test_wrong_kind_raises_its_own_exception():
    r, w = pipe()
    with pytest.raises(WrongKindError):
        EventFd(w.value, owned=False).add(1)
    assert r.wait(fdsafe.EVENT_IN, 0) == 0, "nothing was written"
    r.close()
    w.close()


def test_kind_and_wrap():
    r, w = pipe()
    with EventFd.create() as ev:
        assert r.kind_name == "pipe" and ev.kind_name == "eventfd"
        assert isinstance(Handle.wrap(ev.value, owned=False), EventFd)
        assert isinstance(Handle.wrap(r.value, owned=False), fdsafe.PipeEnd)
    r.close()
    w.close()


def test_fileno_borrows_and_release_gives():
    ev = EventFd.create(initial=9)
    fd = ev.fileno()
    assert os.get_inheritable(fd) is False
    raw = ev.release()
    assert raw == fd and ev.closed
    assert int.from_bytes(os.read(raw, 8), "little") == 9
    os.close(raw)


def test_adopt_checks_the_kind_and_leaves_refused_fds_alone():
    rfd, wfd = os.pipe()
    os.set_inheritable(rfd, True)
    with pytest.raises(InvalidArgumentError):
        EventFd.adopt(rfd)
    assert os.get_inheritable(rfd) is True, "refused descriptor unchanged"
    r = fdsafe.PipeEnd.adopt(rfd)
    w = fdsafe.PipeEnd.adopt(wfd)
    assert os.get_inheritable(rfd) is False
    with pytest.raises(InvalidArgumentError):
        fdsafe.PipeEnd.adopt(rfd)  # already owned
    w.write(b"ok")
    assert r.read(2) == b"ok"
    r.close()
    w.close()


def test_dup_and_nonblocking():
    r, w = pipe()
    d = r.dup()
    assert d.fileno() != r.fileno() and d.kind_name == "pipe"
    assert r.nonblocking is False
    d.nonblocking = True
    assert r.nonblocking is True, "the mode belongs to the shared open file"
    assert r.read(1) is None, "a raw stream returns None where the read would block"
    with pytest.raises(BlockingIOError):
        fdsafe.Handle.read(r, 1)
    for h in (r, w, d):
        h.close()


def test_wait_read_write_vectored():
    r, w = pipe()
    assert r.wait(fdsafe.EVENT_IN, 0) == 0
    assert w.writev([b"ab", b"cd"]) == 4
    assert r.wait(fdsafe.EVENT_IN, 1.0) == fdsafe.EVENT_IN
    assert r.readv([1, 10]) == [b"a", b"bcd"]
    w.close()
    assert r.wait(fdsafe.EVENT_IN, 0) & fdsafe.EVENT_HUP
    assert r.read(5) == b""
    r.close()


def test_bad_arguments_are_refused():
    r, w = pipe()
    with pytest.raises(InvalidArgumentError):
        r.wait(0x40000000, 0)
    with pytest.raises(ValueError):
        r.wait(fdsafe.EVENT_IN, -5)
    from fdsafe._lib import lib
    import ctypes
    assert lib.fdsafe_read(r.value, None, 1) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    assert lib.fdsafe_write(w.value, b"x", 2**64 - 1) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    assert lib.fdsafe_fd_adopt(0, 0, None) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    assert lib.fdsafe_dup(r.value, None) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    out = ctypes.c_uint64(5)
    assert lib.fdsafe_fd_adopt(-1, 1, ctypes.byref(out)) == -errno.EBADF
    assert out.value == 5, "out-param untouched on failure"
    r.close()
    w.close()


def test_version_of_the_loaded_library():
    from fdsafe._lib import lib
    major, minor, patch = (int(x) for x in fdsafe.version().split("."))
    assert lib.fdsafe_version_number() == major * 10000 + minor * 100 + patch


def test_names_the_docs_spell_after_import_fdsafe(tmp_path):
    # In a fresh interpreter with only `import fdsafe`: fdsafe.testing.fd_leak_check (the
    # README's spelling) and mknod's node types beside mknod itself.
    import subprocess
    import sys
    code = ("import fdsafe, os, sys\n"
            "with fdsafe.testing.fd_leak_check():\n"
            "    fdsafe.mknod(sys.argv[1], fdsafe.NODE_FIFO)\n"
            "assert os.path.exists(sys.argv[1])\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "f")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_package_has_a_version_like_other_packages():
    import importlib.metadata
    assert fdsafe.__version__ == fdsafe.version()  # the bindings and the library they load agree
    try:
        assert importlib.metadata.version("fdsafe") == fdsafe.__version__
    except importlib.metadata.PackageNotFoundError:
        pass  # run from the source tree, not installed: no metadata to compare with


def test_a_handle_closed_by_another_thread_than_its_creator_closes():
    import threading

    r, w = pipe()
    assert w.write(b"ab") == 2
    closer = threading.Thread(target=w.close)  # closed by a thread other than the creator
    closer.start()
    closer.join()
    assert r.read(10) == b"ab"
    assert r.read(10) == b"", "the write end really closed"
    r.close()


def test_a_handle_of_another_copy_of_the_library_is_refused(tmp_path):
    # A process can hold two copies of libfdsafe (a program linking libfdsafe.a that loads a
    # plugin linking libfdsafe.so, two packages each bundling one). Each copy has its own
    # table, and one copy's handle values must not name the other's files.
    import ctypes
    import shutil
    from fdsafe._lib import lib

    copy_path = tmp_path / "libfdsafe-second-copy.so"
    shutil.copyfile(lib._name, copy_path)
    # The error-logging build (make errors-test) opens its log when a copy loads; this copy
    # need not log, and its log would be a descriptor left open.
    logging_to = os.environ.pop("FDSAFE_ERROR_LOG", None)
    try:
        other = ctypes.CDLL(str(copy_path), mode=os.RTLD_LOCAL)
    finally:
        if logging_to is not None:
            os.environ["FDSAFE_ERROR_LOG"] = logging_to
    other.fdsafe_eventfd_create.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64)]
    other.fdsafe_eventfd_write.argtypes = [ctypes.c_uint64, ctypes.c_uint64]
    other.fdsafe_close.argtypes = [ctypes.c_uint64]
    out = ctypes.c_uint64()
    assert other.fdsafe_eventfd_create(0, 0, ctypes.byref(out)) == 0
    theirs = out.value
    ours = EventFd.create()
    try:
        assert other.fdsafe_eventfd_write(ours.value, 5) == -errno.EBADF
        assert Handle(theirs, owned=False).fileno() == -1
        with pytest.raises(OSError) as e:
            EventFd(theirs, owned=False).add(7)
        assert e.value.errno == errno.EBADF
        assert not ours.wait(timeout=0), "the other copy wrote to our eventfd"
        assert other.fdsafe_eventfd_write(theirs, 1) == 0, "the other copy lost its own handle"
    finally:
        ours.close()
        assert other.fdsafe_close(theirs) == 0


def test_the_finalizer_closes_before_any_python_call(monkeypatch):
    # A Python signal handler that raises (Ctrl-C, an alarm used as a timeout) runs at the
    # next Python call, and its exception ends the finalizer there. The close must already
    # have happened: stand in for the handler with a method the finalizer calls after it.
    import gc
    import warnings

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Handle, "_collected", interrupted)
    before = set(os.listdir("/proc/self/fd"))
    e = EventFd.create()
    value = e.value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        unraisable = []
        monkeypatch.setattr("sys.unraisablehook", unraisable.append)
        del e
        gc.collect()
    assert [type(u.exc_value) for u in unraisable] == [KeyboardInterrupt]
    assert Handle(value, owned=False).closed
    assert set(os.listdir("/proc/self/fd")) == before
