"""Sockets: TCP, UDP and Unix domain (stream, datagram, seqpacket), descriptor passing and
peer credentials. Each socket kind has a class with a ``socket``-like surface and
``fileno()``, so it works with ``selectors``."""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union, cast

from ._lib import c_handle, c_handle_p, declare, lib
from .errors import check
from .handle import KIND_OTHER, Handle, retry_eintr
from . import _constants as _c

if TYPE_CHECKING:
    from .passing import HandlePasser

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
UNIX_STREAM, UNIX_DATAGRAM, UNIX_SEQPACKET = _c.FDSAFE_SOCK_STREAM, _c.FDSAFE_SOCK_DGRAM, _c.FDSAFE_SOCK_SEQPACKET
UNIX_BIND_NONBLOCK, UNIX_BIND_KEEP_STALE, UNIX_BIND_KEEP_PATH, UNIX_BIND_NO_MKDIR, UNIX_BIND_KEEP_MODE = _c.FDSAFE_NONBLOCK, _c.FDSAFE_UNIX_BIND_KEEP_STALE, _c.FDSAFE_UNIX_BIND_KEEP_PATH, _c.FDSAFE_UNIX_BIND_NO_MKDIR, _c.FDSAFE_UNIX_BIND_KEEP_MODE
RECV_INFO_CTRUNC, RECV_INFO_TRUNC, RECV_INFO_CREDENTIALS, RECV_INFO_CLOSED = _c.FDSAFE_RECV_INFO_CTRUNC, _c.FDSAFE_RECV_INFO_TRUNC, _c.FDSAFE_RECV_INFO_CREDENTIALS, _c.FDSAFE_RECV_INFO_CLOSED
MAX_FDS = 253

# The kernel's values, as the stdlib's socket module has them: socket.SHUT_RDWR, socket.MSG_PEEK,
# (socket.SOL_SOCKET, socket.SO_REUSEADDR), socket.SOCK_SEQPACKET... do what they name here.
MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL = _c.FDSAFE_MSG_DONTWAIT, _c.FDSAFE_MSG_PEEK, _c.FDSAFE_MSG_WAITALL
MSG_MORE, MSG_ZEROCOPY, MSG_NOSIGNAL = _c.FDSAFE_MSG_MORE, _c.FDSAFE_MSG_ZEROCOPY, _c.FDSAFE_MSG_NOSIGNAL
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
    _fields_ = [("pid", ctypes.c_int32), ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32)]

    def __iter__(self):
        return iter((self.pid, self.uid, self.gid))


class RecvInfo(ctypes.Structure):
    _fields_ = [("handle_count", ctypes.c_size_t), ("flags", ctypes.c_uint32), ("closed_count", ctypes.c_uint32),
                ("credentials", Credentials)]


class UnixBindOptions(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint32), ("dir_mode", ctypes.c_uint32), ("socket_mode", ctypes.c_uint32)]


class ZerocopyCompletion(ctypes.Structure):
    _fields_ = [("first", ctypes.c_uint32), ("last", ctypes.c_uint32), ("copied", ctypes.c_uint32)]


class Datagram(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_size_t), ("addr", ctypes.c_void_p),
                ("addr_len", ctypes.c_size_t), ("received", ctypes.c_size_t), ("truncated", ctypes.c_uint32)]


declare({
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
    "fdsafe_socket_recv_handles_as": (_i64, [c_handle, _vp, _size, _u32, _u32, ctypes.POINTER(ctypes.c_uint64), _size,
                                             ctypes.POINTER(RecvInfo)]),
    "fdsafe_socket_peer_credentials": (_int, [c_handle, ctypes.POINTER(Credentials)]),
    "fdsafe_socket_peer_groups": (_int, [c_handle, ctypes.POINTER(ctypes.c_uint32), _size]),
    "fdsafe_socket_peer_pidfd": (_int, [c_handle, c_handle_p]),
})


def _enc(text: Optional[Union[str, bytes]]) -> Optional[bytes]:
    if text is None:
        return None
    return text.encode() if isinstance(text, str) else bytes(text)


