"""Regular files and directories: open flags, openat2 resolution limits, positioned I/O."""
from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from ._lib import c_handle, c_handle_p, lib, declare
from ._buffers import c_string, data_arg, int_arg, read_buffer, size_arg
from .errors import FDSAFE_E_INVALID_ARGUMENT, InvalidArgumentError, check, naming
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_FILE", "FILE_APPEND", "FILE_CREATE", "FILE_EXCLUSIVE", "FILE_TRUNCATE",
           "FILE_TMPFILE", "FILE_NOFOLLOW", "FILE_NONBLOCK", "FILE_DIRECTORY", "RESOLVE_NO_XDEV",
           "RESOLVE_NO_MAGICLINKS", "RESOLVE_NO_SYMLINKS", "RESOLVE_BENEATH", "RESOLVE_IN_ROOT",
           "FILE_SYNC_DATA", "FALLOC_KEEP_SIZE", "FALLOC_PUNCH_HOLE", "FALLOC_ZERO_RANGE", "STATX_BTIME",
           "FileStatus", "SeekableMixin", "File", "O_RDONLY", "O_WRONLY", "O_RDWR"]

_int, _i64, _u32, _size, _vp, _str = ctypes.c_int, ctypes.c_int64, ctypes.c_uint32, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_char_p

_ID_MAX = 2**32 - 1  # uid_t, gid_t


class _Status(ctypes.Structure):
    _u32t, _u64t, _i64t = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
    _fields_ = [("mask", _u32t), ("mode", _u32t), ("nlink", _u32t), ("uid", _u32t), ("gid", _u32t),
                ("blksize", _u32t), ("ino", _u64t), ("size", _u64t), ("blocks", _u64t),
                ("dev_major", _u32t), ("dev_minor", _u32t), ("rdev_major", _u32t), ("rdev_minor", _u32t),
                ("atime_sec", _i64t), ("mtime_sec", _i64t), ("ctime_sec", _i64t), ("btime_sec", _i64t),
                ("atime_nsec", _u32t), ("mtime_nsec", _u32t), ("ctime_nsec", _u32t), ("btime_nsec", _u32t)]


declare({
    "fdsafe_file_open": (_int, [_str, _u32, _u32, c_handle_p]),
    "fdsafe_file_open_at": (_int, [c_handle, _str, _u32, _u32, _u32, c_handle_p]),
    "fdsafe_file_pread": (_i64, [c_handle, _vp, _size, _i64]),
    "fdsafe_file_pwrite": (_i64, [c_handle, _vp, _size, _i64]),
    "fdsafe_file_seek": (_i64, [c_handle, _i64, _int]),
    "fdsafe_file_size": (_i64, [c_handle]),
    "fdsafe_file_truncate": (_int, [c_handle, _i64]),
    "fdsafe_file_sync": (_int, [c_handle, _u32]),
    "fdsafe_file_allocate": (_int, [c_handle, _int, _i64, _i64]),
    "fdsafe_file_chmod": (_int, [c_handle, _u32]),
    "fdsafe_file_chown": (_int, [c_handle, _u32, _u32]),
    "fdsafe_file_stat": (_int, [c_handle, ctypes.POINTER(_Status)]),
})

KIND_FILE = _c.FDSAFE_KIND_FILE

# Open flags: the kernel's O_* values (os.O_APPEND, os.O_CREAT... work too).
O_RDONLY, O_WRONLY, O_RDWR = _c.FDSAFE_O_RDONLY, _c.FDSAFE_O_WRONLY, _c.FDSAFE_O_RDWR
FILE_APPEND, FILE_CREATE = _c.FDSAFE_O_APPEND, _c.FDSAFE_O_CREAT
FILE_EXCLUSIVE, FILE_TRUNCATE, FILE_TMPFILE, FILE_NOFOLLOW = _c.FDSAFE_O_EXCL, _c.FDSAFE_O_TRUNC, _c.FDSAFE_O_TMPFILE, _c.FDSAFE_O_NOFOLLOW
FILE_NONBLOCK, FILE_DIRECTORY = _c.FDSAFE_NONBLOCK, _c.FDSAFE_O_DIRECTORY
RESOLVE_NO_XDEV, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH, RESOLVE_IN_ROOT = _c.FDSAFE_RESOLVE_NO_XDEV, _c.FDSAFE_RESOLVE_NO_MAGICLINKS, _c.FDSAFE_RESOLVE_NO_SYMLINKS, _c.FDSAFE_RESOLVE_BENEATH, _c.FDSAFE_RESOLVE_IN_ROOT
FILE_SYNC_DATA = _c.FDSAFE_FILE_SYNC_DATA
# fallocate modes: the kernel's FALLOC_FL_* values.
FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE = _c.FDSAFE_FALLOC_KEEP_SIZE, _c.FDSAFE_FALLOC_PUNCH_HOLE, _c.FDSAFE_FALLOC_ZERO_RANGE
STATX_BTIME = _c.FDSAFE_STATX_BTIME


