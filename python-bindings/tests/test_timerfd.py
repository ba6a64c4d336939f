import ctypes
import errno
import time

import pytest

import fdsafe
from fdsafe import (CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, EPOLL_IN, Epoll, EventFd,
                    InvalidArgumentError, TimerCanceled, TimerFd, WrongKindError)


def test_one_shot_and_time_left():
    with TimerFd.create() as t:
        assert t.get() == (0.0, 0.0)
        start = time.monotonic()
        t.set(0.02)
        left = t.get()
        assert 0 < left.value <= 0.02 and left.interval == 0
        assert t.expirations() == 1
        assert time.monotonic() - start >= 0.02
        assert t.get().value == 0


def test_interval_and_previous_value():
    with TimerFd.create(CLOCK_BOOTTIME, nonblocking=True) as t:
        with pytest.raises(BlockingIOError):
            t.expirations()
        t.set(0.005, 0.005)
        time.sleep(0.04)
        assert t.expirations() >= 5
        old = t.disarm()
        assert old.interval == pytest.approx(0.005)


def test_absolute_on_monotonic():
    with TimerFd.create() as t:
        at = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 10_000_000
        t.set_ns(at, absolute=True)
        assert t.expirations() == 1
        assert time.clock_gettime_ns(time.CLOCK_MONOTONIC) >= at


def test_cancel_on_set_raises_its_own_exception():
    # An OSError with errno ECANCELED, as os.timerfd_settime/read raise on Python 3.13.
    assert issubclass(TimerCanceled, OSError)
    e = TimerCanceled("the realtime clock was set")
    assert (e.errno, e.strerror) == (errno.ECANCELED, "the realtime clock was set")
    with TimerFd.create(CLOCK_REALTIME, nonblocking=True) as t:
        t.set(time.time() + 3600, absolute=True, cancel_on_set=True)
        libc = ctypes.CDLL(None, use_errno=True)

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        now = Timespec()
        libc.clock_gettime(0, ctypes.byref(now))
        if libc.clock_settime(0, ctypes.byref(now)) != 0:
            pytest.skip(f"clock_settime: errno {ctypes.get_errno()} (needs CAP_SYS_TIME)")
        with pytest.raises(OSError) as info:
            t.expirations()
        assert isinstance(info.value, TimerCanceled) and info.value.errno == errno.ECANCELED
        with pytest.raises(InvalidArgumentError):
            t.set(1, cancel_on_set=True)  # needs absolute


def test_timer_wakes_an_epoll_loop():
    with TimerFd.create() as t, Epoll.create() as ep:
        ep.add(t, EPOLL_IN, data="tick")
        t.set(0.005)
        assert ep.wait(2.0) == [("tick", EPOLL_IN)]


def test_bad_input():
    with pytest.raises(InvalidArgumentError):
        TimerFd.create(clock=2)
    with TimerFd.create() as t:
        with pytest.raises(InvalidArgumentError):
            t.set(-1)
        with pytest.raises(InvalidArgumentError):
            t.set(1, cancel_on_set=True, absolute=True)  # monotonic clock
        e = EventFd.create()
        with pytest.raises(WrongKindError):
            TimerFd(e.value, owned=False).get()
        e.close()
    with pytest.raises(OSError):
        t.get()


@pytest.mark.parametrize("clock", [fdsafe.CLOCK_BOOTTIME_ALARM, fdsafe.CLOCK_REALTIME_ALARM])
def test_alarm_clocks(clock):
    try:
        t = TimerFd.create(clock)
    except PermissionError as err:
        pytest.skip(f"alarm clock: {err} (needs CAP_WAKE_ALARM)")
    with t:
        t.set(0.005)
        assert t.expirations() == 1
