"""Sockets: TCP, UDP and Unix domain (stream, datagram, seqpacket), descriptor passing and
peer credentials. Each socket kind has a class with a ``socket``-like surface and
``fileno()``, so it works with ``selectors``.

asyncio takes these sockets as they are: ``loop.sock_recv``, ``sock_recv_into``,
``sock_sendall``, ``sock_sendfile``, ``sock_accept``, ``sock_connect`` and (3.11+)
``sock_recvfrom``, ``sock_recvfrom_into``, ``sock_sendto`` (non-blocking sockets, as for
``socket.socket``), and ``sock=`` of ``open_connection``, ``open_unix_connection``,
``start_server``, ``start_unix_server``, ``loop.create_connection``,
``create_unix_connection``, ``create_server``, ``create_unix_server``,
``create_datagram_endpoint`` and ``connect_accepted_socket`` (the transport or server closes
the handle). Every socket class answers what asyncio calls on it (``listen``, ``accept``,
``connect``...) as ``socket.socket`` does in the same state."""
from __future__ import annotations

import ctypes
import errno
import io
import os
import socket as _pysocket
import time
import weakref
from typing import (TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, List, Literal, NamedTuple, NoReturn,
                    Optional, Sequence, Tuple, TypeVar, Union, cast, overload)

from ._address import SockAddr, decode_sockaddr, inet_sockaddrs as _inet_sockaddrs, unix_sockaddr
from ._buffers import backlog_arg, data_arg, int_arg, into_arg, read_buffer, size_arg, timeout_ms
from ._lib import IOVec, c_handle, c_handle_p, c_kind, declare, fast, lib
from .errors import check, error_for
from .pidfd import PidFd
from .handle import (EVENT_IN, EVENT_OUT, KIND_OTHER, Handle, descriptors_of, private_descriptor, retry_eintr,
                     retry_eintr_within, eintr_retried_within)
from . import _constants as _c

if TYPE_CHECKING:
    from .passing import HandlePasser

__all__ = ["KIND_TCP_LISTENER", "KIND_TCP_STREAM", "KIND_UDP", "KIND_UNIX_LISTENER",
           "KIND_UNIX_STREAM", "KIND_UNIX_DATAGRAM", "KIND_UNIX_SEQPACKET_LISTENER",
           "KIND_UNIX_SEQPACKET", "ADDRESS_TEXT_MAX", "SOCKADDR_STORAGE", "SEND_DONTWAIT",
           "SEND_MORE", "SEND_ZEROCOPY", "RECV_DONTWAIT", "RECV_PEEK", "RECV_WAITALL",
           "SHUTDOWN_READ", "SHUTDOWN_WRITE", "SHUTDOWN_BOTH", "ACCEPT_NONBLOCK",
           "SOCKET_NONBLOCK", "SOCKET_REUSEPORT", "SOCKET_V6ONLY", "SOCKET_NO_REUSEADDR",
           "UNIX_STREAM", "UNIX_DATAGRAM", "UNIX_SEQPACKET", "UNIX_BIND_NONBLOCK",
           "UNIX_BIND_KEEP_STALE", "UNIX_BIND_KEEP_PATH", "UNIX_BIND_NO_MKDIR",
           "UNIX_BIND_KEEP_MODE", "RECV_INFO_CTRUNC", "RECV_INFO_TRUNC", "RECV_INFO_CREDENTIALS",
           "RECV_INFO_CLOSED", "MAX_FDS", "Credentials", "RecvInfo", "UnixBindOptions",
           "ZerocopyCompletion", "Datagram", "address_parse", "address_format", "Received",
           "Socket", "TcpListener", "TcpStream", "UdpSocket", "UnixListener", "UnixStream",
           "UnixDatagram", "UnixSeqpacketListener", "UnixSeqpacket", "tcp_listen", "tcp_connect",
           "udp_bind", "unix_listen", "unix_bind", "unix_connect", "unix_pair", "from_socket",
           "SockAddr", "MSG_DONTWAIT", "MSG_PEEK", "MSG_WAITALL", "MSG_MORE", "MSG_ZEROCOPY", "MSG_OOB",
           "MSG_NOSIGNAL", "SHUT_RD", "SHUT_WR", "SHUT_RDWR", "SOCK_STREAM", "SOCK_DGRAM",
           "SOCK_SEQPACKET", "SOL_SOCKET", "IPPROTO_IP", "IPPROTO_TCP", "IPPROTO_IPV6",
           "SO_BROADCAST", "SO_KEEPALIVE", "SO_LINGER", "SO_RCVBUF", "SO_SNDBUF", "SO_REUSEADDR",
           "SO_REUSEPORT", "SO_PASSCRED", "SO_BUSY_POLL", "SO_INCOMING_CPU", "SO_ZEROCOPY",
           "TCP_NODELAY", "TCP_CORK", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
           "TCP_USER_TIMEOUT", "TCP_FASTOPEN", "IP_TTL", "IP_MULTICAST_TTL", "IP_MULTICAST_LOOP",
           "IPV6_UNICAST_HOPS", "IPV6_MULTICAST_HOPS", "IPV6_MULTICAST_LOOP", "IPV6_V6ONLY",
           "MSG_TRUNC", "MSG_CTRUNC", "MSG_EOR", "SendMessage", "RecvMessage", "Message"]

_int, _i64, _u32, _size = ctypes.c_int, ctypes.c_int64, ctypes.c_uint32, ctypes.c_size_t
_str, _vp = ctypes.c_char_p, ctypes.c_void_p
_size_p = ctypes.POINTER(ctypes.c_size_t)

KIND_TCP_LISTENER, KIND_TCP_STREAM, KIND_UDP = _c.FDSAFE_KIND_TCP_LISTENER, _c.FDSAFE_KIND_TCP_STREAM, _c.FDSAFE_KIND_UDP
KIND_UNIX_LISTENER, KIND_UNIX_STREAM, KIND_UNIX_DATAGRAM = _c.FDSAFE_KIND_UNIX_LISTENER, _c.FDSAFE_KIND_UNIX_STREAM, _c.FDSAFE_KIND_UNIX_DATAGRAM
KIND_UNIX_SEQPACKET_LISTENER, KIND_UNIX_SEQPACKET = _c.FDSAFE_KIND_UNIX_SEQPACKET_LISTENER, _c.FDSAFE_KIND_UNIX_SEQPACKET

ADDRESS_TEXT_MAX = _c.FDSAFE_ADDRESS_TEXT_MAX
SOCKADDR_STORAGE = 128

SEND_DONTWAIT, SEND_MORE, SEND_ZEROCOPY = _c.FDSAFE_MSG_DONTWAIT, _c.FDSAFE_MSG_MORE, _c.FDSAFE_MSG_ZEROCOPY
RECV_DONTWAIT, RECV_PEEK, RECV_WAITALL = _c.FDSAFE_MSG_DONTWAIT, _c.FDSAFE_MSG_PEEK, _c.FDSAFE_MSG_WAITALL
SHUTDOWN_READ, SHUTDOWN_WRITE, SHUTDOWN_BOTH = _c.FDSAFE_SHUT_RD, _c.FDSAFE_SHUT_WR, _c.FDSAFE_SHUT_RDWR
ACCEPT_NONBLOCK = _c.FDSAFE_NONBLOCK
SOCKET_NONBLOCK, SOCKET_REUSEPORT, SOCKET_V6ONLY, SOCKET_NO_REUSEADDR = _c.FDSAFE_NONBLOCK, _c.FDSAFE_SOCKET_REUSEPORT, _c.FDSAFE_SOCKET_V6ONLY, _c.FDSAFE_SOCKET_NO_REUSEADDR
# Typed as their values, so that a type checker knows unix_pair(UNIX_DATAGRAM) gives UnixDatagram
# sockets (see the overloads of unix_pair); socket.SOCK_* are typed so by typeshed.
UNIX_STREAM = cast(Literal[1], _c.FDSAFE_SOCK_STREAM)
UNIX_DATAGRAM = cast(Literal[2], _c.FDSAFE_SOCK_DGRAM)
UNIX_SEQPACKET = cast(Literal[5], _c.FDSAFE_SOCK_SEQPACKET)
_StreamType = Literal[1, _pysocket.SocketKind.SOCK_STREAM]
_DatagramType = Literal[2, _pysocket.SocketKind.SOCK_DGRAM]
_SeqpacketType = Literal[5, _pysocket.SocketKind.SOCK_SEQPACKET]
UNIX_BIND_NONBLOCK, UNIX_BIND_KEEP_STALE, UNIX_BIND_KEEP_PATH, UNIX_BIND_NO_MKDIR, UNIX_BIND_KEEP_MODE = _c.FDSAFE_NONBLOCK, _c.FDSAFE_UNIX_BIND_KEEP_STALE, _c.FDSAFE_UNIX_BIND_KEEP_PATH, _c.FDSAFE_UNIX_BIND_NO_MKDIR, _c.FDSAFE_UNIX_BIND_KEEP_MODE
RECV_INFO_CTRUNC, RECV_INFO_TRUNC, RECV_INFO_CREDENTIALS, RECV_INFO_CLOSED = _c.FDSAFE_RECV_INFO_CTRUNC, _c.FDSAFE_RECV_INFO_TRUNC, _c.FDSAFE_RECV_INFO_CREDENTIALS, _c.FDSAFE_RECV_INFO_CLOSED
MAX_FDS = 253

# The kernel's values, as the stdlib's socket module has them: socket.SHUT_RDWR, socket.MSG_PEEK,
# (socket.SOL_SOCKET, socket.SO_REUSEADDR), socket.SOCK_SEQPACKET... do what they name here.
MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL = _c.FDSAFE_MSG_DONTWAIT, _c.FDSAFE_MSG_PEEK, _c.FDSAFE_MSG_WAITALL
MSG_MORE, MSG_ZEROCOPY, MSG_NOSIGNAL = _c.FDSAFE_MSG_MORE, _c.FDSAFE_MSG_ZEROCOPY, _c.FDSAFE_MSG_NOSIGNAL
MSG_OOB = _c.FDSAFE_MSG_OOB
MSG_TRUNC, MSG_CTRUNC, MSG_EOR = _c.FDSAFE_MSG_TRUNC, _c.FDSAFE_MSG_CTRUNC, _c.FDSAFE_MSG_EOR
SHUT_RD, SHUT_WR, SHUT_RDWR = _c.FDSAFE_SHUT_RD, _c.FDSAFE_SHUT_WR, _c.FDSAFE_SHUT_RDWR
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = _c.FDSAFE_SOCK_STREAM, _c.FDSAFE_SOCK_DGRAM, _c.FDSAFE_SOCK_SEQPACKET
SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_IPV6 = (_c.FDSAFE_SOL_SOCKET, _c.FDSAFE_IPPROTO_IP, _c.FDSAFE_IPPROTO_TCP,
                                                     _c.FDSAFE_IPPROTO_IPV6)