def _bytes_ptr(data: bytes):
    # ctypes passes a bytes object to a ``c_void_p`` parameter as a pointer to its buffer (no
    # copy, embedded NULs kept; the length goes separately), which costs far less than a
    # ``ctypes.cast``. The caller keeps ``data`` alive for the call.
    data = bytes(data)
    return data, data


def address_parse(text: str) -> bytes:
    """The ``struct sockaddr`` bytes (exact length) for an address text."""
    buf = ctypes.create_string_buffer(SOCKADDR_STORAGE)
    n = ctypes.c_size_t()
    check(lib.fdsafe_address_parse(_enc(text), buf, SOCKADDR_STORAGE, ctypes.byref(n)))
    return buf.raw[:n.value]


def address_format(sockaddr: bytes) -> str:
    """The text for ``struct sockaddr`` bytes."""
    text = ctypes.create_string_buffer(ADDRESS_TEXT_MAX)
    raw = ctypes.create_string_buffer(bytes(sockaddr), len(sockaddr))
    n = check(lib.fdsafe_address_format(raw, len(sockaddr), text, ADDRESS_TEXT_MAX))
    return text.raw[:n].decode("utf-8", errors="surrogateescape")


class Received(NamedTuple):
    data: bytes
    handles: List[Handle]
    flags: int
    closed: int
    credentials: Optional[Tuple[int, int, int]]


