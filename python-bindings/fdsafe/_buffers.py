"""Argument checks shared by the wrappers: buffers (any object with the buffer protocol, as
the ``socket`` and ``os`` modules take), sizes, counts and timeouts. Checked in Python, so a
negative length is a ``ValueError`` and never reaches C as a huge unsigned number."""
from __future__ import annotations

import ctypes
import errno
import math
import mmap
import operator
import os
from typing import Any, Optional, Tuple

__all__ = ["c_string", "data_arg", "int_arg", "into_arg", "read_buffer", "size_arg", "timeout_ms"]

_INT_MAX = 2**31 - 1

# Reads of up to this many bytes take a plain (zero-filled) ctypes buffer; larger ones one
# whose pages are only touched when written (see read_buffer).
EAGER_READ_MAX = 64 * 1024


def c_string(value: Any) -> bytes:
    """A path or name (``str``, ``bytes`` or ``os.PathLike``, encoded with ``os.fsencode``)
    for a C string parameter. A NUL inside is a ``ValueError``, as the standard library
    raises: C would read the string only up to it and act on another name."""
    raw = os.fsencode(value)
    if b"\0" in raw:
        raise ValueError("embedded null byte")
    return raw


def int_arg(value: object, name: str, low: int, high: int) -> int:
    """``value`` as an int for a C integer parameter holding ``low`` to ``high``: TypeError
    for a non-integer, ValueError below 0 where negatives are not allowed, OverflowError
    otherwise out of range (never wrapped into another value by the C type)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    n = operator.index(value)
    if n < 0 <= low:
        raise ValueError(f"{name} must not be negative: {n}")
    if not low <= n <= high:
        raise OverflowError(f"{name} must be {low} to {high}: {n}")
    return n


def index_arg(value: object, name: str) -> int:
    """``operator.index(value)``, with a TypeError that names the argument."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


def backlog_arg(backlog: object) -> int:
    """``backlog`` as ``socket.listen`` takes it: an int of C's range, a negative one as 0."""
    return max(int_arg(backlog, "backlog", -2**31, 2**31 - 1), 0)


def size_arg(value: object, name: str = "size") -> int:
    """``value`` as a non-negative int, taken as ``os.read`` takes a size (``operator.index``:
    any integer, a bool or an object with ``__index__``): TypeError for a non-integer,
    ValueError below 0."""
    if type(value) is int and value >= 0:  # the common case, first: this runs on hot paths
        return value
    n = index_arg(value, name)
    if n < 0:
        raise ValueError(f"negative {name}: {n}")
    return n


def batch_arg(value: object, name: str, most: int) -> int:
    """``value`` as a count of records to take (TypeError, ValueError as :func:`size_arg`),
    capped at ``most``, the most one C call hands out: the buffer for them is allocated
    here, and a count larger than any call can fill must not become a ``MemoryError``. 0
    goes through for the C function to refuse."""
    return min(size_arg(value, name), most)


def data_arg(data: Any) -> Tuple[Any, int]:
    """What a C ``const void *`` parameter can take for ``data`` (bytes, bytearray,
    memoryview, array...), and its length in bytes. The first item must stay referenced for
    the call. ``bytes`` go through as they are (no copy)."""
    if type(data) is bytes:
        return data, len(data)
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not {type(data).__name__}") from None
    if not view.c_contiguous:
        raise BufferError("the buffer must be contiguous")
    if view.readonly:
        raw = view.tobytes()
        return raw, len(raw)
    flat = view.cast("B")
    return (ctypes.c_char * flat.nbytes).from_buffer(flat), flat.nbytes


def into_arg(buffer: Any, nbytes: int = 0) -> Tuple[Any, int]:
    """A writable C view of ``buffer`` for a read of ``nbytes`` (0: the whole buffer), as
    ``socket.recv_into`` takes it: TypeError for read-only objects, ValueError for a
    negative ``nbytes`` or one larger than the buffer."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"a read-write bytes-like object is required, not {type(buffer).__name__}") from None
    if view.readonly:
        raise TypeError(f"a read-write bytes-like object is required, not {type(buffer).__name__}")
    if not view.c_contiguous:
        raise BufferError("the buffer must be contiguous")
    flat = view.cast("B")
    size = size_arg(nbytes, "nbytes") or flat.nbytes
    if size > flat.nbytes:
        raise ValueError("nbytes is greater than the length of the buffer")
    return (ctypes.c_char * flat.nbytes).from_buffer(flat), size


def read_buffer(size: int) -> Any:
    """A writable C buffer (a ``c_char`` array: ``buf[:n]`` is its first ``n`` bytes) for a
    read of up to ``size`` bytes, costing what the read fills rather than ``size``, as
    ``os.read``'s does: up to :data:`EAGER_READ_MAX` bytes a zero-filled ctypes buffer, above
    it a view of an anonymous mmap, whose pages are only touched when the read writes them.
    The mmap is never closed here (closing it while the view exists raises ``BufferError``):
    it is unmapped with the last reference to the view. A size the process cannot map
    raises ``MemoryError``, as ``os.read`` does for a buffer it cannot allocate."""
    if size <= EAGER_READ_MAX:
        return ctypes.create_string_buffer(size)
    try:
        area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    except OSError as err:
        if err.errno != errno.ENOMEM:
            raise
        raise MemoryError(f"cannot reserve a {size}-byte read buffer") from None
    return (ctypes.c_char * size).from_buffer(area)


def timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (``None``: no limit) as the milliseconds C takes, rounded up so a wait never
    ends early; ValueError below 0, as ``socket.settimeout``."""
    if timeout is None:
        return -1
    if not hasattr(timeout, "__float__"):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    seconds = float(timeout)
    if seconds < 0 or math.isnan(seconds):
        raise ValueError("timeout value out of range")
    return min(math.ceil(seconds * 1000), _INT_MAX)
