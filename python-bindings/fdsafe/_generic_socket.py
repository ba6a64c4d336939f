"""Sockets of any family, type and protocol (``fdsafe.socket.socket``, like ``socket.socket``),
any option by level and name (``getsockopt``/``setsockopt`` on every fdsafe socket), and
clients bound to a chosen local address before they connect (``connect_from``,
``create_connection(source_address=...)``). Re-exported by :mod:`fdsafe.socket`."""
from __future__ import annotations

import ctypes
import errno
import socket as _pysocket
from typing import Any, Optional, Tuple, Union, cast

from ._address import NETLINK as _NETLINK, SockAddr, decode_sockaddr as _decode, unix_sockaddr
from ._buffers import backlog_arg, data_arg, int_arg, timeout_ms
from ._lib import c_handle, c_handle_p, declare, lib
from .errors import check
from .handle import EVENT_IN, EVENT_OUT, Handle, retry_eintr_within
from .socket import (SOCKADDR_STORAGE, SOCKET_NONBLOCK, Address, Socket, TcpStream, _inet_address, _NO_ADDRESS, _raw,
                     _source, _connected, tcp_connect)
from . import _constants as _c

# ``socket`` (the function, as ``fdsafe.socket.socket(family, type, proto)``) stays out of
# __all__: ``from fdsafe.socket import *`` must never shadow the standard library's module.
__all__ = ["KIND_SOCKET", "GenericSocket", "connect_from", "create_connection"]

KIND_SOCKET = _c.FDSAFE_KIND_SOCKET

_int, _u32, _size, _vp = ctypes.c_int, ctypes.c_uint32, ctypes.c_size_t, ctypes.c_void_p
declare({
    "fdsafe_socket_create": (_int, [_int, _int, _int, _u32, c_handle_p]),
    "fdsafe_socket_bind": (_int, [c_handle, _vp, _size]),
    "fdsafe_socket_listen": (_int, [c_handle, _int]),
    "fdsafe_socket_getsockopt": (_int, [c_handle, _int, _int, _vp, _size]),
    "fdsafe_socket_setsockopt": (_int, [c_handle, _int, _int, _vp, _size]),
    "fdsafe_socket_connect_from": (_int, [_int, _vp, _size, _vp, _size, _int, _u32, c_handle_p]),
})


_GETSOCKOPT_BUFLEN_MAX = 1024  # the socket module's limit


def getsockopt(sock: Socket, level: int, optname: int, buflen: int = 0) -> Union[int, bytes]:
    """``socket.getsockopt``: an ``int`` option, or with ``buflen`` (1 to 1024, as
    ``socket`` takes it: OSError outside, OverflowError beyond a C int) the option's bytes."""
    buflen = int_arg(buflen, "buflen", -2**31, 2**31 - 1)
    if not 0 <= buflen <= _GETSOCKOPT_BUFLEN_MAX:
        raise OSError(errno.EINVAL, f"getsockopt buflen out of range (0 to {_GETSOCKOPT_BUFLEN_MAX}): {buflen}")
    if buflen == 0:
        value = ctypes.c_int()
        check(lib.fdsafe_socket_getsockopt(sock._value, level, optname, ctypes.byref(value), ctypes.sizeof(value)))
        return value.value
    buf = ctypes.create_string_buffer(buflen)
    n = check(lib.fdsafe_socket_getsockopt(sock._value, level, optname, buf, buflen))
    return buf.raw[:n]


def setsockopt(sock: Socket, level: int, optname: int, value: Union[int, bytes]) -> None:
    """``socket.setsockopt``: an ``int`` (``True``/``False`` too, as ``socket`` takes them;
    OverflowError beyond a C int) or a bytes-like value (``struct.pack``ed). The stdlib's
    ``(level, optname, None, optlen)`` form is not offered: no option here needs it."""
    if isinstance(value, int):
        raw = ctypes.c_int(int_arg(int(value), "option value", -2**31, 2**31 - 1))
        check(lib.fdsafe_socket_setsockopt(sock._value, level, optname, ctypes.byref(raw), ctypes.sizeof(raw)))
        return
    ptr, n = data_arg(value)
    check(lib.fdsafe_socket_setsockopt(sock._value, level, optname, ptr, n))


def _encode(family: int, socktype: int, address: Any, passive: bool = True) -> SockAddr:
    """``struct sockaddr`` bytes for an address as ``socket`` takes it in ``family``: a host
    name is resolved for that family (AF_UNSPEC: any), a Unix ``str`` is a path."""
    if isinstance(address, SockAddr):
        return address
    if family == _pysocket.AF_NETLINK:
        if not isinstance(address, tuple) or len(address) != 2:
            raise TypeError("a netlink address is a (pid, groups) tuple")
        return SockAddr(_NETLINK.pack(family, 0, address[0], address[1]))
    if family in (_pysocket.AF_INET, _pysocket.AF_INET6, _pysocket.AF_UNSPEC):
        found = _inet_address(address, socktype, passive, family)
        if isinstance(found, bytes):  # fdsafe's text
            from .socket import address_parse
            return address_parse(found.decode())
        return found[0]
    if family == _pysocket.AF_UNIX:
        return unix_sockaddr(address)
    if isinstance(address, (bytes, bytearray, memoryview)):
        return SockAddr(bytes(address))
    raise TypeError(f"an address of family {family} is its raw sockaddr bytes (SockAddr)")


