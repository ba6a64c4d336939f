import errno
import os
import stat
import subprocess
import sys

import pytest

from fdsafe import InvalidArgumentError, MemFd, WrongKindError, pipe, splice
from fdsafe.memfd import SEAL_EXEC, SEAL_GROW, SEAL_SEAL, SEAL_SHRINK, SEAL_WRITE


def test_memfd_as_a_file():
    with MemFd.create("py-test") as m:
        assert m.kind_name == "memfd"
        assert os.get_inheritable(m.fileno()) is False
        assert "/memfd:py-test" in os.readlink(f"/proc/self/fd/{m.fileno()}")
        m.write(b"in memory")
        assert m.size == 9
        assert m.pread(6, 3) == b"memory"
        m.seek(0)
        assert m.read() == b"in memory"
        m.truncate(2)
        r, w = pipe()
        assert splice.sendfile(m, w, 100, offset=0) == 2
        assert r.read(10) == b"in"
        r.close(), w.close()


def test_sealed_memfd_cannot_be_changed_by_another_process():
    m = MemFd.create("sealed")
    m.write(b"frozen")
    m.add_seals(SEAL_SHRINK | SEAL_GROW | SEAL_WRITE | SEAL_SEAL)
    assert m.seals == SEAL_SHRINK | SEAL_GROW | SEAL_WRITE | SEAL_SEAL
    with pytest.raises(PermissionError):
        m.write(b"x")
    with pytest.raises(PermissionError):
        m.truncate(0)
    fd = m.fileno()
    code = (
        "import mmap, os, sys\n"
        f"fd = {fd}\n"
        "results = []\n"
        "for attempt in (lambda: os.pwrite(fd, b'X', 0), lambda: os.ftruncate(fd, 0),\n"
        "                lambda: os.ftruncate(fd, 4096), lambda: mmap.mmap(fd, 6, mmap.MAP_SHARED, mmap.PROT_WRITE)):\n"
        "    try:\n        attempt(); results.append('changed')\n"
        "    except PermissionError:\n        results.append('EPERM')\n"
        "print(' '.join(results))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], pass_fds=[fd], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EPERM"] * 4
    assert m.pread(10, 0) == b"frozen"
    m.close()


def test_noexec_seal_and_no_sealing():
    with MemFd.create("noexec", noexec_seal=True) as m:
        assert m.seals & SEAL_EXEC
        assert os.fstat(m.fileno()).st_mode & 0o111 == 0
    with MemFd.create("closed", allow_sealing=False) as m:
        assert m.seals == SEAL_SEAL
        with pytest.raises(PermissionError):
            m.add_seals(SEAL_WRITE)


def test_hugetlb():
    try:
        m = MemFd.create("huge", hugetlb=True)
    except OSError as e:
        pytest.skip(f"the kernel refused MFD_HUGETLB: {e}")
    with m:
        assert os.fstat(m.fileno()).st_blksize >= 2 * 1024 * 1024


@pytest.mark.parametrize("size", [2 << 20, 1 << 30, 4096])
def test_huge_page_size_as_os_memfd_create(size):
    """A page size answers as os.memfd_create with the kernel's MFD_HUGE_* bits does."""
    flags = os.MFD_CLOEXEC | os.MFD_HUGETLB | (size.bit_length() - 1) << os.MFD_HUGE_SHIFT
    try:
        raw = os.memfd_create("raw", flags)
    except OSError as refused:
        with pytest.raises(OSError) as ours:
            MemFd.create("huge", huge_page_size=size)
        assert ours.value.errno == refused.errno
        return
    try:
        with MemFd.create("huge", huge_page_size=size) as m:
            assert os.fstat(m.fileno()).st_blksize == os.fstat(raw).st_blksize
    finally:
        os.close(raw)


def test_huge_page_size_bad_values():
    for bad in (0, -2, 3 << 20, 1 << 64):
        with pytest.raises(ValueError):
            MemFd.create("huge", huge_page_size=bad)
    with pytest.raises(TypeError):
        MemFd.create("huge", huge_page_size=2.0)  # type: ignore[arg-type]


def test_memfd_bad_input():
    with pytest.raises(InvalidArgumentError):
        MemFd.create("n" * 250)
    with pytest.raises(InvalidArgumentError):
        MemFd.create("x", executable=True, noexec_seal=True)
    with MemFd.create("x") as m:
        with pytest.raises(InvalidArgumentError):
            m.add_seals(0x40)
    r, w = pipe()
    with pytest.raises(WrongKindError):
        MemFd(r.value, owned=False).seals
    r.close(), w.close()
    with pytest.raises(OSError) as e:
        m.seals
    assert e.value.errno == errno.EBADF
    fd = os.memfd_create("raw")
    MemFd.adopt(fd).close()


def test_reopened_by_path_is_still_a_memfd():
    from fdsafe import File
    from fdsafe.file import FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE
    with MemFd.create("reopen") as m:
        m.write(b"shared")
        again = File.open(f"/proc/self/fd/{m.fileno()}", read=True, write=True)
        assert isinstance(again, MemFd) and again.kind_name == "memfd"
        assert again.pread(6, 0) == b"shared"
        again.add_seals(SEAL_GROW)
        assert m.seals == SEAL_GROW  # one file, one set of seals
        again.allocate(0, 2, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE)
        assert m.pread(6, 0) == b"\0\0ared" and again.stat().st_size == 6
        again.close()