class Socket(Handle):
    """Operations shared by every socket kind."""

    def _text(self, fn) -> str:
        buf = ctypes.create_string_buffer(ADDRESS_TEXT_MAX)
        n = check(fn(self._value, buf, ADDRESS_TEXT_MAX))
        return buf.raw[:n].decode("utf-8", errors="surrogateescape")

    def _raw(self, fn) -> bytes:
        buf = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        n = ctypes.c_size_t()
        check(fn(self._value, buf, SOCKADDR_STORAGE, ctypes.byref(n)))
        return buf.raw[:n.value]

    def getsockname(self) -> str:
        return self._text(lib.fdsafe_socket_local_address)

    def getpeername(self) -> str:
        return self._text(lib.fdsafe_socket_peer_address)

    def local_sockaddr(self) -> bytes:
        return self._raw(lib.fdsafe_socket_local_sockaddr)

    def peer_sockaddr(self) -> bytes:
        return self._raw(lib.fdsafe_socket_peer_sockaddr)

    def send(self, data: bytes, flags: int = 0) -> int:
        """Sends some of ``data``; never raises SIGPIPE (a closed peer: BrokenPipeError)."""
        keep, ptr = _bytes_ptr(data)
        return retry_eintr(lambda: lib.fdsafe_socket_send(self._value, ptr, len(keep), flags))

    def sendall(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            view = view[self.send(view.tobytes()):]

    def recv(self, size: int, flags: int = 0) -> bytes:
        buf = ctypes.create_string_buffer(max(size, 1))
        n = retry_eintr(lambda: lib.fdsafe_socket_recv(self._value, buf, size, flags))
        return buf.raw[:n]

    def sendto(self, data: bytes, address: Union[str, bytes], flags: int = 0) -> int:
        """Sends a datagram to ``address`` (text, or ``struct sockaddr`` bytes)."""
        keep, ptr = _bytes_ptr(data)
        if isinstance(address, bytes):
            raw = ctypes.create_string_buffer(address, len(address))
            return retry_eintr(lambda: lib.fdsafe_socket_send_to_sockaddr(self._value, ptr, len(keep), flags, raw, len(address)))
        return retry_eintr(lambda: lib.fdsafe_socket_send_to(self._value, ptr, len(keep), flags, _enc(address)))

    def recvfrom(self, size: int, flags: int = 0) -> Tuple[bytes, str]:
        buf = ctypes.create_string_buffer(max(size, 1))
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        n = retry_eintr(lambda: lib.fdsafe_socket_recv_from(self._value, buf, size, flags, addr, SOCKADDR_STORAGE,
                                                             ctypes.byref(alen)))
        return buf.raw[:n], (address_format(addr.raw[:alen.value]) if alen.value else "")

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

    def connect_finish(self, timeout_ms: int = -1) -> None:
        """Finishes a non-blocking connect (raises BlockingIOError-like OSError EINPROGRESS if
        still pending after a 0 timeout)."""
        check(lib.fdsafe_socket_connect_finish(self._value, timeout_ms))


class _Listener(Socket):
    def accept(self, nonblocking: bool = False) -> Tuple[Socket, str]:
        """A new connected socket and the peer's address text."""
        out = c_handle()
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        flags = ACCEPT_NONBLOCK if nonblocking else 0
        retry_eintr(lambda: lib.fdsafe_socket_accept(self._value, flags, ctypes.byref(out), addr, SOCKADDR_STORAGE,
                                                     ctypes.byref(alen)))
        return cast(Socket, Handle.wrap(out.value)), address_format(addr.raw[:alen.value])


class _UnixMixin(Socket):
    def send_fds(self, data: bytes, handles: Sequence[object], flags: int = 0) -> int:
        """Sends ``data`` (at least one byte) with descriptors: fdsafe handles (held for the
        whole send), or anything with ``fileno()``, or raw ints (borrowed, not closed)."""
        keep, ptr = _bytes_ptr(data)
        items: List[Any] = list(handles)
        if all(isinstance(h, Handle) for h in items):
            harr = (ctypes.c_uint64 * max(len(items), 1))(*[h.value for h in items])
            return retry_eintr(lambda: lib.fdsafe_socket_send_handles(self._value, ptr, len(keep), harr, len(items), flags))
        fds = [h if isinstance(h, int) else h.fileno() for h in items]
        farr = (ctypes.c_int * max(len(fds), 1))(*fds)
        return retry_eintr(lambda: lib.fdsafe_socket_send_fds(self._value, ptr, len(keep), farr, len(fds), flags))

    def recv_fds(self, size: int, maxfds: int = MAX_FDS, flags: int = 0, kind: Optional[int] = None) -> Received:
        """Receives data and descriptors as fdsafe handle objects of their detected kind.

        ``kind`` skips the detection (``fdsafe_socket_recv_handles_as``): ``KIND_OTHER``
        gives generic handles with no kernel query; another kind is checked per descriptor
        (one that fails the check is detected in full, so check ``.kind`` if the sender is
        not trusted)."""
        buf = ctypes.create_string_buffer(max(size, 1))
        arr = (ctypes.c_uint64 * max(maxfds, 1))()
        info = RecvInfo()
        if kind is None:
            n = retry_eintr(lambda: lib.fdsafe_socket_recv_handles(self._value, buf, size, flags, arr, maxfds,
                                                                    ctypes.byref(info)))
        else:
            n = retry_eintr(lambda: lib.fdsafe_socket_recv_handles_as(self._value, buf, size, flags, kind, arr,
                                                                       maxfds, ctypes.byref(info)))
        wrap = Handle._wrap_new
        handles = [wrap(v) for v in arr[:info.handle_count]]
        creds = tuple(info.credentials) if info.flags & RECV_INFO_CREDENTIALS else None
        return Received(buf.raw[:n], handles, info.flags, info.closed_count, creds)

    def passer(self, size: int = 1, max_handles: int = MAX_FDS, kind: Optional[int] = KIND_OTHER) -> "HandlePasser":
        """The fast descriptor-passing path on this socket: a :class:`fdsafe.passing.HandlePasser`
        (buffers made once, received handles as int values). See fdsafe.passing."""
        from .passing import HandlePasser
        return HandlePasser(self, size, max_handles, kind)

    def send_credentials(self, data: bytes, credentials: Optional[Tuple[int, int, int]] = None, flags: int = 0) -> int:
        keep, ptr = _bytes_ptr(data)
        creds = None if credentials is None else ctypes.byref(Credentials(*credentials))
        return retry_eintr(lambda: lib.fdsafe_socket_send_credentials(self._value, ptr, len(keep), creds, flags))

    def peer_credentials(self) -> Tuple[int, int, int]:
        c = Credentials()
        check(lib.fdsafe_socket_peer_credentials(self._value, ctypes.byref(c)))
        return tuple(c)

    def peer_groups(self) -> List[int]:
        arr = (ctypes.c_uint32 * 65536)()
        n = check(lib.fdsafe_socket_peer_groups(self._value, arr, 65536))
        return list(arr[:n])

    def peer_pidfd(self) -> Handle:
        out = c_handle()
        check(lib.fdsafe_socket_peer_pidfd(self._value, ctypes.byref(out)))
        return Handle(out.value)


class _DatagramMixin(Socket):
    def connect(self, address: Union[str, bytes]) -> None:
        """Sets the default destination: address text, or ``struct sockaddr`` bytes."""
        if isinstance(address, bytes):
            raw = ctypes.create_string_buffer(address, len(address))
            check(lib.fdsafe_socket_connect_sockaddr(self._value, raw, len(address)))
        else:
            check(lib.fdsafe_socket_connect(self._value, _enc(address)))

    def send_batch(self, messages: Iterable[Tuple[bytes, Optional[str]]], flags: int = 0) -> int:
        """Sends datagrams ``(data, address or None)`` with one sendmmsg; returns how many."""
        items = [(bytes(d), None if a is None else address_parse(a)) for d, a in messages]
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
        return retry_eintr(lambda: lib.fdsafe_socket_send_batch(self._value, arr, len(items), flags))

    def recv_batch(self, count: int, size: int = 65536, flags: int = 0) -> List[Tuple[bytes, str]]:
        """Receives up to ``count`` datagrams (waits for the first); returns (data, source)."""
        arr = (Datagram * count)()
        bufs = [(ctypes.create_string_buffer(size), ctypes.create_string_buffer(SOCKADDR_STORAGE)) for _ in range(count)]
        for i, (d, a) in enumerate(bufs):
            arr[i].data, arr[i].len = ctypes.cast(d, ctypes.c_void_p), size
            arr[i].addr, arr[i].addr_len = ctypes.cast(a, ctypes.c_void_p), SOCKADDR_STORAGE
        n = retry_eintr(lambda: lib.fdsafe_socket_recv_batch(self._value, arr, count, flags))
        return [(bufs[i][0].raw[:arr[i].received], address_format(bufs[i][1].raw[:arr[i].addr_len])) for i in range(n)]


class TcpListener(_Listener):
    KIND = KIND_TCP_LISTENER


class TcpStream(Socket):
    KIND = KIND_TCP_STREAM

    def zerocopy_completions(self, max_ranges: int = 64) -> List[Tuple[int, int, bool]]:
        arr = (ZerocopyCompletion * max_ranges)()
        n = check(lib.fdsafe_socket_zerocopy_completions(self._value, arr, max_ranges))
        return [(arr[i].first, arr[i].last, bool(arr[i].copied)) for i in range(n)]


class UdpSocket(_DatagramMixin):
    KIND = KIND_UDP

    def join(self, group: str, interface: Optional[str] = None) -> None:
        check(lib.fdsafe_udp_multicast_join(self._value, _enc(group), _enc(interface)))

    def leave(self, group: str, interface: Optional[str] = None) -> None:
        check(lib.fdsafe_udp_multicast_leave(self._value, _enc(group), _enc(interface)))

    zerocopy_completions = TcpStream.zerocopy_completions


class UnixListener(_Listener, _UnixMixin):
    KIND = KIND_UNIX_LISTENER


class UnixStream(_UnixMixin):
    KIND = KIND_UNIX_STREAM


class UnixDatagram(_UnixMixin, _DatagramMixin):
    KIND = KIND_UNIX_DATAGRAM


class UnixSeqpacketListener(_Listener, _UnixMixin):
    KIND = KIND_UNIX_SEQPACKET_LISTENER


class UnixSeqpacket(_UnixMixin):
    KIND = KIND_UNIX_SEQPACKET


def _new(call: Callable[[Any], int]) -> Any:
    """Runs a creating call and wraps the new handle in the class of its kind."""
    out = c_handle()
    code = call(ctypes.byref(out))
    check(code)
    return Handle.wrap(out.value)


def _raw(address: bytes):
    return ctypes.create_string_buffer(address, len(address)), len(address)


def tcp_listen(address: Union[str, bytes], backlog: int = 128, reuseport: bool = False, v6only: bool = False,
               nonblocking: bool = False, reuseaddr: bool = True) -> TcpListener:
    flags = ((SOCKET_REUSEPORT if reuseport else 0) | (SOCKET_V6ONLY if v6only else 0)
             | (SOCKET_NONBLOCK if nonblocking else 0) | (0 if reuseaddr else SOCKET_NO_REUSEADDR))
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: lib.fdsafe_tcp_listen_sockaddr(raw, n, backlog, flags, out))
    return _new(lambda out: lib.fdsafe_tcp_listen(_enc(address), backlog, flags, out))


