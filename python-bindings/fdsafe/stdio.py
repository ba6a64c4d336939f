"""Standard input, output and error as handles."""
from __future__ import annotations

import ctypes
import errno

from ._lib import c_handle, lib
from .errors import ClosedFileError, check
from .handle import KIND_STDIO, Handle
from . import _constants as _c

__all__ = ["KIND_STDIO", "STDIN", "STDOUT", "STDERR", "STDIO_CLOSE_STREAM", "Stdio"]

STDIN, STDOUT, STDERR = _c.FDSAFE_STDIN, _c.FDSAFE_STDOUT, _c.FDSAFE_STDERR
STDIO_CLOSE_STREAM = _c.FDSAFE_STDIO_CLOSE_STREAM


class Stdio(Handle):
    """A close-on-exec duplicate of a standard stream; closing it leaves the stream open
    unless ``close_stream`` was asked for (the stream then points at /dev/null)."""

    KIND = KIND_STDIO
    _PASSED_TO_PROCESSES = False  # fdsafe_fd_adopt refuses stdio; each process has its own streams

    @classmethod
    def open(cls, stream: int, close_stream: bool = False) -> "Stdio":
        """A handle on ``STDIN``, ``STDOUT`` or ``STDERR`` (0, 1, 2): a close-on-exec
        duplicate. With ``close_stream``, closing the handle also closes the stream (it is
        pointed at /dev/null). InvalidArgumentError for another number."""
        out = c_handle()
        check(lib.fdsafe_stdio_open(stream, STDIO_CLOSE_STREAM if close_stream else 0, ctypes.byref(out)))
        return cls(out.value)

    def fileno(self) -> int:
        """The duplicate's descriptor, lent. Once closed, :class:`~fdsafe.errors.ClosedFileError`
        (a ``ValueError``), as ``sys.stdout.fileno()`` raises on a closed stream, never -1,
        which ``subprocess`` and ``os`` calls would take for "no descriptor"."""
        fd = lib.fdsafe_fd_borrow(self._value)
        if fd == -errno.EBADF:
            raise ClosedFileError(errno.EBADF, "I/O operation on closed file")
        return check(fd)
