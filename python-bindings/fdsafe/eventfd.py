"""eventfd: a kernel counter for waking event loops."""
from __future__ import annotations

import ctypes

from ._lib import c_handle, lib
from .errors import check
from .handle import KIND_EVENTFD, Handle, retry_eintr

EVENTFD_SEMAPHORE = 1 << 0
EVENTFD_NONBLOCK = 1 << 1


class EventFd(Handle):
    KIND = KIND_EVENTFD

    def __init__(self, value: int, owned: bool = True):
        super().__init__(value, owned)
        self._out = ctypes.c_uint64()

    @classmethod
    def create(cls, initial: int = 0, semaphore: bool = False, nonblocking: bool = False) -> "EventFd":
        flags = (EVENTFD_SEMAPHORE if semaphore else 0) | (EVENTFD_NONBLOCK if nonblocking else 0)
        out = c_handle()
        check(lib.fdsafe_eventfd_create(initial, flags, ctypes.byref(out)))
        return cls(out.value)

    def read_value(self) -> int:
        """Takes the counter (or 1 of it in semaphore mode); waits while it is 0."""
        out = self._out
        retry_eintr(lambda: lib.fdsafe_eventfd_read(self._value, ctypes.byref(out)))
        return out.value

    def add(self, value: int = 1) -> None:
        retry_eintr(lambda: lib.fdsafe_eventfd_write(self._value, value))
