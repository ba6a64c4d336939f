"""asyncio support: await a handle becoming readable or writable through the running loop,
and read or write without blocking the loop.

The loop watches the handle's descriptor (lent by ``fileno()``); the handle must stay open
while it is awaited, as with any descriptor given to ``loop.add_reader``.
"""
from __future__ import annotations

import asyncio
from typing import Callable, TypeVar

from .handle import Handle

T = TypeVar("T")

__all__ = ["readable", "writable", "read", "write"]


async def _ready(handle: Handle, add: str, remove: str) -> None:
    loop = asyncio.get_running_loop()
    fd = handle.fileno()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    getattr(loop, add)(fd, wake)
    try:
        await done
    finally:
        getattr(loop, remove)(fd)


async def readable(handle: Handle) -> None:
    """Returns once ``handle`` is readable (or at end of file, or in error)."""
    await _ready(handle, "add_reader", "remove_reader")


async def writable(handle: Handle) -> None:
    """Returns once ``handle`` is writable (or in error)."""
    await _ready(handle, "add_writer", "remove_writer")


async def _retry(handle: Handle, attempt: Callable[[], T], wait) -> T:
    if not handle.nonblocking:
        handle.nonblocking = True
    while True:
        try:
            return attempt()
        except BlockingIOError:
            await wait(handle)


async def read(handle: Handle, size: int) -> bytes:
    """Reads up to ``size`` bytes once some are there. Puts the handle in non-blocking mode."""
    return await _retry(handle, lambda: handle.read(size), readable)


async def write(handle: Handle, data: bytes) -> int:
    """Writes some of ``data`` once there is room; returns how much. Puts the handle in
    non-blocking mode."""
    return await _retry(handle, lambda: handle.write(data), writable)
