"""Argument checks shared by the wrappers: buffers (any object with the buffer protocol, as
the ``socket`` and ``os`` modules take), sizes, counts and timeouts. Checked in Python, so a
negative length is a ``ValueError`` and never reaches C as a huge unsigned number."""
from __future__ import annotations

import ctypes
import math
import operator
import os
from typing import Any, Optional, Tuple

__all__ = ["c_string", "data_arg", "int_arg", "into_arg", "size_arg", "timeout_ms"]

_INT_MAX = 2**31 - 1


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


def size_arg(value: object, name: str = "size") -> int:
    """``value`` as a non-negative int: TypeError for a non-integer, ValueError below 0."""
    if type(value) is int and value >= 0:  # the common case, first: this runs on hot paths
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    n = operator.index(value)
    if n < 0:
        raise ValueError(f"negative {name}: {n}")
    return n


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
