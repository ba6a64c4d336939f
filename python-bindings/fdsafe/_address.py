"""Addresses as Python's ``socket`` module takes them, turned into ``struct sockaddr`` bytes.

Internet addresses: ``(host, port)`` and ``(host, port, flowinfo, scope_id)`` tuples, host
names resolved with ``socket.getaddrinfo`` (for the socket's own family when it has one).
Unix addresses, exactly as the ``socket`` module reads them: ``str``, ``bytes`` or
``os.PathLike`` paths encoded with ``os.fsencode`` (so surrogate-escaped and non-UTF-8 names
work, and ``"@name"`` is the file of that name), an abstract name as a leading NUL. A NUL
anywhere else raises ``ValueError``: C would cut the name there and bind another path than the
caller named. fdsafe's text form (``"@name"`` for an abstract name) is read only by
``address_parse``.
"""
from __future__ import annotations

import errno
import operator
import os
import socket
import struct
from typing import Any, List, Tuple, Union

__all__ = ["SockAddr", "UNIX_PATH_MAX", "decode_sockaddr", "inet_sockaddrs", "unix_sockaddr"]

UNIX_PATH_MAX = 108  # sizeof(sockaddr_un.sun_path); a path may fill it (no terminating NUL then)
_FAMILY = struct.Struct("=H")  # sa_family_t, host order
NETLINK = struct.Struct("=HHII")  # sockaddr_nl: family, pad, pid, groups


class SockAddr(bytes):
    """Raw ``struct sockaddr`` bytes, exact length. What ``address_parse``,
    ``local_sockaddr`` and ``peer_sockaddr`` return; every call taking an address takes one
    as it is. Plain ``bytes`` are a Unix path, as for the ``socket`` module."""

    __slots__ = ()

    @property
    def family(self) -> int:
        """The address family (``socket.AF_*``) in the first two bytes."""
        return int(_FAMILY.unpack_from(self)[0]) if len(self) >= 2 else socket.AF_UNSPEC


_FLOWINFO_MAX = 0xFFFFF  # the 20-bit flow label


def _integer(value: object, name: str) -> int:
    """An int for ``value`` as the ``socket`` module takes one (``__index__``): TypeError else."""
    if not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    return operator.index(value)


def _ipv6_extras(flowinfo: object, scope_id: object) -> Tuple[int, int]:
    """``flowinfo`` and ``scope_id`` of an IPv6 4-tuple, checked as ``socket`` checks them:
    TypeError for a non-integer, OverflowError for a flowinfo outside 0-1048575 (the 20-bit
    flow label). A scope_id is taken modulo 2**32, as the ``socket`` module takes it (its
    ``-1`` is interface 4294967295, which no interface has: the kernel refuses it)."""
    flow = _integer(flowinfo, "flowinfo")
    scope = _integer(scope_id, "scope_id")
    if not 0 <= flow <= _FLOWINFO_MAX:
        raise OverflowError(f"flowinfo must be 0-{_FLOWINFO_MAX}")
    return flow, scope & 0xFFFFFFFF


def _pack_inet(family: int, sockaddr: Tuple[Any, ...]) -> SockAddr:
    """sockaddr_in / sockaddr_in6 from the tuple getaddrinfo gives for ``family``."""
    if family == socket.AF_INET:
        host, port = sockaddr[:2]
        return SockAddr(_FAMILY.pack(family) + struct.pack("!H", port) + socket.inet_pton(family, host) + bytes(8))
    host, port, flowinfo, scope_id = sockaddr
    flowinfo, scope_id = _ipv6_extras(flowinfo, scope_id)
    host = host.split("%", 1)[0]  # a scope given by name is in scope_id already
    return SockAddr(_FAMILY.pack(family) + struct.pack("!HI", port, flowinfo) + socket.inet_pton(family, host)
                    + struct.pack("=I", scope_id))


def _check_port(port: object) -> int:
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535")
    return port