class GenericSocket(Socket):
    """A socket of any family, type and protocol (netlink, packet, vsock, raw IP...), with
    ``socket.socket``'s surface: ``bind``, ``connect``, ``listen``, ``accept``, ``sendto``,
    ``recvfrom``, ``getsockopt``, ``setsockopt``, ``family``/``type``/``proto``, timeouts.
    Addresses are what ``socket`` takes and returns for the family (``(pid, groups)`` for
    netlink, tuples for IP, paths for Unix) or raw ``SockAddr`` bytes for any family."""

    KIND = KIND_SOCKET

    @property
    def family(self) -> Any:
        """The address family, as ``socket.socket.family`` gives it (``SO_DOMAIN``)."""
        value = cast(int, getsockopt(self, _pysocket.SOL_SOCKET, _pysocket.SO_DOMAIN))
        try:
            return _pysocket.AddressFamily(value)
        except ValueError:
            return value

    @property
    def type(self) -> Any:
        """The socket type, as ``socket.socket.type`` gives it (``SO_TYPE``): a
        ``socket.SocketKind``, or the plain number for a type it has no member for
        (``SOCK_PACKET``, 10)."""
        value = cast(int, getsockopt(self, _pysocket.SOL_SOCKET, _pysocket.SO_TYPE))
        try:
            return _pysocket.SocketKind(value)
        except ValueError:
            return value

    @property
    def proto(self) -> int:
        """The protocol number (``SO_PROTOCOL``)."""
        return cast(int, getsockopt(self, _pysocket.SOL_SOCKET, _pysocket.SO_PROTOCOL))

    def _address(self, address: Any) -> Tuple[Any, int]:
        return _raw(self._sockaddr(address))

    def _sockaddr(self, address: Any) -> SockAddr:
        # For sendmsg too: the address as socket takes it for this socket's family (a Unix
        # str is a path), never read as fdsafe's text.
        return _encode(int(self.family), int(self.type), address)

    def bind(self, address: Any) -> None:
        """Binds to ``address`` (``socket.bind``)."""
        raw, n = self._address(address)
        check(lib.fdsafe_socket_bind(self._value, raw, n))

    def listen(self, backlog: int = 128) -> None:
        """Listens for connections (``socket.listen``): a negative ``backlog`` is 0, as
        ``socket`` makes it; OverflowError beyond a C int."""
        check(lib.fdsafe_socket_listen(self._value, backlog_arg(backlog)))

    def connect(self, address: Any) -> None:
        """Connects to ``address``, as ``socket.connect``: waits as the socket's timeout says
        (``TimeoutError``; OSError EBADF if another thread closed the socket meanwhile);
        non-blocking, BlockingIOError EINPROGRESS (``loop.sock_connect`` takes it)."""
        raw, n = self._address(address)
        code = lib.fdsafe_socket_connect_sockaddr(self._value, raw, n)
        if self._connect_goes_on(code):
            self._connect_wait()
        else:
            check(code)

    def accept(self) -> Tuple["GenericSocket", Any]:
        """A new connected socket (of this kind) and the peer's address."""
        out = c_handle()
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        self._call(lambda: lib.fdsafe_socket_accept(self._value, 0, ctypes.byref(out), addr, SOCKADDR_STORAGE,
                                                    ctypes.byref(alen)), EVENT_IN)
        return cast(GenericSocket, Handle.wrap(out.value)), _decode(SockAddr(addr.raw[:alen.value]))

    def sendto(self, data: Any, flags_or_address: Any, address: Any = _NO_ADDRESS) -> int:
        """``sendto(data, address)`` or ``sendto(data, flags, address)``."""
        flags, target = (0, flags_or_address) if address is _NO_ADDRESS else (flags_or_address, address)
        ptr, n = data_arg(data)
        raw, alen = self._address(target)
        return self._call(lambda: lib.fdsafe_socket_send_to_sockaddr(self._value, ptr, n, flags, raw, alen), EVENT_OUT)

    def _recvfrom(self, c_buf: Any, size: int, flags: int) -> Tuple[int, Any]:
        addr = ctypes.create_string_buffer(SOCKADDR_STORAGE)
        alen = ctypes.c_size_t()
        n = self._call(lambda: lib.fdsafe_socket_recv_from(self._value, c_buf, size, flags, addr, SOCKADDR_STORAGE,
                                                            ctypes.byref(alen)), EVENT_IN)
        return n, _source(addr.raw[:alen.value])