SO_BROADCAST, SO_KEEPALIVE, SO_LINGER = _c.FDSAFE_SO_BROADCAST, _c.FDSAFE_SO_KEEPALIVE, _c.FDSAFE_SO_LINGER
SO_RCVBUF, SO_SNDBUF, SO_REUSEADDR, SO_REUSEPORT = (_c.FDSAFE_SO_RCVBUF, _c.FDSAFE_SO_SNDBUF, _c.FDSAFE_SO_REUSEADDR,
                                                    _c.FDSAFE_SO_REUSEPORT)
SO_PASSCRED, SO_BUSY_POLL, SO_INCOMING_CPU, SO_ZEROCOPY = (_c.FDSAFE_SO_PASSCRED, _c.FDSAFE_SO_BUSY_POLL,
                                                           _c.FDSAFE_SO_INCOMING_CPU, _c.FDSAFE_SO_ZEROCOPY)
TCP_NODELAY, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL = (_c.FDSAFE_TCP_NODELAY, _c.FDSAFE_TCP_CORK, _c.FDSAFE_TCP_KEEPIDLE,
                                                      _c.FDSAFE_TCP_KEEPINTVL)
TCP_KEEPCNT, TCP_USER_TIMEOUT, TCP_FASTOPEN = _c.FDSAFE_TCP_KEEPCNT, _c.FDSAFE_TCP_USER_TIMEOUT, _c.FDSAFE_TCP_FASTOPEN
IP_TTL, IP_MULTICAST_TTL, IP_MULTICAST_LOOP = _c.FDSAFE_IP_TTL, _c.FDSAFE_IP_MULTICAST_TTL, _c.FDSAFE_IP_MULTICAST_LOOP
IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS = _c.FDSAFE_IPV6_UNICAST_HOPS, _c.FDSAFE_IPV6_MULTICAST_HOPS
IPV6_MULTICAST_LOOP, IPV6_V6ONLY = _c.FDSAFE_IPV6_MULTICAST_LOOP, _c.FDSAFE_IPV6_V6ONLY


class Credentials(ctypes.Structure):
    """``struct fdsafe_credentials``: a process's pid, uid and gid (``SCM_CREDENTIALS``);
    unpacks as a ``(pid, uid, gid)`` tuple."""

    _fields_ = [("pid", ctypes.c_int32), ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32)]

    def __iter__(self) -> Iterator[int]:
        return iter((self.pid, self.uid, self.gid))


class RecvInfo(ctypes.Structure):
    """``struct fdsafe_recv_info``: what a receive with descriptors got besides data (handle
    count, ``RECV_INFO_*`` flags, descriptors closed for lack of room, credentials)."""

    _fields_ = [("handle_count", ctypes.c_size_t), ("flags", ctypes.c_uint32), ("closed_count", ctypes.c_uint32),
                ("credentials", Credentials)]


class UnixBindOptions(ctypes.Structure):
    """``struct fdsafe_unix_bind_options``: ``UNIX_BIND_*`` flags, and the permission modes
    of a created parent folder and of the socket file (0: the defaults)."""

    _fields_ = [("flags", ctypes.c_uint32), ("dir_mode", ctypes.c_uint32), ("socket_mode", ctypes.c_uint32)]


class ZerocopyCompletion(ctypes.Structure):
    """``struct fdsafe_zerocopy_completion``: zero-copy sends ``first`` to ``last`` are done;
    ``copied`` if the kernel copied the data after all."""

    _fields_ = [("first", ctypes.c_uint32), ("last", ctypes.c_uint32), ("copied", ctypes.c_uint32)]


class Datagram(ctypes.Structure):
    """``struct fdsafe_datagram``: one message of a batched send or receive (its buffer and
    address, and for a receive the bytes received and whether they were truncated)."""

    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("addr", ctypes.c_void_p),
                ("addr_len", ctypes.c_size_t), ("received", ctypes.c_size_t), ("truncated", ctypes.c_uint32)]


class SendMessage(ctypes.Structure):
    """``fdsafe_send_message``: one whole message to send."""
    _fields_ = [("addr", ctypes.c_void_p), ("addr_len", ctypes.c_size_t), ("iov", ctypes.POINTER(IOVec)),
                ("iov_count", ctypes.c_size_t), ("handles", ctypes.POINTER(ctypes.c_uint64)),
                ("handle_count", ctypes.c_size_t), ("credentials", ctypes.POINTER(Credentials))]


class RecvMessage(ctypes.Structure):
    """``fdsafe_recv_message``: buffers for one whole message, and what arrived."""
    _fields_ = [("iov", ctypes.POINTER(IOVec)), ("iov_count", ctypes.c_size_t), ("addr", ctypes.c_void_p),
                ("addr_cap", ctypes.c_size_t), ("handles", ctypes.POINTER(ctypes.c_uint64)),
                ("handles_cap", ctypes.c_size_t), ("addr_len", ctypes.c_size_t), ("msg_flags", ctypes.c_uint32),
                ("info", RecvInfo)]


class Message(tuple):  # type: ignore[type-arg]
    """What :meth:`Socket.recvmsg` returns: ``(data, handles, msg_flags, address)`` as the
    stdlib's ``(data, ancdata, msg_flags, address)``, the descriptors as fdsafe handles of
    their kind. ``msg_flags`` holds the kernel's ``MSG_TRUNC``, ``MSG_CTRUNC``, ``MSG_EOR``;
    ``address`` is the sender's as ``socket.recvmsg`` gives it (``(host, port)``, a Unix
    path...; None where the kernel gives none: connected streams, an unnamed sender),
    accepted back by ``sendto`` and ``sendmsg``. Also
    :attr:`credentials` ``(pid, uid, gid)`` or None, and :attr:`closed`, the descriptors
    fdsafe closed (beyond ``maxhandles``, or from unexpected control messages)."""

    credentials: Optional[Tuple[int, int, int]]
    closed: int

    def __new__(cls, data: Any, handles: List[Handle], msg_flags: int, address: Any,
                credentials: Optional[Tuple[int, int, int]] = None, closed: int = 0) -> "Message":
        self = tuple.__new__(cls, (data, handles, msg_flags, address))
        self.credentials, self.closed = credentials, closed
        return self

    data = property(lambda self: self[0], doc="The data (bytes; the count for recvmsg_into).")
    handles = property(lambda self: self[1], doc="The descriptors received, as handles.")
    msg_flags = property(lambda self: self[2], doc="The kernel's MSG_TRUNC, MSG_CTRUNC, MSG_EOR...")
    address = property(lambda self: self[3], doc="The sender's address, or None.")


declare({
    "fdsafe_socket_send_message": (_i64, [c_handle, ctypes.POINTER(SendMessage), _u32]),
    "fdsafe_socket_recv_message": (_i64, [c_handle, ctypes.POINTER(RecvMessage), _u32]),
    "fdsafe_socket_local_port": (_int, [c_handle, ctypes.POINTER(ctypes.c_uint16)]),
    "fdsafe_socket_peer_security_label": (_int, [c_handle, ctypes.c_char_p, _size]),
    "fdsafe_address_parse": (_int, [_str, _vp, _size, _size_p]),
    "fdsafe_address_format": (_int, [_vp, _size, ctypes.c_char_p, _size]),
    "fdsafe_socket_local_address": (_int, [c_handle, ctypes.c_char_p, _size]),
    "fdsafe_socket_peer_address": (_int, [c_handle, ctypes.c_char_p, _size]),
    "fdsafe_socket_local_sockaddr": (_int, [c_handle, _vp, _size, _size_p]),
    "fdsafe_socket_peer_sockaddr": (_int, [c_handle, _vp, _size, _size_p]),
    "fdsafe_socket_send": (_i64, [c_handle, _vp, _size, _u32]),
    "fdsafe_socket_recv": (_i64, [c_handle, _vp, _size, _u32]),
    "fdsafe_socket_send_to": (_i64, [c_handle, _vp, _size, _u32, _str]),
    "fdsafe_socket_send_to_sockaddr": (_i64, [c_handle, _vp, _size, _u32, _vp, _size]),
    "fdsafe_socket_recv_from": (_i64, [c_handle, _vp, _size, _u32, _vp, _size, _size_p]),
    "fdsafe_socket_shutdown": (_int, [c_handle, _int]),
    "fdsafe_socket_accept": (_int, [c_handle, _u32, c_handle_p, _vp, _size, _size_p]),
    "fdsafe_socket_connect": (_int, [c_handle, _str]),
    "fdsafe_socket_connect_finish": (_int, [c_handle, _int]),
    "fdsafe_socket_connect_sockaddr": (_int, [c_handle, _vp, _size]),
    "fdsafe_udp_bind_sockaddr": (_int, [_vp, _size, _u32, c_handle_p]),
    "fdsafe_unix_listen_sockaddr": (_int, [_vp, _size, _u32, _int, ctypes.POINTER(UnixBindOptions), c_handle_p]),
    "fdsafe_unix_bind_sockaddr": (_int, [_vp, _size, ctypes.POINTER(UnixBindOptions), c_handle_p]),
    "fdsafe_unix_connect_sockaddr": (_int, [_vp, _size, _u32, _u32, c_handle_p]),
    "fdsafe_socket_option_get": (_int, [c_handle, _int, _int, ctypes.POINTER(_int)]),
    "fdsafe_socket_option_set": (_int, [c_handle, _int, _int, _int]),
    "fdsafe_socket_zerocopy_completions": (_i64, [c_handle, ctypes.POINTER(ZerocopyCompletion), _size]),
    "fdsafe_tcp_listen": (_int, [_str, _int, _u32, c_handle_p]),
    "fdsafe_tcp_listen_sockaddr": (_int, [_vp, _size, _int, _u32, c_handle_p]),
    "fdsafe_tcp_connect": (_int, [_str, _int, _u32, c_handle_p]),
    "fdsafe_tcp_connect_sockaddr": (_int, [_vp, _size, _int, _u32, c_handle_p]),
    "fdsafe_udp_bind": (_int, [_str, _u32, c_handle_p]),
    "fdsafe_udp_multicast_join": (_int, [c_handle, _str, _str]),
    "fdsafe_udp_multicast_leave": (_int, [c_handle, _str, _str]),
    "fdsafe_socket_send_batch": (_i64, [c_handle, ctypes.POINTER(Datagram), _size, _u32]),
    "fdsafe_socket_recv_batch": (_i64, [c_handle, ctypes.POINTER(Datagram), _size, _u32]),
    "fdsafe_unix_listen": (_int, [_str, _u32, _int, ctypes.POINTER(UnixBindOptions), c_handle_p]),
    "fdsafe_unix_bind": (_int, [_str, ctypes.POINTER(UnixBindOptions), c_handle_p]),
    "fdsafe_unix_connect": (_int, [_str, _u32, _u32, c_handle_p]),
    "fdsafe_unix_pair": (_int, [_u32, _u32, c_handle_p, c_handle_p]),
    "fdsafe_socket_send_handles": (_i64, [c_handle, _vp, _size, ctypes.POINTER(ctypes.c_uint64), _size, _u32]),
    "fdsafe_socket_send_fds": (_i64, [c_handle, _vp, _size, ctypes.POINTER(ctypes.c_int), _size, _u32]),
    "fdsafe_socket_send_credentials": (_i64, [c_handle, _vp, _size, ctypes.POINTER(Credentials), _u32]),
    "fdsafe_socket_recv_handles": (_i64, [c_handle, _vp, _size, _u32, ctypes.POINTER(ctypes.c_uint64), _size,
                                          ctypes.POINTER(RecvInfo)]),
    "fdsafe_socket_recv_handles_as": (_i64, [c_handle, _vp, _size, _u32, c_kind, ctypes.POINTER(ctypes.c_uint64), _size,
                                             ctypes.POINTER(RecvInfo)]),
    "fdsafe_socket_peer_credentials": (_int, [c_handle, ctypes.POINTER(Credentials)]),
    "fdsafe_socket_peer_groups": (_int, [c_handle, ctypes.POINTER(ctypes.c_uint32), _size]),
    "fdsafe_socket_peer_pidfd": (_int, [c_handle, c_handle_p]),
})


