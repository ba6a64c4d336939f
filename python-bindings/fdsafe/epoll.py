"""epoll sets whose registrations belong to handles: closing a handle removes it from every
set, so no event for a dead handle is ever returned."""
from __future__ import annotations

import ctypes
import itertools
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from ._lib import c_handle, declare, lib
from .errors import check
from .handle import Handle, retry_eintr
from .signals import SigSet, sigset
from . import _constants as _c

KIND_EPOLL = _c.FDSAFE_KIND_EPOLL

EPOLL_IN, EPOLL_PRI, EPOLL_OUT, EPOLL_ERR, EPOLL_HUP, EPOLL_RDHUP = _c.FDSAFE_EPOLL_IN, _c.FDSAFE_EPOLL_PRI, _c.FDSAFE_EPOLL_OUT, _c.FDSAFE_EPOLL_ERR, _c.FDSAFE_EPOLL_HUP, _c.FDSAFE_EPOLL_RDHUP
EPOLL_EXCLUSIVE, EPOLL_WAKEUP, EPOLL_ONESHOT, EPOLL_ET = _c.FDSAFE_EPOLL_EXCLUSIVE, _c.FDSAFE_EPOLL_WAKEUP, _c.FDSAFE_EPOLL_ONESHOT, _c.FDSAFE_EPOLL_ET


class EpollEvent(ctypes.Structure):
    """``fdsafe_epoll_event``."""

    _fields_ = [("handle", c_handle), ("user", ctypes.c_uint64), ("events", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


_ev_p = ctypes.POINTER(EpollEvent)
_set_p = ctypes.POINTER(SigSet)
declare({
    "fdsafe_epoll_create": (ctypes.c_int, [ctypes.POINTER(c_handle)]),
    "fdsafe_epoll_add": (ctypes.c_int, [c_handle, c_handle, ctypes.c_uint32, ctypes.c_uint64]),
    "fdsafe_epoll_modify": (ctypes.c_int, [c_handle, c_handle, ctypes.c_uint32, ctypes.c_uint64]),
    "fdsafe_epoll_delete": (ctypes.c_int, [c_handle, c_handle]),
    "fdsafe_epoll_count": (ctypes.c_int64, [c_handle]),
    "fdsafe_epoll_wait": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int]),
    "fdsafe_epoll_pwait": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int, _set_p]),
    "fdsafe_epoll_wait_ns": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int64, _set_p]),
})


def _ms(timeout: Optional[float]) -> int:
    if timeout is None or timeout < 0:
        return -1
    return int(timeout * 1000 + 0.999)  # round up: never wake early


class Epoll(Handle):
    """An epoll set. ``add(handle, events, data)`` registers a handle; ``wait`` returns
    ``(data, events)`` pairs, where ``data`` is what was given to ``add`` (the handle itself
    by default)."""

    KIND = KIND_EPOLL

    def __init__(self, value: int, owned: bool = True):
        super().__init__(value, owned)
        self._data: Dict[int, Tuple[Handle, Any]] = {}  # user value -> (handle, data)
        self._keys: Dict[int, int] = {}  # handle value -> user value
        self._next = itertools.count(1)

    @classmethod
    def create(cls) -> "Epoll":
        out = c_handle()
        check(lib.fdsafe_epoll_create(ctypes.byref(out)))
        return cls(out.value)

    def _prune(self) -> None:
        # Handles closed since they were added left the set in C; forget them here too.
        for hv in [hv for hv, (h, _) in ((k, self._data[u]) for k, u in self._keys.items()) if h.closed]:
            self._data.pop(self._keys.pop(hv), None)

    def add(self, handle: Handle, events: int = EPOLL_IN, data: Any = None) -> None:
        self._prune()
        key = next(self._next)
        check(lib.fdsafe_epoll_add(self._value, handle.value, events, key))
        self._keys[handle.value] = key
        self._data[key] = (handle, handle if data is None else data)

    register = add

    def modify(self, handle: Handle, events: int, data: Any = None) -> None:
        key = next(self._next)
        check(lib.fdsafe_epoll_modify(self._value, handle.value, events, key))
        old = self._keys.get(handle.value)
        if old is not None:
            self._data.pop(old, None)
        self._keys[handle.value] = key
        self._data[key] = (handle, handle if data is None else data)

    def delete(self, handle: Handle) -> None:
        check(lib.fdsafe_epoll_delete(self._value, handle.value))
        key = self._keys.pop(handle.value, None)
        if key is not None:
            self._data.pop(key, None)

    unregister = delete

    def __len__(self) -> int:
        return check(lib.fdsafe_epoll_count(self._value))

    def _collect(self, call, max_events: int) -> List[Tuple[Any, int]]:
        buf = (EpollEvent * max_events)()
        n = retry_eintr(lambda: call(buf))
        out = []
        for ev in buf[:n]:
            entry = self._data.get(ev.user)
            if entry is not None:
                out.append((entry[1], ev.events))
                continue
            # Registered through C or another wrapper: a view of the handle (which another
            # thread may have closed since the wait returned).
            try:
                handle = Handle.wrap(ev.handle, owned=False)
            except OSError:
                handle = Handle(ev.handle, owned=False)
            out.append((handle, ev.events))
        return out

    # Not Handle.wait (readiness of one handle): for an epoll set, waiting means epoll_wait.
    def wait(  # type: ignore[override]
        self, timeout: Optional[float] = None, max_events: int = 64
    ) -> List[Tuple[Any, int]]:
        """Waits up to ``timeout`` seconds (None: no limit) and returns ``(data, events)``
        pairs. Interrupted waits are retried (PEP 475) with the whole timeout."""
        ms = _ms(timeout)
        return self._collect(lambda b: lib.fdsafe_epoll_wait(self._value, b, max_events, ms), max_events)

    poll = wait

    def wait_ns(self, timeout_ns: int = -1, max_events: int = 64,
                unblock: Optional[Iterable[int]] = None) -> List[Tuple[Any, int]]:
        """Waits with a nanosecond timeout (``epoll_pwait2``); ``unblock``: the signal mask to
        use while waiting, given as the signals to leave blocked."""
        mask = None if unblock is None else ctypes.byref(sigset(unblock))
        return self._collect(lambda b: lib.fdsafe_epoll_wait_ns(self._value, b, max_events, timeout_ns, mask),
                             max_events)

    def pwait(self, mask: Iterable[int], timeout: Optional[float] = None,
              max_events: int = 64) -> List[Tuple[Any, int]]:
        """Waits with the thread's signal mask replaced by ``mask`` (the signals blocked
        during the wait). An unblocked signal's Python handler runs and the wait then goes on
        (or the handler's exception propagates)."""
        s = sigset(mask)
        ms = _ms(timeout)
        return self._collect(lambda b: lib.fdsafe_epoll_pwait(self._value, b, max_events, ms, ctypes.byref(s)),
                             max_events)

    def __iter__(self) -> Iterator[Tuple[Any, int]]:
        """Iterates over the events ready now (a zero-timeout wait)."""
        return iter(self.wait(0))
