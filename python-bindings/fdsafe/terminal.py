"""Terminals, serial ports and pseudo-terminals."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Tuple

from ._lib import c_handle, c_handle_p, declare, lib
from ._buffers import timeout_ms
from .errors import check
from .file import PathLike, _path, access_mode
from .handle import Handle, retry_eintr
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_TERMINAL", "RAW", "CANONICAL", "OTHER", "PARITY_NONE", "PARITY_ODD", "PARITY_EVEN",
           "PARITY_MARK", "PARITY_SPACE", "FLOW_NONE", "FLOW_RTSCTS", "FLOW_XONXOFF", "APPLY_NOW",
           "APPLY_DRAIN", "APPLY_FLUSH", "FLUSH_INPUT", "FLUSH_OUTPUT", "FLUSH_BOTH", "MODEM_DTR",
           "MODEM_RTS", "MODEM_CTS", "MODEM_DCD", "MODEM_RI", "MODEM_DSR", "TerminalSettings", "Terminal",
           "open_pty", "is_terminal"]

_int, _u32, _u8, _bool = ctypes.c_int, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_bool


class _Settings(ctypes.Structure):
    _fields_ = [("mode", _u32), ("echo", _bool), ("baud", _u32), ("data_bits", _u8), ("parity", _u32),
                ("stop_bits", _u8), ("flow", _u32), ("vmin", _u8), ("vtime", _u8)]


class _WinSize(ctypes.Structure):
    _fields_ = [("rows", ctypes.c_uint16), ("cols", ctypes.c_uint16), ("xpixel", ctypes.c_uint16), ("ypixel", ctypes.c_uint16)]


declare({
    "fdsafe_terminal_open": (_int, [ctypes.c_char_p, _u32, c_handle_p]),
    "fdsafe_pty_open": (_int, [_u32, c_handle_p, c_handle_p]),
    "fdsafe_pty_peer": (_int, [c_handle, _u32, c_handle_p]),
    "fdsafe_terminal_path": (_int, [c_handle, _u32, ctypes.c_char_p, ctypes.c_size_t]),
    "fdsafe_terminal_get": (_int, [c_handle, ctypes.POINTER(_Settings)]),
    "fdsafe_terminal_set": (_int, [c_handle, ctypes.POINTER(_Settings), _u32]),
    "fdsafe_terminal_get_window_size": (_int, [c_handle, ctypes.POINTER(_WinSize)]),
    "fdsafe_terminal_set_window_size": (_int, [c_handle, ctypes.POINTER(_WinSize)]),
    "fdsafe_terminal_modem_get": (_int, [c_handle, ctypes.POINTER(_u32)]),
    "fdsafe_terminal_modem_set": (_int, [c_handle, _u32, _u32]),
    "fdsafe_terminal_drain": (_int, [c_handle]),
    "fdsafe_terminal_flush": (_int, [c_handle, _u32]),
    "fdsafe_terminal_send_break": (_int, [c_handle, _u32]),
    "fdsafe_terminal_set_exclusive": (_int, [c_handle, _bool]),
    "fdsafe_terminal_get_exclusive": (_int, [c_handle]),
    "fdsafe_is_terminal": (_int, [c_handle]),
})

KIND_TERMINAL = _c.FDSAFE_KIND_TERMINAL
RAW, CANONICAL, OTHER = _c.FDSAFE_TERM_RAW, _c.FDSAFE_TERM_CANONICAL, _c.FDSAFE_TERM_OTHER
PARITY_NONE, PARITY_ODD, PARITY_EVEN, PARITY_MARK, PARITY_SPACE = _c.FDSAFE_PARITY_NONE, _c.FDSAFE_PARITY_ODD, _c.FDSAFE_PARITY_EVEN, _c.FDSAFE_PARITY_MARK, _c.FDSAFE_PARITY_SPACE
FLOW_NONE, FLOW_RTSCTS, FLOW_XONXOFF = _c.FDSAFE_FLOW_NONE, _c.FDSAFE_FLOW_RTSCTS, _c.FDSAFE_FLOW_XONXOFF
APPLY_NOW, APPLY_DRAIN, APPLY_FLUSH = _c.FDSAFE_TERM_APPLY_NOW, _c.FDSAFE_TERM_APPLY_DRAIN, _c.FDSAFE_TERM_APPLY_FLUSH
FLUSH_INPUT, FLUSH_OUTPUT, FLUSH_BOTH = _c.FDSAFE_FLUSH_INPUT, _c.FDSAFE_FLUSH_OUTPUT, _c.FDSAFE_FLUSH_BOTH
MODEM_DTR, MODEM_RTS, MODEM_CTS, MODEM_DCD, MODEM_RI, MODEM_DSR = _c.FDSAFE_MODEM_DTR, _c.FDSAFE_MODEM_RTS, _c.FDSAFE_MODEM_CTS, _c.FDSAFE_MODEM_DCD, _c.FDSAFE_MODEM_RI, _c.FDSAFE_MODEM_DSR
_OPEN_NONBLOCK = _c.FDSAFE_NONBLOCK
_PATH_PEER = _c.FDSAFE_TERMINAL_PATH_PEER


@dataclass
class TerminalSettings:
    """Terminal settings as plain values (see ``fdsafe_terminal_settings``)."""

    mode: int = RAW
    echo: bool = False
    baud: int = 9600
    data_bits: int = 8
    parity: int = PARITY_NONE
    stop_bits: int = 1
    flow: int = FLOW_NONE
    vmin: int = 1
    vtime: int = 0

    def _c(self) -> _Settings:
        return _Settings(self.mode, self.echo, self.baud, self.data_bits, self.parity, self.stop_bits,
                         self.flow, self.vmin, self.vtime)


class Terminal(RawIOHandle):
    """A terminal, serial port or pseudo-terminal end (``FDSAFE_KIND_TERMINAL``)."""

    KIND = KIND_TERMINAL

    @classmethod
    def open(cls, path: PathLike, *, read: bool = True, write: bool = True, nonblocking: bool = False) -> "Terminal":
        """Opens a terminal or serial port by path (``str``, ``bytes`` or ``os.PathLike``),
        never as the controlling terminal (``O_NOCTTY``). Raises ``InvalidArgumentError``
        for a file that is not a terminal, ``OSError`` if it cannot be opened."""
        flags = access_mode(read, write) | (_OPEN_NONBLOCK if nonblocking else 0)
        out = c_handle()
        check(lib.fdsafe_terminal_open(_path(path), flags, ctypes.byref(out)))
        return cls(out.value)

    def peer(self, nonblocking: bool = False) -> "Terminal":
        """Another handle on the slave of this pseudo-terminal master (``TIOCGPTPEER``); a
        new handle the caller owns. ``OSError(EIO)`` on a slave."""
        out = c_handle()
        check(lib.fdsafe_pty_peer(self._value, _OPEN_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return Terminal(out.value)

    def _path(self, flags: int) -> str:
        buf = ctypes.create_string_buffer(4096)
        check(lib.fdsafe_terminal_path(self._value, flags, buf, len(buf)))
        return buf.value.decode()

    @property
    def path(self) -> str:
        """The device's path (``/dev/pts/N``, ``/dev/ttyUSB0``...)."""
        return self._path(0)

    @property
    def peer_path(self) -> str:
        """For a master: its slave's path (``/dev/pts/N``)."""
        return self._path(_PATH_PEER)

    @property
    def settings(self) -> TerminalSettings:
        """The current settings, as a :class:`TerminalSettings` (change it, then :meth:`apply`)."""
        s = _Settings()
        check(lib.fdsafe_terminal_get(self._value, ctypes.byref(s)))
        return TerminalSettings(s.mode, s.echo, s.baud, s.data_bits, s.parity, s.stop_bits, s.flow, s.vmin, s.vtime)

    def apply(self, settings: TerminalSettings, when: int = APPLY_NOW) -> None:
        """Applies ``settings``: ``when`` is ``APPLY_NOW``, ``APPLY_DRAIN`` (after the output
        is sent) or ``APPLY_FLUSH`` (after that, discarding unread input). Raises
        ``InvalidArgumentError`` for a value out of range (``data_bits`` 9, an unknown
        ``when``...)."""
        c = settings._c()
        retry_eintr(lambda: lib.fdsafe_terminal_set(self._value, ctypes.byref(c), when))

    @property
    def window_size(self) -> Tuple[int, int]:
        """The window size as ``(rows, cols)`` (``TIOCGWINSZ``); settable, which signals
        SIGWINCH to the terminal's foreground process group."""
        w = _WinSize()
        check(lib.fdsafe_terminal_get_window_size(self._value, ctypes.byref(w)))
        return w.rows, w.cols

    @window_size.setter
    def window_size(self, size: Tuple[int, int]) -> None:
        w = _WinSize(size[0], size[1], 0, 0)
        check(lib.fdsafe_terminal_set_window_size(self._value, ctypes.byref(w)))

    @property
    def modem_lines(self) -> int:
        """``MODEM_*`` bits; ``OSError(ENOTTY)`` on pseudo-terminals (no modem lines)."""
        bits = ctypes.c_uint32()
        check(lib.fdsafe_terminal_modem_get(self._value, ctypes.byref(bits)))
        return bits.value

    def set_modem_lines(self, set_bits: int = 0, clear_bits: int = 0) -> None:
        """Raises the ``MODEM_*`` lines in ``set_bits`` and lowers those in ``clear_bits``
        (only ``MODEM_DTR`` and ``MODEM_RTS`` are settable: others are an
        ``InvalidArgumentError``); ``OSError(ENOTTY)`` on pseudo-terminals."""
        check(lib.fdsafe_terminal_modem_set(self._value, set_bits, clear_bits))

    def drain(self) -> None:
        """Waits until all output written has been sent (``tcdrain``)."""
        retry_eintr(lambda: lib.fdsafe_terminal_drain(self._value))

    def discard(self, queue: int = FLUSH_BOTH) -> None:
        """Throws away queued data (``tcflush``): ``FLUSH_INPUT`` (received, not yet read),
        ``FLUSH_OUTPUT`` (written, not yet sent) or ``FLUSH_BOTH``. Not ``flush()``, which
        keeps ``io``'s meaning (push buffered writes out; nothing to do for a raw stream), so
        ``io`` code calling it loses no data."""
        check(lib.fdsafe_terminal_flush(self._value, queue))

    def send_break(self, duration: float = 0) -> None:
        """Sends a break for ``duration`` seconds (0: the standard 0.25 to 0.5 s)."""
        ms = timeout_ms(duration)
        retry_eintr(lambda: lib.fdsafe_terminal_send_break(self._value, ms))

    @property
    def exclusive(self) -> bool:
        """Exclusive mode (``TIOCEXCL``): further opens of the device fail, except for root;
        settable."""
        return bool(check(lib.fdsafe_terminal_get_exclusive(self._value)))

    @exclusive.setter
    def exclusive(self, on: bool) -> None:
        check(lib.fdsafe_terminal_set_exclusive(self._value, on))

    def isatty(self) -> bool:
        """Whether the handle is a terminal (True for a ``Terminal``; as ``io``'s isatty)."""
        return bool(check(lib.fdsafe_is_terminal(self._value)))


def open_pty(nonblocking: bool = False) -> Tuple[Terminal, Terminal]:
    """A new pseudo-terminal pair ``(master, slave)`` (``/dev/ptmx``, unlocked): two new
    close-on-exec handles the caller owns; neither becomes the controlling terminal."""
    m, s = c_handle(), c_handle()
    check(lib.fdsafe_pty_open(_OPEN_NONBLOCK if nonblocking else 0, ctypes.byref(m), ctypes.byref(s)))
    return Terminal(m.value), Terminal(s.value)


def is_terminal(handle: Handle) -> bool:
    """Whether ``handle`` (of any kind: stdio included) refers to a terminal (``isatty``).
    OSError EBADF for a closed handle."""
    return bool(check(lib.fdsafe_is_terminal(handle.value)))
