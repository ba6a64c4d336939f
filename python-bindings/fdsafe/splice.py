"""Zero-copy moves: splice, vmsplice, tee, sendfile, copy_file_range.

Each side may be an fdsafe :class:`Handle` or a raw descriptor number the caller owns (lent
for the one call, never closed). With two handles the handle functions are used, holding
both; otherwise the raw-descriptor variants, with a handle's side given as a duplicate that
fdsafe makes while holding it and closes after the call (its borrowed number could name
another file by then, were another thread to close the handle)."""
from __future__ import annotations

import ctypes
import mmap
from typing import Any, Iterable, Optional, Union

from ._lib import IOVec, c_handle, lib, declare
from ._buffers import data_arg, int_arg, size_arg
from .handle import Handle, descriptors_of, retry_eintr
from . import _constants as _c

__all__ = ["SPLICE_MOVE", "SPLICE_NONBLOCK", "SPLICE_MORE", "SPLICE_GIFT", "splice", "vmsplice", "tee",
           "sendfile", "copy_file_range"]

_int, _i64, _u32, _size = ctypes.c_int, ctypes.c_int64, ctypes.c_uint32, ctypes.c_size_t
_i64p = ctypes.POINTER(ctypes.c_int64)
_iovp = ctypes.POINTER(IOVec)

declare({
    "fdsafe_splice": (_i64, [c_handle, _i64p, c_handle, _i64p, _size, _u32]),
    "fdsafe_splice_fd": (_i64, [_int, _i64p, _int, _i64p, _size, _u32]),
    "fdsafe_vmsplice": (_i64, [c_handle, _iovp, _int, _u32]),
    "fdsafe_vmsplice_fd": (_i64, [_int, _iovp, _int, _u32]),
    "fdsafe_tee": (_i64, [c_handle, c_handle, _size, _u32]),
    "fdsafe_tee_fd": (_i64, [_int, _int, _size, _u32]),
    "fdsafe_sendfile": (_i64, [c_handle, _i64p, c_handle, _size]),
    "fdsafe_sendfile_fd": (_i64, [_int, _i64p, _int, _size]),
    "fdsafe_copy_file_range": (_i64, [c_handle, _i64p, c_handle, _i64p, _size, _u32]),
    "fdsafe_copy_file_range_fd": (_i64, [_int, _i64p, _int, _i64p, _size, _u32]),
})

SPLICE_MOVE, SPLICE_NONBLOCK, SPLICE_MORE, SPLICE_GIFT = _c.FDSAFE_SPLICE_MOVE, _c.FDSAFE_SPLICE_NONBLOCK, _c.FDSAFE_SPLICE_MORE, _c.FDSAFE_SPLICE_GIFT

Endpoint = Union[Handle, int]


def _fd(x: Endpoint) -> int:
    """The descriptor of an int, or of an object with ``fileno()`` (a handle's comes from
    ``descriptors_of``)."""
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    if hasattr(x, "fileno"):
        return int(x.fileno())
    raise TypeError(f"a handle, a descriptor or an object with fileno() is required, not {type(x).__name__}")


def _off(offset: Optional[int], name: str) -> Optional[ctypes.c_int64]:
    """An offset as the ``int64_t`` C reads through a pointer. Checked here (ctypes fills a
    ``c_int64`` without a range check, so 2**64 + 2 would become 2): ``TypeError`` for a
    non-integer, ``OverflowError`` beyond 64 bits, as ``os.splice`` raises. C refuses a
    negative offset itself (``InvalidArgumentError``, a ``ValueError``)."""
    return None if offset is None else ctypes.c_int64(int_arg(offset, name, -2**63, 2**63 - 1))


def _ref(off: Optional[ctypes.c_int64]) -> Any:
    return None if off is None else ctypes.byref(off)



