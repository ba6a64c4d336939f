"""Terminals, serial ports and pseudo-terminals."""
from __future__ import annotations

import ctypes
import os
import termios
from dataclasses import dataclass, field, replace
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from ._lib import c_handle, c_handle_p, declare, lib
from ._buffers import c_string, int_arg, timeout_ms
from .errors import check, naming
from .file import PathLike, _path, access_mode
from .handle import Handle
from .pidfd import PidFd, _find_program
from .rawio import RawIOHandle
from . import _constants as _c

__all__ = ["KIND_TERMINAL", "NCCS", "RAW", "CBREAK", "CANONICAL", "OTHER", "PARITY_NONE", "PARITY_ODD",
           "PARITY_EVEN", "PARITY_MARK", "PARITY_SPACE", "FLOW_NONE", "FLOW_RTSCTS", "FLOW_XONXOFF", "FLOW_OTHER",
           "APPLY_NOW", "APPLY_DRAIN", "APPLY_FLUSH", "FLUSH_INPUT", "FLUSH_OUTPUT", "FLUSH_BOTH", "OUTPUT_OFF",
           "OUTPUT_ON", "INPUT_OFF", "INPUT_ON", "MODEM_DTR", "MODEM_RTS", "MODEM_CTS", "MODEM_DCD", "MODEM_RI",
           "MODEM_DSR", "TerminalSettings", "Terminal", "open_pty", "spawn_pty", "is_terminal"]

_int, _u32, _u8, _bool = ctypes.c_int, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_bool
NCCS = _c.FDSAFE_TERM_NCCS
_U32_MAX = 2**32 - 1


class _Settings(ctypes.Structure):
    _fields_ = [("iflag", _u32), ("oflag", _u32), ("cflag", _u32), ("lflag", _u32), ("line", _u8),
                ("cc", _u8 * NCCS), ("ispeed", _u32), ("ospeed", _u32)]


class _View(ctypes.Structure):
    _fields_ = [("mode", _u32), ("baud", _u32), ("data_bits", _u32), ("parity", _u32), ("stop_bits", _u32),
                ("flow", _u32)]


class _WinSize(ctypes.Structure):
    _fields_ = [("rows", ctypes.c_uint16), ("cols", ctypes.c_uint16), ("xpixel", ctypes.c_uint16), ("ypixel", ctypes.c_uint16)]