def tcp_connect(address: Union[str, bytes], timeout: Optional[float] = None, nonblocking: bool = False) -> TcpStream:
    """A connected TCP stream (blocking, with an optional timeout in seconds), or with
    ``nonblocking`` one whose connect may still be in progress (see ``connect_finish``)."""
    ms = -1 if timeout is None else int(timeout * 1000)
    flags = SOCKET_NONBLOCK if nonblocking else 0
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: retry_eintr(lambda: lib.fdsafe_tcp_connect_sockaddr(raw, n, ms, flags, out)))
    return _new(lambda out: retry_eintr(lambda: lib.fdsafe_tcp_connect(_enc(address), ms, flags, out)))


def udp_bind(address: Union[str, bytes], reuseport: bool = False, v6only: bool = False, nonblocking: bool = False) -> UdpSocket:
    flags = (SOCKET_REUSEPORT if reuseport else 0) | (SOCKET_V6ONLY if v6only else 0) | (SOCKET_NONBLOCK if nonblocking else 0)
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: lib.fdsafe_udp_bind_sockaddr(raw, n, flags, out))
    return _new(lambda out: lib.fdsafe_udp_bind(_enc(address), flags, out))


def _options(flags: int, dir_mode: int, socket_mode: int):
    return ctypes.byref(UnixBindOptions(flags, dir_mode, socket_mode))