def splice(src: Endpoint, dst: Endpoint, length: int, *, src_offset: Optional[int] = None,
           dst_offset: Optional[int] = None, flags: int = 0) -> int:
    """Moves up to ``length`` bytes; one side must be a pipe. An offset given is used instead
    of that side's file position. Returns the bytes moved (0: end of input)."""
    oi, oo = _off(src_offset, "src_offset"), _off(dst_offset, "dst_offset")
    length = size_arg(length, "length")
    if isinstance(src, Handle) and isinstance(dst, Handle):
        return retry_eintr(lambda: lib.fdsafe_splice(src.value, _ref(oi), dst.value, _ref(oo), length, flags))
    with descriptors_of((src, dst), _fd) as (fd_in, fd_out):
        return retry_eintr(lambda: lib.fdsafe_splice_fd(fd_in, _ref(oi), fd_out, _ref(oo), length, flags))


def vmsplice(pipe: Endpoint, buffers: Iterable[bytes], flags: int = 0) -> int:
    """Places ``buffers`` in a pipe's write end without copying them in the kernel.

    The lifetime rule of vmsplice (the pipe refers to the memory until it is read, so the
    memory must not change until then) is kept for the caller: the data is first placed in a
    fresh anonymous mapping that nothing else can reach, and the mapping is unmapped after the
    call, leaving its pages to the pipe alone. GIFT is therefore refused here."""
    if flags & SPLICE_GIFT:
        raise ValueError("SPLICE_GIFT gives pages away; the binding manages the pages itself")
    chunks = [bytes(data_arg(b)[0]) for b in buffers]
    total = sum(len(c) for c in chunks)
    area = mmap.mmap(-1, max(total, 1))
    try:
        base = ctypes.c_char.from_buffer(area)
        try:
            start = ctypes.addressof(base)
            iov = (IOVec * len(chunks))()
            pos = 0
            for i, c in enumerate(chunks):
                area[pos:pos + len(c)] = c
                iov[i] = IOVec(start + pos, len(c))
                pos += len(c)
            if isinstance(pipe, Handle):
                return retry_eintr(lambda: lib.fdsafe_vmsplice(pipe.value, iov, len(chunks), flags))
            return retry_eintr(lambda: lib.fdsafe_vmsplice_fd(_fd(pipe), iov, len(chunks), flags))
        finally:
            del base
    finally:
        area.close()


def tee(src: Endpoint, dst: Endpoint, length: int, flags: int = 0) -> int:
    """Copies up to ``length`` bytes from pipe ``src`` to pipe ``dst`` without consuming them."""
    length = size_arg(length, "length")
    if isinstance(src, Handle) and isinstance(dst, Handle):
        return retry_eintr(lambda: lib.fdsafe_tee(src.value, dst.value, length, flags))
    with descriptors_of((src, dst), _fd) as (fd_in, fd_out):
        return retry_eintr(lambda: lib.fdsafe_tee_fd(fd_in, fd_out, length, flags))


def sendfile(src: Endpoint, dst: Endpoint, count: int, offset: Optional[int] = None) -> int:
    """Sends up to ``count`` bytes from a file (or memfd) to any writable ``dst``."""
    oi = _off(offset, "offset")
    count = size_arg(count, "count")
    if isinstance(src, Handle) and isinstance(dst, Handle):
        return retry_eintr(lambda: lib.fdsafe_sendfile(src.value, _ref(oi), dst.value, count))
    with descriptors_of((src, dst), _fd) as (fd_in, fd_out):
        return retry_eintr(lambda: lib.fdsafe_sendfile_fd(fd_in, _ref(oi), fd_out, count))


def copy_file_range(src: Endpoint, dst: Endpoint, length: int, *, src_offset: Optional[int] = None,
                    dst_offset: Optional[int] = None) -> int:
    """Copies up to ``length`` bytes between files inside the kernel."""
    oi, oo = _off(src_offset, "src_offset"), _off(dst_offset, "dst_offset")
    length = size_arg(length, "length")
    if isinstance(src, Handle) and isinstance(dst, Handle):
        return retry_eintr(lambda: lib.fdsafe_copy_file_range(src.value, _ref(oi), dst.value, _ref(oo), length, 0))
    with descriptors_of((src, dst), _fd) as (fd_in, fd_out):
        return retry_eintr(lambda: lib.fdsafe_copy_file_range_fd(fd_in, _ref(oi), fd_out, _ref(oo), length, 0))
