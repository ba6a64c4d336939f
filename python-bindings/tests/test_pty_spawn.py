"""Programs on a pseudo-terminal as their controlling terminal: a real shell and stty read
through the master, Ctrl-C (VINTR) arriving as SIGINT (cases in the spirit of CPython's
test_pty)."""
import errno
import signal
import termios

import pytest

from fdsafe import InvalidArgumentError, WrongKindError, open_pty, pipe, spawn_pty
from fdsafe import terminal as T


def read_all(master, until=None, timeout=10.0):
    """What the master gives until ``until`` appears or end of file (EIO)."""
    data = b""
    while until is None or until not in data:
        if not master.wait(timeout=timeout):
            break
        try:
            chunk = master.read(4096)
        except OSError as err:
            assert err.errno == errno.EIO  # the child's side is closed
            break
        if not chunk:
            break
        data += chunk
    return data


def test_stty_sees_its_window_size():
    master, pidfd = spawn_pty(["stty", "size"], window_size=(30, 90))
    with master, pidfd:
        assert read_all(master).strip() == b"30 90"
        status = pidfd.wait_exit(timeout=10)
        assert status.exited and status.status == 0


def test_interactive_shell():
    master, pidfd = spawn_pty(["sh", "-i"], {"PS1": "py$ ", "PATH": "/usr/bin:/bin"})
    with master, pidfd:
        assert b"py$ " in read_all(master, b"py$ ")
        master.write(b"exec 3</dev/tty && echo tty-ok $((7 * 6))\n")
        assert b"tty-ok 42" in read_all(master, b"tty-ok 42")
        master.write(b"exit 5\n")
        status = pidfd.wait_exit(timeout=10)
        assert status.exited and status.status == 5


@pytest.mark.parametrize("intr", [0x03, 0x18])
def test_vintr_interrupts_the_child(intr):
    m0, s0 = open_pty()
    with m0, s0:
        settings = s0.settings
    settings.cc[termios.VINTR] = intr
    master, pidfd = spawn_pty(["sh", "-c", "echo ready; exec sleep 30"], settings=settings)
    with master, pidfd:
        assert b"ready" in read_all(master, b"ready")
        master.write(bytes([intr]))
        status = pidfd.wait_exit(timeout=10)
        assert status.signal == signal.SIGINT


def test_spawn_on_a_given_terminal():
    m, s = open_pty()
    with m, s:
        pidfd = s.spawn(["sh", "-c", "read x; echo got-$x"])
        with pidfd:
            with pytest.raises(PermissionError):  # the terminal belongs to that session now
                s.spawn(["true"])
            m.write(b"hi\n")
            assert b"got-hi" in read_all(m, b"got-hi")
            assert pidfd.wait_exit(timeout=10).status == 0


def test_spawn_failures_and_bad_input():
    with pytest.raises(FileNotFoundError):
        spawn_pty(["fdsafe-no-such-program"])
    with pytest.raises(PermissionError):
        spawn_pty(["/etc/passwd"])
    with pytest.raises(ValueError):
        spawn_pty([])
    with pytest.raises(ValueError):
        spawn_pty(["echo", "a\0b"])  # C would cut the argument at the NUL
    with pytest.raises(ValueError):
        spawn_pty(["env"], {"A=B": "c"})  # as os.execve refuses such a name
    r, w = pipe()
    with r, w:
        with pytest.raises(WrongKindError):
            T.Terminal(r.value, owned=False).spawn(["true"])
    with pytest.raises(InvalidArgumentError):
        spawn_pty([""])
