"""Cases ported from CPython 3.11 Lib/test/test_os.py (pipes, blocking, dup, read/write),
Lib/test/test_pty.py and Lib/test/test_tty.py to fdsafe's pipe ends and pty objects."""
import errno
import io
import os
import select
import termios
import threading
import tty

import pytest

import fdsafe
from fdsafe import File, open_pty, pipe


# ------------------------------------------------------------ test_os: pipe / pipe2

def test_pipe_is_non_inheritable_and_blocking():
    # PipeTests / test_pipe (os.pipe gives non-inheritable descriptors) / get_blocking
    r, w = pipe()
    with r, w:
        for end in (r, w):
            assert not os.get_inheritable(end.fileno())
            assert os.get_blocking(end.fileno()) is True
            assert end.nonblocking is False


def test_pipe2_nonblock():
    # test_os.Pipe2Tests.test_pipe2 (O_NONBLOCK): both ends non-blocking; read raises/None
    r, w = pipe(nonblocking=True)
    with r, w:
        assert not os.get_blocking(r.fileno()) and not os.get_blocking(w.fileno())
        assert r.read(1) is None  # io.RawIOBase's "would block", as FileIO on O_NONBLOCK
        with pytest.raises(BlockingIOError):
            os.read(r.fileno(), 1)


def test_get_set_blocking_round_trip_with_os():
    # test_os.BlockingTests.test_blocking
    r, w = pipe()
    with r, w:
        os.set_blocking(r.fileno(), False)
        assert r.nonblocking is True
        r.nonblocking = False
        assert os.get_blocking(r.fileno()) is True


def test_read_write_round_trip_and_interop_with_os():
    # test_os.FileTests.test_read / test_write (bytes-like), os.read/os.write on the fileno
    r, w = pipe()
    with r, w:
        assert w.write(b"test") == 4
        assert w.write(bytearray(b"bytearray")) == 9
        assert w.write(memoryview(b"memoryview")) == 10
        assert os.read(r.fileno(), 4) == b"test"
        assert r.read(9) == b"bytearray"
        os.write(w.fileno(), b"os.write")
        assert r.read(10) == b"memoryview"
        assert r.read(8) == b"os.write"
        with pytest.raises(TypeError):
            w.write("str is not bytes")
        with pytest.raises(TypeError):
            os.write(w.fileno(), "str")


def test_read_negative_and_zero():
    # test_os.FileTests.test_read (os.read(fd, 0) == b"") / FileIO.read(-1) is readall
    r, w = pipe()
    with r, w:
        assert r.read(0) == b""
        w.write(b"all of it")
        w.close()
        assert r.read(-1) == b"all of it"
        assert r.read() == b""


def test_read_on_write_end_refused():
    # FileIO opened for writing: read() -> io.UnsupportedOperation? os.read on a write-only
    # pipe end -> OSError EBADF. fdsafe's PipeEnd is io.RawIOBase: what does it say?
    r, w = pipe()
    ro, wo = os.pipe()
    with r, w:
        fio = io.FileIO(wo, "w", closefd=True)
        with pytest.raises((io.UnsupportedOperation, OSError)):
            fio.read(1)
        fio.close()
        os.close(ro)
        assert w.readable() is False and r.writable() is False
        with pytest.raises((io.UnsupportedOperation, OSError)) as info:
            w.read(1)
        if not isinstance(info.value, io.UnsupportedOperation):
            assert info.value.errno == errno.EBADF
        with pytest.raises((io.UnsupportedOperation, OSError)) as info:
            r.write(b"x")
        if not isinstance(info.value, io.UnsupportedOperation):
            assert info.value.errno == errno.EBADF


def test_seek_tell_on_pipe():
    # FileIO on a pipe: seekable() False, seek/tell raise OSError ESPIPE
    ro, wo = os.pipe()
    fio = io.FileIO(ro, "r")
    os.close(wo)
    with fio:
        assert fio.seekable() is False
        with pytest.raises(OSError) as theirs:
            fio.tell()
    r, w = pipe()
    with r, w:
        assert r.seekable() is False
        with pytest.raises(OSError) as ours:
            r.tell()
        with pytest.raises(OSError):
            r.seek(0)
        assert isinstance(ours.value, OSError)
        assert theirs.value.errno == errno.ESPIPE


def test_readline_iteration_and_readlines():
    # io.RawIOBase-derived readline/iteration over a pipe (test_io style)
    r, w = pipe()
    with r, w:
        w.write(b"one\ntwo\nthree")
        w.close()
        assert r.readline() == b"one\n"
        assert list(r) == [b"two\n", b"three"]


def test_buffered_reader_and_textiowrapper_over_pipe():
    r, w = pipe()
    with r, w:
        t = io.TextIOWrapper(io.BufferedWriter(w), encoding="utf-8")
        t.write("héllo\nwörld\n")
        t.flush()
        t.detach().detach()
        rt = io.TextIOWrapper(io.BufferedReader(r), encoding="utf-8")
        assert rt.readline() == "héllo\n"
        assert rt.readline() == "wörld\n"
        rt.detach().detach()


def test_dup_shares_the_pipe_and_is_non_inheritable():
    # test_os.DupTests.test_dup / test_dup_inheritable (os.dup gives non-inheritable fds)
    r, w = pipe()
    with r, w:
        w2 = w.dup()
        with w2:
            assert w2.fileno() != w.fileno()
            assert not os.get_inheritable(w2.fileno())
            w2.write(b"via dup")
        assert r.read(100) == b"via dup"