@dataclass(frozen=True)
class FileStatus:
    """A file's status (``statx``), with the names of ``os.stat_result``; ``st_birthtime_ns``
    is None where the file system keeps no birth time."""

    st_mode: int
    st_ino: int
    st_dev: int
    st_nlink: int
    st_uid: int
    st_gid: int
    st_size: int
    st_blocks: int
    st_blksize: int
    st_rdev: int
    st_atime_ns: int
    st_mtime_ns: int
    st_ctime_ns: int
    st_birthtime_ns: Optional[int]


def _ns(sec: int, nsec: int) -> int:
    return sec * 1_000_000_000 + nsec

if TYPE_CHECKING:
    from .memfd import MemFd

# A file-system path as the os module takes it.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _path(path: PathLike) -> bytes:
    return c_string(path)


def access_mode(read: bool, write: bool) -> int:
    """The open flags' access mode for reading and/or writing (one of them is needed)."""
    if not (read or write):
        raise InvalidArgumentError(FDSAFE_E_INVALID_ARGUMENT, "open for reading, writing or both")
    return O_RDWR if read and write else O_WRONLY if write else O_RDONLY

def _flags(read: Optional[bool], write: bool, append: bool, create: bool, exclusive: bool, truncate: bool,
           nofollow: bool, nonblocking: bool) -> int:
    # Appending writes (``append`` alone opens for writing). Reading, unless asked, only when
    # not writing: File.open(p, write=True) is open(p, "wb"), which needs no read permission.
    if truncate and not (write or append):
        # The kernel would empty the file and hand back a read-only handle; open() has no
        # such mode either.
        raise ValueError("truncate needs write=True (or append=True): a read-only open cannot truncate")
    if read is None:
        read = not (write or append)
    flags = access_mode(read, write or append)
    for on, bit in ((append, FILE_APPEND), (create, FILE_CREATE),
                    (exclusive, FILE_EXCLUSIVE), (truncate, FILE_TRUNCATE), (nofollow, FILE_NOFOLLOW),
                    (nonblocking, FILE_NONBLOCK)):
        if on:
            flags |= bit
    return flags


def _opened(cls: "type[File]", value: int, flags: int, path: PathLike) -> "Union[File, MemFd]":
    """The object for a handle an open by path with ``flags`` returned: a file, or a memfd
    reached by path. Opened for appending, it is at the end of the file, as ``io.FileIO``
    in append mode puts it (the kernel would move there only at the first write), so that
    ``tell()`` and the buffered layers above see the real position."""
    f: "Union[File, MemFd]"
    if value >> 56 == _c.FDSAFE_KIND_MEMFD:  # the kind is in the top 8 bits of a new handle
        from .memfd import MemFd
        f = MemFd(value)
    else:
        f = cls(value)
    f._opened_as(path, flags)
    if flags & FILE_APPEND:
        try:
            f.seek(0, os.SEEK_END)
        except OSError as err:
            if err.errno != errno.ESPIPE:  # no position (a FIFO...): nothing to move, as io.FileIO
                f.close()
                raise
    return f