declare({
    "fdsafe_terminal_open": (_int, [ctypes.c_char_p, _u32, c_handle_p]),
    "fdsafe_pty_open": (_int, [_u32, c_handle_p, c_handle_p]),
    "fdsafe_pty_peer": (_int, [c_handle, _u32, c_handle_p]),
    "fdsafe_terminal_path": (_int, [c_handle, _u32, ctypes.c_char_p, ctypes.c_size_t]),
    "fdsafe_terminal_get": (_int, [c_handle, ctypes.POINTER(_Settings)]),
    "fdsafe_terminal_set": (_int, [c_handle, ctypes.POINTER(_Settings), _u32]),
    "fdsafe_terminal_view_get": (_int, [ctypes.POINTER(_Settings), ctypes.POINTER(_View)]),
    "fdsafe_terminal_view_set": (_int, [ctypes.POINTER(_Settings), ctypes.POINTER(_View)]),
    "fdsafe_terminal_flow": (_int, [c_handle, _u32]),
    "fdsafe_terminal_queue_size": (_int, [c_handle, _u32]),
    "fdsafe_terminal_spawn": (_int, [c_handle, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, c_handle_p]),
    "fdsafe_pty_spawn": (_int, [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_Settings),
                                ctypes.POINTER(_WinSize), _u32, c_handle_p, c_handle_p]),
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
RAW, CBREAK, CANONICAL, OTHER = _c.FDSAFE_TERM_RAW, _c.FDSAFE_TERM_CBREAK, _c.FDSAFE_TERM_CANONICAL, _c.FDSAFE_TERM_OTHER
PARITY_NONE, PARITY_ODD, PARITY_EVEN, PARITY_MARK, PARITY_SPACE = _c.FDSAFE_PARITY_NONE, _c.FDSAFE_PARITY_ODD, _c.FDSAFE_PARITY_EVEN, _c.FDSAFE_PARITY_MARK, _c.FDSAFE_PARITY_SPACE
FLOW_NONE, FLOW_RTSCTS, FLOW_XONXOFF, FLOW_OTHER = _c.FDSAFE_FLOW_NONE, _c.FDSAFE_FLOW_RTSCTS, _c.FDSAFE_FLOW_XONXOFF, _c.FDSAFE_FLOW_OTHER
APPLY_NOW, APPLY_DRAIN, APPLY_FLUSH = _c.FDSAFE_TERM_APPLY_NOW, _c.FDSAFE_TERM_APPLY_DRAIN, _c.FDSAFE_TERM_APPLY_FLUSH
FLUSH_INPUT, FLUSH_OUTPUT, FLUSH_BOTH = _c.FDSAFE_FLUSH_INPUT, _c.FDSAFE_FLUSH_OUTPUT, _c.FDSAFE_FLUSH_BOTH
OUTPUT_OFF, OUTPUT_ON, INPUT_OFF, INPUT_ON = _c.FDSAFE_TERM_OUTPUT_OFF, _c.FDSAFE_TERM_OUTPUT_ON, _c.FDSAFE_TERM_INPUT_OFF, _c.FDSAFE_TERM_INPUT_ON
MODEM_DTR, MODEM_RTS, MODEM_CTS, MODEM_DCD, MODEM_RI, MODEM_DSR = _c.FDSAFE_MODEM_DTR, _c.FDSAFE_MODEM_RTS, _c.FDSAFE_MODEM_CTS, _c.FDSAFE_MODEM_DCD, _c.FDSAFE_MODEM_RI, _c.FDSAFE_MODEM_DSR
_OPEN_NONBLOCK = _c.FDSAFE_NONBLOCK
_PATH_PEER = _c.FDSAFE_TERMINAL_PATH_PEER


_LIBC_NCCS = 32  # glibc's struct termios, which Python's termios module fills
_CODE_RATES = {getattr(termios, n): int(n[1:]) for n in dir(termios) if n[0] == "B" and n[1:].isdigit()}
_RATE_CODES = {rate: code for code, rate in _CODE_RATES.items()}


def _winsize(size: Tuple[int, int]) -> _WinSize:
    """``(rows, cols)`` as the C structure, each checked to fit its 16 bits: ctypes would cut
    70000 rows to 4464 and -1 to 65535 without a word. An ``os.terminal_size`` (what
    ``os.get_terminal_size`` and ``shutil.get_terminal_size`` give) is ``(columns, lines)``:
    it is read by name, never transposed."""
    if isinstance(size, os.terminal_size):
        rows, cols = size.lines, size.columns
    else:
        rows, cols = size
    return _WinSize(int_arg(rows, "rows", 0, 0xFFFF), int_arg(cols, "columns", 0, 0xFFFF), 0, 0)


def _view_field(name: str, doc: str) -> property:
    def get(self: "TerminalSettings") -> int:
        return int(getattr(self._view(), name))

    def put(self: "TerminalSettings", value: int) -> None:
        view = self._view()
        setattr(view, name, int_arg(value, name, 0, _U32_MAX))
        self._set_view(view)

    return property(get, put, doc=doc)


@dataclass
class TerminalSettings:
    """A terminal's settings exactly as the kernel keeps them (``struct termios2``): the four
    flag words (take the bits from Python's ``termios`` module: ``termios.ECHO``...), the
    line discipline, every control character (``cc[termios.VINTR]``...) and both speeds.
    Reading and applying them unchanged changes nothing.

    ``mode``, ``baud``, ``data_bits``, ``parity``, ``stop_bits`` and ``flow`` are views over
    the words: setting one changes only its own bits (``mode = RAW`` as ``tty.setraw``;
    ``CBREAK`` as ``tty.setcbreak`` plus signal characters and output processing on, so that
    ``mode`` reads ``CBREAK`` only when ^C still raises SIGINT; mixed settings read ``OTHER``)."""

    iflag: int = 0
    oflag: int = 0
    cflag: int = 0
    lflag: int = 0
    line: int = 0
    cc: List[int] = field(default_factory=lambda: [0] * NCCS)
    ispeed: int = 0
    ospeed: int = 0

    def _c(self) -> _Settings:
        # Each value checked to fit its field: ctypes would cut it (a cc entry of 256 to 0).
        if len(self.cc) != NCCS:
            raise ValueError(f"cc has {len(self.cc)} entries; a terminal has {NCCS}")
        words = [int_arg(getattr(self, n), n, 0, _U32_MAX)
                 for n in ("iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed")]
        cc = [int_arg(c, f"cc[{i}]", 0, 0xFF) for i, c in enumerate(self.cc)]
        return _Settings(*words[:4], int_arg(self.line, "line", 0, 0xFF), (_u8 * NCCS)(*cc), *words[4:])

    @classmethod
    def _from_c(cls, s: _Settings) -> "TerminalSettings":
        return cls(s.iflag, s.oflag, s.cflag, s.lflag, s.line, list(s.cc), s.ispeed, s.ospeed)

    def _view(self) -> _View:
        c, view = self._c(), _View()
        check(lib.fdsafe_terminal_view_get(ctypes.byref(c), ctypes.byref(view)))
        return view

    def _set_view(self, view: _View) -> None:
        c = self._c()
        check(lib.fdsafe_terminal_view_set(ctypes.byref(c), ctypes.byref(view)))
        self.iflag, self.oflag, self.cflag, self.lflag = c.iflag, c.oflag, c.cflag, c.lflag
        self.line, self.cc, self.ispeed, self.ospeed = c.line, list(c.cc), c.ispeed, c.ospeed

    mode = _view_field("mode", "RAW, CBREAK, CANONICAL or OTHER (mixed; setting OTHER changes nothing).")
    baud = _view_field("baud", "Output speed in bits per second, any rate; setting it sets input alike.")
    data_bits = _view_field("data_bits", "5 to 8.")
    parity = _view_field("parity", "PARITY_NONE, _ODD, _EVEN, _MARK or _SPACE.")
    stop_bits = _view_field("stop_bits", "1 or 2.")
    flow = _view_field("flow", "FLOW_NONE, FLOW_RTSCTS, FLOW_XONXOFF or FLOW_OTHER (mixed).")

    def copy(self) -> "TerminalSettings":
        """A copy whose control characters can be changed without touching these."""
        return replace(self, cc=list(self.cc))

    def to_termios(self) -> List[Any]:
        """The list Python's ``termios.tcgetattr`` gives for these settings, to pass to
        ``termios.tcsetattr``: speeds as ``B*`` codes (``ValueError`` for a rate without
        one), ``cc`` with the C library's 32 entries, bytes except ``VMIN``/``VTIME`` in
        non-canonical mode."""
        code = _RATE_CODES.get(self.ospeed)
        if code is None:
            raise ValueError(f"{self.ospeed} bit/s has no B* code for Python's termios (fdsafe sets it through BOTHER)")
        cc: List[Any] = [bytes([c]) for c in self.cc] + [b"\0"] * (_LIBC_NCCS - NCCS)
        if not self.lflag & termios.ICANON:
            cc[termios.VMIN], cc[termios.VTIME] = self.cc[termios.VMIN], self.cc[termios.VTIME]
        return [self.iflag, self.oflag, self.cflag, self.lflag, code, code, cc]

    @classmethod
    def from_termios(cls, attrs: Sequence[Any]) -> "TerminalSettings":
        """Settings from a ``termios.tcgetattr`` list; the output speed code sets the rate, as
        ``termios.tcsetattr`` does with the C library (which keeps one speed for both)."""
        iflag, oflag, cflag, lflag, _, ospeed, cc = attrs
        rate = _CODE_RATES.get(ospeed)
        if rate is None:
            raise ValueError(f"speed code {ospeed:#o} is not a termios B* code")
        chars = [c if isinstance(c, int) else c[0] for c in cc[:NCCS]]
        cflag = (cflag & ~(termios.CBAUD | termios.CIBAUD)) | ospeed
        return cls(iflag, oflag, cflag, lflag, 0, chars, rate, rate)


class Terminal(RawIOHandle):
    """A terminal, serial port or pseudo-terminal end (``FDSAFE_KIND_TERMINAL``). Used after
    close, its methods raise :class:`ClosedFileError` (an ``OSError`` with errno ``EBADF``
    and a ``ValueError``), as its ``read`` does."""

    KIND = KIND_TERMINAL

    @classmethod
    def open(cls, path: PathLike, *, read: bool = True, write: bool = True, nonblocking: bool = False) -> "Terminal":
        """Opens a terminal or serial port by path (``str``, ``bytes`` or ``os.PathLike``),
        never as the controlling terminal (``O_NOCTTY``). Raises ``InvalidArgumentError``
        for a file that is not a terminal and for ``/dev/ptmx`` (which makes a new, locked
        master: :func:`open_pty` makes both ends), ``OSError`` if it cannot be opened."""
        flags = access_mode(read, write) | (_OPEN_NONBLOCK if nonblocking else 0)
        out = c_handle()
        with naming(path):
            check(lib.fdsafe_terminal_open(_path(path), flags, ctypes.byref(out)))
        return cls(out.value)._opened_as(path, flags)

    def peer(self, nonblocking: bool = False) -> "Terminal":
        """Another handle on the slave of this pseudo-terminal master (``TIOCGPTPEER``); a
        new handle the caller owns. ``OSError(EIO)`` on a slave."""
        out = c_handle()
        self._check(lib.fdsafe_pty_peer(self._value, _OPEN_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return Terminal(out.value)

    def _path(self, flags: int) -> str:
        buf = ctypes.create_string_buffer(4096)
        self._check(lib.fdsafe_terminal_path(self._value, flags, buf, len(buf)))
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
        """The settings, word for word (``termios.tcgetattr``), as a :class:`TerminalSettings`
        (change it, then :meth:`apply`)."""
        s = _Settings()
        self._check(lib.fdsafe_terminal_get(self._value, ctypes.byref(s)))
        return TerminalSettings._from_c(s)

    def apply(self, settings: Union[TerminalSettings, Sequence[Any]], when: int = APPLY_NOW) -> None:
        """Applies ``settings`` word for word (``termios.tcsetattr``): a
        :class:`TerminalSettings`, or the list ``termios.tcgetattr`` gives (read with
        :meth:`TerminalSettings.from_termios`). ``when`` is ``APPLY_NOW``, ``APPLY_DRAIN``
        (after the output is sent) or ``APPLY_FLUSH`` (after that, discarding unread input).
        Raises ``InvalidArgumentError`` for an unknown ``when``."""
        if not isinstance(settings, TerminalSettings):
            settings = TerminalSettings.from_termios(settings)
        c = settings._c()
        self._retry(lambda: lib.fdsafe_terminal_set(self._value, ctypes.byref(c), when))

    def _set_mode(self, mode: int, when: int) -> TerminalSettings:
        old = self.settings
        new = old.copy()
        new.mode = mode
        self.apply(new, when)
        return old

    def setraw(self, when: int = APPLY_FLUSH) -> TerminalSettings:
        """Raw mode, as ``tty.setraw`` (``cfmakeraw``); returns the settings before, to apply
        again later."""
        return self._set_mode(RAW, when)

    def setcbreak(self, when: int = APPLY_FLUSH) -> TerminalSettings:
        """cbreak mode: no line editing, no echo, but signal characters and output processing
        (from cooked settings, exactly ``tty.setcbreak``; from raw ones it also turns ``ISIG``
        and ``OPOST`` back on). Returns the settings before."""
        return self._set_mode(CBREAK, when)

    def flow(self, action: int) -> None:
        """``termios.tcflow``: OUTPUT_OFF, OUTPUT_ON, INPUT_OFF or INPUT_ON (``termios.TCOOFF``...
        have the same values)."""
        self._retry(lambda: lib.fdsafe_terminal_flow(self._value, action))

    @property
    def in_waiting(self) -> int:
        """Bytes received and not yet read (``FIONREAD``; complete lines in canonical mode)."""
        return self._check(lib.fdsafe_terminal_queue_size(self._value, FLUSH_INPUT))

    @property
    def out_waiting(self) -> int:
        """Bytes written and not yet sent (``TIOCOUTQ``)."""
        return self._check(lib.fdsafe_terminal_queue_size(self._value, FLUSH_OUTPUT))

    def spawn(self, argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> PidFd:
        """Starts ``argv`` with this terminal as its controlling terminal and standard streams
        (``login_tty``: a new session, ``TIOCSCTTY``); ``argv[0]`` is searched in ``PATH``:
        ``env``'s when ``env`` is given, as ``subprocess`` searches it, else this process's.
        Returns the child's pidfd; reap it with ``wait_exit``."""
        program, args, envp = _command(argv, env)
        out = c_handle()
        self._check(lib.fdsafe_terminal_spawn(self._value, program, args.pointer, envp.pointer, ctypes.byref(out)))
        return PidFd(out.value)

    @property
    def window_size(self) -> Tuple[int, int]:
        """The window size as ``(rows, cols)`` (``TIOCGWINSZ``); settable, which signals
        SIGWINCH to the terminal's foreground process group."""
        w = _WinSize()
        self._check(lib.fdsafe_terminal_get_window_size(self._value, ctypes.byref(w)))
        return w.rows, w.cols

    @window_size.setter
    def window_size(self, size: Tuple[int, int]) -> None:
        w = _winsize(size)
        self._check(lib.fdsafe_terminal_set_window_size(self._value, ctypes.byref(w)))

    @property
    def modem_lines(self) -> int:
        """``MODEM_*`` bits; ``OSError(ENOTTY)`` on pseudo-terminals (no modem lines)."""
        bits = ctypes.c_uint32()
        self._check(lib.fdsafe_terminal_modem_get(self._value, ctypes.byref(bits)))
        return bits.value

    def set_modem_lines(self, set_bits: int = 0, clear_bits: int = 0) -> None:
        """Raises the ``MODEM_*`` lines in ``set_bits`` and lowers those in ``clear_bits``
        (only ``MODEM_DTR`` and ``MODEM_RTS`` are settable: others are an
        ``InvalidArgumentError``); ``OSError(ENOTTY)`` on pseudo-terminals."""
        self._check(lib.fdsafe_terminal_modem_set(self._value, set_bits, clear_bits))

    def drain(self) -> None:
        """Waits until all output written has been sent (``tcdrain``)."""
        self._retry(lambda: lib.fdsafe_terminal_drain(self._value))

    def discard(self, queue: int = FLUSH_BOTH) -> None:
        """Throws away queued data (``tcflush``): ``FLUSH_INPUT`` (received, not yet read),
        ``FLUSH_OUTPUT`` (written, not yet sent) or ``FLUSH_BOTH``. Not ``flush()``, which
        keeps ``io``'s meaning (push buffered writes out; nothing to do for a raw stream), so
        ``io`` code calling it loses no data."""
        self._check(lib.fdsafe_terminal_flush(self._value, queue))

    def send_break(self, duration: float = 0) -> None:
        """Sends a break for ``duration`` seconds (0: the standard 0.25 to 0.5 s)."""
        ms = timeout_ms(duration)
        self._retry(lambda: lib.fdsafe_terminal_send_break(self._value, ms))

    @property
    def exclusive(self) -> bool:
        """Exclusive mode (``TIOCEXCL``): further opens of the device fail, except for root;
        settable."""
        return bool(self._check(lib.fdsafe_terminal_get_exclusive(self._value)))

    @exclusive.setter
    def exclusive(self, on: bool) -> None:
        self._check(lib.fdsafe_terminal_set_exclusive(self._value, on))

    def isatty(self) -> bool:
        """Whether the handle is a terminal (True for a ``Terminal``; as ``io``'s isatty)."""
        return bool(self._check(lib.fdsafe_is_terminal(self._value)))


def open_pty(nonblocking: bool = False) -> Tuple[Terminal, Terminal]:
    """A new pseudo-terminal pair ``(master, slave)`` (``/dev/ptmx``, unlocked): two new
    close-on-exec handles the caller owns; neither becomes the controlling terminal."""
    m, s = c_handle(), c_handle()
    check(lib.fdsafe_pty_open(_OPEN_NONBLOCK if nonblocking else 0, ctypes.byref(m), ctypes.byref(s)))
    return Terminal(m.value), Terminal(s.value)


class _StringArray:
    """A NULL-terminated ``char *[]`` that keeps its strings alive."""

    def __init__(self, items: Optional[Sequence[bytes]]):
        self._items = items
        self._array = None if items is None else (ctypes.c_char_p * (len(items) + 1))(*items, None)

    @property
    def pointer(self) -> Optional[int]:
        return None if self._array is None else ctypes.cast(self._array, ctypes.c_void_p).value


def _variable(name: Any, value: Any) -> bytes:
    """``name=value`` for a child's environment; ValueError for a name holding ``=`` (or
    empty) and for a NUL anywhere, as ``os.execve`` raises."""
    key = c_string(name)
    if not key or b"=" in key:
        raise ValueError("illegal environment variable name")
    return key + b"=" + c_string(value)


def _command(argv: Sequence[str], env: Optional[Mapping[str, str]]) -> Tuple[bytes, _StringArray, _StringArray]:
    if isinstance(argv, (str, bytes, os.PathLike)):
        argv = [argv]  # the program alone, as pty.spawn and subprocess take it
    if len(argv) == 0:
        raise ValueError("argv is empty: it names the program and its arguments")
    args = [c_string(a) for a in argv]
    envp = None if env is None else [_variable(k, v) for k, v in env.items()]
    program = args[0] if env is None else c_string(_find_program(args[0], env))
    return program, _StringArray(args), _StringArray(envp)


def spawn_pty(argv: Sequence[str], env: Optional[Mapping[str, str]] = None, *,
              settings: Optional[TerminalSettings] = None, window_size: Optional[Tuple[int, int]] = None,
              nonblocking: bool = False) -> Tuple[Terminal, PidFd]:
    """Starts ``argv`` on a new pseudo-terminal (``pty.fork`` and ``exec``, ``forkpty``): the
    child has the slave as its controlling terminal and standard streams, with ``settings``
    and ``window_size`` (``(rows, cols)``, each 0 to 65535, checked as the
    :attr:`Terminal.window_size` setter checks it: ``ValueError`` below, ``OverflowError``
    above) when given. Returns ``(master, pidfd)``: read the
    child's output from the master (``OSError(EIO)`` once it has closed the terminal), type
    into it, and reap the child with ``pidfd.wait_exit()``. A program name without a slash
    is searched in ``env``'s ``PATH`` when ``env`` is given, as ``subprocess`` searches it,
    else in this process's."""
    program, args, envp = _command(argv, env)
    c = None if settings is None else settings._c()
    w = None if window_size is None else _winsize(window_size)
    m, p = c_handle(), c_handle()
    check(lib.fdsafe_pty_spawn(program, args.pointer, envp.pointer, None if c is None else ctypes.byref(c),
                               None if w is None else ctypes.byref(w), _OPEN_NONBLOCK if nonblocking else 0,
                               ctypes.byref(m), ctypes.byref(p)))
    return Terminal(m.value), PidFd(p.value)


def is_terminal(handle: Handle) -> bool:
    """Whether ``handle`` (of any kind: stdio included) refers to a terminal (``isatty``).
    OSError EBADF for a closed handle. Only handles: ``TypeError`` for anything else, a
    descriptor number or a Python file included (``os.isatty`` takes those)."""
    if not isinstance(handle, Handle):
        raise TypeError(f"is_terminal takes an fdsafe handle, not {type(handle).__name__} "
                        "(os.isatty takes a descriptor)")
    return bool(check(lib.fdsafe_is_terminal(handle.value)))