def socket(family: int = _pysocket.AF_INET, type: int = _pysocket.SOCK_STREAM, proto: int = 0,
           fileno: Optional[int] = None, *, nonblocking: bool = False) -> GenericSocket:
    """A socket of any family, type and protocol, as ``socket.socket(family, type, proto)``
    makes it (``socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)``), always close-on-exec. As
    there, ``SOCK_NONBLOCK`` in ``type`` makes it non-blocking (as ``nonblocking=True``)
    and ``SOCK_CLOEXEC`` is taken (it is always in force).

    With ``fileno``, as ``socket.socket(fileno=fd)``: the socket descriptor ``fd`` is
    adopted, and the returned object owns it from then on (family, type and protocol are the
    kernel's, whatever the other arguments say; ``nonblocking`` leaves its mode alone). A
    descriptor that is not a socket, or that a live handle already owns, is refused and
    stays the caller's."""
    if fileno is not None:
        return GenericSocket.adopt(int_arg(fileno, "fileno", -2**31, 2**31 - 1), KIND_SOCKET)
    if type & _pysocket.SOCK_NONBLOCK:
        nonblocking = True
    type &= ~(_pysocket.SOCK_NONBLOCK | _pysocket.SOCK_CLOEXEC)
    out = c_handle()
    check(lib.fdsafe_socket_create(family, type, proto, SOCKET_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
    return cast(GenericSocket, Handle.wrap(out.value))


def connect_from(local: Address, remote: Address, type: int = _pysocket.SOCK_STREAM, timeout: Optional[float] = None,
                 nonblocking: bool = False) -> Socket:
    """A client of the typed kind (TCP stream, UDP, Unix stream, datagram or seqpacket)
    bound to ``local`` before it connects to ``remote``: a source ``(host, port)`` (port 0:
    the kernel picks; resolved for the remote address's family), a Unix path (``str``,
    ``bytes`` or ``os.PathLike``, as ``socket`` reads it) or abstract name (leading NUL), or
    ``""`` to autobind a Unix name. ``timeout`` bounds the connect only."""
    if isinstance(remote, tuple) or (isinstance(remote, SockAddr) and remote.family != _pysocket.AF_UNIX):
        # Each address the remote name resolves to, in turn, from the local address resolved
        # for its family, as socket.create_connection tries them; the last failure is raised.
        found = _inet_address(remote, type)
        remotes = [_encode(_pysocket.AF_UNSPEC, type, remote, passive=False)] if isinstance(found, bytes) else found
        error: Optional[BaseException] = None
        for remote_sa in remotes:
            try:
                return _connect_from(type, _encode(remote_sa.family, type, local), remote_sa, timeout, nonblocking)
            except OSError as err:
                error = err
        assert error is not None
        raise error
    return _connect_from(type, _encode(_pysocket.AF_UNIX, type, local), _encode(_pysocket.AF_UNIX, type, remote),
                         timeout, nonblocking)


def _connect_from(type: int, local_sa: SockAddr, remote_sa: SockAddr, timeout: Optional[float],
                  nonblocking: bool) -> Socket:
    """One connect_from attempt, from ``local_sa`` to ``remote_sa``."""
    lraw, llen = _raw(local_sa)
    rraw, rlen = _raw(remote_sa)
    if remote_sa.family != _pysocket.AF_UNIX and type == _pysocket.SOCK_STREAM:
        # TCP: waited for as socket.connect waits, through signals (see _connected).
        return cast(Socket, _connected(lambda out, flags: lib.fdsafe_socket_connect_from(type, lraw, llen, rraw, rlen, 0,
                                                                                        flags, out),
                                      timeout_ms(timeout), nonblocking))
    out = c_handle()
    flags = SOCKET_NONBLOCK if nonblocking else 0
    try:
        # A Unix stream or seqpacket connect waits (for room in a full listener's queue) at
        # most the timeout.
        retry_eintr_within(lambda ms: lib.fdsafe_socket_connect_from(type, lraw, llen, rraw, rlen, ms, flags,
                                                                     ctypes.byref(out)), timeout_ms(timeout))
    except TimeoutError:
        raise _pysocket.timeout("timed out") from None
    return cast(Socket, Handle.wrap(out.value))


def create_connection(address: Tuple[Any, ...], timeout: Optional[float] = None,
                      source_address: Optional[Tuple[Any, ...]] = None) -> TcpStream:
    """``socket.create_connection``: a TCP stream to ``(host, port)``, from
    ``source_address`` when given. As there, ``timeout`` bounds the connect and then stays
    the socket's timeout (``settimeout``): later calls raise ``TimeoutError`` after it."""
    if source_address is None:
        sock = tcp_connect(address, timeout)
    else:
        sock = cast(TcpStream, connect_from(source_address, address, _pysocket.SOCK_STREAM, timeout))
    if timeout is not None:
        sock.settimeout(timeout)
    return sock
