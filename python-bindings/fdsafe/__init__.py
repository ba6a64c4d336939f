"""fdsafe: safe, generational handles for Linux file descriptors (ctypes bindings)."""
from .errors import (
    BufferTooSmallError,
    FdsafeError,
    InternalError,
    InvalidArgumentError,
    WrongKindError,
    error_name,
    last_error,
    strerror,
)
from .eventfd import EventFd
from . import splice
from .file import File
from .fifo import CharDevice, Fifo, mkfifo, mknod
from .memfd import MemFd
from .pidfd import ExitStatus, PidFd
from .terminal import Terminal, TerminalSettings, is_terminal, open_pty
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
from .pipe import PipeEnd, pipe
from .stdio import STDERR, STDIN, STDOUT, Stdio

__all__ = [
    "BufferTooSmallError", "FdsafeError", "InternalError", "InvalidArgumentError", "WrongKindError",
    "error_name", "last_error", "strerror", "EventFd", "Handle", "INVALID_HANDLE",
    "EVENT_ERR", "EVENT_HUP", "EVENT_IN", "EVENT_OUT", "EVENT_PRI", "EVENT_RDHUP",
    "PipeEnd", "pipe", "File", "splice", "CharDevice", "Fifo", "mkfifo", "mknod", "MemFd", "ExitStatus", "PidFd", "Terminal", "TerminalSettings", "is_terminal", "open_pty", "STDERR", "STDIN", "STDOUT", "Stdio",
]
