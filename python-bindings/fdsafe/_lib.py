"""Loads libfdsafe and declares the C prototypes.

The library used is the first of these that exists: the file named by the environment
variable FDSAFE_LIBRARY (an override), the copy bundled in the wheel (``fdsafe/libfdsafe.so``,
built from the same source), the build in the repository this package sits in
(target/release, when run from the source tree), the system's library path. Only that one is
tried: a package never runs on a library other than the one it was meant to, without saying.
``PROTOTYPES`` is checked against include/fdsafe.h by the tests.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["IOVec", "PROTOTYPES", "c_handle", "c_handle_p", "declare", "fast", "lib"]

c_handle = ctypes.c_uint64  # fdsafe_handle
c_handle_p = ctypes.POINTER(ctypes.c_uint64)  # fdsafe_handle *


class IOVec(ctypes.Structure):
    """``struct iovec`` (one buffer of a ``readv``/``writev``): its address and its length in bytes."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_int, _i64, _u32, _u64, _size = ctypes.c_int, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
c_kind = ctypes.c_int  # fdsafe_kind: signed, as fdsafe_handle_kind returns a kind or an error code
_str, _vp = ctypes.c_char_p, ctypes.c_void_p

# name: (return type, argument types) of the functions all kinds share. Each kind's module
# declares its own with ``declare``; the tests compare the union with include/fdsafe.h.
PROTOTYPES: Dict[str, Tuple[object, List[object]]] = {
    # errors
    "fdsafe_strerror": (_str, [_i64]),
    "fdsafe_error_name": (_str, [_i64]),
    "fdsafe_last_error": (_int, [ctypes.c_char_p, _size]),
    "fdsafe_version_number": (_u32, []),
    "fdsafe_version_string": (_str, []),
    # any handle
    "fdsafe_close": (_int, [c_handle]),
    "fdsafe_handle_kind": (c_kind, [c_handle]),
    "fdsafe_kind_name": (_str, [c_kind]),
    "fdsafe_fd_borrow": (_int, [c_handle]),
    "fdsafe_fd_release": (_int, [c_handle]),
    "fdsafe_fd_adopt": (_int, [_int, c_kind, c_handle_p]),
    "fdsafe_dup": (_int, [c_handle, c_handle_p]),
    "fdsafe_nonblocking_get": (_int, [c_handle]),
    "fdsafe_nonblocking_set": (_int, [c_handle, ctypes.c_bool]),
    "fdsafe_wait": (_int, [c_handle, _u32, _int]),
    "fdsafe_read": (_i64, [c_handle, _vp, _size]),
    "fdsafe_write": (_i64, [c_handle, _vp, _size]),
    "fdsafe_readv": (_i64, [c_handle, ctypes.POINTER(IOVec), _int]),
    "fdsafe_writev": (_i64, [c_handle, ctypes.POINTER(IOVec), _int]),
    # pipes
    "fdsafe_pipe_create": (_int, [_u32, c_handle_p, c_handle_p]),
    "fdsafe_pipe_get_capacity": (_i64, [c_handle]),
    "fdsafe_pipe_set_capacity": (_i64, [c_handle, _size]),
    # eventfd
    "fdsafe_eventfd_create": (_int, [_u32, _u32, c_handle_p]),
    "fdsafe_eventfd_read": (_int, [c_handle, ctypes.POINTER(_u64)]),
    "fdsafe_eventfd_write": (_int, [c_handle, _u64]),
    # SIGPIPE handling
    "fdsafe_sigpipe_mode": (_int, [_u32]),
    # how calls hold handles
    # standard streams
    "fdsafe_stdio_open": (_int, [_int, _u32, c_handle_p]),
}


BUNDLED = Path(__file__).resolve().with_name("libfdsafe.so")
_REPO_BUILD = Path(__file__).resolve().parent.parent.parent / "target" / "release" / "libfdsafe.so"
_HOW_TO_FIX = (
    "(Re)install fdsafe from its wheel, which contains the library (pip install --force-reinstall "
    "fdsafe, or pip install ./python-bindings in fdsafe's source, given Rust), or set "
    "FDSAFE_LIBRARY to a libfdsafe.so file."
)


