"""timerfd: timers read and polled through a descriptor. Times are in seconds (floats)."""
from __future__ import annotations

import ctypes
import errno
import math
import os
from typing import NamedTuple

from ._buffers import int_arg
from ._lib import c_handle, declare, lib
from .errors import check
from .handle import Handle, retry_eintr
from . import _constants as _c

__all__ = ["KIND_TIMERFD", "CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_BOOTTIME", "CLOCK_REALTIME_ALARM",
           "CLOCK_BOOTTIME_ALARM", "TIMERFD_NONBLOCK", "TIMERFD_ABSTIME", "TIMERFD_CANCEL_ON_SET",
           "TIMERFD_CANCELED", "TimerValueC", "TimerValue", "TimerValueNs", "TimerCanceled", "TimerFd"]

KIND_TIMERFD = _c.FDSAFE_KIND_TIMERFD

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME = _c.FDSAFE_CLOCK_REALTIME, _c.FDSAFE_CLOCK_MONOTONIC, _c.FDSAFE_CLOCK_BOOTTIME
CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM = _c.FDSAFE_CLOCK_REALTIME_ALARM, _c.FDSAFE_CLOCK_BOOTTIME_ALARM
TIMERFD_NONBLOCK = _c.FDSAFE_NONBLOCK
TIMERFD_ABSTIME, TIMERFD_CANCEL_ON_SET = _c.FDSAFE_TIMERFD_ABSTIME, _c.FDSAFE_TIMERFD_CANCEL_ON_SET
TIMERFD_CANCELED = _c.FDSAFE_TIMERFD_CANCELED


class TimerValueC(ctypes.Structure):
    """``fdsafe_timer_value``."""

    _fields_ = [("value_ns", ctypes.c_int64), ("interval_ns", ctypes.c_int64)]


class TimerValue(NamedTuple):
    """Seconds to the next expiration (0: disarmed) and the interval (0: one-shot)."""

    value: float
    interval: float


class TimerValueNs(NamedTuple):
    """The same in nanoseconds, exactly as the kernel keeps them."""

    value_ns: int
    interval_ns: int


class TimerCanceled(OSError):
    """The realtime clock was set while a cancel-on-set timer was armed: an ``OSError`` with
    errno ``ECANCELED``, as Python 3.13's ``os.timerfd_*`` functions raise for it (so
    ``except OSError`` catches it too). ``TimerCanceled("message")`` sets the errno."""

    def __init__(self, *args: object) -> None:
        if len(args) <= 1:  # the message alone (or none): the errno is always ECANCELED
            args = (errno.ECANCELED, args[0] if args else os.strerror(errno.ECANCELED))
        super().__init__(*args)


declare({
    "fdsafe_timerfd_create": (ctypes.c_int, [ctypes.c_int, ctypes.c_uint32, ctypes.POINTER(c_handle)]),
    "fdsafe_timerfd_set": (ctypes.c_int, [c_handle, ctypes.c_uint32, ctypes.c_int64, ctypes.c_int64,
                                          ctypes.POINTER(TimerValueC)]),
    "fdsafe_timerfd_get": (ctypes.c_int, [c_handle, ctypes.POINTER(TimerValueC)]),
    "fdsafe_timerfd_read": (ctypes.c_int, [c_handle, ctypes.POINTER(ctypes.c_uint64)]),
})


_NS_MAX = 2**63 - 1


def _ns(seconds: float) -> int:
    """Seconds as the signed 64-bit nanoseconds C takes (C refuses a negative time itself:
    InvalidArgumentError). A positive time under a nanosecond is 1 ns, not 0, which would
    disarm the timer; one beyond 2**63 ns (292 years) is an OverflowError, not a wrap."""
    if not hasattr(seconds, "__float__"):
        raise TypeError(f"a time must be a number of seconds, not {type(seconds).__name__}")
    value = float(seconds)
    if math.isnan(value):
        raise ValueError("a time cannot be NaN")
    ns = round(value * 1_000_000_000) if math.isfinite(value) else math.copysign(_NS_MAX + 1, value)
    if ns == 0 and value > 0:
        return 1
    return int_arg(int(ns), "time in nanoseconds", -_NS_MAX - 1, _NS_MAX)


