"""Batches of reads and writes in one ctypes call (``fdsafe_io_batch``).

A ctypes call costs more than a small system call, so a loop of ``write``/``read`` calls
through the bindings is slower than Python's own ``os.read``/``os.write``. An :class:`IOBatch`
is built once (its operations and buffers are ctypes objects made up front) and then run any
number of times with one call into the library.
"""
from __future__ import annotations

import ctypes
import errno
from typing import Iterable, List, Optional, Sequence, Tuple, Union

from ._lib import c_handle, declare, fast, lib
from ._buffers import data_arg, int_arg
from .errors import check, error_for, strerror
from .handle import Handle
from . import _constants as _c

__all__ = ["IO_READ", "IO_WRITE", "IO_BATCH_MAX", "IOOp", "IOBatch", "close_all", "close_all_except"]

IO_READ = _c.FDSAFE_IO_READ
IO_WRITE = _c.FDSAFE_IO_WRITE
IO_BATCH_MAX = _c.FDSAFE_IO_BATCH_MAX


class IOOp(ctypes.Structure):
    """``struct fdsafe_io_op``."""
    _fields_ = [
        ("handle", ctypes.c_uint64),
        ("op", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("buf", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("result", ctypes.c_int64),
    ]


declare({
    "fdsafe_io_batch": (ctypes.c_int64, [ctypes.POINTER(IOOp), ctypes.c_size_t, ctypes.c_uint32]),
    "fdsafe_close_many": (ctypes.c_int64, [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]),
    "fdsafe_close_all_except": (ctypes.c_int64, [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]),
})

_EINTR = -errno.EINTR
_fast_batch = fast.fdsafe_io_batch
_fast_close_many = fast.fdsafe_close_many
_ZERO = ctypes.c_uint32(0)
_SSIZE_MAX = 2**63 - 1  # the longest read C takes

Step = Union[Tuple[Handle, str, bytes], Tuple[Handle, str, int]]


class IOBatch:
    """A fixed list of operations, each ``(handle, "w", data)`` or ``(handle, "r", size)``,
    run in order by :meth:`run` with one library call (retried from the interrupted
    operation on ``EINTR``, as Python's own calls are). Read results are in :meth:`data`.

    The steps are checked as ``os.write`` and ``os.read`` check theirs: ``handle`` must be an
    fdsafe handle (``TypeError`` otherwise), ``data`` a bytes-like object (copied now; an
    int is a ``TypeError``, not that many NUL bytes) and ``size`` an integer (``TypeError``
    for a float or a str, ``ValueError`` if negative, ``OverflowError`` above 2**63 - 1)."""

    def __init__(self, steps: Sequence[Step]):
        if len(steps) > IO_BATCH_MAX:
            raise ValueError(f"{len(steps)} operations; at most {IO_BATCH_MAX} per batch")
        self._handles = []  # keep the handle objects alive while the batch exists
        self._buffers: List["ctypes.Array[ctypes.c_char]"] = []
        self._ops = (IOOp * max(len(steps), 1))()
        for i, (handle, kind, arg) in enumerate(steps):
            if not isinstance(handle, Handle):
                raise TypeError(f"operation {i}: an fdsafe handle is required, not {type(handle).__name__}")
            # Every value is checked before it goes into the C structure, which ctypes fills
            # without a range check: the buffer and op.len must agree, or the kernel writes
            # past the buffer.
            if kind == "w":
                data = bytes(data_arg(arg)[0])
                buf = ctypes.create_string_buffer(data, max(len(data), 1))
                op_kind, length = IO_WRITE, len(data)
            elif kind == "r":
                length = int_arg(arg, f"operation {i}: size", 0, _SSIZE_MAX)
                buf = ctypes.create_string_buffer(max(length, 1))
                op_kind = IO_READ
            else:
                raise ValueError(f"operation {i}: kind must be 'r' or 'w', not {kind!r}")
            op = self._ops[i]
            op.handle, op.op, op.len = handle.value, op_kind, length
            op.buf = ctypes.addressof(buf)
            self._handles.append(handle)
            self._buffers.append(buf)
        self._count = len(steps)
        self._count_c = ctypes.c_size_t(self._count)
        self._ptr = ctypes.pointer(self._ops[0]) if steps else None

    def __len__(self) -> int:
        return self._count

    def run(self) -> None:
        """Runs every operation; raises the first failure (an ``OSError`` of the errno, with
        its text and the operation's index, or an ``FdsafeError``), with the operations
        before it done."""
        done = _fast_batch(self._ptr, self._count_c, _ZERO) if self._count else 0
        while done != self._count:
            if done < 0:
                raise error_for(done)
            rc = self._ops[done].result
            if rc != _EINTR:
                # C sets no last error message for a failed operation (fdsafe_io_batch).
                raise error_for(rc, f"fdsafe_io_batch: operation {done}: {strerror(rc)}")
            rest = ctypes.byref(self._ops, done * ctypes.sizeof(IOOp))
            more = check(lib.fdsafe_io_batch(ctypes.cast(rest, ctypes.POINTER(IOOp)), self._count - done, 0))
            done += more

    def results(self) -> List[int]:
        """The byte counts of the last :meth:`run`, one per operation."""
        return [self._ops[i].result for i in range(self._count)]

    def data(self, index: int) -> Optional[bytes]:
        """The bytes the read at ``index`` got in the last :meth:`run` (``None`` for a write)."""
        op = self._ops[index]
        if op.op != IO_READ:
            return None
        return self._buffers[index].raw[:max(op.result, 0)]


def _values(handles: Iterable[Handle], what: str) -> List[int]:
    """The raw values of ``handles``; TypeError for an entry that is not a handle object."""
    values = []
    for handle in handles:
        if not isinstance(handle, Handle):
            raise TypeError(f"{what} takes fdsafe handles, not {type(handle).__name__}")
        values.append(handle.value)
    return values


def close_all(handles: Sequence[Handle]) -> int:
    """Closes every handle in ``handles`` with one library call (``fdsafe_close_many``);
    handles already closed are skipped. Returns how many were closed. Raises ``TypeError``
    (closing nothing) for an entry that is not an fdsafe handle object."""
    items = list(handles)
    values = _values(items, "close_all")
    done = 0
    for start in range(0, len(items), IO_BATCH_MAX):
        part = items[start:start + IO_BATCH_MAX]
        arr = (ctypes.c_uint64 * len(part))(*values[start:start + IO_BATCH_MAX])
        done += check(_fast_close_many(arr, ctypes.c_size_t(len(part))))
        for h in part:
            h._owned = False  # closed: nothing left for the collector to close
            h._closed_here = True
    return done


def close_all_except(keep: Iterable[Handle]) -> int:
    """Closes every fdsafe handle of this process except those in ``keep``
    (``fdsafe_close_all_except``): for a worker right after ``os.fork()``, which keeps what it
    serves with and drops every listener and set it inherited. Only this process's
    descriptors close (never the parent's copies), and descriptors fdsafe does not hold are
    untouched. Handle objects of the closed handles raise ``OSError(EBADF)`` when used.

    Returns how many handles were closed. Raises ``TypeError`` for an entry that is not an
    fdsafe handle object and ``OSError(EBADF)`` (closing nothing) for one that is closed.
    Meant for a process with one thread: a handle another thread creates meanwhile may or may
    not be closed."""
    values = _values(keep, "close_all_except")
    arr = (ctypes.c_uint64 * len(values))(*values)
    return check(lib.fdsafe_close_all_except(arr, ctypes.c_size_t(len(values))))