def unix_listen(address: Optional[Union[str, bytes]], type: int = UNIX_STREAM, backlog: int = 128, flags: int = 0,
                dir_mode: int = 0, socket_mode: int = 0) -> Union[UnixListener, UnixSeqpacketListener]:
    """A Unix listener bound to a path, ``@abstract`` name, or ``None`` for autobind (or
    ``struct sockaddr_un`` bytes)."""
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: lib.fdsafe_unix_listen_sockaddr(raw, n, type, backlog,
                                                                _options(flags, dir_mode, socket_mode), out))
    return _new(lambda out: lib.fdsafe_unix_listen(_enc(address), type, backlog, _options(flags, dir_mode, socket_mode), out))


def unix_bind(address: Optional[Union[str, bytes]], flags: int = 0, dir_mode: int = 0, socket_mode: int = 0) -> UnixDatagram:
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: lib.fdsafe_unix_bind_sockaddr(raw, n, _options(flags, dir_mode, socket_mode), out))
    return _new(lambda out: lib.fdsafe_unix_bind(_enc(address), _options(flags, dir_mode, socket_mode), out))


def unix_connect(address: Union[str, bytes], type: int = UNIX_STREAM, nonblocking: bool = False) -> Socket:
    flags = SOCKET_NONBLOCK if nonblocking else 0
    if isinstance(address, bytes):
        raw, n = _raw(address)
        return _new(lambda out: retry_eintr(lambda: lib.fdsafe_unix_connect_sockaddr(raw, n, type, flags, out)))
    return _new(lambda out: retry_eintr(lambda: lib.fdsafe_unix_connect(_enc(address), type, flags, out)))


def unix_pair(type: int = UNIX_STREAM, nonblocking: bool = False) -> Tuple[Socket, Socket]:
    a, b = c_handle(), c_handle()
    check(lib.fdsafe_unix_pair(type, SOCKET_NONBLOCK if nonblocking else 0, ctypes.byref(a), ctypes.byref(b)))
    return cast(Socket, Handle.wrap(a.value)), cast(Socket, Handle.wrap(b.value))