# What the calls take as an address: a (host, port[, flowinfo, scope_id]) tuple or fdsafe's
# text (str) for TCP and UDP; for Unix sockets a path (str, bytes or os.PathLike, as the socket
# module reads them: "@x" is a file, "\0x" an abstract name); or SockAddr bytes for any.
Address = Union[str, bytes, Tuple[Any, ...], "os.PathLike[Any]"]
_NO_ADDRESS: Any = object()


def _enc(text: Optional[Union[str, bytes]]) -> Optional[bytes]:
    if text is None:
        return None
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if b"\0" in raw:
        raise ValueError("embedded null byte in address text")
    return raw


def address_parse(text: str) -> SockAddr:
    """The ``struct sockaddr`` bytes (exact length) for fdsafe's address text, as
    :meth:`Socket.local_address` gives it. The way to use a Unix text (``"@name"``, an
    abstract name with ``\\xNN`` escapes) as an address: every call taking an address reads a
    ``str`` as a path, as the ``socket`` module does."""
    buf = ctypes.create_string_buffer(SOCKADDR_STORAGE)
    n = ctypes.c_size_t()
    check(lib.fdsafe_address_parse(_enc(text), buf, SOCKADDR_STORAGE, ctypes.byref(n)))
    return SockAddr(buf.raw[:n.value])


def _source(sockaddr: bytes) -> Any:
    """A received message's source as the ``socket`` module gives it; None for no address."""
    return decode_sockaddr(sockaddr) if sockaddr else None


def address_format(sockaddr: bytes) -> str:
    """fdsafe's address text ("127.0.0.1:80", "[::1]:80", a Unix path, "@name" for an
    abstract name) for ``struct sockaddr`` bytes. InvalidArgumentError for an unknown
    family or a truncated address."""
    text = ctypes.create_string_buffer(ADDRESS_TEXT_MAX)
    raw = ctypes.create_string_buffer(bytes(sockaddr), len(sockaddr))
    n = check(lib.fdsafe_address_format(raw, len(sockaddr), text, ADDRESS_TEXT_MAX))
    return text.raw[:n].decode("utf-8", errors="surrogateescape")


def _inet_address(address: Address, socktype: int, passive: bool = False,
                  family: int = _pysocket.AF_UNSPEC) -> Union[bytes, List[SockAddr]]:
    """fdsafe's text form (encoded, for the text C functions), or the sockaddrs an internet
    address resolves to (one for raw ``SockAddr`` bytes); ``family``: the socket's, if any
    (see ``inet_sockaddrs``)."""
    if isinstance(address, SockAddr):
        return [address]
    if isinstance(address, str):
        return cast(bytes, _enc(address))
    if isinstance(address, tuple):
        return _inet_sockaddrs(address, socktype, passive, family)
    raise TypeError(f"an internet address is a (host, port) tuple or fdsafe's text, not {type(address).__name__}"
                    " (raw sockaddr bytes: wrap them in SockAddr)")


def _unix_address(address: Address) -> SockAddr:
    """sockaddr_un for a path, an abstract name or raw ``SockAddr`` bytes, as the ``socket``
    module reads them: a ``str`` starting with ``@`` is a file (a sender bound to the
    relative path ``@client.sock`` is answered there), never fdsafe's text for an abstract
    name, which only ``address_parse`` reads."""
    if isinstance(address, SockAddr):
        return address
    if isinstance(address, tuple):
        raise TypeError("a Unix address is str, bytes or os.PathLike, not a tuple")
    return unix_sockaddr(address)


def _credentials(credentials: Any) -> Credentials:
    """``struct fdsafe_credentials`` for exactly ``(pid, uid, gid)``: TypeError or ValueError
    for anything else (never zeros filled in, which would claim uid and gid 0: root),
    OverflowError for a value out of its C type's range."""
    if isinstance(credentials, (str, bytes)) or not hasattr(credentials, "__iter__"):
        raise TypeError(f"credentials are a (pid, uid, gid) tuple, not {type(credentials).__name__}")
    items = tuple(credentials)
    if len(items) != 3:
        raise ValueError(f"credentials are a (pid, uid, gid) tuple: {len(items)} items given")
    pid, uid, gid = items
    return Credentials(int_arg(pid, "pid", -2**31, 2**31 - 1), int_arg(uid, "uid", 0, 2**32 - 1),
                       int_arg(gid, "gid", 0, 2**32 - 1))


class Received(NamedTuple):
    """What ``recv_fds`` returns: the ``data``, the received descriptors as ``handles`` of
    their detected classes (the caller owns and closes them), ``RECV_INFO_*`` ``flags``,
    the number of descriptors ``closed`` for lack of room, and the sender's ``credentials``
    ``(pid, uid, gid)`` if they came with the message."""

    data: bytes
    handles: List[Handle]
    flags: int
    closed: int
    credentials: Optional[Tuple[int, int, int]]


_EAGAIN = -errno.EAGAIN
# O_NONBLOCK of a handle (1 or 0), or -EBADF once it is closed; unconverted (the handle goes
# as the c_handle every Handle keeps ready), so asking costs no exception when closed.
_nonblocking_get: Callable[[Any], int] = fast.fdsafe_nonblocking_get
_TYPES = {KIND_TCP_LISTENER: _pysocket.SOCK_STREAM, KIND_TCP_STREAM: _pysocket.SOCK_STREAM,
          KIND_UDP: _pysocket.SOCK_DGRAM, KIND_UNIX_LISTENER: _pysocket.SOCK_STREAM,
          KIND_UNIX_STREAM: _pysocket.SOCK_STREAM, KIND_UNIX_DATAGRAM: _pysocket.SOCK_DGRAM,
          KIND_UNIX_SEQPACKET_LISTENER: _pysocket.SOCK_SEQPACKET, KIND_UNIX_SEQPACKET: _pysocket.SOCK_SEQPACKET}


