"""eventfd: a kernel counter for waking event loops."""
from __future__ import annotations

import ctypes

import errno

from ._buffers import int_arg
from ._lib import c_handle, fast, lib
from .errors import check, error_for
from .handle import KIND_EVENTFD, Handle
from . import _constants as _c

__all__ = ["KIND_EVENTFD", "EVENTFD_SEMAPHORE", "EVENTFD_NONBLOCK", "EventFd"]

_EINTR = -errno.EINTR
_fast_read, _fast_write = fast.fdsafe_eventfd_read, fast.fdsafe_eventfd_write

EVENTFD_SEMAPHORE = _c.FDSAFE_EVENTFD_SEMAPHORE
EVENTFD_NONBLOCK = _c.FDSAFE_NONBLOCK


class EventFd(Handle):
    """An eventfd: a 64-bit kernel counter that threads and event loops wait on. Writing
    adds to it (:meth:`add`), reading takes it (:meth:`read_value`); it is readable while
    the counter is above 0."""

    KIND = KIND_EVENTFD

    @classmethod
    def create(cls, initial: int = 0, semaphore: bool = False, nonblocking: bool = False) -> "EventFd":
        """A new eventfd with counter ``initial`` (0 to 2**32-1). In ``semaphore`` mode each
        read takes 1 instead of the whole count; ``nonblocking`` makes reads of 0 and
        overflowing writes raise BlockingIOError instead of waiting."""
        flags = (EVENTFD_SEMAPHORE if semaphore else 0) | (EVENTFD_NONBLOCK if nonblocking else 0)
        out = c_handle()
        check(lib.fdsafe_eventfd_create(int_arg(initial, "initial", 0, 2**32 - 1), flags, ctypes.byref(out)))
        return cls(out.value)

    def read_value(self) -> int:
        """Takes the counter (or 1 of it in semaphore mode); waits while it is 0."""
        # A buffer per call: the call runs without the GIL, so threads reading one EventFd
        # at once must not share where the kernel's answer lands.
        out = ctypes.c_uint64()
        out_ref = ctypes.byref(out)
        rc = _fast_read(self._c, out_ref)
        while rc:
            if rc != _EINTR:
                raise error_for(rc)
            rc = _fast_read(self._c, out_ref)
        return out.value

    def add(self, value: int = 1) -> None:
        """Adds ``value`` to the counter; waits if it would overflow. As
        ``os.eventfd_write``: ``TypeError`` for a non-integer, ``ValueError`` for a negative
        value, ``OverflowError`` above ``2**64 - 1``; the kernel refuses ``2**64 - 1``
        itself (``OSError``, EINVAL)."""
        amount = ctypes.c_uint64(int_arg(value, "value", 0, 2**64 - 1))
        rc = _fast_write(self._c, amount)
        while rc:
            if rc != _EINTR:
                raise error_for(rc)
            rc = _fast_write(self._c, amount)