def inet_sockaddrs(address: Tuple[Any, ...], socktype: int, passive: bool = False,
                   family: int = socket.AF_UNSPEC) -> List[SockAddr]:
    """Every ``struct sockaddr`` a ``(host, port)``, ``(host, port, flowinfo)`` or ``(host,
    port, flowinfo, scope_id)`` tuple resolves to, in getaddrinfo's order. A host of ``""``
    (or ``None``) is the wildcard address when ``passive`` (binding), else the loopback
    address; ``"<broadcast>"`` is 255.255.255.255, as in the ``socket`` module. ``family`` is
    the socket's, when there is a socket: ``AF_INET`` resolves to IPv4 addresses only (and
    takes only a pair, as ``socket`` does), ``AF_INET6`` puts IPv6 addresses first (an IPv4
    one after them still works: it is given as its IPv4-mapped IPv6 address, ``::ffff:a.b.c.d``,
    which a dual-stack socket reaches over IPv4 and an ``IPV6_V6ONLY`` one refuses)."""
    if not isinstance(address, tuple) or len(address) not in (2, 3, 4):
        raise TypeError("an internet address is a (host, port) or (host, port, flowinfo[, scope_id]) tuple")
    if family == socket.AF_INET and len(address) != 2:
        raise TypeError("AF_INET address must be a pair (host, port)")
    host, port = address[0], _check_port(address[1])
    # The IPv6 extras, checked before any lookup: (host, port, flowinfo) has scope_id 0.
    extras = _ipv6_extras(address[2], address[3] if len(address) == 4 else 0) if len(address) > 2 else None
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode("idna")
    if host is not None and not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if host is not None and "\0" in host:
        raise ValueError("embedded null character in host")
    if host == "<broadcast>":  # the socket module's name for INADDR_BROADCAST (IPv4 only)
        if family == socket.AF_INET6 or extras is not None:
            raise OSError("address family mismatched")
        host = "255.255.255.255"
    query = socket.AF_INET6 if extras is not None else socket.AF_INET if family == socket.AF_INET else socket.AF_UNSPEC
    flags = socket.AI_PASSIVE if passive else 0
    # getaddrinfo gives ports only for stream and datagram types ("Servname not supported
    # for ai_socktype" for SOCK_RAW): the address is the same for any type, so ask as UDP.
    lookup_type = socktype if socktype in (socket.SOCK_STREAM, socket.SOCK_DGRAM) else socket.SOCK_DGRAM
    infos = socket.getaddrinfo(host or None, port, query, lookup_type, 0, flags)
    if family == socket.AF_INET6:
        infos.sort(key=lambda info: info[0] != socket.AF_INET6)  # stable: IPv6 first, else in order
    out = []
    for fam, _, _, _, found in infos:
        sockaddr: Tuple[Any, ...] = tuple(found)
        if fam == socket.AF_INET6 and extras is not None:
            sockaddr = (sockaddr[0], sockaddr[1], extras[0], extras[1] or sockaddr[3])
        if fam == socket.AF_INET and family == socket.AF_INET6:
            # An IPv6 socket takes no IPv4 sockaddr for connect (EINVAL) and only some
            # calls take one for sendto: the mapped form is what each of them reads.
            fam, sockaddr = socket.AF_INET6, ("::ffff:" + sockaddr[0], sockaddr[1], 0, 0)
        if fam in (socket.AF_INET, socket.AF_INET6):
            out.append(_pack_inet(fam, sockaddr))
    if not out:
        raise OSError(errno.EAFNOSUPPORT, f"no IPv4 or IPv6 address for {host!r}")
    return out


def unix_sockaddr(address: Union[str, bytes, "os.PathLike[Any]"]) -> SockAddr:
    """sockaddr_un for a path or an abstract name (leading NUL), as ``socket.bind`` reads
    them: a ``str``, ``bytes`` or ``os.PathLike`` is a path whatever its first character
    (``"@x.sock"`` is the file ``@x.sock``); ``""`` asks for autobind. fdsafe's text for an
    abstract name (``"@name"``) goes through ``address_parse``."""
    if isinstance(address, (bytearray, memoryview)):
        raise TypeError("a Unix address is str, bytes or os.PathLike (raw sockaddr bytes: wrap them in SockAddr)")
    name = os.fsencode(address)
    family = _FAMILY.pack(socket.AF_UNIX)
    if not name:
        return SockAddr(family)  # just the family: the kernel picks an abstract name
    if name.startswith(b"\0"):
        if len(name) > UNIX_PATH_MAX:
            raise OSError(errno.ENAMETOOLONG, "abstract Unix socket name too long")
        return SockAddr(family + name)  # exact length: the name may hold any byte
    if b"\0" in name:
        raise ValueError("embedded null byte in Unix socket path")
    if len(name) > UNIX_PATH_MAX:
        raise OSError(errno.ENAMETOOLONG, "Unix socket path too long", os.fsdecode(name))
    # A path filling sun_path has no NUL: the kernel takes it, as peers may be bound there.
    return SockAddr(family + name + b"\0"[:UNIX_PATH_MAX - len(name)])


def decode_sockaddr(sa: bytes) -> Any:
    """An address as the ``socket`` module returns it: ``(host, port)`` for IPv4,
    ``(host, port, flowinfo, scope_id)`` for IPv6, a ``str`` path for Unix (``""`` for an
    unnamed socket) or ``bytes`` starting with NUL for an abstract name, ``(pid, groups)`` for
    netlink; the raw ``SockAddr`` for other families. Every call taking an address takes it
    back."""
    sa = SockAddr(sa)
    family = sa.family
    if family == socket.AF_NETLINK and len(sa) >= NETLINK.size:
        _, _, pid, groups = NETLINK.unpack_from(sa)
        return (pid, groups)
    if family == socket.AF_INET and len(sa) >= 16:
        return (socket.inet_ntop(family, sa[4:8]), struct.unpack_from("!H", sa, 2)[0])
    if family == socket.AF_INET6 and len(sa) >= 28:
        port, flowinfo = struct.unpack_from("!HI", sa, 2)
        return (socket.inet_ntop(family, sa[8:24]), port, flowinfo, struct.unpack_from("=I", sa, 24)[0])
    if family == socket.AF_UNIX:
        name = bytes(sa[2:])
        if name.startswith(b"\0"):
            return name
        return os.fsdecode(name.split(b"\0", 1)[0])
    return sa