class SeekableMixin:
    """Positioned I/O, seeking, size, truncate and sync: shared by files and memfds. Used
    after close, every method raises :class:`ClosedFileError` (an ``OSError`` with errno
    ``EBADF`` and a ``ValueError``), as ``read`` does and as ``io.FileIO`` raises."""

    _value: int
    if TYPE_CHECKING:  # from Handle, which every class using the mixin derives from
        def _check(self, code: int) -> int: ...
        def _retry(self, call: Callable[[], int]) -> int: ...
        def _check_open(self) -> None: ...
        def _mode_error(self, err: OSError, needs: str) -> Exception: ...

    def seekable(self) -> bool:
        """True: these files have a position (``seek``, ``tell``)."""
        self._check_open()
        return True

    def pread(self, size: int, offset: int) -> bytes:
        """Reads up to ``size`` bytes at byte ``offset`` without moving the position
        (``os.pread``); b"" at or past the end. ValueError for a negative size."""
        size = size_arg(size)
        buf = read_buffer(size)
        try:
            n = self._retry(lambda: lib.fdsafe_file_pread(self._value, buf, size, offset))
        except OSError as err:
            raise self._mode_error(err, "reading") from None
        return buf[:n]  # type: ignore[no-any-return]

    def pwrite(self, data: Any, offset: int) -> int:
        """Writes ``data`` (any bytes-like object) at byte ``offset`` without moving the
        position (``os.pwrite``); returns the bytes written."""
        c_data, length = data_arg(data)
        try:
            return self._retry(lambda: lib.fdsafe_file_pwrite(self._value, c_data, length, offset))
        except OSError as err:
            raise self._mode_error(err, "writing") from None

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Moves the position to ``offset`` bytes from ``whence`` (``os.SEEK_SET``,
        ``SEEK_CUR``, ``SEEK_END``, ``SEEK_DATA``, ``SEEK_HOLE``); returns the new position."""
        return self._check(lib.fdsafe_file_seek(self._value, offset, whence))

    def tell(self) -> int:
        """The current position, in bytes from the start."""
        return self.seek(0, os.SEEK_CUR)

    @property
    def size(self) -> int:
        """The file's size in bytes (``st_size``)."""
        return self._check(lib.fdsafe_file_size(self._value))

    def truncate(self, size: Optional[int] = None) -> int:
        """Sets the file's size to ``size`` bytes (the current position if None), cutting or
        extending it with zeros; the position does not move. Returns the new size."""
        if size is None:
            size = self.tell()
        try:
            self._check(lib.fdsafe_file_truncate(self._value, size))
        except OSError as err:
            raise self._mode_error(err, "writing") from None
        return size

    def sync(self, data_only: bool = False) -> None:
        """Writes the file's data (and, unless ``data_only``, its metadata) to the storage
        device (``fsync``, ``fdatasync``)."""
        self._check(lib.fdsafe_file_sync(self._value, FILE_SYNC_DATA if data_only else 0))

    def allocate(self, offset: int, length: int, mode: int = 0) -> None:
        """``fallocate``: ``mode`` 0 reserves (and grows), FALLOC_KEEP_SIZE reserves only,
        FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE frees, FALLOC_ZERO_RANGE zeroes. A file system
        without the mode raises ``OSError`` with ``errno.EOPNOTSUPP``."""
        self._retry(lambda: lib.fdsafe_file_allocate(self._value, mode, offset, length))

    def chmod(self, mode: int) -> None:
        """``os.fchmod`` on the handle (permission bits, at most 0o7777)."""
        self._check(lib.fdsafe_file_chmod(self._value, mode))

    def chown(self, uid: int, gid: int) -> None:
        """``os.fchown`` on the handle; -1 leaves the owner or the group unchanged. As
        ``os.fchown``: ``OverflowError`` for an id a ``uid_t`` cannot hold (never cut to
        another id), ``TypeError`` for a non-integer."""
        uid = int_arg(uid, "uid", -1, _ID_MAX) & _ID_MAX  # -1 is (uid_t)-1, "unchanged"
        gid = int_arg(gid, "gid", -1, _ID_MAX) & _ID_MAX
        self._check(lib.fdsafe_file_chown(self._value, uid, gid))

    def stat(self) -> FileStatus:
        """The file's status (``statx`` on the descriptor)."""
        st = _Status()
        self._check(lib.fdsafe_file_stat(self._value, ctypes.byref(st)))
        birth = _ns(st.btime_sec, st.btime_nsec) if st.mask & STATX_BTIME else None
        return FileStatus(st.mode, st.ino, os.makedev(st.dev_major, st.dev_minor), st.nlink, st.uid, st.gid,
                          st.size, st.blocks, st.blksize, os.makedev(st.rdev_major, st.rdev_minor),
                          _ns(st.atime_sec, st.atime_nsec), _ns(st.mtime_sec, st.mtime_nsec),
                          _ns(st.ctime_sec, st.ctime_nsec), birth)