def _value(v: TimerValueC) -> TimerValue:
    return TimerValue(v.value_ns / 1e9, v.interval_ns / 1e9)


class TimerFd(Handle):
    """A timer whose expirations are read from a descriptor (``timerfd_create``), so an event
    loop waits for it like for any other handle. Times are seconds (float); the ``_ns``
    forms take and give nanoseconds, exactly as the kernel keeps them."""

    KIND = KIND_TIMERFD

    @classmethod
    def create(cls, clock: int = CLOCK_MONOTONIC, nonblocking: bool = False) -> "TimerFd":
        """A new disarmed timer on ``clock`` (``CLOCK_MONOTONIC``, ``CLOCK_REALTIME``,
        ``CLOCK_BOOTTIME`` or an ``_ALARM`` clock, which needs ``CAP_WAKE_ALARM``).
        InvalidArgumentError for another clock."""
        out = c_handle()
        check(lib.fdsafe_timerfd_create(clock, TIMERFD_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return cls(out.value)

    def set(self, value: float, interval: float = 0.0, absolute: bool = False,
            cancel_on_set: bool = False) -> TimerValue:
        """Arms the timer: first expiration in ``value`` seconds (at that clock time if
        ``absolute``; 0 disarms it), then every ``interval`` seconds (0: once).
        ``cancel_on_set`` (absolute realtime timers) makes a clock change end the wait with
        :class:`TimerCanceled`. Returns the previous setting. InvalidArgumentError for a
        negative time."""
        flags = (TIMERFD_ABSTIME if absolute else 0) | (TIMERFD_CANCEL_ON_SET if cancel_on_set else 0)
        old = TimerValueC()
        check(lib.fdsafe_timerfd_set(self._value, flags, _ns(value), _ns(interval), ctypes.byref(old)))
        return _value(old)

    def set_ns(self, value_ns: int, interval_ns: int = 0, absolute: bool = False,
               cancel_on_set: bool = False) -> TimerValueNs:
        """Arms the timer in nanoseconds (``value_ns`` 0 disarms it); returns the previous
        setting in nanoseconds."""
        flags = (TIMERFD_ABSTIME if absolute else 0) | (TIMERFD_CANCEL_ON_SET if cancel_on_set else 0)
        old = TimerValueC()
        check(lib.fdsafe_timerfd_set(self._value, flags, int_arg(value_ns, "value_ns", -_NS_MAX - 1, _NS_MAX),
                                     int_arg(interval_ns, "interval_ns", -_NS_MAX - 1, _NS_MAX), ctypes.byref(old)))
        return TimerValueNs(old.value_ns, old.interval_ns)

    def disarm(self) -> TimerValue:
        """Stops the timer; returns the previous setting."""
        return self.set(0)

    def get(self) -> TimerValue:
        """The time left to the next expiration and the interval, in seconds
        (:class:`TimerValue`; value 0 when disarmed, with the interval as the kernel keeps it:
        0 after ``disarm()``, the one given to ``set(0, interval)``, as ``os.timerfd_gettime``
        reports)."""
        v = TimerValueC()
        check(lib.fdsafe_timerfd_get(self._value, ctypes.byref(v)))
        return _value(v)

    def get_ns(self) -> TimerValueNs:
        """The time left and the interval in nanoseconds."""
        v = TimerValueC()
        check(lib.fdsafe_timerfd_get(self._value, ctypes.byref(v)))
        return TimerValueNs(v.value_ns, v.interval_ns)

    def expirations(self) -> int:
        """The number of expirations since the last read; waits for one unless
        non-blocking (``BlockingIOError``). Raises ``TimerCanceled`` (an ``OSError``,
        errno ``ECANCELED``) on cancel-on-set."""
        count = ctypes.c_uint64()
        rc = retry_eintr(lambda: lib.fdsafe_timerfd_read(self._value, ctypes.byref(count)))
        if rc == TIMERFD_CANCELED:
            raise TimerCanceled("the realtime clock was set")
        return count.value
