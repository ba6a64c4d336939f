"""Loads libfdsafe and declares the C prototypes.

The library is looked for, in order: the file named by the environment variable
FDSAFE_LIBRARY, the build in the repository this package sits in (target/release), and the
system's library path. ``PROTOTYPES`` is checked against include/fdsafe.h by the tests.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Dict, List, Tuple

c_handle = ctypes.c_uint64
c_handle_p = ctypes.POINTER(ctypes.c_uint64)


class IOVec(ctypes.Structure):
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


def _candidates() -> List[Tuple[str, str]]:
    found = []
    env = os.environ.get("FDSAFE_LIBRARY")
    if env:
        found.append(("FDSAFE_LIBRARY", env))
    repo_build = Path(__file__).resolve().parents[2] / "target" / "release" / "libfdsafe.so"
    if repo_build.exists():
        found.append(("repository build", str(repo_build)))
    system = ctypes.util.find_library("fdsafe")
    found.append(("system library path", system or "libfdsafe.so.0"))
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for where, path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as err:
            tried.append(f"{where}: {path} ({err})")
    raise ImportError(
        "fdsafe: libfdsafe not found. Set FDSAFE_LIBRARY to the library file, build the "
        "repository (make), or install it on the system library path. Tried: " + "; ".join(tried)
    )


def declare(prototypes: Dict[str, Tuple[object, List[object]]]) -> None:
    """Declares C prototypes; each kind's module declares its own functions. The return type
    also goes to ``fast`` (declared later modules included), so a 64-bit result is never cut
    to an int there."""
    for name, (restype, argtypes) in prototypes.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
        PROTOTYPES[name] = (restype, argtypes)
        getattr(fast, name).restype = restype


lib = _load()
# The same library without argument conversion, for the hot paths of the wrappers: ctypes'
# per-argument conversion costs more than the system call. Only ever call these with
# arguments that are already ctypes objects of the right type (c_uint64 handles and so on).
fast = ctypes.CDLL(lib._name)
declare(dict(PROTOTYPES))