class File(SeekableMixin, RawIOHandle):
    """A regular file or directory (``FDSAFE_KIND_FILE``), usable as a raw binary stream."""

    KIND = KIND_FILE

    @classmethod
    def open(cls, path: PathLike, flags: Optional[int] = None, mode: int = 0o666, *, read: Optional[bool] = None,
             write: bool = False, append: bool = False, create: bool = False, exclusive: bool = False,
             truncate: bool = False, nofollow: bool = False, nonblocking: bool = False) -> "Union[File, MemFd]":
        """Opens (or creates) a file; close-on-exec. ``mode`` applies when creating. Say what
        to do with ``os.open``'s ``flags`` (``os.O_RDWR | os.O_CREAT``...; ``O_CLOEXEC`` is
        always in force) or with the keyword switches, not both: ``read`` unless ``write`` or
        ``append`` is asked (as ``open(p, "wb")``), or both with ``read=True, write=True``. A memfd reached by path
        (``/proc/self/fd/N``) comes back as a :class:`MemFd`. Opened for appending
        (``append`` or ``os.O_APPEND``), its position is the end of the file, as
        ``io.FileIO``'s in mode "a"; ``os.O_APPEND`` needs ``O_WRONLY`` or ``O_RDWR`` (the C
        library refuses it with ``O_RDONLY``: ``InvalidArgumentError``). ``truncate`` needs
        ``write`` or ``append`` (``ValueError`` otherwise: a read-only open would empty the
        file). As for ``io.FileIO``, ``name`` is ``path`` as given and
        ``mode`` says how it was opened (``"rb"``, ``"wb"``, ``"rb+"``, ``"ab"``, ``"xb"``...)."""
        out = c_handle()
        if flags is None:
            flags = _flags(read, write, append, create, exclusive, truncate, nofollow, nonblocking)
        elif (read, write, append, create, exclusive, truncate, nofollow, nonblocking) != (None,) + (False,) * 7:
            raise TypeError("give open flags or the keyword switches, not both")
        else:
            flags = int_arg(flags, "flags", 0, 2**32 - 1)
        with naming(path):
            check(lib.fdsafe_file_open(_path(path), flags, mode, ctypes.byref(out)))
        return _opened(cls, out.value, flags, path)

    @classmethod
    def tmpfile(cls, directory: PathLike, *, exclusive: bool = False, mode: int = 0o600) -> "File":
        """An unnamed read-write file in ``directory`` (``O_TMPFILE``)."""
        out = c_handle()
        flags = _c.FDSAFE_O_RDWR | FILE_TMPFILE | (FILE_EXCLUSIVE if exclusive else 0)
        with naming(directory):
            check(lib.fdsafe_file_open(_path(directory), flags, mode, ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def open_directory(cls, path: PathLike) -> "File":
        """A directory handle, the base for :meth:`open_at`."""
        out = c_handle()
        with naming(path):
            check(lib.fdsafe_file_open(_path(path), FILE_DIRECTORY, 0, ctypes.byref(out)))
        return cls(out.value)._opened_as(path, O_RDONLY)

    def open_at(self, path: PathLike, *, read: Optional[bool] = None, write: bool = False, append: bool = False,
                create: bool = False, exclusive: bool = False, truncate: bool = False, nofollow: bool = False,
                nonblocking: bool = False, directory: bool = False, mode: int = 0o666, resolve: int = 0) -> "Union[File, MemFd]":
        """Opens ``path`` relative to this directory; ``resolve`` takes ``RESOLVE_*`` limits
        (``RESOLVE_BENEATH`` keeps the lookup inside the directory) and uses ``openat2``.
        As with :meth:`open`, a file opened with ``append`` is positioned at its end, and
        ``truncate`` needs ``write`` or ``append``."""
        out = c_handle()
        if directory:
            flags = _c.FDSAFE_O_RDONLY | FILE_DIRECTORY | (FILE_NOFOLLOW if nofollow else 0)
        else:
            flags = _flags(read, write, append, create, exclusive, truncate, nofollow, nonblocking)
        with naming(path):
            self._check(lib.fdsafe_file_open_at(self._value, _path(path), flags, mode, resolve, ctypes.byref(out)))
        return _opened(File, out.value, flags, path)
