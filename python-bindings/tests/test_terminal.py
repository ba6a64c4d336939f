import errno
import io
import subprocess

import pytest

from fdsafe import InvalidArgumentError, Terminal, TerminalSettings, WrongKindError, is_terminal, open_pty, pipe
from fdsafe import terminal as T


def stty(path, *args):
    return subprocess.run(["stty", "-F", path, *args], capture_output=True, text=True, check=True).stdout


def test_pty_pair_and_paths():
    m, s = open_pty()
    assert m.kind_name == "terminal" and s.isatty() and is_terminal(m)
    assert s.path.startswith("/dev/pts/") and m.peer_path == s.path
    m.write(b"line\n")
    assert s.read(100) == b"line\n"
    with m.peer() as s2:
        assert s2.path == s.path
    r, w = pipe()
    assert not is_terminal(r)
    r.close(), w.close()
    s.close(), m.close()


def test_window_size_modem_and_control():
    m, s = open_pty()
    m.window_size = (33, 99)
    assert s.window_size == (33, 99)
    assert stty(s.path, "size").strip() == "33 99"
    with pytest.raises(OSError) as e:
        s.modem_lines
    assert e.value.errno == errno.ENOTTY
    with pytest.raises(OSError) as e:
        s.set_modem_lines(T.MODEM_DTR)
    assert e.value.errno == errno.ENOTTY
    s.drain()
    m.write(b"junk\n")
    assert s.wait(timeout=5)
    s.discard(T.FLUSH_INPUT)
    assert s.wait(timeout=0) == 0
    s.send_break()
    s.exclusive = True
    assert s.exclusive
    s.exclusive = False
    assert not s.exclusive
    s.close(), m.close()


def test_open_by_path_and_raw_io():
    m, s = open_pty()
    with Terminal.open(s.path) as t:
        assert isinstance(t, io.RawIOBase)
        m.write(b"abc\n")
        assert t.read(10) == b"abc\n"
    with pytest.raises(InvalidArgumentError):
        Terminal.open("/dev/null")
    with pytest.raises(OSError):
        open("/dev/tty")  # still no controlling terminal
    s.close(), m.close()


def test_terminal_bad_input():
    m, s = open_pty()
    bad = s.settings
    with pytest.raises(InvalidArgumentError):
        bad.data_bits = 9
    assert bad == s.settings  # unchanged by the refused view
    with pytest.raises(InvalidArgumentError):
        s.apply(s.settings, when=7)
    with pytest.raises(InvalidArgumentError):
        s.set_modem_lines(T.MODEM_CTS)
    r, w = pipe()
    with pytest.raises(WrongKindError):
        Terminal(r.value, owned=False).settings
    r.close(), w.close()
    s.close(), m.close()
    with pytest.raises(OSError) as e:
        s.settings
    assert e.value.errno == errno.EBADF


def test_flush_keeps_queued_data_as_io_flush_does():
    # io code (BufferedWriter, TextIOWrapper, close) calls flush(): it must not throw away
    # what the terminal holds, as the queue-discarding call (tcflush) does.
    m, s = open_pty()
    with m, s:
        m.write(b"kept\n")
        assert s.wait(timeout=5)
        s.flush()
        assert s.wait(timeout=0)
        out = io.BufferedWriter(m)
        out.write(b"more\n")
        out.flush()
        out.detach()  # m stays open
        assert s.read(100) == b"kept\n"
        assert s.read(100) == b"more\n"
        m.write(b"gone\n")
        assert s.wait(timeout=5)
        s.discard()
        assert s.wait(timeout=0) == 0


def test_stdlib_forms_of_window_size_and_settings():
    """os.terminal_size is (columns, lines), the reverse of fdsafe's (rows, cols): it is read
    by name, not transposed. apply() takes the list termios.tcgetattr gives."""
    import os
    import termios
    m, s = open_pty()
    with m, s:
        s.window_size = os.terminal_size((132, 43))  # 132 columns, 43 lines
        assert s.window_size == (43, 132)
        assert os.get_terminal_size(s.fileno()) == os.terminal_size((132, 43))
        attrs = termios.tcgetattr(s.fileno())
        attrs[3] &= ~termios.ECHO
        s.apply(attrs)
        assert termios.tcgetattr(s.fileno())[3] & termios.ECHO == 0
