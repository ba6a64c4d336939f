import errno
import io
import os
import stat
import threading

import pytest

import fdsafe
from fdsafe import CharDevice, Fifo, InvalidArgumentError, WrongKindError, mkfifo, mknod, pipe, splice
from fdsafe.fifo import NODE_BLOCK, NODE_CHAR, NODE_FIFO
from fdsafe.file import KIND_FILE


def test_mkfifo_reuse_and_refusal(tmp_path):
    p = tmp_path / "f"
    assert mkfifo(p, 0o640) is True
    assert stat.S_ISFIFO(os.lstat(p).st_mode)
    with pytest.raises(FileExistsError):
        mkfifo(p)
    assert mkfifo(p, reuse=True) is False
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(FileExistsError):
        mkfifo(tmp_path / "plain", reuse=True)
    with pytest.raises(InvalidArgumentError):
        mkfifo(tmp_path / "g", 0o170000)


def test_fifo_nonblocking_open_enxio_and_round_trip(tmp_path):
    p = tmp_path / "f"
    mkfifo(p)
    with pytest.raises(OSError) as e:
        Fifo.open(p, write=True, nonblocking=True)
    assert e.value.errno == errno.ENXIO
    with Fifo.open(p, read=True, nonblocking=True) as r, Fifo.open(p, write=True, nonblocking=True) as w:
        assert r.kind_name == "fifo" and os.get_inheritable(r.fileno()) is False
        w.write(b"through the fifo")
        assert r.read(100) == b"through the fifo"
        assert r.read(1) is None, "io.RawIOBase: None when a non-blocking read would block"
        pr, pw = pipe()
        pw.write(b"spliced")
        assert splice.splice(pr, w, 7) == 7
        assert r.read(100) == b"spliced"
        pr.close(), pw.close()
        # A FIFO is a pipe with a name: its capacity is the pipe's, as for a PipeEnd.
        assert w.set_capacity(1 << 20) >= 1 << 20
        assert r.capacity == w.capacity


def test_fifo_blocking_open_and_raw_io(tmp_path):
    p = tmp_path / "f"
    mkfifo(p)
    got = {}

    def writer():
        with Fifo.open(p, write=True) as w:
            w.write(b"line one\nline two\n")

    t = threading.Thread(target=writer)
    t.start()
    with Fifo.open(p, read=True) as r:
        assert isinstance(r, io.RawIOBase)
        got["lines"] = io.TextIOWrapper(io.BufferedReader(r)).readlines()
    t.join()
    assert got["lines"] == ["line one\n", "line two\n"]


def test_fifo_open_refuses_non_fifos(tmp_path):
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(InvalidArgumentError):
        Fifo.open(tmp_path / "plain", read=True)
    with pytest.raises(InvalidArgumentError):
        Fifo.open("/dev/null", read=True)
    with pytest.raises(InvalidArgumentError):
        Fifo.open(tmp_path / "plain")  # neither read nor write
    with pytest.raises(FileNotFoundError):
        Fifo.open(tmp_path / "missing", read=True)


def test_mknod_fifo_char_block(tmp_path):
    mknod(tmp_path / "fifo", NODE_FIFO, 0o600)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    mknod(tmp_path / "null", NODE_CHAR, 0o666, 1, 3)
    st = os.lstat(tmp_path / "null")
    assert stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    with CharDevice.open(tmp_path / "null", write=True) as d:
        assert d.write(b"gone") == 4
        assert d.numbers == (1, 3)
    mknod(tmp_path / "blk", NODE_BLOCK, 0o600, 7, 0)
    assert stat.S_ISBLK(os.lstat(tmp_path / "blk").st_mode)
    with pytest.raises(InvalidArgumentError):
        CharDevice.open(tmp_path / "blk")
    with pytest.raises(InvalidArgumentError):
        mknod(tmp_path / "bad", NODE_FIFO, 0o600, 1, 3)
    with pytest.raises(InvalidArgumentError):
        mknod(tmp_path / "bad", 9)
    assert not (tmp_path / "bad").exists()


def test_chardev_null_zero_urandom():
    with CharDevice.open("/dev/null", read=True, write=True) as n:
        assert n.kind_name == "chardev"
        assert n.write(b"x" * 100) == 100
        assert n.read() == b""
        assert n.numbers == (1, 3)
    with CharDevice.open("/dev/zero") as z:
        assert z.read(16) == b"\0" * 16
        assert z.numbers == (1, 5)
    with CharDevice.open("/dev/urandom") as u:
        a, b = u.read(32), u.read(32)
        assert len(a) == 32 and a != b
        assert u.numbers == (1, 9)


def test_chardev_bad_input(tmp_path):
    with pytest.raises(InvalidArgumentError):
        CharDevice.open("/etc/passwd")
    with pytest.raises(InvalidArgumentError):
        CharDevice.open(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        CharDevice.open("/dev/nonexistent-fdsafe")
    r, w = pipe()
    with pytest.raises(WrongKindError):
        CharDevice(r.value, owned=False).numbers
    r.close(), w.close()
    d = CharDevice.open("/dev/null")
    d.close()
    with pytest.raises(OSError) as e:
        d.numbers
    assert e.value.errno == errno.EBADF


def test_fifo_open_refuses_a_pipe_reached_through_proc_and_excl_says_exists(tmp_path):
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        with pytest.raises(InvalidArgumentError):
            Fifo.open(f"/proc/self/fd/{w}", write=True)  # an anonymous pipe is no named FIFO
    finally:
        os.close(r)
        os.close(w)
    p = tmp_path / "f"
    mkfifo(p)
    with pytest.raises(FileExistsError):  # as os.open with O_CREAT | O_EXCL says
        fdsafe.File.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with fdsafe.File.open(tmp_path / "g", os.O_RDWR | os.O_CREAT | os.O_NOCTTY) as f:
        assert f.kind == KIND_FILE
