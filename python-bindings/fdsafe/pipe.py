"""Pipes."""
from __future__ import annotations

import ctypes
from typing import Tuple

from ._lib import c_handle, lib
from ._buffers import size_arg
from .errors import check
from .handle import KIND_PIPE
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_PIPE", "PIPE_NONBLOCK", "PIPE_PACKET", "PipeEnd", "pipe", "SIGPIPE_GUARD", "SIGPIPE_IGNORE",
           "sigpipe_mode"]

PIPE_NONBLOCK = _c.FDSAFE_NONBLOCK
PIPE_PACKET = _c.FDSAFE_PIPE_PACKET


class PipeCapacity(RawIOHandle):
    """The capacity of the pipe an end belongs to, for pipe and FIFO ends."""

    @property
    def capacity(self) -> int:
        """The pipe's capacity in bytes (F_GETPIPE_SZ); set it with ``set_capacity``."""
        return self._check(lib.fdsafe_pipe_get_capacity(self._value))

    @capacity.setter
    def capacity(self, size: int) -> None:
        self.set_capacity(size)

    def set_capacity(self, size: int) -> int:
        """Asks for a capacity of at least ``size`` bytes; returns the capacity now in force
        (the kernel rounds up to a power-of-two number of pages)."""
        return self._check(lib.fdsafe_pipe_set_capacity(self._value, size_arg(size)))


class PipeEnd(PipeCapacity):
    """One end of a pipe; a raw binary stream (``io.RawIOBase``)."""

    KIND = KIND_PIPE


def pipe(nonblocking: bool = False, packet: bool = False) -> Tuple[PipeEnd, PipeEnd]:
    """Creates a pipe: ``(read_end, write_end)``, both close-on-exec."""
    flags = (PIPE_NONBLOCK if nonblocking else 0) | (PIPE_PACKET if packet else 0)
    r, w = c_handle(), c_handle()
    check(lib.fdsafe_pipe_create(flags, ctypes.byref(r), ctypes.byref(w)))
    return PipeEnd(r.value), PipeEnd(w.value)


SIGPIPE_GUARD = _c.FDSAFE_SIGPIPE_GUARD
SIGPIPE_IGNORE = _c.FDSAFE_SIGPIPE_IGNORE


def sigpipe_mode(mode: int) -> int:
    """How fdsafe's pipe writes avoid SIGPIPE (see fdsafe_sigpipe_mode): ``SIGPIPE_GUARD``
    (the default: ``RWF_NOSIGNAL`` on Linux 6.18 and later, else a per-write guard) or ``SIGPIPE_IGNORE`` (SIGPIPE ignored process-wide, no
    per-write cost; Python itself starts with SIGPIPE ignored). Returns the previous mode."""
    return check(lib.fdsafe_sigpipe_mode(mode))