def _library_path() -> Tuple[str, str]:
    """(where it comes from, path or name) of the library to load."""
    env = os.environ.get("FDSAFE_LIBRARY")
    if env:
        return "FDSAFE_LIBRARY", env
    if BUNDLED.exists():
        return "the copy bundled with the package", str(BUNDLED)
    if _REPO_BUILD.exists():
        return "the repository's build", str(_REPO_BUILD)
    return "the system library path", ctypes.util.find_library("fdsafe") or "libfdsafe.so.0"


def _load() -> ctypes.CDLL:
    where, path = _library_path()
    try:
        return ctypes.CDLL(path)
    except OSError as err:
        if where == "FDSAFE_LIBRARY":
            fix = "Point FDSAFE_LIBRARY at a libfdsafe.so file, or unset it to use the package's own copy."
        else:
            fix = _HOW_TO_FIX
        raise ImportError(f"fdsafe: cannot load libfdsafe from {where} ({path}): {err}. {fix}") from err


def _int_range(argtype: object) -> Optional[Tuple[int, int]]:
    """The values a C integer type holds, or None for any other argument type."""
    if not isinstance(argtype, type) or not issubclass(argtype, _INTEGER_TYPES):
        return None
    bits = 8 * ctypes.sizeof(argtype)
    if argtype(-1).value < 0:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


_INTEGER_TYPES = (ctypes.c_byte, ctypes.c_ubyte, ctypes.c_short, ctypes.c_ushort, ctypes.c_int, ctypes.c_uint,
                  ctypes.c_long, ctypes.c_ulong, ctypes.c_longlong, ctypes.c_ulonglong)


def _out_of_range(name: str, position: int, value: int, low: int, high: int) -> Exception:
    if value < 0 <= low:
        return ValueError(f"{name}: argument {position + 1} must not be negative: {value}")
    return OverflowError(f"{name}: argument {position + 1} must be {low} to {high}: {value}")


def _typed_call(name: str, fn: Callable[..., Any], argtypes: List[object]) -> Callable[..., Any]:
    """``fn`` raising TypeError where ctypes raises its own ArgumentError (a str for a handle,
    a float for a size...), as the standard library does for an argument of the wrong type,
    and OverflowError (ValueError for a negative where the C type is unsigned) for an integer
    its C parameter cannot hold, which ctypes would silently cut to another value (2**32 + 9
    to 9, say) instead."""
    ranges = [(i, r) for i, r in enumerate(map(_int_range, argtypes)) if r is not None]

    def call(*args: Any) -> Any:
        for position, (low, high) in ranges:
            if position < len(args):
                value = args[position]
                # isinstance: the stdlib's own constants are IntFlag (socket.MSG_PEEK), and an
                # IntFlag of 2**32 | MSG_PEEK would otherwise reach C as MSG_PEEK alone.
                if isinstance(value, int) and not low <= value <= high:
                    raise _out_of_range(name, position, value, low, high)
        try:
            return fn(*args)
        except ctypes.ArgumentError as err:
            raise TypeError(f"{name}: {err}") from None
    call.__name__ = call.__qualname__ = name
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def declare(prototypes: Dict[str, Tuple[object, List[object]]]) -> None:
    """Declares C prototypes (name: (return type, argument types)); each kind's module
    declares its own functions. ``lib.<name>`` then converts its arguments and raises
    TypeError for one of the wrong type. The return type also goes to ``fast`` (declared
    later modules included), so a 64-bit result is never cut to an int there. Raises
    ImportError if the loaded library lacks a function (another version of libfdsafe)."""
    for name, (restype, argtypes) in prototypes.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError(
                f"fdsafe: {lib._name} has no {name}: it is another version of libfdsafe than this "
                f"package's. {_HOW_TO_FIX}"
            ) from None
        if hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__  # declared again: PROTOTYPES' own entries at load time
        fn.restype = restype
        fn.argtypes = argtypes
        setattr(lib, name, _typed_call(name, fn, argtypes))
        PROTOTYPES[name] = (restype, argtypes)
        getattr(fast, name).restype = restype


lib = _load()
# The library with argument conversion: each declared function of ``lib`` is replaced by its
# _typed_call. ``fast`` is the same library without conversion (no argtypes) and without
# that wrapper, for the hot paths of the wrappers: ctypes' per-argument conversion costs more
# than the system call. Only ever call these with arguments that are already ctypes objects
# of the right type (c_uint64 handles and so on), checked before the call.
fast = ctypes.CDLL(lib._name)
declare(dict(PROTOTYPES))
