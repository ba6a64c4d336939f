"""A descriptor is taken only as its own kind: the kinds that share a file type with a wider
one (a memfd or message queue is a regular file, a terminal a character device) are refused
as the wider kind, an O_PATH descriptor is taken only as a generic handle, and opening by
path refuses what has a kind of its own. Found by a stranger's port of a daemon to fdsafe."""

import errno
import os
import pty
import termios

import pytest

from fdsafe import CharDevice, File, InvalidArgumentError, MemFd, Terminal, TerminalSettings, open_pty, pipe
from fdsafe.handle import KIND_OTHER, Handle
from fdsafe.terminal import CBREAK, OTHER, RAW


def refused_then_taken(fd, wrong, right):
    before = os.get_inheritable(fd)
    with pytest.raises(InvalidArgumentError):
        wrong.adopt(fd)
    assert os.get_inheritable(fd) == before  # refused: still the caller's, unchanged
    handle = right.adopt(fd) if isinstance(right, type) else Handle.adopt(fd, kind=right)
    assert not os.get_inheritable(fd)
    handle.close()
    with pytest.raises(OSError) as closed:
        os.fstat(fd)
    assert closed.value.errno == errno.EBADF


def test_memfd_and_opath_are_not_files():
    refused_then_taken(os.memfd_create("adopt", os.MFD_ALLOW_SEALING), File, MemFd)
    refused_then_taken(os.open("/etc/passwd", os.O_PATH), File, KIND_OTHER)


def test_a_terminal_is_not_a_plain_character_device():
    master, slave = pty.openpty()
    refused_then_taken(slave, CharDevice, Terminal)
    refused_then_taken(master, CharDevice, Terminal)


def test_opening_by_path_refuses_what_has_a_kind_of_its_own():
    master, slave = open_pty()
    with master, slave:
        with pytest.raises(InvalidArgumentError):
            CharDevice.open(slave.path, read=True, write=True)
    with pytest.raises(InvalidArgumentError, match="open_pty|pty_open"):
        Terminal.open("/dev/ptmx")
    with CharDevice.open("/dev/null") as null:
        assert null.read(1) == b""


def test_cbreak_is_read_only_with_signal_characters_and_output_processing():
    master, slave = open_pty()
    with master, slave:
        raw = slave.settings
        raw.mode = RAW
        seven_bits = raw.copy()
        seven_bits.data_bits = 7
        with_signals = raw.copy()
        with_signals.lflag |= termios.ISIG
        with_output_processing = raw.copy()
        with_output_processing.oflag |= termios.OPOST
        for mixed in (seven_bits, with_signals, with_output_processing):
            assert mixed.mode == OTHER
        cbreak = raw.copy()
        cbreak.mode = CBREAK
        assert cbreak.mode == CBREAK
        slave.apply(cbreak)
        assert slave.settings.mode == CBREAK


def test_pipe_capacity_zero_is_one_page():
    r, w = pipe()
    with r, w:
        assert w.set_capacity(0) == os.sysconf("SC_PAGE_SIZE")