class Socket(Handle):
    """Operations shared by every socket kind, with the ``socket`` module's habits:
    ``settimeout``/``gettimeout``/``setblocking`` (a timeout raises ``TimeoutError``, a
    non-blocking call that would block ``BlockingIOError``), ``family``/``type``/``proto``,
    any bytes-like object as data, ``recv_into``/``recvfrom_into``, file objects
    (:meth:`makefile`) and conversion to a ``socket.socket`` (:meth:`to_socket`)."""

    # seconds for the calls to wait before TimeoutError; None: whatever O_NONBLOCK says
    # (blocking, or a non-blocking socket, timeout 0.0)
    _timeout: Optional[float] = None
    # what gettimeout() answers once the handle is closed, when _timeout is None (the
    # O_NONBLOCK flag can no longer be asked): recorded by close()
    _timeout_at_close: Optional[float] = None

    def _text(self, fn: Any) -> str:
        buf = ctypes.create_string_buffer(ADDRESS_TEXT_MAX)
        n = check(fn(self._value, buf, ADDRESS_TEXT_MAX))
        return buf.raw[:n].decode("utf-8", errors="surrogateescape")

    def _raw(self, fn: Any) -> SockAddr:
        buf = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        n = ctypes.c_size_t()
        check(fn(self._value, buf, SOCKADDR_STORAGE, ctypes.byref(n)))
        return SockAddr(buf.raw[:n.value])

    def _call(self, call: Callable[[], int], events: int, deadline: Optional[float] = None) -> int:
        """Runs ``call`` with the socket's timeout: each attempt waits for ``events`` first,
        for what is left of the timeout (or until the ``deadline`` given, a
        ``time.monotonic()`` value), then ``TimeoutError``; retried after EINTR and EAGAIN.
        Waiting first, as the ``socket`` module does, keeps the timeout whatever another
        handle of the open file did to its O_NONBLOCK flag (a ``dup`` set blocking, a
        ``to_socket()`` copy given ``setblocking(True)``)."""
        timeout = self._timeout
        if not timeout:
            return retry_eintr(call)
        if deadline is None:
            deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.wait(events, left):
                self._timed_out()
            code = call()
            if code != _EAGAIN and code != -errno.EINTR:
                return check(code)

    def _timed_out(self) -> NoReturn:
        """Raises ``TimeoutError``; or ``OSError`` EBADF if another thread closed the socket
        during the wait (which a close does not end), as ``socket``'s calls raise then: the
        socket is gone, no peer was slow."""
        if self.closed:
            raise OSError(errno.EBADF, f"{os.strerror(errno.EBADF)}: the socket was closed during the call")
        raise _pysocket.timeout("timed out")

    def _copy_settings_from(self, other: Handle) -> None:
        self._timeout = getattr(other, "_timeout", None)

    # ---------------------------------------------------------- the socket module's habits

    def settimeout(self, timeout: Optional[float]) -> None:
        """As ``socket.settimeout``: None blocks, 0 is non-blocking (``BlockingIOError``),
        a positive number of seconds bounds each call (``TimeoutError``, alias
        ``socket.timeout``). Done with O_NONBLOCK plus a wait on the descriptor."""
        if timeout is not None:
            timeout_ms(timeout)  # ValueError for a negative or NaN timeout
            timeout = float(timeout)
        self.nonblocking = timeout is not None
        self._timeout = timeout or None
        # The files makefile() made read through duplicates sharing O_NONBLOCK with this
        # socket: they follow its timeout too, as socket.makefile's files (which call the
        # socket itself) do.
        for file in self.__dict__.get("_files", ()):
            file._sock._timeout = self._timeout

    def gettimeout(self) -> Optional[float]:
        """The timeout in seconds: None when blocking, 0.0 when non-blocking. Still answered
        once closed, as ``socket.gettimeout`` is (the mode the socket had at its close)."""
        if self._timeout is not None:
            return self._timeout
        flag = _nonblocking_get(self._c)
        if flag == -errno.EBADF:  # closed
            return self._timeout_at_close
        return 0.0 if check(flag) else None

    def setblocking(self, flag: bool) -> None:
        """``setblocking(False)`` is ``settimeout(0.0)``, ``setblocking(True)`` is
        ``settimeout(None)``."""
        self.settimeout(None if flag else 0.0)

    def getblocking(self) -> bool:
        """As ``socket.getblocking``: ``gettimeout() != 0``, so True for a blocking socket and
        for one with a timeout, False for a non-blocking one."""
        return self.gettimeout() != 0

    def close(self) -> None:
        """Closes the socket; closing an already-closed one does nothing. ``gettimeout`` and
        ``getblocking`` still answer afterwards, as ``socket``'s do."""
        if self._timeout is None:
            flag = _nonblocking_get(self._c)
            if flag >= 0:
                self._timeout_at_close = 0.0 if flag else None
        super().close()

    @property
    def type(self) -> _pysocket.SocketKind:
        """``socket.SOCK_STREAM``, ``SOCK_DGRAM`` or ``SOCK_SEQPACKET``; still answered once
        closed, as ``socket.socket.type`` is (a typed class knows it without asking)."""
        kind = type(self).KIND if type(self).KIND in _TYPES else self.kind
        return _pysocket.SocketKind(_TYPES[kind])

    @property
    def family(self) -> _pysocket.AddressFamily:
        """``socket.AF_INET``, ``AF_INET6`` or ``AF_UNIX``. A Unix socket's is known by its
        class; a TCP or UDP socket's is asked once and remembered, so after a close it is
        answered if it was asked before (``socket.socket.family`` always is)."""
        if isinstance(self, _UnixMixin):
            return _pysocket.AF_UNIX
        known: Optional[_pysocket.AddressFamily] = self.__dict__.get("_family")
        if known is None:
            known = _pysocket.AddressFamily(self.local_sockaddr().family)
            self.__dict__["_family"] = known
        return known

    @property
    def proto(self) -> int:
        """The protocol number, as ``socket.socket(fileno=...)`` reports it (SO_PROTOCOL):
        IPPROTO_TCP, IPPROTO_UDP, or 0 for Unix sockets."""
        if isinstance(self, _UnixMixin):
            return 0
        return _pysocket.IPPROTO_UDP if self.type == _pysocket.SOCK_DGRAM else _pysocket.IPPROTO_TCP

    def to_socket(self) -> _pysocket.socket:
        """A ``socket.socket`` on a duplicate of the descriptor (as ``socket.fromfd``), with
        this socket's timeout. Both stay open until each is closed; they share the open file,
        so ``setblocking`` on one changes the other. Use it for ``ssl`` or code that needs that
        very class: asyncio takes fdsafe sockets as they are (see the module's docstring)."""
        timeout = self.gettimeout()
        fd = private_descriptor(self)  # not os.dup(fileno()): a close meanwhile frees the number
        try:
            sock = _pysocket.socket(fileno=fd)
        except BaseException:
            os.close(fd)
            raise
        sock.settimeout(timeout)
        return sock

    def detach(self) -> int:
        """As ``socket.detach``: ends the handle without closing the descriptor and returns
        it; the caller (``ssl.SSLContext.wrap_socket``, which calls this, or
        ``socket.socket(fileno=...)``) owns it from then on. -1 if already closed. This is
        :meth:`release`, under the standard library's name.

        Unlike ``socket.detach``, it raises ``OSError`` EBUSY while another thread is inside
        a call on the socket (blocked in ``recv`` or ``accept``, say), and the socket stays
        open and working: that call is using the descriptor, which fdsafe never hands away
        under it. Wake that thread first (send it data, or ``shutdown()`` the socket), let
        its call return, then detach.

        ``ssl.SSLContext.wrap_socket(s)`` builds its own socket on this socket's number
        before it calls ``detach()``, and drops that socket, closing the number, if
        ``detach()`` fails: this socket is then left on a closed number that the next file
        opened takes. Wrap a socket only when no other thread can be inside a call on it, or
        wrap ``s.to_socket()`` (a duplicate: nothing is detached)."""
        if self.closed:
            return -1
        return self.release()

    def makefile(self, mode: str = "r", buffering: Optional[int] = None, *, encoding: Optional[str] = None,
                 errors: Optional[str] = None, newline: Optional[str] = None) -> Any:
        """A file object reading or writing the socket, built as ``socket.makefile`` builds
        it (``mode`` of ``r``, ``w``, ``b``; ``buffering`` 0 for the raw binary file; text
        with ``encoding``, ``errors``, ``newline``). It reads and writes through an fdsafe
        duplicate of this socket (:meth:`dup`, so with its timeout: ``TimeoutError``), closed
        when the file is closed; so a write to a closed peer raises ``BrokenPipeError``,
        never SIGPIPE."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        binary = "b" in mode
        if buffering is None or buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0 and not binary:
            raise ValueError("unbuffered streams must be binary")
        raw = _SocketIO(self.dup(), ("r" if reading else "") + ("w" if writing else ""), self)
        self.__dict__.setdefault("_files", weakref.WeakSet()).add(raw)
        if buffering == 0:
            return raw
        buffer: Any  # (typeshed makes the three generic)
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if binary:
            return buffer
        if hasattr(io, "text_encoding"):  # Python 3.10+: EncodingWarning with -X warn_default_encoding
            encoding = io.text_encoding(encoding)
        text = io.TextIOWrapper(buffer, encoding, errors, newline)
        text.mode = mode  # type: ignore[misc]  # as socket.makefile sets it
        return text

    # ---------------------------------------------------------- addresses

    def getsockname(self) -> Any:
        """The local address as ``socket.getsockname`` gives it: ``(host, port)`` (IPv4),
        ``(host, port, flowinfo, scope_id)`` (IPv6), a path (``""`` unnamed) or
        ``b"\\0name"`` (abstract) for Unix."""
        return decode_sockaddr(self.local_sockaddr())

    def getpeername(self) -> Any:
        """The peer's address as ``socket.getpeername`` gives it (see :meth:`getsockname`).
        OSError ENOTCONN when there is no peer."""
        return decode_sockaddr(self.peer_sockaddr())

    def local_address(self) -> str:
        """The local address as fdsafe's text (``"127.0.0.1:80"``, ``"[::1]:80"``,
        ``"/path"``, ``"@name"`` for an abstract name). The calls taking a TCP or UDP address
        take it back; a Unix one is text, not a path (a ``str`` address is a path, as for the
        ``socket`` module): give it to :func:`address_parse`, or use :meth:`getsockname`."""
        return self._text(lib.fdsafe_socket_local_address)

    def peer_address(self) -> str:
        """The peer's address as fdsafe's text (see :meth:`local_address`). OSError ENOTCONN
        when there is no peer."""
        return self._text(lib.fdsafe_socket_peer_address)

    def local_sockaddr(self) -> SockAddr:
        """The local ``struct sockaddr`` bytes."""
        return self._raw(lib.fdsafe_socket_local_sockaddr)

    def peer_sockaddr(self) -> SockAddr:
        """The peer's ``struct sockaddr`` bytes."""
        return self._raw(lib.fdsafe_socket_peer_sockaddr)

    def _sockaddr(self, address: Address) -> Union[bytes, SockAddr]:
        """An address for this socket's family: text (bytes) or a SockAddr. A host name is
        resolved for the socket's own family, as ``socket`` does (``""`` on an IPv4 socket is
        an IPv4 address, never ``::1``)."""
        if isinstance(self, _UnixMixin):
            return _unix_address(address)
        family = int(self.family) if isinstance(address, tuple) else _pysocket.AF_UNSPEC
        found = _inet_address(address, self.type, family=family)
        return found if isinstance(found, bytes) else found[0]

    # ---------------------------------------------------------- data

    def send(self, data: Any, flags: int = 0) -> int:
        """Sends some of ``data`` (any bytes-like object); never raises SIGPIPE (a closed
        peer: BrokenPipeError)."""
        ptr, n = data_arg(data)
        return self._call(lambda: lib.fdsafe_socket_send(self._value, ptr, n, flags), EVENT_OUT)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Sends all of ``data``; with a timeout, the timeout bounds the whole call (as
        ``socket.sendall`` since Python 3.5)."""
        keep, n = data_arg(data)
        start = ctypes.cast(keep, ctypes.c_void_p).value or 0
        deadline = time.monotonic() + self._timeout if self._timeout else None
        sent = 0
        while sent < n:
            at = ctypes.c_void_p(start + sent)
            sent += self._call(lambda: lib.fdsafe_socket_send(self._value, at, n - sent, flags), EVENT_OUT, deadline)

    def recv(self, size: int, flags: int = 0) -> bytes:
        """Receives up to ``size`` bytes (``socket.recv``): b"" at end of stream. Waits as
        the socket's timeout says (TimeoutError, or BlockingIOError when non-blocking);
        ValueError for a negative size."""
        size = size_arg(size, "buffersize")
        if size == 0:
            return b""  # at once, as socket.recv(0) does (the kernel would wait for a byte)
        buf = read_buffer(size)
        n = self._call(lambda: lib.fdsafe_socket_recv(self._value, buf, size, flags), EVENT_IN)
        return bytes(buf[:n])

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receives into a writable buffer (up to ``nbytes``, 0: its length); the count."""
        c_buf, size = into_arg(buffer, nbytes)
        if size == 0:
            return 0  # at once, as socket.recv_into does for an empty buffer
        return self._call(lambda: lib.fdsafe_socket_recv(self._value, c_buf, size, flags), EVENT_IN)

    def sendto(self, data: Any, flags_or_address: Any, address: Any = _NO_ADDRESS) -> int:
        """``sendto(data, address)`` or ``sendto(data, flags, address)``: sends a datagram to
        ``address`` (as ``connect`` takes it: a tuple or fdsafe's text for UDP, a path or
        ``"\\0name"`` for Unix, or raw ``SockAddr`` bytes). On a TCP stream it raises
        ``OSError`` (``EISCONN``), where ``socket.socket.sendto`` sends to the peer: Linux
        ignores the address there, and a call that names one must not send elsewhere."""
        if address is _NO_ADDRESS:
            flags, address = 0, flags_or_address
        elif isinstance(address, int) and not isinstance(flags_or_address, int):
            flags, address = address, flags_or_address  # fdsafe's older order: (data, address, flags)
        elif isinstance(flags_or_address, int):
            flags = flags_or_address
        else:
            raise TypeError(f"flags must be an int, not {type(flags_or_address).__name__}")
        ptr, n = data_arg(data)
        target = self._sockaddr(address)
        if isinstance(target, SockAddr):
            raw = ctypes.create_string_buffer(bytes(target), len(target))
            return self._call(lambda: lib.fdsafe_socket_send_to_sockaddr(self._value, ptr, n, flags, raw, len(target)),
                              EVENT_OUT)
        return self._call(lambda: lib.fdsafe_socket_send_to(self._value, ptr, n, flags, target), EVENT_OUT)

    def _recvfrom(self, c_buf: Any, size: int, flags: int) -> Tuple[int, Any]:
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        n = self._call(lambda: lib.fdsafe_socket_recv_from(self._value, c_buf, size, flags, addr, SOCKADDR_STORAGE,
                                                            ctypes.byref(alen)), EVENT_IN)
        return n, _source(addr.raw[:alen.value])

    def recvfrom(self, size: int, flags: int = 0) -> Tuple[bytes, Any]:
        """A datagram (up to ``size`` bytes) and its source, as ``socket.recvfrom`` gives
        them (see :meth:`getsockname`; None when the kernel gives no address: a connected
        stream, an unnamed Unix sender)."""
        size = size_arg(size, "buffersize")
        buf = read_buffer(max(size, 1))
        n, source = self._recvfrom(buf, size, flags)
        return buf[:n], source

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> Tuple[int, Any]:
        """Receives a datagram into a writable buffer; the count and the source, as
        :meth:`recvfrom` gives it."""
        c_buf, size = into_arg(buffer, nbytes)
        return self._recvfrom(c_buf, size, flags)

    # ---------------------------------------------------------- whole messages

    def _msg_address(self, address: Any) -> Tuple[Any, int]:
        """A sendmsg destination as (C buffer, length); (None, 0) for the connected peer."""
        if address is None:
            return None, 0
        target = self._sockaddr(address)
        raw = bytes(target) if isinstance(target, SockAddr) else bytes(address_parse(target.decode()))
        return ctypes.create_string_buffer(raw, len(raw)), len(raw)

    def sendmsg(self, buffers: Iterable[Any], handles: Sequence[Handle] = (), flags: int = 0, address: Any = None,
                *, credentials: Optional[Tuple[int, int, int]] = None) -> int:
        """Sends one whole message, as ``socket.sendmsg``: the data gathered from ``buffers``
        (bytes-like objects), to ``address`` (None: the connected peer; as ``sendto`` takes
        it), with ``handles`` (fdsafe handles, held for the send) passed as descriptors and
        ``credentials`` ``(pid, uid, gid)`` attached (exactly three integers), on Unix
        sockets. Datagram and seqpacket sockets carry descriptors in an empty message; a
        stream socket needs one byte. Returns the bytes sent."""
        keep = [data_arg(b) for b in buffers]
        iov = (IOVec * max(len(keep), 1))()
        for slot, (data, n) in zip(iov, keep):
            slot.iov_base = ctypes.cast(data, ctypes.c_void_p).value if not isinstance(data, bytes) else \
                ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
            slot.iov_len = n
        items = list(handles)
        for h in items:
            if not isinstance(h, Handle):
                raise TypeError(f"sendmsg passes fdsafe handles, not {type(h).__name__} (adopt a descriptor first)")
        harr = (ctypes.c_uint64 * max(len(items), 1))(*[h.value for h in items])
        addr, addr_len = self._msg_address(address)
        creds = _credentials(credentials) if credentials is not None else None
        msg = SendMessage(addr=ctypes.cast(addr, ctypes.c_void_p) if addr is not None else None, addr_len=addr_len,
                          iov=iov, iov_count=len(keep), handles=harr, handle_count=len(items),
                          credentials=ctypes.pointer(creds) if creds is not None else None)
        return self._call(lambda: lib.fdsafe_socket_send_message(self._value, ctypes.byref(msg), flags), EVENT_OUT)

    def _recvmsg(self, iov: Any, count: int, maxhandles: int, flags: int) -> Tuple[int, Message]:
        maxhandles = size_arg(maxhandles, "maxhandles")
        slots = (ctypes.c_uint64 * max(maxhandles, 1))()
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        msg = RecvMessage(iov=iov, iov_count=count, addr=ctypes.cast(addr, ctypes.c_void_p), addr_cap=SOCKADDR_STORAGE,
                          handles=slots, handles_cap=maxhandles)
        n = self._call(lambda: lib.fdsafe_socket_recv_message(self._value, ctypes.byref(msg), flags), EVENT_IN)
        handles = [Handle._wrap_new(v) for v in slots[:msg.info.handle_count]]
        address = _source(addr.raw[:msg.addr_len])
        creds = cast(Tuple[int, int, int], tuple(msg.info.credentials)) if msg.info.flags & RECV_INFO_CREDENTIALS else None
        return n, Message(n, handles, msg.msg_flags, address, creds, msg.info.closed_count)

    def recvmsg(self, bufsize: int, maxhandles: int = 0, flags: int = 0) -> Message:
        """Receives one whole message, as ``socket.recvmsg``: up to ``bufsize`` bytes, up to
        ``maxhandles`` descriptors as handles of their kind (close-on-exec; any beyond are
        closed and ``MSG_CTRUNC`` set), and the sender's address. A longer message sets
        ``MSG_TRUNC`` in ``msg_flags``. See :class:`Message`."""
        size = size_arg(bufsize, "bufsize")
        buf = read_buffer(max(size, 1))
        iov = IOVec(ctypes.cast(buf, ctypes.c_void_p), size)
        n, got = self._recvmsg(ctypes.pointer(iov), 1, maxhandles, flags)
        return Message(buf[:min(n, size)], got.handles, got.msg_flags, got.address, got.credentials, got.closed)

    def recvmsg_into(self, buffers: Iterable[Any], maxhandles: int = 0, flags: int = 0) -> Message:
        """As ``socket.recvmsg_into``: the message scattered into writable ``buffers``; the
        first item is the count of bytes received."""
        views = [into_arg(b) for b in buffers]
        iov = (IOVec * max(len(views), 1))()
        for slot, (c_buf, size) in zip(iov, views):
            slot.iov_base, slot.iov_len = ctypes.cast(c_buf, ctypes.c_void_p).value, size
        return self._recvmsg(iov, len(views), maxhandles, flags)[1]

    def local_port(self) -> int:
        """The port of a TCP or UDP socket's own address, as a number (``getsockname()[1]``
        in the stdlib)."""
        port = ctypes.c_uint16()
        check(lib.fdsafe_socket_local_port(self._value, ctypes.byref(port)))
        return port.value

    def peer_security_label(self) -> bytes:
        """The peer's security label (``SO_PEERSEC``). OSError ENOPROTOOPT where no security
        module provides labels, ENODATA where the peer has none."""
        size = 256
        while True:
            buf = ctypes.create_string_buffer(size)
            n = lib.fdsafe_socket_peer_security_label(self._value, buf, size)
            if n != _c.FDSAFE_E_BUFFER_TOO_SMALL:
                return buf.raw[:check(n)]
            size *= 4

    def shutdown(self, how: int = SHUT_RDWR) -> None:
        """``how``: ``SHUT_RD``, ``SHUT_WR`` or ``SHUT_RDWR`` (the stdlib's ``socket.SHUT_*`` work)."""
        check(lib.fdsafe_socket_shutdown(self._value, how))

    def getopt(self, level: int, name: int) -> int:
        """An option as ``getsockopt``: ``(SOL_SOCKET, SO_REUSEADDR)``, ``(IPPROTO_TCP,
        TCP_NODELAY)``... (the stdlib's ``socket`` constants work); ``SO_LINGER`` gives seconds,
        or -1 for off."""
        out = ctypes.c_int()
        check(lib.fdsafe_socket_option_get(self._value, level, name, ctypes.byref(out)))
        return out.value

    def setopt(self, level: int, name: int, value: int) -> None:
        """Sets an option named as for :meth:`getopt`."""
        check(lib.fdsafe_socket_option_set(self._value, level, name, int(value)))

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> Union[int, bytes]:
        """Any option, as ``socket.getsockopt``: an ``int``, or with ``buflen`` up to that many
        bytes of it (``struct.unpack`` them: ``TCP_INFO``, ``SO_RCVTIMEO``...)."""
        return _generic.getsockopt(self, level, optname, buflen)

    def setsockopt(self, level: int, optname: int, value: Union[int, bytes]) -> None:
        """Sets any option, as ``socket.setsockopt``, from an ``int`` or bytes. ``SO_RCVTIMEO``
        and ``SO_SNDTIMEO`` bound blocking calls (``BlockingIOError`` when they pass, as with
        ``socket``); :meth:`settimeout` is the usual way."""
        _generic.setsockopt(self, level, optname, value)

    def connect_finish(self, timeout: Optional[float] = None) -> None:
        """Finishes a non-blocking connect, waiting up to ``timeout`` seconds (None: no
        limit); still pending after the timeout: OSError EINPROGRESS."""
        retry_eintr_within(lambda ms: lib.fdsafe_socket_connect_finish(self._value, ms), timeout_ms(timeout))

    # ---------------------------------------------------------- connect, listen, accept
    # What asyncio calls on a socket it is given (loop.sock_connect, start_server(sock=...),
    # loop.sock_accept), answered on every kind as socket.socket answers in the same state.

    def connect(self, address: Address) -> None:
        """Connects to ``address`` (as :meth:`sendto` takes it), as ``socket.connect`` does:
        the kernel answers for the socket's state. fdsafe makes its stream sockets connected
        (:func:`tcp_connect`, :func:`unix_connect`, :func:`unix_pair`, ``accept``), so this
        is OSError EISCONN once connected, BlockingIOError EALREADY while a non-blocking
        connect is still going on (``loop.sock_connect`` then waits for it), and a new attempt
        after a failed one; on a listener, OSError EISCONN (TCP) or EINVAL (Unix). Waits as
        the timeout says (``TimeoutError``). An ``AF_UNSPEC`` address, which would disconnect
        the socket, is refused with EAFNOSUPPORT."""
        target = self._sockaddr(address)
        sockaddr = target if isinstance(target, SockAddr) else address_parse(target.decode())
        if sockaddr.family == _pysocket.AF_UNSPEC:
            raise OSError(errno.EAFNOSUPPORT, "connect: an AF_UNSPEC address (a disconnect) is not offered")
        raw = ctypes.create_string_buffer(bytes(sockaddr), len(sockaddr))
        code = lib.fdsafe_socket_connect_sockaddr(self._value, raw, len(sockaddr))
        if self._connect_goes_on(code):
            self._connect_wait()
        else:
            check(code)

    def _connect_goes_on(self, code: int) -> bool:
        """Whether a connect that returned ``code`` is still going on in the kernel and to be
        waited for, as ``socket.connect`` waits: after a signal (EINTR; PEP 475), and with a
        timeout after EINPROGRESS."""
        return code == -errno.EINTR or (code == -errno.EINPROGRESS and bool(self._timeout))

    def _connect_wait(self) -> None:
        """Waits for a connect going on (see :meth:`_connect_goes_on`) to end, for what the
        timeout says; raises its error, or as :meth:`_timed_out` does."""
        ms = timeout_ms(self._timeout) if self._timeout else -1
        code = _finish_connect(self._value, ms)
        if code == -errno.ETIMEDOUT and self._timeout:
            self._timed_out()
        check(code)

    def listen(self, backlog: int = 128) -> None:
        """Refused, as ``socket.listen`` refuses it on a connected or datagram socket: OSError
        EINVAL for a stream or seqpacket socket, EOPNOTSUPP for a datagram one (fdsafe keeps
        a handle's kind: a listener comes from :func:`tcp_listen` or :func:`unix_listen`).
        Listeners and ``GenericSocket`` listen."""
        raise self._not_listening("listen")

    def accept(self) -> Tuple["Socket", Any]:
        """Refused, as ``socket.accept`` refuses it on a socket that does not listen: OSError
        EINVAL for a stream or seqpacket socket, EOPNOTSUPP for a datagram one. Listeners and
        ``GenericSocket`` accept."""
        raise self._not_listening("accept")

    def _not_listening(self, call: str) -> OSError:
        if self.closed:
            code, why = errno.EBADF, "the socket is closed"
        else:
            code = errno.EOPNOTSUPP if self.type == _pysocket.SOCK_DGRAM else errno.EINVAL
            why = f"a {type(self).__name__} does not listen"
        return OSError(code, f"{os.strerror(code)}: {call}: {why}")