def test_pipe_select_readiness():
    # select.select on fdsafe pipe ends
    r, w = pipe()
    with r, w:
        assert select.select([r], [w], [], 0) == ([], [w], [])
        w.write(b"x")
        assert select.select([r], [], [], 1)[0] == [r]


def test_write_after_reader_closed_broken_pipe():
    # test_os / test_subprocess style: write to a pipe with no reader -> BrokenPipeError (EPIPE)
    r, w = pipe()
    r.close()
    with w:
        with pytest.raises(BrokenPipeError):
            w.write(b"x")


def test_closed_pipe_end_io_errors():
    # test_io: operations on a closed FileIO raise ValueError
    r, w = pipe()
    w.close()
    r.close()
    for call in (lambda: r.read(1), lambda: r.readline(), lambda: r.fileno(), lambda: w.write(b"x"),
                 lambda: r.readable(), lambda: w.flush()):
        with pytest.raises(ValueError):
            call()


def test_large_write_through_thread():
    # test_os large pipe writes: a 1 MiB write arrives complete
    r, w = pipe()
    data = os.urandom(1 << 20)
    got = []
    t = threading.Thread(target=lambda: got.append(r.readall()))
    with r, w:
        t.start()
        written = 0
        while written < len(data):
            written += w.write(data[written:])
        w.close()
        t.join(10)
        assert got[0] == data


# ------------------------------------------------------------ test_pty / test_tty

def test_openpty_basic():
    # test_pty.PtyTest.test_openpty: master/slave, isatty, ttyname, close-on-exec
    m, s = open_pty()
    with m, s:
        assert os.isatty(s.fileno()) and os.isatty(m.fileno())
        assert s.isatty() and m.isatty()
        assert os.ttyname(s.fileno()) == s.path
        assert not os.get_inheritable(m.fileno()) and not os.get_inheritable(s.fileno())


def test_pty_window_size_matches_os_get_terminal_size():
    # test_pty.PtyTest.test_openpty (TIOCSWINSZ / os.get_terminal_size)
    m, s = open_pty()
    with m, s:
        s.window_size = (24, 80)
        sz = os.get_terminal_size(s.fileno())
        assert (sz.lines, sz.columns) == (24, 80)


def test_pty_onlcr_translation():
    # test_pty.PtyTest.test_openpty: writes to the slave appear on the master with \n -> \r\n
    m, s = open_pty()
    with m, s:
        s.write(b"I wish to buy a fish license.\n")
        assert m.wait(timeout=5)
        assert m.read(1024) == b"I wish to buy a fish license.\r\n"
        s.write(b"For my pet fish, Eric.\n")
        assert os.read(m.fileno(), 1024) == b"For my pet fish, Eric.\r\n"


def test_master_read_after_slave_closed_is_eio():
    # test_pty.PtyTest.test_master_read: os.read(master) after the slave closes -> OSError EIO
    m, s = open_pty()
    s.close()
    with m:
        with pytest.raises(OSError) as info:
            m.read(1)
        assert info.value.errno == errno.EIO


@pytest.mark.parametrize("mode", ["setraw", "setcbreak"])
def test_tty_modes_match_tty_module(mode):
    # test_tty.TestTty.test_setraw / test_setcbreak: fdsafe's setraw and setcbreak give the
    # attributes tty.setraw and tty.setcbreak give.
    m, s = open_pty()
    m2, s2 = os.openpty()
    try:
        with m, s:
            getattr(s, mode)()
            getattr(tty, mode)(s2)
            ours = termios.tcgetattr(s.fileno())
            theirs = termios.tcgetattr(s2)
            for i, name in enumerate(["iflag", "oflag", "cflag", "lflag"]):
                assert ours[i] == theirs[i], (name, hex(ours[i]), hex(theirs[i]), hex(ours[i] ^ theirs[i]))
            assert ours[6][termios.VMIN] == theirs[6][termios.VMIN]
            assert ours[6][termios.VTIME] == theirs[6][termios.VTIME]
    finally:
        os.close(m2)
        os.close(s2)


def test_setraw_returns_previous_settings_restorable():
    # test_tty: tcsetattr(fd, TCSAFLUSH, old) restores what setraw changed
    m, s = open_pty()
    with m, s:
        before = termios.tcgetattr(s.fileno())
        old = s.setraw()
        assert termios.tcgetattr(s.fileno()) != before
        s.apply(old)
        assert termios.tcgetattr(s.fileno()) == before
        assert old.to_termios()[:4] == before[:4]


def test_termios_settings_round_trip():
    # TerminalSettings.from_termios(termios.tcgetattr()) applied gives the same attributes
    m, s = open_pty()
    with m, s:
        attrs = termios.tcgetattr(s.fileno())
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(s.fileno(), termios.TCSANOW, attrs)
        got = s.settings.to_termios()
        assert got[:4] == attrs[:4]
        st = fdsafe.TerminalSettings.from_termios(attrs)
        s.apply(st)
        assert termios.tcgetattr(s.fileno())[:4] == attrs[:4]


def test_pty_echo_in_canonical_mode():
    # test_pty-style: input written to the master is echoed back and read by the slave as a line
    m, s = open_pty()
    with m, s:
        m.write(b"hello\n")
        assert s.wait(timeout=5)
        assert s.read(100) == b"hello\n"
        assert m.wait(timeout=5)
        assert m.read(100) == b"hello\r\n"  # echo


def test_file_is_not_a_tty():
    # os.isatty False for a regular file; File.isatty likewise
    with File.open("/etc/hostname") as f:
        assert f.isatty() is False
