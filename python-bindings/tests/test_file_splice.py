import errno
import io
import os
import signal
import socket
import subprocess
import sys

import pytest

import fdsafe
from fdsafe import File, InvalidArgumentError, WrongKindError, pipe, splice
from fdsafe.file import RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS


def test_open_create_positioned_io_size_truncate_sync(tmp_path):
    p = tmp_path / "f"
    with File.open(p, read=True, write=True, create=True, exclusive=True, mode=0o600) as f:
        assert f.kind_name == "file"
        assert os.get_inheritable(f.fileno()) is False
        assert f.write(b"hello world") == 11
        assert f.pread(5, 6) == b"world"
        assert f.pwrite(b"HELLO", 0) == 5
        assert f.tell() == 11
        assert f.size == 11
        f.truncate(5)
        assert f.size == 5
        f.sync()
        f.sync(data_only=True)
    assert p.read_bytes() == b"HELLO"
    assert (p.stat().st_mode & 0o777) == 0o600
    with pytest.raises(FileExistsError):
        File.open(p, write=True, create=True, exclusive=True)
    with File.open(p, append=True) as f:
        f.write(b"!")
    assert p.read_bytes() == b"HELLO!"


def test_file_is_a_raw_io_stream(tmp_path):
    p = tmp_path / "lines"
    p.write_bytes(b"one\ntwo\nthree\n")
    with File.open(p) as f:
        assert isinstance(f, io.RawIOBase)
        text = io.TextIOWrapper(io.BufferedReader(f))
        assert text.readlines() == ["one\n", "two\n", "three\n"]
    with File.open(p) as f:
        assert f.read() == b"one\ntwo\nthree\n"
        f.seek(4)
        buf = bytearray(3)
        assert f.readinto(buf) == 3 and bytes(buf) == b"two"


def test_nofollow_tmpfile_and_open_at_beneath(tmp_path):
    (tmp_path / "target").write_bytes(b"t")
    os.symlink(tmp_path / "target", tmp_path / "link")
    with pytest.raises(OSError) as e:
        File.open(tmp_path / "link", nofollow=True)
    assert e.value.errno == errno.ELOOP
    with File.tmpfile(tmp_path) as t:
        t.write(b"anon")
        assert t.size == 4
    assert sorted(os.listdir(tmp_path)) == ["link", "target"]
    os.symlink("/etc/passwd", tmp_path / "escape")
    with File.open_directory(tmp_path) as d:
        with d.open_at("target", resolve=RESOLVE_BENEATH) as f:
            assert f.read() == b"t"
        for bad in ("../etc/passwd", "/etc/passwd", "escape"):
            with pytest.raises(OSError) as e:
                d.open_at(bad, resolve=RESOLVE_BENEATH)
            assert e.value.errno == errno.EXDEV, bad
        with pytest.raises(OSError) as e:
            d.open_at("link", resolve=RESOLVE_NO_SYMLINKS)
        assert e.value.errno == errno.ELOOP


def test_file_bad_input(tmp_path):
    with pytest.raises(InvalidArgumentError):
        File.open(tmp_path / "x", read=False)
    with pytest.raises(InvalidArgumentError):
        File.open(tmp_path / "x", write=True, create=True, mode=0o10000)
    with pytest.raises(FileNotFoundError):
        File.open(tmp_path / "missing")
    r, w = pipe()
    with pytest.raises(WrongKindError):
        _ = File(r.value, owned=False).size
    r.close(), w.close()
    f = File.open_directory(tmp_path)
    f.close()
    with pytest.raises(OSError) as e:
        _ = f.size
    assert e.value.errno == errno.EBADF
    with File.open(tmp_path / "y", write=True, create=True) as g:
        with pytest.raises(InvalidArgumentError):
            g.pread(1, -1)
        with pytest.raises(InvalidArgumentError):
            g.truncate(-1)


def test_adopt_caller_opened_file(tmp_path):
    fd = os.open(tmp_path / "a", os.O_RDWR | os.O_CREAT)
    os.set_inheritable(fd, True)
    f = File.adopt(fd)
    assert os.get_inheritable(fd) is False
    f.write(b"xyz")
    assert f.size == 3
    f.close()
    r, w = os.pipe()
    with pytest.raises(InvalidArgumentError):
        File.adopt(r)
    os.close(r), os.close(w)


