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
from . import daemon  # noqa: F401  (fdsafe.daemon: socket activation, service notification)
from . import socket  # noqa: F401  (fdsafe.socket: TCP, UDP, Unix sockets)
from .socket import (
    TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixSeqpacket, UnixSeqpacketListener, UnixStream,
)
from .stdio import STDERR, STDIN, STDOUT, Stdio

from ._lib import lib as _cdll


def version() -> str:
    """The version of the libfdsafe actually loaded."""
    return _cdll.fdsafe_version_string().decode()


__all__ = [
    "version",
    "BufferTooSmallError", "FdsafeError", "InternalError", "InvalidArgumentError", "WrongKindError",
    "error_name", "last_error", "strerror", "EventFd", "Handle", "INVALID_HANDLE",
    "EVENT_ERR", "EVENT_HUP", "EVENT_IN", "EVENT_OUT", "EVENT_PRI", "EVENT_RDHUP",
    "PipeEnd", "pipe", "STDERR", "STDIN", "STDOUT", "Stdio",
    "daemon", "socket", "TcpListener", "TcpStream", "UdpSocket", "UnixDatagram", "UnixListener", "UnixSeqpacket",
    "UnixSeqpacketListener", "UnixStream",
]
