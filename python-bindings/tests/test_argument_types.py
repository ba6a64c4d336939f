"""An argument of the wrong type raises TypeError, as in the standard library (os.read("x"),
socket.send(b"", "flags")), never ctypes' own ArgumentError, which Python code does not catch."""
import ctypes
import socket

import pytest

import fdsafe
from fdsafe import EventFd, Handle, MemFd, TimerFd, pipe


def _wrong_types():
    # (what is wrong, the call): each reaches a C function with an argument ctypes refuses
    yield "a str for a handle", lambda h: Handle.wrap("not a handle")
    yield "a str for a descriptor", lambda h: Handle.adopt("3")
    yield "a float for an initial count", lambda h: EventFd.create(1.5)
    yield "a float for a size", lambda h: h.truncate(1.5)
    yield "a float for an events mask", lambda h: h.wait(1.5, 0)
    yield "a float for a clock", lambda h: TimerFd.create(1.5)
    yield "a str for a pid", lambda h: fdsafe.PidFd.open("1")


@pytest.mark.parametrize("what,call", list(_wrong_types()), ids=[w for w, _ in _wrong_types()])
def test_wrong_argument_type_is_a_type_error(what, call):
    with MemFd.create("argument-types") as h:
        with pytest.raises(TypeError) as info:
            call(h)
        assert not isinstance(info.value, ctypes.ArgumentError), what
        assert h.size == 0  # nothing was done


def test_wrong_types_on_the_unconverted_fast_paths():
    # read, write and eventfd calls skip ctypes' conversion: their checks are in Python
    r, w = pipe()
    e = EventFd.create()
    with r, w, e:
        for call in (lambda: w.write(1.5), lambda: r.read("1"), lambda: e.add(1.5), lambda: r.readinto(b"ro")):
            with pytest.raises(TypeError):
                call()
        assert e.wait(timeout=0) == 0 and r.wait(timeout=0) == 0  # nothing was done


def test_right_types_still_work():
    r, w = pipe()
    with r, w:
        assert w.write(b"x") == 1
        assert Handle.wrap(r.value, owned=False).read(1) == b"x"


def test_int_subclasses_are_range_checked_as_ints():
    """The stdlib's constants are IntFlag and IntEnum values (socket.MSG_PEEK is a MsgFlag):
    one beyond the C parameter's range is refused as a plain int is, never cut to the flags
    that fit (2**32 | MSG_PEEK used to peek, and an IntEnum of 2**32 + 1 to shut down
    writing)."""
    import enum

    class How(enum.IntEnum):
        TOO_WIDE = 2**32 + 1

    a, b = fdsafe.socket.unix_pair()
    with a, b:
        a.send(b"a")
        with pytest.raises(OverflowError):
            b.recv(1, (1 << 32) | socket.MSG_PEEK)
        with pytest.raises(OverflowError):
            b.shutdown(How.TOO_WIDE)
        assert b.recv(1) == b"a", "nothing was peeked or shut down"
        b.settimeout(0.05)
        with pytest.raises(TimeoutError):
            b.recv(1)  # still open for reading, and the byte was consumed once
