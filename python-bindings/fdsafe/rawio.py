"""A base for handles that behave as Python raw binary streams (``io.RawIOBase``)."""
from __future__ import annotations

import errno
import fcntl
import io
import os
from typing import Any, List, Optional

from .errors import ClosedFileError
from .handle import Handle

__all__ = ["RawIOHandle"]

# What a read returns, annotated as typeshed annotates ``io.FileIO.read`` (``bytes |
# MaybeNone``, MaybeNone being ``Any``): None at run time when a non-blocking read would
# block, but typed so that these streams satisfy the protocols of ``io.BufferedReader`` and
# ``io.BufferedWriter`` (whose ``read`` returns ``bytes``), as ``io.FileIO`` does.
MaybeNone = Any


class RawIOHandle(Handle, io.RawIOBase):
    """A handle usable wherever Python expects a raw binary file: ``io.BufferedReader``,
    ``io.BufferedWriter``, ``io.TextIOWrapper``, ``shutil.copyfileobj``... ``read()`` without a
    size reads to the end. As ``io.RawIOBase`` (and ``io.FileIO``) require, a non-blocking
    read or write that would block returns ``None`` instead of raising, which is what lets the
    buffered layers report ``BlockingIOError`` with ``characters_written``. Closing (or
    collecting) it closes the handle, as for any :class:`Handle`."""

    def __init__(self, value: int, owned: bool = True):
        Handle.__init__(self, value, owned)

    def _access(self) -> int:
        self._check_open()
        return fcntl.fcntl(self.fileno(), fcntl.F_GETFL) & os.O_ACCMODE

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
        return False

    def read(self, size: Optional[int] = -1) -> "bytes | MaybeNone":
        """Up to ``size`` bytes (all to the end if ``size`` is None or negative); b"" at end
        of file; None if non-blocking and nothing is there yet."""
        if size is None or size < 0:
            return self.readall()
        try:
            return Handle.read(self, size)
        except BlockingIOError:
            return None
        except OSError as err:
            raise self._closed_error(err)

    def readall(self) -> "bytes | MaybeNone":
        """Everything to the end of file (None if non-blocking and nothing came yet; what came
        so far if the data stops coming)."""
        chunks: List[bytes] = []
        while True:
            try:
                chunk = Handle.read(self, 65536)
            except BlockingIOError:
                return b"".join(chunks) if chunks else None
            except OSError as err:
                raise self._closed_error(err)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def readinto(self, buffer: Any) -> "int | MaybeNone":
        """Reads into a writable buffer; the count, or None if non-blocking and empty."""
        try:
            return Handle.readinto(self, buffer)
        except BlockingIOError:
            return None
        except OSError as err:
            raise self._closed_error(err)

    def write(self, data: Any) -> "int | MaybeNone":
        """Writes some of ``data``; the count, or None if non-blocking and full."""
        try:
            return Handle.write(self, data)
        except BlockingIOError:
            return None
        except OSError as err:
            raise self._closed_error(err)

    def _closed_error(self, err: OSError) -> Exception:
        """For a use after close, an error that is both fdsafe's ``OSError(EBADF)`` and
        ``io``'s ``ValueError``; else ``err``. Every method of a stream raises it (through
        ``Handle._check`` and ``Handle._retry``), as ``read`` does."""
        return ClosedFileError.replacing(err, "file")

    @property
    def closed(self) -> bool:
        """True once the handle is closed (here or anywhere)."""
        return bool(Handle.closed.fget(self))  # type: ignore[attr-defined]

    def close(self) -> None:
        """Closes the handle (as :meth:`Handle.close`; no flush: nothing is buffered here)."""
        Handle.close(self)

    def fileno(self) -> int:
        """The descriptor, lent."""
        return Handle.fileno(self)

    def __enter__(self) -> "RawIOHandle":
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        Handle.__del__(self)
