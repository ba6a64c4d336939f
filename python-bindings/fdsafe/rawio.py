"""A base for handles that behave as Python raw binary streams (``io.RawIOBase``)."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import io
import os
import warnings
from typing import Any, Iterable, Iterator, List, Optional, TypeVar

from ._buffers import index_arg
from ._lib import lib
from .errors import ClosedFileError, FdsafeError
from .handle import Handle, private_descriptor

__all__ = ["RawIOHandle"]

R = TypeVar("R", bound="RawIOHandle")

# The address of the calling thread's C errno (glibc's and musl's name for it).
_errno_location = ctypes.CDLL(None).__errno_location
_errno_location.restype = ctypes.POINTER(ctypes.c_int)
_errno_location.argtypes = []


def _errno_eagain() -> None:
    """Sets the C errno to EAGAIN; call it just before a stream method returns None for
    "would block". ``io.BufferedWriter`` makes its ``BlockingIOError`` of the errno it finds
    when the raw ``write`` returns None (as ``io.FileIO``'s failed write leaves it), but
    fdsafe's calls keep the caller's errno, and ctypes restores errno after a call even for
    ``use_errno`` functions, so it is written here directly."""
    _errno_location()[0] = errno.EAGAIN

# What a read returns, annotated as typeshed annotates ``io.FileIO.read`` (``bytes |
# MaybeNone``, MaybeNone being ``Any``): None at run time when a non-blocking read would
# block, but typed so that these streams satisfy the protocols of ``io.BufferedReader`` and
# ``io.BufferedWriter`` (whose ``read`` returns ``bytes``), as ``io.FileIO`` does.
MaybeNone = Any


def _mode_string(flags: int, created: bool) -> str:
    """The ``mode`` ``io.FileIO`` shows for a file opened with ``flags``."""
    access = flags & os.O_ACCMODE
    readable, writable = access in (os.O_RDONLY, os.O_RDWR), access in (os.O_WRONLY, os.O_RDWR)
    plus = "+" if readable and writable else ""
    if created:
        return "xb" + plus
    if flags & os.O_APPEND:
        return "ab" + plus
    return "rb" + plus if readable else "wb"


class RawIOHandle(Handle, io.RawIOBase):
    """A handle usable wherever Python expects a raw binary file: ``io.BufferedReader``,
    ``io.BufferedWriter``, ``io.TextIOWrapper``, ``shutil.copyfileobj``... ``read()`` without a
    size reads to the end. As ``io.RawIOBase`` (and ``io.FileIO``) require, a non-blocking
    read or write that would block returns ``None`` instead of raising (leaving the C errno at
    ``EAGAIN``), which is what lets the buffered layers report ``BlockingIOError`` with
    ``errno.EAGAIN`` and ``characters_written``. Closing (or collecting) it closes the handle,
    as for any :class:`Handle`; once closed, every method, ``fileno()`` included, raises
    :class:`~fdsafe.errors.ClosedFileError` (a ``ValueError``), as ``io.FileIO``'s do.
    Reading one not open for reading, or writing (or truncating) one not open for writing,
    raises ``io.UnsupportedOperation`` ("File not open for writing"), as ``io.FileIO`` does,
    rather than the kernel's ``EBADF``."""

    # Set by the functions that open a stream by path (see _opened_as).
    _name: Any = None
    _mode: Optional[str] = None

    def __init__(self, value: int, owned: bool = True):
        Handle.__init__(self, value, owned)

    def _opened_as(self: R, path: Any, flags: int) -> R:
        """Records the ``path`` (as given) and open ``flags`` a stream was opened with, for
        :attr:`name` and :attr:`mode`."""
        created = flags & os.O_CREAT and flags & os.O_EXCL
        self._name, self._mode = path, _mode_string(flags, bool(created))
        return self

    @property
    def name(self) -> Any:
        """As ``io.FileIO.name``: the path given to open the stream, as given (``str``,
        ``bytes`` or path-like; relative to the directory for ``File.open_at``), else its
        descriptor number, which raises :class:`~fdsafe.errors.ClosedFileError` once
        closed. The buffered and text layers show it (``BufferedReader.name``, ``repr``)."""
        return self.fileno() if self._name is None else self._name

    @property
    def mode(self) -> str:
        """As ``io.FileIO.mode``: ``"rb"``, ``"wb"``, ``"rb+"``, ``"ab"``, ``"ab+"``, or for
        a file created exclusively (``O_CREAT | O_EXCL``) ``"xb"``/``"xb+"``. From the open
        flags for a stream opened by path; else from the descriptor's, which raises
        :class:`~fdsafe.errors.ClosedFileError` once closed (and never says ``"x"``)."""
        if self._mode is not None:
            return self._mode
        return _mode_string(self._status_flags(), False)

    def _access(self) -> int:
        return self._status_flags() & os.O_ACCMODE

    def _status_flags(self) -> int:
        """The open file's status flags, asked of a duplicate fdsafe makes while holding the
        handle (the same open file): the number ``fileno()`` lends could be another file's
        by the time ``fcntl`` ran, were another thread to close this stream."""
        self._check_open()
        fd = private_descriptor(self)  # ClosedFileError if closed meanwhile (see _closed_error)
        try:
            return fcntl.fcntl(fd, fcntl.F_GETFL)
        finally:
            os.close(fd)

    def _check_open(self) -> None:
        if self.closed:  # as io.FileIO: a closed stream's operations are errors
            raise ClosedFileError(errno.EBADF, "I/O operation on closed file")

    def flush(self) -> None:
        """Nothing is buffered here; on a closed stream, ``ClosedFileError`` (a
        ``ValueError``), as ``io``."""
        self._check_open()

    def readable(self) -> bool:
        """True when the descriptor was opened for reading."""
        return self._access() in (os.O_RDONLY, os.O_RDWR)

    def writable(self) -> bool:
        """True when the descriptor was opened for writing."""
        return self._access() in (os.O_WRONLY, os.O_RDWR)

    def seekable(self) -> bool:
        """False: these streams have no position."""
        self._check_open()
        return False

    # io.RawIOBase's own methods raise a plain ValueError once closed, or
    # UnsupportedOperation even then; a closed stream's answer is ClosedFileError first.

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """``io.UnsupportedOperation``: these streams have no position."""
        self._check_open()
        return io.RawIOBase.seek(self, offset, whence)

    def tell(self) -> int:
        """``io.UnsupportedOperation``: these streams have no position."""
        self._check_open()
        return io.RawIOBase.tell(self)

    def truncate(self, size: Optional[int] = None) -> int:
        """``io.UnsupportedOperation``: these streams have no size to set."""
        self._check_open()
        return io.RawIOBase.truncate(self, size)

    def isatty(self) -> bool:
        """False: not a terminal (a :class:`~fdsafe.Terminal` answers for itself)."""
        self._check_open()
        return False

    def readlines(self, hint: int = -1) -> List[bytes]:
        """The lines to the end (as far as ``hint`` bytes, if positive), as ``io``."""
        self._check_open()
        return io.RawIOBase.readlines(self, hint)

    def writelines(self, lines: Iterable[Any]) -> None:
        """Writes each bytes-like object of ``lines`` in turn, as ``io``."""
        self._check_open()
        io.RawIOBase.writelines(self, lines)

    def __iter__(self) -> Iterator[bytes]:
        self._check_open()
        return self

    def read(self, size: Optional[int] = -1) -> "bytes | MaybeNone":
        """Up to ``size`` bytes (all to the end if ``size`` is None or negative); b"" at end
        of file; None if non-blocking and nothing is there yet."""
        if size is None:
            return self.readall()
        if type(size) is not int:
            size = index_arg(size, "size")  # as io.FileIO.read: any integer, a bool too
        if size < 0:
            return self.readall()
        try:
            return Handle.read(self, size)
        except BlockingIOError:
            _errno_eagain()
            return None
        except OSError as err:
            raise self._mode_error(err, "reading")

    def readall(self) -> "bytes | MaybeNone":
        """Everything to the end of file (None if non-blocking and nothing came yet; what came
        so far if the data stops coming)."""
        chunks: List[bytes] = []
        while True:
            try:
                chunk = Handle.read(self, 65536)
            except BlockingIOError:
                if chunks:
                    return b"".join(chunks)
                _errno_eagain()
                return None
            except OSError as err:
                raise self._mode_error(err, "reading")
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: Any) -> "int | MaybeNone":
        """Reads into a writable buffer; the count, or None if non-blocking and empty."""
        try:
            return Handle.readinto(self, buffer)
        except BlockingIOError:
            _errno_eagain()
            return None
        except OSError as err:
            raise self._mode_error(err, "reading")

    def write(self, data: Any) -> "int | MaybeNone":
        """Writes some of ``data``; the count, or None if non-blocking and full."""
        try:
            return Handle.write(self, data)
        except BlockingIOError:
            _errno_eagain()
            return None
        except OSError as err:
            raise self._mode_error(err, "writing")

    def readv(self, sizes: Iterable[int]) -> List[bytes]:
        """Reads with one readv into buffers of ``sizes``; returns each one's bytes."""
        try:
            return Handle.readv(self, sizes)
        except OSError as err:
            raise self._mode_error(err, "reading") from None

    def writev(self, buffers: Iterable[Any]) -> int:
        """Writes the buffers (any bytes-like objects) with one writev; returns the count."""
        try:
            return Handle.writev(self, buffers)
        except OSError as err:
            raise self._mode_error(err, "writing") from None

    def _mode_error(self, err: OSError, needs: str) -> Exception:
        """For ``err`` from a call that needs the stream open for ``needs`` ("reading" or
        "writing"): ``io.UnsupportedOperation`` with ``io.FileIO``'s message if the handle
        is live and its access mode forbids that (the kernel says EBADF, or EINVAL for
        ``ftruncate``, which reads as a closed descriptor or a bad argument); else what
        :meth:`_closed_error` makes of it. Asked only once the call has failed, so a
        successful call costs nothing more."""
        if isinstance(err, (ClosedFileError, FdsafeError)) or err.errno not in (errno.EBADF, errno.EINVAL):
            return err  # already said, fdsafe refused an argument before any call, or another failure
        closed = self._closed_error(err)
        if closed is not err:
            return closed
        try:
            forbidden = self._access() == (os.O_WRONLY if needs == "reading" else os.O_RDONLY)
        except OSError:  # closed meanwhile
            forbidden = False
        return io.UnsupportedOperation(f"File not open for {needs}") if forbidden else err

    def _closed_error(self, err: OSError) -> Exception:
        """For a use after close, an error that is both fdsafe's ``OSError(EBADF)`` and
        ``io``'s ``ValueError``; else ``err``. Every method of a stream raises it (through
        ``Handle._check`` and ``Handle._retry``), as ``read`` does. Closed here needs no
        question; else the library is asked, which replaces this thread's last error message
        only when the handle is indeed closed (elsewhere)."""
        return ClosedFileError.replacing(err, "file", lambda: self._closed_here or self.closed)

    @property
    def closed(self) -> bool:
        """True once the handle is closed (here or anywhere)."""
        return bool(Handle.closed.fget(self))  # type: ignore[attr-defined]

    def close(self) -> None:
        """Closes the handle (as :meth:`Handle.close`; no flush: nothing is buffered here)."""
        Handle.close(self)

    def fileno(self) -> int:
        """The descriptor, lent. Once closed, :class:`~fdsafe.errors.ClosedFileError` (a
        ``ValueError``), as ``io.FileIO.fileno`` raises, never -1: ``subprocess``
        (``stdout=``), ``mmap`` and others would take -1 for "no descriptor" and quietly use
        another file. ``selectors`` still unregisters a closed stream (it looks the object
        up when ``fileno()`` raises ``ValueError``)."""
        return self._check(lib.fdsafe_fd_borrow(self._value))

    def __enter__(self: R) -> R:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dealloc_warn(self, source: object) -> None:
        """The ``ResourceWarning`` of an unclosed stream, naming ``source``: what
        ``io.BufferedReader``, ``io.TextIOWrapper``... call on their raw stream, as on
        ``io.FileIO``, when collected unclosed (they then close it, which does not warn)."""
        if self._owned and not self.closed:
            warnings.warn(f"unclosed fdsafe handle {type(self).__name__} {self._value:#x} in {source!r}",
                          ResourceWarning, stacklevel=2, source=source)

    # Handle's finalizer (close, with a ResourceWarning), not io's (close() alone). Taken
    # as it is rather than called from a method here: the warning names the frame above
    # it, which must be the user's code.
    __del__ = Handle.__del__
