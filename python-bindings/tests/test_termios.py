"""Terminal settings word for word, their views, raw and cbreak, tcflow and queue sizes,
checked against Python's own termios and tty on the same pseudo-terminal (cases in the
spirit of CPython's test_termios and test_tty)."""
import errno
import os
import subprocess
import termios
import tty

import pytest

from fdsafe import InvalidArgumentError, TerminalSettings, WrongKindError, open_pty, pipe
from fdsafe import terminal as T


# Kernel flags Python's termios module lacks before 3.12 (values of <asm-generic/termbits.h>).
MISSING_FROM_OLD_TERMIOS = {"IUTF8": 0o40000, "EXTPROC": 0o200000}


def stty(path, *args):
    return subprocess.run(["stty", "-F", path, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def pty():
    m, s = open_pty()
    with m, s:
        yield m, s


def kernel_words(t):
    """What Python's termios reads from the same terminal."""
    iflag, oflag, cflag, lflag, _, _, _ = termios.tcgetattr(t.fileno())
    return iflag, oflag, cflag, lflag


def test_get_then_apply_changes_nothing(pty):
    m, s = pty
    before = s.settings
    assert before.iflag == termios.ICRNL | termios.IXON == 0x500  # a fresh pty
    for when in (T.APPLY_NOW, T.APPLY_DRAIN, T.APPLY_FLUSH):
        s.apply(before, when)
        assert s.settings == before
    assert kernel_words(s) == (before.iflag, before.oflag, before.cflag, before.lflag)
    cc = termios.tcgetattr(s.fileno())[6]
    assert before.cc[termios.VINTR] == ord(cc[termios.VINTR]) == 3
    assert before.cc[termios.VEOF] == ord(cc[termios.VEOF])
    # A view set back unchanged changes nothing either.
    copy = before.copy()
    for name in ("mode", "baud", "data_bits", "parity", "stop_bits", "flow"):
        setattr(copy, name, getattr(copy, name))
    assert copy == before
    assert (before.mode, before.flow, before.baud) == (T.CANONICAL, T.FLOW_OTHER, 38400)


def test_the_termios_modules_list_both_ways(pty):
    _, s = pty
    assert s.settings.to_termios() == termios.tcgetattr(s.fileno())
    assert TerminalSettings.from_termios(termios.tcgetattr(s.fileno())) == s.settings
    s.setraw()  # non-canonical: VMIN and VTIME are numbers in Python's list
    assert s.settings.to_termios() == termios.tcgetattr(s.fileno())
    attrs = termios.tcgetattr(s.fileno())
    attrs[4] = attrs[5] = termios.B9600
    attrs[6][termios.VINTR] = b"\x18"
    t = TerminalSettings.from_termios(attrs)
    s.apply(t)
    assert s.settings.baud == 9600 and s.settings.cc[termios.VINTR] == 0x18
    termios.tcsetattr(s.fileno(), termios.TCSANOW, t.to_termios())
    assert s.settings == t
    t.baud = 31250
    with pytest.raises(ValueError):
        t.to_termios()  # no B* code: Python's termios cannot say it
    with pytest.raises(ValueError):
        TerminalSettings.from_termios([0, 0, 0, 0, 0, 0o7777, []])


@pytest.mark.parametrize("word", ["iflag", "oflag", "lflag"])
def test_every_flag_of_the_termios_module_round_trips(pty, word):
    _, s = pty
    fresh = s.settings
    index = ["iflag", "oflag", "cflag", "lflag"].index(word)
    prefixes = {"iflag": ("IGNBRK", "BRKINT", "IGNPAR", "PARMRK", "INPCK", "ISTRIP", "INLCR", "IGNCR", "ICRNL",
                          "IUCLC", "IXON", "IXANY", "IXOFF", "IMAXBEL", "IUTF8"),
                "oflag": ("OPOST", "OLCUC", "ONLCR", "OCRNL", "ONOCR", "ONLRET", "OFILL", "OFDEL"),
                "lflag": ("ISIG", "ICANON", "XCASE", "ECHO", "ECHOE", "ECHOK", "ECHONL", "NOFLSH", "TOSTOP",
                          "ECHOCTL", "ECHOPRT", "ECHOKE", "FLUSHO", "PENDIN", "IEXTEN", "EXTPROC")}[word]
    for name in prefixes:
        bit = getattr(termios, name, MISSING_FROM_OLD_TERMIOS.get(name))
        t = fresh.copy()
        setattr(t, word, getattr(t, word) ^ bit)
        s.apply(t)
        got = s.settings
        assert got == t, name
        assert kernel_words(s)[index] == getattr(t, word), name  # Python's termios agrees
        s.apply(got)
        assert s.settings == got, name
        s.apply(fresh)


def test_one_output_flag_and_control_characters(pty):
    m, s = pty
    t = s.settings
    t.oflag = (t.oflag & ~termios.ONLCR) | termios.OCRNL
    t.cc[termios.VINTR] = 0x18
    t.cc[termios.VEOF] = 0x01
    s.apply(t)
    out = stty(s.path, "-a")
    assert "intr = ^X;" in out and "eof = ^A;" in out
    assert "-onlcr" in out.split() and "ocrnl" in out.split()
    s.write(b"a\rb\n")
    assert m.read(16) == b"a\nb\n"
    m.write(b"xy\x01")
    assert s.read(16) == b"xy"  # the new VEOF ends the read


def test_setraw_and_setcbreak_match_pythons_tty(pty):
    m, s = pty
    # Python's tty on a second pty gives the reference words.
    rm, rs = open_pty()
    with rm, rs:
        tty.setraw(rs.fileno())
        raw_reference = kernel_words(rs)
        rs.apply(s.settings)
        tty.setcbreak(rs.fileno())
        cbreak_reference = kernel_words(rs)
    old = s.setcbreak()
    assert kernel_words(s) == cbreak_reference
    assert s.settings.mode == T.CBREAK
    m.write(b"k")
    assert s.read(1) == b"k"  # no newline needed
    s.apply(old)
    assert s.settings == old
    before_raw = s.setraw()
    assert before_raw == old
    assert kernel_words(s) == raw_reference
    assert s.settings.mode == T.RAW
    assert s.settings.cc[termios.VMIN] == 1 and s.settings.cc[termios.VTIME] == 0
    m.write(b"\x03")
    assert s.read(1) == b"\x03"  # ^C is a byte, not a signal
    s.apply(old)
    assert s.settings == old


def test_views_speed_stop_bits_flow(pty):
    _, s = pty
    t = s.settings
    t.baud = 31250  # MIDI: not a standard rate, through BOTHER
    t.stop_bits = 2
    t.flow = T.FLOW_RTSCTS
    s.apply(t)
    got = s.settings
    assert (got.baud, got.stop_bits, got.flow) == (31250, 2, T.FLOW_RTSCTS)
    assert got.ispeed == got.ospeed == 31250
    t.baud = 115200
    t.flow = T.FLOW_XONXOFF
    s.apply(t)
    out = stty(s.path, "-a")
    assert "speed 115200 baud" in out
    words = out.replace(";", " ").split()
    assert {"cstopb", "ixon", "ixoff", "-crtscts"} <= set(words)
    stty(s.path, "1200", "-cstopb", "-icanon")
    got = s.settings
    assert (got.baud, got.stop_bits) == (1200, 1)
    assert got.mode == T.OTHER  # no line editing but echo on: neither raw nor cbreak


def test_tcflow_and_queue_sizes():
    m, s = open_pty(nonblocking=True)
    with m, s:
        s.flow(termios.TCOOFF)  # the termios module's values are the kernel's
        assert s.write(b"held") is None  # a non-blocking write that cannot go
        assert not m.wait(timeout=0.05)
        s.flow(T.OUTPUT_ON)
        assert s.write(b"held") == 4
        assert m.wait(timeout=5)
        assert m.in_waiting == 4
        assert m.read(16) == b"held"
        s.flow(T.INPUT_OFF)
        assert m.wait(timeout=5) and m.read(16) == b"\x13"
        s.flow(T.INPUT_ON)
        assert m.wait(timeout=5) and m.read(16) == b"\x11"
        m.write(b"ab")
        assert s.in_waiting == 0  # canonical: complete lines only
        m.write(b"c\n")
        assert s.wait(timeout=5)
        assert s.in_waiting == 4
        assert s.out_waiting == 0


def test_termios_bad_input(pty):
    _, s = pty
    t = s.settings
    for name, value in (("mode", 9), ("data_bits", 4), ("stop_bits", 3), ("parity", 7), ("flow", 5)):
        with pytest.raises(InvalidArgumentError):
            setattr(t, name, value)
        assert t == s.settings, name
    t.cc = [0] * 3
    with pytest.raises(ValueError):
        s.apply(t)
    with pytest.raises(InvalidArgumentError):
        s.flow(4)
    r, w = pipe()
    with r, w:
        with pytest.raises(WrongKindError):
            T.Terminal(r.value, owned=False).flow(T.OUTPUT_ON)
        with pytest.raises(WrongKindError):
            T.Terminal(r.value, owned=False).in_waiting
    s.close()
    with pytest.raises(OSError) as e:
        s.in_waiting
    assert e.value.errno == errno.EBADF
