"""fdsafe: safe, generational handles for Linux file descriptors (ctypes bindings)."""
from .errors import (
    BufferTooSmallError,
    ClosedFileError,
    FdsafeError,
    InternalError,
    InvalidArgumentError,
    WrongKindError,
    error_name,
    last_error,
    strerror,
)
from .epoll import (
    EPOLL_ERR,
    EPOLL_ET,
    EPOLL_EXCLUSIVE,
    EPOLL_HUP,
    EPOLL_IN,
    EPOLL_ONESHOT,
    EPOLL_OUT,
    EPOLL_PRI,
    EPOLL_RDHUP,
    EPOLL_WAKEUP,
    Epoll,
)
from .eventfd import EventFd
from .batch import IO_READ, IO_WRITE, IOBatch, close_all, close_all_except
from . import splice
from .file import File
from .fifo import NODE_BLOCK, NODE_CHAR, NODE_FIFO, CharDevice, Fifo, mkfifo, mknod
from .memfd import MemFd
from .tun import Tun, tun_open
from .pidfd import ExitStatus, PidFd
from .terminal import Terminal, TerminalSettings, is_terminal, open_pty, spawn_pty
from .handle import (
    EVENT_ERR,
    EVENT_HUP,
    EVENT_IN,
    EVENT_OUT,
    EVENT_PRI,
    EVENT_RDHUP,
    INVALID_HANDLE,
    Handle,
)
from .fanotify import Fanotify, FanotifyEvent
from .inotify import Inotify, InotifyEvent
from .mqueue import MessageQueue, MqAttr
from .pipe import PipeEnd, pipe
from . import daemon  # noqa: F401  (fdsafe.daemon: socket activation, service notification)
# fdsafe.socket (TCP, UDP, Unix sockets) is reached as ``fdsafe.socket``; it stays out of
# __all__ so that ``from fdsafe import *`` never shadows the standard library's socket module.
from . import socket  # noqa: F401
from . import passing  # noqa: F401  (fdsafe.passing: fast descriptor passing)
from . import testing  # noqa: F401  (fdsafe.testing.fd_leak_check, as the README spells it)
from .passing import HandleList, HandlePasser, close_values
from .socket import (
    SockAddr, from_socket, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixSeqpacket, UnixSeqpacketListener, UnixStream,
)
from .signalfd import SignalFd, SignalInfo, block_process
from .signals import SIG_BLOCK, SIG_SETMASK, SIG_UNBLOCK, SigSet, signal_mask, sigset
from .stdio import STDERR, STDIN, STDOUT, Stdio
from .timerfd import (
    CLOCK_BOOTTIME,
    CLOCK_BOOTTIME_ALARM,
    CLOCK_MONOTONIC,
    CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM,
    TimerCanceled,
    TimerFd,
    TimerValue,
)

from ._lib import lib as _cdll
from ._constants import FDSAFE_VERSION_STRING as _BINDINGS_VERSION

#: The version of these bindings (and of the library the wheel carries), as packages give it.
__version__ = _BINDINGS_VERSION


def version() -> str:
    """The version of the libfdsafe actually loaded (``__version__`` is the bindings')."""
    return str(_cdll.fdsafe_version_string().decode())


__all__ = [
    "version",
    "BufferTooSmallError", "ClosedFileError", "FdsafeError", "InternalError", "InvalidArgumentError", "WrongKindError",
    "error_name", "last_error", "strerror", "EventFd", "Handle", "INVALID_HANDLE",
    "EVENT_ERR", "EVENT_HUP", "EVENT_IN", "EVENT_OUT", "EVENT_PRI", "EVENT_RDHUP",
    "PipeEnd", "pipe", "STDERR", "STDIN", "STDOUT", "Stdio",
    "daemon", "SockAddr", "from_socket", "TcpListener", "TcpStream", "UdpSocket", "UnixDatagram", "UnixListener", "UnixSeqpacket",
    "UnixSeqpacketListener", "UnixStream",
    "Epoll", "EPOLL_ERR", "EPOLL_ET", "EPOLL_EXCLUSIVE", "EPOLL_HUP", "EPOLL_IN", "EPOLL_ONESHOT",
    "EPOLL_OUT", "EPOLL_PRI", "EPOLL_RDHUP", "EPOLL_WAKEUP",
    "SIG_BLOCK", "SIG_SETMASK", "SIG_UNBLOCK", "SigSet", "signal_mask", "sigset",
    "CLOCK_BOOTTIME", "CLOCK_BOOTTIME_ALARM", "CLOCK_MONOTONIC", "CLOCK_REALTIME", "CLOCK_REALTIME_ALARM",
    "TimerCanceled", "TimerFd", "TimerValue", "SignalFd", "SignalInfo", "block_process",
    "Inotify", "InotifyEvent", "MessageQueue", "MqAttr",
    "Fanotify", "FanotifyEvent", "IOBatch", "IO_READ", "IO_WRITE", "close_all", "close_all_except",
    "passing", "HandleList", "HandlePasser", "close_values",
    "File", "splice", "CharDevice", "Fifo", "mkfifo", "mknod", "NODE_FIFO", "NODE_CHAR", "NODE_BLOCK", "MemFd", "ExitStatus", "PidFd", "Terminal", "TerminalSettings", "is_terminal", "open_pty", "spawn_pty",
    "Tun", "tun_open",
]