class _SocketIO(io.RawIOBase):
    """The raw file under :meth:`Socket.makefile`, as ``socket.SocketIO`` is under
    ``socket.makefile``: ``readinto`` is the socket's ``recv_into``, ``write`` its ``send``
    (``MSG_NOSIGNAL``: a closed peer is ``BrokenPipeError``, never SIGPIPE). It owns ``sock``
    (a duplicate) and closes it when closed. A non-blocking socket gives None where the
    call would block; after a timeout, reading is refused, as ``socket.SocketIO`` does (the
    buffered layer above may have lost data)."""

    def __init__(self, sock: Socket, mode: str, owner: Socket):
        super().__init__()
        self._sock = sock
        self._owner = weakref.ref(owner)
        self._mode = mode + "b"
        self._reading = "r" in mode
        self._writing = "w" in mode
        self._timeout_occurred = False

    def readinto(self, b: Any) -> Optional[int]:
        self._checkClosed()
        if not self._reading:
            raise io.UnsupportedOperation("File not open for reading")
        if self._timeout_occurred:
            raise OSError("cannot read from timed out object")
        try:
            return self._sock.recv_into(b)
        except TimeoutError:
            self._timeout_occurred = True
            raise
        except BlockingIOError:
            return None

    def write(self, b: Any) -> Optional[int]:
        self._checkClosed()
        if not self._writing:
            raise io.UnsupportedOperation("File not open for writing")
        try:
            return self._sock.send(b)
        except BlockingIOError:
            return None

    def readable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._reading

    def writable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return self._writing

    def seekable(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed socket.")
        return False

    def fileno(self) -> int:
        self._checkClosed()
        return self._sock.fileno()

    @property
    def name(self) -> int:
        """The socket's descriptor while it is open (the file reads through a duplicate of
        it), else the duplicate's; -1 once the file is closed (``socket.SocketIO.name``)."""
        if self.closed:
            return -1
        owner = self._owner()
        return owner.fileno() if owner is not None and not owner.closed else self.fileno()

    @property
    def mode(self) -> str:
        """``"rb"``, ``"wb"`` or ``"rwb"``."""
        return self._mode

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        self._sock.close()


_Accepted = TypeVar("_Accepted", bound=Socket)


class _Listener(Socket, Generic[_Accepted]):
    def accept(self, nonblocking: bool = False) -> Tuple[_Accepted, Any]:
        """A new connected socket (blocking unless ``nonblocking``) of this listener's stream
        class (:class:`TcpStream`, :class:`UnixStream`, :class:`UnixSeqpacket`) and the peer's
        address, as ``socket.accept`` gives it (see :meth:`Socket.getsockname`); waits as
        this listener's timeout says."""
        out = c_handle()
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        flags = ACCEPT_NONBLOCK if nonblocking else 0
        self._call(lambda: lib.fdsafe_socket_accept(self._value, flags, ctypes.byref(out), addr, SOCKADDR_STORAGE,
                                                    ctypes.byref(alen)), EVENT_IN)
        return cast(_Accepted, Handle.wrap(out.value)), decode_sockaddr(addr.raw[:alen.value])

    def listen(self, backlog: int = 128) -> None:
        """Listens again with a new ``backlog``, as ``socket.listen`` on a listening socket
        (the kernel takes it as the new length of the queue of connections not yet accepted;
        asyncio's ``start_server(sock=...)`` calls it). A negative ``backlog`` is 0, as
        ``socket`` makes it; OverflowError beyond a C int; OSError EBADF once closed."""
        check(lib.fdsafe_socket_listen(self._value, backlog_arg(backlog)))


class _UnixMixin(Socket):
    def send_fds(self, data: bytes, handles: Sequence[object], flags: int = 0) -> int:
        """Sends ``data`` (at least one byte on a stream socket) with descriptors: fdsafe handles (held for the
        whole send), or anything with ``fileno()``, or raw ints (borrowed, not closed). In a list that
        mixes handles with other items, each handle travels as a duplicate fdsafe makes while
        holding it (and closes after the send), never as its borrowed number."""
        ptr, n = data_arg(data)
        items: List[Any] = list(handles)
        if all(isinstance(h, Handle) for h in items):
            harr = (ctypes.c_uint64 * max(len(items), 1))(*[h.value for h in items])
            return self._call(lambda: lib.fdsafe_socket_send_handles(self._value, ptr, n, harr, len(items), flags),
                              EVENT_OUT)
        with descriptors_of(items, _fd_of) as fds:
            farr = (ctypes.c_int * max(len(fds), 1))(*fds)
            return self._call(lambda: lib.fdsafe_socket_send_fds(self._value, ptr, n, farr, len(fds), flags),
                              EVENT_OUT)

    def recv_fds(self, size: int, maxfds: int = MAX_FDS, flags: int = 0, kind: Optional[int] = None) -> Received:
        """Receives data and descriptors as fdsafe handle objects of their detected kind.

        ``kind`` skips the detection (``fdsafe_socket_recv_handles_as``): ``KIND_OTHER``
        gives generic handles with no kernel query; another kind is checked per descriptor
        (one that fails the check is detected in full, so check ``.kind`` if the sender is
        not trusted)."""
        size, maxfds = size_arg(size), size_arg(maxfds, "maxfds")
        buf = read_buffer(max(size, 1))
        arr = (ctypes.c_uint64 * max(maxfds, 1))()
        info = RecvInfo()
        if kind is None:
            n = self._call(lambda: lib.fdsafe_socket_recv_handles(self._value, buf, size, flags, arr, maxfds,
                                                                   ctypes.byref(info)), EVENT_IN)
        else:
            n = self._call(lambda: lib.fdsafe_socket_recv_handles_as(self._value, buf, size, flags, kind, arr,
                                                                      maxfds, ctypes.byref(info)), EVENT_IN)
        wrap = Handle._wrap_new
        handles = [wrap(v) for v in arr[:info.handle_count]]
        creds = tuple(info.credentials) if info.flags & RECV_INFO_CREDENTIALS else None
        return Received(buf[:n], handles, info.flags, info.closed_count, creds)

    def passer(self, size: int = 1, max_handles: int = MAX_FDS, kind: Optional[int] = KIND_OTHER) -> "HandlePasser":
        """The fast descriptor-passing path on this socket: a :class:`fdsafe.passing.HandlePasser`
        (buffers made once, received handles as int values). See fdsafe.passing."""
        from .passing import HandlePasser
        return HandlePasser(self, size, max_handles, kind)

    def send_credentials(self, data: Any, credentials: Optional[Tuple[int, int, int]] = None, flags: int = 0) -> int:
        """Sends ``data`` with SCM_CREDENTIALS ``(pid, uid, gid)`` (None: this process's);
        exactly three integers (TypeError or ValueError otherwise, OverflowError out of
        range)."""
        ptr, n = data_arg(data)
        creds = None if credentials is None else ctypes.byref(_credentials(credentials))
        return self._call(lambda: lib.fdsafe_socket_send_credentials(self._value, ptr, n, creds, flags), EVENT_OUT)

    def peer_credentials(self) -> Tuple[int, int, int]:
        """The peer's ``(pid, uid, gid)`` at connect time (SO_PEERCRED)."""
        c = Credentials()
        check(lib.fdsafe_socket_peer_credentials(self._value, ctypes.byref(c)))
        return (c.pid, c.uid, c.gid)

    def peer_groups(self) -> List[int]:
        """The peer's supplementary groups (SO_PEERGROUPS)."""
        arr = (ctypes.c_uint32 * 65536)()
        n = check(lib.fdsafe_socket_peer_groups(self._value, arr, 65536))
        return list(arr[:n])

    def peer_pidfd(self) -> PidFd:
        """A pidfd for the peer process (SO_PEERPIDFD), as a :class:`~fdsafe.PidFd`."""
        out = c_handle()
        check(lib.fdsafe_socket_peer_pidfd(self._value, ctypes.byref(out)))
        return PidFd(out.value)


class _DatagramMixin(Socket):
    def connect(self, address: Address) -> None:
        """Sets the default destination: an address as the ``socket`` module takes it for
        this family (a host name resolved for the socket's family; for Unix a ``str``,
        ``bytes`` or ``os.PathLike`` path, ``"\\0name"`` abstract), fdsafe's text (UDP), or raw
        ``SockAddr`` bytes."""
        target = self._sockaddr(address)
        if isinstance(target, SockAddr):
            raw = ctypes.create_string_buffer(bytes(target), len(target))
            check(lib.fdsafe_socket_connect_sockaddr(self._value, raw, len(target)))
        else:
            check(lib.fdsafe_socket_connect(self._value, target))

    def send_batch(self, messages: Iterable[Tuple[bytes, Optional[str]]], flags: int = 0) -> int:
        """Sends datagrams ``(data, address or None)`` with one sendmmsg; returns how many."""
        items = [(bytes(memoryview(d)), None if a is None else self._batch_address(a)) for d, a in messages]
        keep = []
        arr = (Datagram * max(len(items), 1))()
        for i, (data, addr) in enumerate(items):
            dbuf = ctypes.create_string_buffer(data, max(len(data), 1))
            keep.append(dbuf)
            arr[i].data, arr[i].len = ctypes.cast(dbuf, ctypes.c_void_p), len(data)
            if addr is not None:
                abuf = ctypes.create_string_buffer(addr, len(addr))
                keep.append(abuf)
                arr[i].addr, arr[i].addr_len = ctypes.cast(abuf, ctypes.c_void_p), len(addr)
        return self._call(lambda: lib.fdsafe_socket_send_batch(self._value, arr, len(items), flags), EVENT_OUT)

    def _batch_address(self, address: Address) -> bytes:
        target = self._sockaddr(address)
        return target if isinstance(target, SockAddr) else address_parse(target.decode())

    def recv_batch(self, count: int, size: int = 65536, flags: int = 0) -> List[Tuple[bytes, Any]]:
        """Receives up to ``count`` datagrams (waits for the first); returns (data, source)
        pairs, each source as :meth:`recvfrom` gives it."""
        count, size = size_arg(count, "count"), size_arg(size)
        arr = (Datagram * count)()
        bufs = [(ctypes.create_string_buffer(size), ctypes.create_string_buffer(SOCKADDR_STORAGE)) for _ in range(count)]
        for i, (d, a) in enumerate(bufs):
            arr[i].data, arr[i].len = ctypes.cast(d, ctypes.c_void_p), size
            arr[i].addr, arr[i].addr_len = ctypes.cast(a, ctypes.c_void_p), SOCKADDR_STORAGE
        n = self._call(lambda: lib.fdsafe_socket_recv_batch(self._value, arr, count, flags), EVENT_IN)
        return [(bufs[i][0].raw[:arr[i].received], _source(bufs[i][1].raw[:arr[i].addr_len])) for i in range(n)]


class TcpListener(_Listener["TcpStream"]):
    """A listening TCP socket (:func:`tcp_listen`): :meth:`accept` gives :class:`TcpStream` handles."""

    KIND = KIND_TCP_LISTENER


class TcpStream(Socket):
    """A connected TCP socket (:func:`tcp_connect`, or accepted)."""

    KIND = KIND_TCP_STREAM

    def zerocopy_completions(self, max_ranges: int = 64) -> List[Tuple[int, int, bool]]:
        """Finished zero-copy sends (``MSG_ZEROCOPY``), without waiting: up to
        ``max_ranges`` tuples ``(first, last, copied)`` of send numbers whose buffers may be
        reused ([] if none yet). An error waiting on the queue (ICMP, for UDP) is raised as
        its OSError."""
        arr = (ZerocopyCompletion * max_ranges)()
        n = check(lib.fdsafe_socket_zerocopy_completions(self._value, arr, max_ranges))
        return [(arr[i].first, arr[i].last, bool(arr[i].copied)) for i in range(n)]


class UdpSocket(_DatagramMixin):
    """A UDP socket (:func:`udp_bind`)."""

    KIND = KIND_UDP

    def join(self, group: str, interface: Optional[str] = None) -> None:
        """Joins multicast ``group`` (an address without port: "239.1.2.3", "ff02::1:3") on
        the interface named ``interface`` ("lo", "eth0"; None: the kernel chooses by
        route). InvalidArgumentError for a group that is not multicast; OSError ENODEV for
        an unknown interface, EADDRINUSE if already joined."""
        check(lib.fdsafe_udp_multicast_join(self._value, _enc(group), _enc(interface)))

    def leave(self, group: str, interface: Optional[str] = None) -> None:
        """Leaves a multicast group joined with :meth:`join` (same arguments)."""
        check(lib.fdsafe_udp_multicast_leave(self._value, _enc(group), _enc(interface)))

    zerocopy_completions = TcpStream.zerocopy_completions


class UnixListener(_Listener["UnixStream"], _UnixMixin):
    """A listening Unix stream socket (:func:`unix_listen`): :meth:`accept` gives :class:`UnixStream` handles.
    Closing it removes its socket path, unless another descriptor of the socket is still open
    (see :func:`unix_listen` for when the path stays)."""

    KIND = KIND_UNIX_LISTENER


class UnixStream(_UnixMixin):
    """A connected Unix stream socket (:func:`unix_connect`, :func:`unix_pair`, or accepted);
    carries descriptors and credentials."""

    KIND = KIND_UNIX_STREAM


class UnixDatagram(_UnixMixin, _DatagramMixin):
    """A Unix datagram socket (:func:`unix_bind`, :func:`unix_pair`); carries descriptors
    and credentials."""

    KIND = KIND_UNIX_DATAGRAM


class UnixSeqpacketListener(_Listener["UnixSeqpacket"], _UnixMixin):
    """A listening Unix seqpacket socket (:func:`unix_listen` with ``UNIX_SEQPACKET``):
    :meth:`accept` gives :class:`UnixSeqpacket` handles. Closing it removes its socket path,
    unless another descriptor of the socket is still open (see :func:`unix_listen`)."""

    KIND = KIND_UNIX_SEQPACKET_LISTENER


class UnixSeqpacket(_UnixMixin):
    """A connected Unix seqpacket socket: reliable, ordered messages with boundaries kept;
    carries descriptors and credentials."""

    KIND = KIND_UNIX_SEQPACKET


def _finish_connect(value: int, ms: int) -> int:
    """``fdsafe_socket_connect_finish`` until the attempt ends or ``ms`` milliseconds pass
    (negative: no limit; 0: just look), as ``socket.connect`` waits: after EINTR (PEP 475) it
    waits again for the same attempt, with what is left of the time. Returns 0 or the
    negative code; -ETIMEDOUT once a positive ``ms`` has passed."""
    code = eintr_retried_within(lambda left: lib.fdsafe_socket_connect_finish(value, left), ms)
    return -errno.ETIMEDOUT if code == -errno.EINPROGRESS and ms > 0 else int(code)


def _connected(start: Callable[[Any, int], int], ms: int, nonblocking: bool) -> Any:
    """The TCP socket a connecting call makes (``start(out, flags)``), connected as
    ``socket.connect`` connects it: the call is made non-blocking and the connect finished
    here (:func:`_finish_connect`), so that a signal resumes the wait for the same attempt.
    A blocking call would abandon the attempt at EINTR, and a retry start another: a signal
    that comes faster than the peer answers would then keep it from ever connecting."""
    sock = _new(lambda out: start(out, SOCKET_NONBLOCK))
    if nonblocking:
        return sock
    code = _finish_connect(sock.value, ms)
    if code < 0:
        sock.close()
        if code == -errno.ETIMEDOUT and ms > 0:
            raise _pysocket.timeout("timed out")  # as socket.create_connection says it
        raise error_for(code)
    sock.nonblocking = False
    return sock


def _new(call: Callable[[Any], int]) -> Any:
    """Runs a creating call and wraps the new handle in the class of its kind."""
    out = c_handle()
    code = call(ctypes.byref(out))
    check(code)
    return Handle.wrap(out.value)


def _raw(address: bytes) -> Tuple[Any, int]:
    return ctypes.create_string_buffer(bytes(address), len(address)), len(address)


def _fd_of(item: Any) -> int:
    """A descriptor number from an int or an object with ``fileno()`` (TypeError otherwise),
    checked against C's int as ``socket.send_fds`` checks it: OverflowError outside it (a C
    int array would keep only the low 32 bits, another descriptor); a negative number in
    range goes through, for the kernel's EBADF."""
    if not (isinstance(item, int) and not isinstance(item, bool)):
        fileno = getattr(item, "fileno", None)
        if fileno is None:
            raise TypeError(f"a descriptor, a handle or an object with fileno() is required, not {type(item).__name__}")
        item = fileno()
    return int_arg(item, "descriptor", -2**31, 2**31 - 1)


def tcp_listen(address: Address, backlog: int = 128, reuseport: bool = False, v6only: bool = False,
               nonblocking: bool = False, reuseaddr: bool = True) -> TcpListener:
    """A TCP listener on ``address``: ``(host, port)`` (host ``""``: every interface),
    ``(host, port, flowinfo, scope_id)``, fdsafe's text or raw ``SockAddr`` bytes. A negative
    ``backlog`` is 0, as ``socket.listen`` (and so ``socket.create_server``) takes it."""
    flags = ((SOCKET_REUSEPORT if reuseport else 0) | (SOCKET_V6ONLY if v6only else 0)
             | (SOCKET_NONBLOCK if nonblocking else 0) | (0 if reuseaddr else SOCKET_NO_REUSEADDR))
    backlog = backlog_arg(backlog)
    found = _inet_address(address, _pysocket.SOCK_STREAM, passive=True)
    if isinstance(found, bytes):
        return cast(TcpListener, _new(lambda out: lib.fdsafe_tcp_listen(found, backlog, flags, out)))
    raw, n = _raw(found[0])
    return cast(TcpListener, _new(lambda out: lib.fdsafe_tcp_listen_sockaddr(raw, n, backlog, flags, out)))


def tcp_connect(address: Address, timeout: Optional[float] = None, nonblocking: bool = False) -> TcpStream:
    """A connected TCP stream (blocking, with an optional timeout in seconds), or with
    ``nonblocking`` one whose connect may still be in progress (see ``connect_finish``).
    A host name is resolved and each of its addresses tried in turn, as
    ``socket.create_connection`` does; the last failure is raised."""
    ms = timeout_ms(timeout)
    found = _inet_address(address, _pysocket.SOCK_STREAM)
    if isinstance(found, bytes):
        return cast(TcpStream, _connected(lambda out, flags: lib.fdsafe_tcp_connect(found, 0, flags, out), ms,
                                         nonblocking))
    error: Optional[BaseException] = None
    for sockaddr in found:
        raw, n = _raw(sockaddr)
        try:
            return cast(TcpStream, _connected(lambda out, flags: lib.fdsafe_tcp_connect_sockaddr(raw, n, 0, flags, out),
                                             ms, nonblocking))
        except OSError as err:
            error = err
    assert error is not None
    raise error


def udp_bind(address: Address, reuseport: bool = False, v6only: bool = False, nonblocking: bool = False) -> UdpSocket:
    """A UDP socket bound to ``address`` (as :func:`tcp_listen` takes it)."""
    flags = (SOCKET_REUSEPORT if reuseport else 0) | (SOCKET_V6ONLY if v6only else 0) | (SOCKET_NONBLOCK if nonblocking else 0)
    found = _inet_address(address, _pysocket.SOCK_DGRAM, passive=True)
    if isinstance(found, bytes):
        return cast(UdpSocket, _new(lambda out: lib.fdsafe_udp_bind(found, flags, out)))
    raw, n = _raw(found[0])
    return cast(UdpSocket, _new(lambda out: lib.fdsafe_udp_bind_sockaddr(raw, n, flags, out)))


def _options(flags: int, dir_mode: int, socket_mode: int) -> Any:
    # Fields of a structure: _lib checks only direct arguments, so check them here.
    u32 = 2**32 - 1
    return ctypes.byref(UnixBindOptions(int_arg(flags, "flags", 0, u32), int_arg(dir_mode, "dir_mode", 0, u32),
                                        int_arg(socket_mode, "socket_mode", 0, u32)))


@overload
def unix_listen(address: Optional[Address], type: _StreamType = ..., backlog: int = ..., flags: int = ...,
                dir_mode: int = ..., socket_mode: int = ...) -> UnixListener: ...
@overload
def unix_listen(address: Optional[Address], type: _SeqpacketType, backlog: int = ..., flags: int = ...,
                dir_mode: int = ..., socket_mode: int = ...) -> UnixSeqpacketListener: ...
@overload
def unix_listen(address: Optional[Address], type: int, backlog: int = ..., flags: int = ..., dir_mode: int = ...,
                socket_mode: int = ...) -> Union[UnixListener, UnixSeqpacketListener]: ...


def unix_listen(address: Optional[Address], type: int = UNIX_STREAM, backlog: int = 128, flags: int = 0,
                dir_mode: int = 0, socket_mode: int = 0) -> Union[UnixListener, UnixSeqpacketListener]:
    """A Unix listener (:class:`UnixListener`; :class:`UnixSeqpacketListener` for ``type``
    ``UNIX_SEQPACKET``) bound to ``address``, read as ``socket.bind`` reads it: a path
    (``str``, ``bytes`` or ``os.PathLike``, encoded with ``os.fsencode``; ``"@x.sock"`` is the
    file ``@x.sock``), an abstract name as a leading NUL (``"\\0name"``, ``b"\\0name"``),
    ``None`` or ``""`` for autobind, or raw ``SockAddr`` bytes (fdsafe's text ``"@name"``:
    through :func:`address_parse`). A path follows the careful-daemon rules of
    ``fdsafe_unix_listen`` (parents made, stale sockets removed). A negative ``backlog`` is 0,
    as ``socket.listen`` takes it.

    Unlike ``socket.socket``, which never removes the path it bound, fdsafe removes it when
    the socket's last descriptor closes, if that close is of a handle the binding process
    holds: the listener, or an fdsafe :meth:`~Socket.dup` of it, in this process or in a fork
    child that inherited them (and only if the path still names this socket). A close while
    any other descriptor of the socket is open anywhere leaves the path, so that copy still
    gets clients. Nothing removes it when the last descriptor to close is another kind of
    copy: an ``os.dup`` or :meth:`~Socket.to_socket` copy, a ``socket.socket``, or a handle in
    another process that received it (``send_fds``, ``multiprocessing``); remove it yourself
    then. Nor after :meth:`~fdsafe.Handle.release` or :meth:`~Socket.detach`."""
    backlog = backlog_arg(backlog)
    listener: Union[UnixListener, UnixSeqpacketListener]
    if address is None:
        listener = _new(lambda out: lib.fdsafe_unix_listen(None, type, backlog, _options(flags, dir_mode, socket_mode),
                                                           out))
        return listener
    raw, n = _raw(_unix_address(address))
    listener = _new(lambda out: lib.fdsafe_unix_listen_sockaddr(raw, n, type, backlog,
                                                                _options(flags, dir_mode, socket_mode), out))
    return listener


def unix_bind(address: Optional[Address], flags: int = 0, dir_mode: int = 0, socket_mode: int = 0) -> UnixDatagram:
    """A Unix datagram socket bound to ``address`` (as :func:`unix_listen` takes it). Its
    path is removed when it closes, as :func:`unix_listen` says (``socket.socket`` never
    removes it)."""
    if address is None:
        return cast(UnixDatagram, _new(lambda out: lib.fdsafe_unix_bind(None, _options(flags, dir_mode, socket_mode),
                                                                        out)))
    raw, n = _raw(_unix_address(address))
    return cast(UnixDatagram, _new(lambda out: lib.fdsafe_unix_bind_sockaddr(raw, n, _options(flags, dir_mode,
                                                                                               socket_mode), out)))


@overload
def unix_connect(address: Address, type: _StreamType = ..., nonblocking: bool = ...) -> UnixStream: ...
@overload
def unix_connect(address: Address, type: _DatagramType, nonblocking: bool = ...) -> UnixDatagram: ...
@overload
def unix_connect(address: Address, type: _SeqpacketType, nonblocking: bool = ...) -> UnixSeqpacket: ...
@overload
def unix_connect(address: Address, type: int, nonblocking: bool = ...) -> Socket: ...


def unix_connect(address: Address, type: int = UNIX_STREAM, nonblocking: bool = False) -> Socket:
    """A Unix socket of ``type`` connected to ``address`` (as :func:`unix_listen` takes it):
    a :class:`UnixStream`, :class:`UnixDatagram` or :class:`UnixSeqpacket` for ``type``
    ``UNIX_STREAM``, ``UNIX_DATAGRAM`` or ``UNIX_SEQPACKET`` (or ``socket.SOCK_*``)."""
    flags = SOCKET_NONBLOCK if nonblocking else 0
    raw, n = _raw(_unix_address(address))
    return cast(Socket, _new(lambda out: retry_eintr(lambda: lib.fdsafe_unix_connect_sockaddr(raw, n, type, flags,
                                                                                              out))))


@overload
def unix_pair(type: _StreamType = ..., nonblocking: bool = ...) -> Tuple[UnixStream, UnixStream]: ...
@overload
def unix_pair(type: _DatagramType, nonblocking: bool = ...) -> Tuple[UnixDatagram, UnixDatagram]: ...
@overload
def unix_pair(type: _SeqpacketType, nonblocking: bool = ...) -> Tuple[UnixSeqpacket, UnixSeqpacket]: ...
@overload
def unix_pair(type: int, nonblocking: bool = ...) -> Tuple[Socket, Socket]: ...


def unix_pair(type: int = UNIX_STREAM, nonblocking: bool = False) -> Tuple[Socket, Socket]:
    """A connected pair of Unix sockets of ``type`` (``socket.socketpair``): two
    :class:`UnixStream`, :class:`UnixDatagram` or :class:`UnixSeqpacket` for ``type``
    ``UNIX_STREAM``, ``UNIX_DATAGRAM`` or ``UNIX_SEQPACKET`` (or ``socket.SOCK_*``)."""
    a, b = c_handle(), c_handle()
    check(lib.fdsafe_unix_pair(type, SOCKET_NONBLOCK if nonblocking else 0, ctypes.byref(a), ctypes.byref(b)))
    return cast(Socket, Handle.wrap(a.value)), cast(Socket, Handle.wrap(b.value))


_KINDS = {(_pysocket.AF_INET, _pysocket.SOCK_STREAM, True): KIND_TCP_LISTENER,
          (_pysocket.AF_INET, _pysocket.SOCK_STREAM, False): KIND_TCP_STREAM,
          (_pysocket.AF_INET, _pysocket.SOCK_DGRAM, False): KIND_UDP,
          (_pysocket.AF_UNIX, _pysocket.SOCK_STREAM, True): KIND_UNIX_LISTENER,
          (_pysocket.AF_UNIX, _pysocket.SOCK_STREAM, False): KIND_UNIX_STREAM,
          (_pysocket.AF_UNIX, _pysocket.SOCK_DGRAM, False): KIND_UNIX_DATAGRAM,
          (_pysocket.AF_UNIX, _pysocket.SOCK_SEQPACKET, True): KIND_UNIX_SEQPACKET_LISTENER,
          (_pysocket.AF_UNIX, _pysocket.SOCK_SEQPACKET, False): KIND_UNIX_SEQPACKET}


def _socket_kind(sock: _pysocket.socket) -> int:
    family = _pysocket.AF_INET if sock.family == _pysocket.AF_INET6 else sock.family
    listening = bool(sock.getsockopt(_pysocket.SOL_SOCKET, _pysocket.SO_ACCEPTCONN))
    # A family or type without a typed kind (netlink, packet, raw...) is the generic kind.
    return _KINDS.get((family, sock.type, listening), _c.FDSAFE_KIND_SOCKET)


def from_socket(sock: Union[_pysocket.socket, int]) -> Socket:
    """Adopts a ``socket.socket`` (or a raw socket descriptor) as an fdsafe socket of its
    kind (a ``GenericSocket`` for families without a typed kind: netlink, packet, raw...): the handle owns the descriptor from then on, and ``sock`` is detached (as after
    ``sock.detach()``). The timeout carries over. On failure ``sock`` is left as it was."""
    if isinstance(sock, _pysocket.socket):
        timeout = sock.gettimeout()
        kind = _socket_kind(sock)
        fd = sock.fileno()
        handle = cast(Socket, Handle.wrap(_adopt(fd, kind)))
        sock.detach()
        handle._timeout = timeout or None
        return handle
    fd = _fd_of(sock)
    probe = _pysocket.socket(fileno=fd)  # reads SO_DOMAIN, SO_TYPE: the descriptor is unchanged
    try:
        kind = _socket_kind(probe)
    finally:
        probe.detach()
    return cast(Socket, Handle.wrap(_adopt(fd, kind)))


def _adopt(fd: int, kind: int) -> int:
    out = c_handle()
    check(lib.fdsafe_fd_adopt(fd, kind, ctypes.byref(out)))
    return out.value


# Sockets of any family, any option, bind before connect: see _generic_socket.
from . import _generic_socket as _generic  # noqa: E402  (it builds on the classes above)
from ._generic_socket import KIND_SOCKET, GenericSocket, connect_from, create_connection  # noqa: E402
# "as socket": exported for type checkers (mypy --strict) although __all__ leaves it out.
from ._generic_socket import socket as socket  # noqa: E402

__all__ += ["KIND_SOCKET", "GenericSocket", "connect_from", "create_connection"]  # and socket(): see there
