"""Standard input, output and error as handles."""
from __future__ import annotations

import ctypes

from ._lib import c_handle, lib
from .errors import check
from .handle import KIND_STDIO, Handle
from . import _constants as _c

__all__ = ["KIND_STDIO", "STDIN", "STDOUT", "STDERR", "STDIO_CLOSE_STREAM", "Stdio"]

STDIN, STDOUT, STDERR = _c.FDSAFE_STDIN, _c.FDSAFE_STDOUT, _c.FDSAFE_STDERR
STDIO_CLOSE_STREAM = _c.FDSAFE_STDIO_CLOSE_STREAM


class Stdio(Handle):
    """A close-on-exec duplicate of a standard stream; closing it leaves the stream open
    unless ``close_stream`` was asked for (the stream then points at /dev/null)."""

    KIND = KIND_STDIO

    @classmethod
    def open(cls, stream: int, close_stream: bool = False) -> "Stdio":
        """A handle on ``STDIN``, ``STDOUT`` or ``STDERR`` (0, 1, 2): a close-on-exec
        duplicate. With ``close_stream``, closing the handle also closes the stream (it is
        pointed at /dev/null). InvalidArgumentError for another number."""
        out = c_handle()
        check(lib.fdsafe_stdio_open(stream, STDIO_CLOSE_STREAM if close_stream else 0, ctypes.byref(out)))
        return cls(out.value)
