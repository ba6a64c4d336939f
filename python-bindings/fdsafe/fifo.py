"""FIFOs, device nodes and character devices."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

from ._lib import c_handle, c_handle_p, declare, lib
from .errors import check, naming
from .file import PathLike, _path, access_mode
from .handle import retry_eintr
from .pipe import PipeCapacity
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_FIFO", "KIND_CHARDEV", "FIFO_REUSE", "OPEN_NONBLOCK", "NODE_FIFO", "NODE_CHAR",
           "NODE_BLOCK", "mkfifo", "mknod", "Fifo", "CharDevice"]

_int, _u32, _str = ctypes.c_int, ctypes.c_uint32, ctypes.c_char_p
_u32p = ctypes.POINTER(ctypes.c_uint32)

declare({
    "fdsafe_fifo_create": (_int, [_str, _u32, _u32]),
    "fdsafe_fifo_open": (_int, [_str, _u32, c_handle_p]),
    "fdsafe_mknod": (_int, [_str, _u32, _u32, _u32, _u32]),
    "fdsafe_chardev_open": (_int, [_str, _u32, c_handle_p]),
    "fdsafe_chardev_numbers": (_int, [c_handle, _u32p, _u32p]),
})

KIND_FIFO, KIND_CHARDEV = _c.FDSAFE_KIND_FIFO, _c.FDSAFE_KIND_CHARDEV
FIFO_REUSE = _c.FDSAFE_FIFO_REUSE
OPEN_NONBLOCK = _c.FDSAFE_NONBLOCK
NODE_FIFO, NODE_CHAR, NODE_BLOCK = _c.FDSAFE_NODE_FIFO, _c.FDSAFE_NODE_CHAR, _c.FDSAFE_NODE_BLOCK


def _open_flags(read: bool, write: bool, nonblocking: bool) -> int:
    """``O_RDONLY``, ``O_WRONLY`` or ``O_RDWR``, with ``O_NONBLOCK``."""
    return access_mode(read, write) | (_c.FDSAFE_NONBLOCK if nonblocking else 0)



def mkfifo(path: PathLike, mode: int = 0o600, reuse: bool = False) -> bool:
    """Creates a FIFO; returns True if created, False if ``reuse`` accepted an existing one.
    Any other existing file raises ``FileExistsError``."""
    with naming(path):
        return check(lib.fdsafe_fifo_create(_path(path), mode, FIFO_REUSE if reuse else 0)) == 0


def mknod(path: PathLike, node_type: int, mode: int = 0o600, major: int = 0, minor: int = 0) -> None:
    """Creates a node: ``NODE_FIFO``, ``NODE_CHAR`` or ``NODE_BLOCK`` (devices need root)."""
    with naming(path):
        check(lib.fdsafe_mknod(_path(path), node_type, mode, major, minor))


class Fifo(PipeCapacity):
    """One end of a FIFO opened by path; a raw binary stream. ``capacity`` and
    ``set_capacity`` are its pipe's, as for a ``PipeEnd``."""

    KIND = KIND_FIFO

    @classmethod
    def open(cls, path: PathLike, *, read: bool = False, write: bool = False, nonblocking: bool = False) -> "Fifo":
        """Opens a FIFO's end. Blocking opens wait for the other side; a non-blocking write
        open without a reader raises ``OSError(ENXIO)``. Non-FIFO paths are refused."""
        out = c_handle()
        flags = _open_flags(read, write, nonblocking)
        with naming(path):
            retry_eintr(lambda: lib.fdsafe_fifo_open(_path(path), flags, ctypes.byref(out)))
        return cls(out.value)._opened_as(path, flags)


class CharDevice(RawIOHandle):
    """A character device (``/dev/null``, ``/dev/urandom``...); a raw binary stream."""

    KIND = KIND_CHARDEV

    @classmethod
    def open(cls, path: PathLike, *, read: Optional[bool] = None, write: bool = False,
             nonblocking: bool = False) -> "CharDevice":
        """Opens a character device (never as the controlling terminal); anything else is
        refused (``InvalidArgumentError``), and so is a terminal, which is a
        :class:`~fdsafe.Terminal` (``Terminal.open``). For reading unless ``write`` is asked
        (``read=True`` too for both)."""
        if read is None:
            read = not write
        out = c_handle()
        flags = _open_flags(read, write, nonblocking)
        with naming(path):
            check(lib.fdsafe_chardev_open(_path(path), flags, ctypes.byref(out)))
        return cls(out.value)._opened_as(path, flags)

    @property
    def numbers(self) -> Tuple[int, int]:
        """The device numbers ``(major, minor)`` of the character device
        (:class:`ClosedFileError` after close, as ``read``)."""
        major, minor = ctypes.c_uint32(), ctypes.c_uint32()
        self._check(lib.fdsafe_chardev_numbers(self._value, ctypes.byref(major), ctypes.byref(minor)))
        return major.value, minor.value
