"""asyncio support: await a handle becoming readable or writable through the running loop,
and read or write (or pass descriptors over Unix sockets) without blocking the loop.

The loop watches the handle's descriptor (lent by ``fileno()``); the handle must stay open
while it is awaited, as with any descriptor given to ``loop.add_reader``: a handle closed
meanwhile wakes nobody (the kernel drops a closed descriptor from the loop's epoll set without
an event). Once its number is awaited again through another handle, the tasks still waiting
on the closed one get ``OSError`` EBADF, and the new handle is watched afresh, so the number's
next owner is never left unwatched. Several tasks may await one handle at once; each is woken.
"""
from __future__ import annotations

import asyncio
import errno
import os
import weakref
from typing import TYPE_CHECKING, Awaitable, Callable, Dict, Sequence, Set, Tuple, TypeVar

from .handle import Handle

if TYPE_CHECKING:
    from .socket import Received

T = TypeVar("T")

__all__ = ["readable", "writable", "read", "write", "send_fds", "recv_fds"]


class _Watch:
    """The tasks of one loop waiting on one descriptor for one direction, and the handle
    whose descriptor it was when the watch began."""

    def __init__(self, handle_value: int) -> None:
        self.handle_value = handle_value
        self.waiters: Set["asyncio.Future[None]"] = set()

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_exception(error)


# loop -> (descriptor, "add_reader" or "add_writer") -> the watch on it.
_WATCHES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[Tuple[int, str], _Watch]]" = \
    weakref.WeakKeyDictionary()


async def _ready(handle: Handle, add: str, remove: str) -> None:
    loop = asyncio.get_running_loop()
    fd = handle.fileno()
    watches = _WATCHES.setdefault(loop, {})
    key = (fd, add)
    watch = watches.get(key)
    if watch is not None and watch.handle_value != handle.value:
        # The number's previous handle was closed while awaited: the kernel dropped it from
        # the loop's set, and the loop, which still lists it, would only change the callback.
        watch.fail(OSError(errno.EBADF, os.strerror(errno.EBADF) + ": the handle was closed while awaited"))
        del watches[key]
        getattr(loop, remove)(fd)
        watch = None
    if watch is None:
        watch = watches[key] = _Watch(handle.value)
        getattr(loop, add)(fd, watch.wake)
    done = loop.create_future()
    watch.waiters.add(done)
    try:
        await done
    finally:
        watch.waiters.discard(done)
        if not watch.waiters and watches.get(key) is watch:
            del watches[key]
            getattr(loop, remove)(fd)


async def readable(handle: Handle) -> None:
    """Returns once ``handle`` is readable (or at end of file, or in error)."""
    await _ready(handle, "add_reader", "remove_reader")


async def writable(handle: Handle) -> None:
    """Returns once ``handle`` is writable (or in error)."""
    await _ready(handle, "add_writer", "remove_writer")


async def _retry(handle: Handle, attempt: Callable[[], T], wait: Callable[[Handle], Awaitable[None]]) -> T:
    # A socket with a timeout is already O_NONBLOCK, yet its calls wait out the timeout
    # themselves, which would block the loop: non-blocking means timeout 0 there.
    if getattr(handle, "gettimeout", lambda: 0.0)() != 0.0:
        handle.setblocking(False)  # type: ignore[attr-defined]
    elif not handle.nonblocking:
        handle.nonblocking = True
    while True:
        try:
            return attempt()
        except BlockingIOError:
            await wait(handle)


async def read(handle: Handle, size: int) -> bytes:
    """Reads up to ``size`` bytes once some are there. Puts the handle in non-blocking mode."""
    # Handle's own read and write raise BlockingIOError, where a raw stream's return None
    return await _retry(handle, lambda: Handle.read(handle, size), readable)


async def write(handle: Handle, data: bytes) -> int:
    """Writes some of ``data`` once there is room; returns how much. Puts the handle in
    non-blocking mode."""
    return await _retry(handle, lambda: Handle.write(handle, data), writable)


def _unix_socket(sock: Handle) -> None:
    if not (hasattr(sock, "send_fds") and hasattr(sock, "recv_fds")):
        raise TypeError(f"{type(sock).__name__} cannot carry descriptors: a Unix socket handle is needed")


async def send_fds(sock: Handle, data: bytes, handles: Sequence[object], flags: int = 0) -> int:
    """Sends ``data`` (at least one byte) with descriptors over a Unix socket handle once
    there is room, without blocking the loop; ``handles`` as for the socket's ``send_fds``
    (fdsafe handles, objects with ``fileno()``, raw ints; all stay the caller's). On a
    stream socket the descriptors travel with the first byte and the rest of ``data``
    follows; returns the bytes sent (all of ``data``). Puts the socket in non-blocking mode."""
    _unix_socket(sock)
    data = bytes(data)
    sent: int = await _retry(sock, lambda: sock.send_fds(data, handles, flags), writable)  # type: ignore[attr-defined]
    while sent < len(data):  # only streams send part of a message
        rest = data[sent:]
        sent += await _retry(sock, lambda: sock.send(rest), writable)  # type: ignore[attr-defined]
    return sent


async def recv_fds(sock: Handle, bufsize: int, maxfds: int = 253, flags: int = 0) -> "Received":
    """Receives up to ``bufsize`` bytes and up to ``maxfds`` descriptors over a Unix socket
    handle once a message is there, without blocking the loop. Returns the socket module's
    ``Received`` (data, handles of their detected kinds, all close-on-exec, flags, closed
    count, credentials). Puts the socket in non-blocking mode."""
    _unix_socket(sock)
    return await _retry(sock, lambda: sock.recv_fds(bufsize, maxfds, flags), readable)  # type: ignore[attr-defined]