def test_splice_file_pipe_file(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    with File.open(src) as s, File.open(tmp_path / "dst", write=True, create=True, read=True) as d:
        r, w = pipe()
        assert splice.splice(s, w, 4, src_offset=3, flags=splice.SPLICE_MOVE) == 4
        assert s.tell() == 0
        assert splice.splice(r, d, 4, dst_offset=0) == 4
        assert d.pread(10, 0) == b"3456"
        with pytest.raises(BlockingIOError):
            splice.splice(r, d, 4, flags=splice.SPLICE_NONBLOCK)
        with pytest.raises(InvalidArgumentError):
            splice.splice(r, d, 4, flags=0x100)
        with pytest.raises(OSError) as e:
            splice.splice(s, d, 4)
        assert e.value.errno == errno.EINVAL
        r.close()
        with pytest.raises(BrokenPipeError):
            splice.splice(s, w, 4)
        w.close()


def test_vmsplice_and_tee():
    r1, w1 = pipe()
    r2, w2 = pipe()
    assert splice.vmsplice(w1, [b"vm", b"splice"]) == 8
    assert splice.tee(r1, w2, 100) == 8
    assert r2.read(100) == b"vmsplice"
    assert r1.read(100) == b"vmsplice"
    with pytest.raises(InvalidArgumentError):
        splice.vmsplice(r1, [b"x"])  # a read end
    with pytest.raises(ValueError):
        splice.vmsplice(w1, [b"x"], flags=splice.SPLICE_GIFT)
    with pytest.raises(BlockingIOError):
        splice.tee(r1, w2, 8, flags=splice.SPLICE_NONBLOCK)
    for h in (r1, w1, r2, w2):
        h.close()


def test_sendfile_to_pipe_file_and_socket(tmp_path):
    p = tmp_path / "s"
    p.write_bytes(b"sendfile data")
    with File.open(p) as s, File.open(tmp_path / "d", write=True, create=True, read=True) as d:
        r, w = pipe()
        assert splice.sendfile(s, w, 8) == 8
        assert r.read(100) == b"sendfile"
        assert splice.sendfile(s, d, 100, offset=9) == 4
        assert d.pread(100, 0) == b"data"
        a, b = socket.socketpair()
        assert splice.sendfile(s, a.fileno(), 100, offset=0) == 13
        assert b.recv(100) == b"sendfile data"
        b.close()
        with pytest.raises(BrokenPipeError):
            splice.sendfile(s, a.fileno(), 100, offset=0)
        a.close()
        with pytest.raises(OSError) as e:
            splice.sendfile(r, d, 1)
        assert e.value.errno == errno.EINVAL
        r.close(), w.close()


def test_copy_file_range(tmp_path):
    (tmp_path / "a").write_bytes(b"abcdefgh")
    with File.open(tmp_path / "a") as a, File.open(tmp_path / "b", read=True, write=True, create=True) as b:
        assert splice.copy_file_range(a, b, 4, src_offset=2, dst_offset=0) == 4
        assert b.pread(10, 0) == b"cdef"
        with pytest.raises(InvalidArgumentError):
            splice.copy_file_range(a, b, 4, src_offset=-1)


def test_stdin_handle_splices_to_a_socket(tmp_path):
    # A child whose standard input is a file: stdin as a handle, spliced to a socket through a pipe.
    (tmp_path / "in").write_bytes(b"from stdin")
    code = (
        "import socket, fdsafe\n"
        "from fdsafe import splice\n"
        "a, b = socket.socketpair()\n"
        "src = fdsafe.Stdio.open(fdsafe.STDIN)\n"
        "r, w = fdsafe.pipe()\n"
        "n = splice.splice(src, w, 100)\n"
        "m = splice.splice(r, a.fileno(), n)\n"
        "print(n, m, b.recv(100).decode())\n"
    )
    with open(tmp_path / "in", "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "10 10 from stdin"


def test_pipe_ends_are_raw_io_streams():
    r, w = pipe()
    assert isinstance(r, io.RawIOBase)
    assert r.readable() and not r.writable()
    assert w.writable() and not w.readable()
    w.write(b"a\nb\n")
    w.close()
    assert io.BufferedReader(r).read() == b"a\nb\n"
    r.close()


def test_vmsplice_data_survives_python_reusing_memory():
    r, w = pipe()
    assert splice.vmsplice(w, [b"x" * 5000, b"y" * 3000]) == 8000
    junk = [bytes([i]) * 8000 for i in range(50)]  # churn the allocator
    assert r.read(8000) == b"x" * 5000 + b"y" * 3000
    del junk
    r.close(), w.close()


def _skip_unsupported(err, mode):
    if err.errno == errno.EOPNOTSUPP:
        pytest.skip(f"this file system refuses fallocate {mode}: {err.strerror}")
    raise err


def test_allocate_keep_size_punch_hole_zero_range(tmp_path):
    from fdsafe.file import FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE
    assert (FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE) == (1, 2, 0x10)  # linux/falloc.h
    with File.open(tmp_path / "a", read=True, write=True, create=True) as f:
        f.allocate(0, 4096)
        assert f.size == 4096 and f.pread(4096, 0) == bytes(4096)
        blocks = f.stat().st_blocks
        f.allocate(4096, 65536, FALLOC_KEEP_SIZE)
        assert f.size == 4096 and f.stat().st_blocks >= blocks + 65536 // 512
        f.pwrite(b"x" * 8192, 0)
        try:
            f.allocate(0, 4096, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE)
        except OSError as err:
            _skip_unsupported(err, "PUNCH_HOLE")
        assert f.size == 8192 and f.pread(8192, 0) == bytes(4096) + b"x" * 4096
        assert f.seek(0, os.SEEK_HOLE) == 0 and f.seek(0, os.SEEK_DATA) == 4096
        with pytest.raises(OSError) as e:
            f.allocate(0, 4096, FALLOC_PUNCH_HOLE)  # a hole needs keep-size
        assert e.value.errno == errno.EOPNOTSUPP
        f.pwrite(b"x" * 8192, 0)
        try:
            f.allocate(1000, 2000, FALLOC_ZERO_RANGE)
        except OSError as err:
            _skip_unsupported(err, "ZERO_RANGE")
        assert f.pread(8192, 0) == b"x" * 1000 + bytes(2000) + b"x" * 5192
        for mode, offset, length in ((0x8, 0, 1), (0, -1, 1), (0, 0, 0)):
            with pytest.raises(InvalidArgumentError):
                f.allocate(offset, length, mode)
    with File.open(tmp_path / "a") as ro, pytest.raises(OSError) as e:
        ro.allocate(0, 1)
    assert e.value.errno == errno.EBADF


def test_chmod_chown_and_stat_match_os(tmp_path):
    p = tmp_path / "meta"
    with File.open(p, write=True, create=True, mode=0o600) as f:
        f.write(b"twelve bytes")
        st, ref = f.stat(), os.fstat(f.fileno())
        for name in ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size",
                     "st_blocks", "st_blksize", "st_rdev", "st_mtime_ns", "st_ctime_ns", "st_atime_ns"):
            assert getattr(st, name) == getattr(ref, name), name
        assert st.st_birthtime_ns is None or 0 < st.st_birthtime_ns <= st.st_ctime_ns
        f.chmod(0o640)
        assert os.stat(p).st_mode & 0o7777 == 0o640
        with pytest.raises(InvalidArgumentError):
            f.chmod(0o10000)
        f.chown(-1, -1)
        f.chown(os.getuid(), os.getgid())
        if os.geteuid() == 0:
            f.chown(65534, -1)
            assert (f.stat().st_uid, f.stat().st_gid) == (65534, os.getgid())
            f.chown(-1, 65534)
            assert os.stat(p).st_gid == 65534
        else:
            with pytest.raises(PermissionError):
                f.chown(0, -1)
    r, w = pipe()
    with pytest.raises(WrongKindError):
        File(r.value, owned=False).stat()
    r.close(), w.close()


def test_flags_a_read_only_open_cannot_empty_and_flags_read_back_work(tmp_path):
    # os.open(p, os.O_RDONLY | os.O_TRUNC) empties the file on Linux; fdsafe refuses it, as
    # File.open(p, truncate=True) refuses a read-only truncate. The flags fcntl reads back
    # from a descriptor (the kernel's O_LARGEFILE bit with them) open the file again.
    import fcntl

    p = tmp_path / "keep"
    p.write_bytes(b"data")
    with pytest.raises(InvalidArgumentError):
        File.open(p, os.O_RDONLY | os.O_TRUNC)
    assert p.read_bytes() == b"data"
    with File.open(p, os.O_RDWR) as f:
        flags = fcntl.fcntl(f.fileno(), fcntl.F_GETFL)
    with File.open(p, flags) as again:
        assert again.pread(4, 0) == b"data"
