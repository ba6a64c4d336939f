"""Descriptor-leak checking for test harnesses.

``fd_leak_check()`` snapshots the process's open descriptors and, on exit, raises
``DescriptorLeak`` listing each descriptor the block opened and left open, with its kind and
target (socket address, path, pipe, anonymous inode). The pytest plugin in this package offers
it as the ``fd_leak_check`` fixture.
"""
from __future__ import annotations

import contextlib
import gc
import os
import socket
import struct
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional

__all__ = ["Descriptor", "DescriptorLeak", "open_descriptors", "fd_leak_check"]


@dataclass(frozen=True)
class Descriptor:
    """One open descriptor of this process: its number, its ``kind`` ("socket", "pipe",
    "file", "anon_inode", "device", "other") and a readable ``target``."""

    fd: int
    kind: str  # "socket", "pipe", "file", "anon_inode", "device", "other"
    target: str  # "tcp 127.0.0.1:8080 -> 127.0.0.1:51000", "/tmp/x", "pipe:[1234]", "eventfd"...

    def __str__(self) -> str:
        return f"fd {self.fd}: {self.kind} {self.target}"


class DescriptorLeak(AssertionError):
    """Descriptors a checked block left open; ``leaked`` lists them as :class:`Descriptor`."""

    def __init__(self, leaked: List[Descriptor]):
        super().__init__("descriptors left open: " + "; ".join(map(str, leaked)))
        self.leaked = leaked


def _hex_address(text: str, family: int) -> str:
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    if family == socket.AF_INET:
        addr = socket.inet_ntop(family, raw[::-1])
    else:
        words = struct.unpack("<4I", raw)
        addr = socket.inet_ntop(family, struct.pack(">4I", *words))
        addr = f"[{addr}]"
    return f"{addr}:{int(port, 16)}"


def _socket_table() -> Dict[str, str]:
    """Maps socket inode numbers to a description, from /proc/net."""
    table: Dict[str, str] = {}
    for proto, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6), ("udp", socket.AF_INET),
                          ("udp6", socket.AF_INET6)):
        try:
            with open(f"/proc/net/{proto}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, inode = parts[1], parts[2], parts[9]
                    peer = _hex_address(remote, family)
                    desc = f"{proto.rstrip('6')} {_hex_address(local, family)}"
                    if not peer.endswith(":0"):
                        desc += f" -> {peer}"
                    table[inode] = desc
        except OSError:
            pass
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                inode = parts[6]
                path = parts[7] if len(parts) > 7 else "(unnamed)"
                kinds = {"0001": "stream", "0002": "datagram", "0005": "seqpacket"}
                table[inode] = f"unix {kinds.get(parts[4], parts[4])} {path}"
    except OSError:
        pass
    return table


def _describe(fd: int, target: str, sockets: Optional[Dict[str, str]]) -> Descriptor:
    if target.startswith("socket:["):
        inode = target[8:-1]
        return Descriptor(fd, "socket", (sockets or {}).get(inode, target))
    if target.startswith("pipe:["):
        return Descriptor(fd, "pipe", target)
    if target.startswith("anon_inode:"):
        return Descriptor(fd, "anon_inode", target[len("anon_inode:"):].strip("[]"))
    if target.startswith("/dev/"):
        return Descriptor(fd, "device", target)
    if target.startswith("/"):
        return Descriptor(fd, "file", target)
    return Descriptor(fd, "other", target)


def open_descriptors() -> Dict[int, str]:
    """The process's open descriptors and their /proc/self/fd targets."""
    fds: Dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the directory listing's own descriptor, already closed
    return fds


@contextlib.contextmanager
def fd_leak_check(collect: bool = True) -> Iterator[None]:
    """Fails with ``DescriptorLeak`` if the block leaves new descriptors open (or an old one
    replaced by another file). ``collect`` runs the garbage collector first, so objects that
    close on collection get the chance."""
    if collect:
        gc.collect()
    before = open_descriptors()
    yield
    if collect:
        gc.collect()
    after = open_descriptors()
    new = {fd: t for fd, t in after.items() if before.get(fd) != t}
    if new:
        sockets = _socket_table() if any(t.startswith("socket:") for t in new.values()) else None
        raise DescriptorLeak([_describe(fd, t, sockets) for fd, t in sorted(new.items())])
