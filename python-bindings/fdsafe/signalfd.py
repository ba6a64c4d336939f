"""signalfd: signals read as records instead of run as handlers.

A signalfd only receives signals that every thread blocks: see ``block_process``.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Iterable, Iterator, List

from ._buffers import batch_arg
from ._lib import c_handle, declare, lib
from .errors import check
from .handle import Handle, retry_eintr
from .signals import SigSet, sigset
from . import _constants as _c

__all__ = ["KIND_SIGNALFD", "SIGNALFD_NONBLOCK", "SigInfoC", "SignalInfo", "block_process", "SignalFd"]

KIND_SIGNALFD = _c.FDSAFE_KIND_SIGNALFD
SIGNALFD_NONBLOCK = _c.FDSAFE_NONBLOCK


class SigInfoC(ctypes.Structure):
    """``fdsafe_siginfo``."""

    _fields_ = [("signo", ctypes.c_int32), ("code", ctypes.c_int32), ("pid", ctypes.c_uint32),
                ("uid", ctypes.c_uint32), ("status", ctypes.c_int32), ("errno_value", ctypes.c_int32),
                ("int_value", ctypes.c_int32), ("fd", ctypes.c_int32), ("ptr_value", ctypes.c_uint64),
                ("utime", ctypes.c_uint64), ("stime", ctypes.c_uint64), ("addr", ctypes.c_uint64)]


@dataclass(frozen=True)
class SignalInfo:
    """One signal: number, how it was sent (``code``), sender pid and uid, child status for
    ``SIGCHLD``, and the value sent with ``sigqueue``."""

    signo: int
    code: int
    pid: int
    uid: int
    status: int
    int_value: int
    ptr_value: int


_set_p = ctypes.POINTER(SigSet)
declare({
    "fdsafe_signalfd_create": (ctypes.c_int, [_set_p, ctypes.c_uint32, ctypes.POINTER(c_handle)]),
    "fdsafe_signalfd_update": (ctypes.c_int, [c_handle, _set_p]),
    "fdsafe_signalfd_read": (ctypes.c_int, [c_handle, ctypes.POINTER(SigInfoC), ctypes.c_size_t]),
    "fdsafe_signal_block_process": (ctypes.c_int, [_set_p]),
})


def block_process(signals: Iterable[int]) -> int:
    """Blocks ``signals`` in this thread and every thread it starts later; returns the number
    of threads in the process (1: the whole process blocks them now)."""
    return check(lib.fdsafe_signal_block_process(ctypes.byref(sigset(signals))))


class SignalFd(Handle):
    """Reads the signals of its set; creating or updating it blocks them in this thread."""

    KIND = KIND_SIGNALFD

    @classmethod
    def create(cls, signals: Iterable[int], nonblocking: bool = False) -> "SignalFd":
        """A signalfd for the signal numbers in ``signals`` (``signal.SIGUSR1``...), which it
        blocks in this thread so they queue for it. ValueError for a number out of range,
        TypeError for one that is not an integer (a float or a str), as ``signal.pthread_sigmask``
        (and for a ``bool``, which the stdlib would take as signal 1).
        SIGKILL and SIGSTOP may be in the set (as after ``signal.valid_signals()``), but the
        kernel never blocks them, so the signalfd never reads them: they keep their effect."""
        out = c_handle()
        check(lib.fdsafe_signalfd_create(ctypes.byref(sigset(signals)), SIGNALFD_NONBLOCK if nonblocking else 0,
                                         ctypes.byref(out)))
        return cls(out.value)

    def update(self, signals: Iterable[int]) -> None:
        """Replaces the set of signals read (and blocks the new ones in this thread)."""
        check(lib.fdsafe_signalfd_update(self._value, ctypes.byref(sigset(signals))))

    def read_signals(self, max_records: int = 16) -> List[SignalInfo]:
        """Pending signals (at least one: waits unless non-blocking, ``BlockingIOError``)."""
        count = batch_arg(max_records, "max_records", 64)  # the most one read hands out
        buf = (SigInfoC * count)()
        n = retry_eintr(lambda: lib.fdsafe_signalfd_read(self._value, buf, count))
        return [SignalInfo(r.signo, r.code, r.pid, r.uid, r.status, r.int_value, r.ptr_value) for r in buf[:n]]

    def __iter__(self) -> Iterator[SignalInfo]:
        """Yields signals as they come; a non-blocking signalfd stops when none is pending."""
        while True:
            try:
                batch = self.read_signals()
            except BlockingIOError:
                return
            yield from batch
