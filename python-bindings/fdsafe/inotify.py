"""inotify: file-system events, parsed into ``InotifyEvent`` named tuples."""
from __future__ import annotations

import ctypes
import os
from typing import Iterator, List, NamedTuple

from ._buffers import batch_arg, c_string
from ._lib import c_handle, declare, lib
from .errors import check, naming
from .file import PathLike
from .handle import Handle, retry_eintr
from . import _constants as _c

__all__ = ["KIND_INOTIFY", "INOTIFY_NONBLOCK", "MIN_BATCH", "IN_ACCESS", "IN_MODIFY", "IN_ATTRIB",
           "IN_CLOSE_WRITE", "IN_CLOSE_NOWRITE", "IN_OPEN", "IN_MOVED_FROM", "IN_MOVED_TO", "IN_CREATE",
           "IN_DELETE", "IN_DELETE_SELF", "IN_MOVE_SELF", "IN_ALL_EVENTS", "IN_UNMOUNT", "IN_Q_OVERFLOW",
           "IN_IGNORED", "IN_ONLYDIR", "IN_DONT_FOLLOW", "IN_EXCL_UNLINK", "IN_MASK_CREATE", "IN_MASK_ADD",
           "IN_ISDIR", "IN_ONESHOT", "InotifyEventC", "InotifyEvent", "Inotify"]

KIND_INOTIFY = _c.FDSAFE_KIND_INOTIFY
INOTIFY_NONBLOCK = _c.FDSAFE_NONBLOCK
MIN_BATCH = _c.FDSAFE_INOTIFY_MIN_BATCH

IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE = _c.FDSAFE_IN_ACCESS, _c.FDSAFE_IN_MODIFY, _c.FDSAFE_IN_ATTRIB, _c.FDSAFE_IN_CLOSE_WRITE
IN_CLOSE_NOWRITE, IN_OPEN, IN_MOVED_FROM, IN_MOVED_TO = _c.FDSAFE_IN_CLOSE_NOWRITE, _c.FDSAFE_IN_OPEN, _c.FDSAFE_IN_MOVED_FROM, _c.FDSAFE_IN_MOVED_TO
IN_CREATE, IN_DELETE, IN_DELETE_SELF, IN_MOVE_SELF = _c.FDSAFE_IN_CREATE, _c.FDSAFE_IN_DELETE, _c.FDSAFE_IN_DELETE_SELF, _c.FDSAFE_IN_MOVE_SELF
IN_ALL_EVENTS = _c.FDSAFE_IN_ALL_EVENTS
IN_UNMOUNT, IN_Q_OVERFLOW, IN_IGNORED = _c.FDSAFE_IN_UNMOUNT, _c.FDSAFE_IN_Q_OVERFLOW, _c.FDSAFE_IN_IGNORED
IN_ONLYDIR, IN_DONT_FOLLOW, IN_EXCL_UNLINK = _c.FDSAFE_IN_ONLYDIR, _c.FDSAFE_IN_DONT_FOLLOW, _c.FDSAFE_IN_EXCL_UNLINK
IN_MASK_CREATE, IN_MASK_ADD, IN_ISDIR, IN_ONESHOT = _c.FDSAFE_IN_MASK_CREATE, _c.FDSAFE_IN_MASK_ADD, _c.FDSAFE_IN_ISDIR, _c.FDSAFE_IN_ONESHOT


class InotifyEventC(ctypes.Structure):
    """``fdsafe_inotify_event``."""

    _fields_ = [("wd", ctypes.c_int32), ("mask", ctypes.c_uint32), ("cookie", ctypes.c_uint32),
                ("name_len", ctypes.c_uint32), ("name", ctypes.c_char * 256)]


class InotifyEvent(NamedTuple):
    """One inotify event: the watch id ``wd`` (from :meth:`Inotify.add_watch`), the ``IN_*``
    bits of ``mask``, the ``cookie`` pairing ``IN_MOVED_FROM`` with ``IN_MOVED_TO``, and the
    ``name`` of the entry in a watched directory."""

    wd: int
    mask: int
    cookie: int
    name: str  # decoded with os.fsdecode; "" for the watched object itself

    @property
    def overflow(self) -> bool:
        """True if the kernel's queue overflowed and events were lost (``IN_Q_OVERFLOW``)."""
        return bool(self.mask & IN_Q_OVERFLOW)


declare({
    "fdsafe_inotify_create": (ctypes.c_int, [ctypes.c_uint32, ctypes.POINTER(c_handle)]),
    "fdsafe_inotify_add_watch": (ctypes.c_int, [c_handle, ctypes.c_char_p, ctypes.c_uint32,
                                                ctypes.POINTER(ctypes.c_int32)]),
    "fdsafe_inotify_remove_watch": (ctypes.c_int, [c_handle, ctypes.c_int32]),
    "fdsafe_inotify_read": (ctypes.c_int, [c_handle, ctypes.POINTER(InotifyEventC), ctypes.c_size_t]),
    "fdsafe_inotify_pending": (ctypes.c_int, [c_handle]),
})


class Inotify(Handle):
    """An inotify instance: watches files and directories for file-system events, read as
    :class:`InotifyEvent` tuples (:meth:`read_events`, or by iterating)."""

    KIND = KIND_INOTIFY

    @classmethod
    def create(cls, nonblocking: bool = False) -> "Inotify":
        """A new inotify instance without watches; with ``nonblocking``, reading when no
        event is queued raises BlockingIOError instead of waiting."""
        out = c_handle()
        check(lib.fdsafe_inotify_create(INOTIFY_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return cls(out.value)

    def add_watch(self, path: PathLike, mask: int) -> int:
        """Watches ``path`` (``str``, ``bytes`` or ``os.PathLike``) for the ``IN_*`` events in
        ``mask``; returns the watch id (the same for a path already watched). OSError
        (FileNotFoundError...) if the path cannot be watched; ``InvalidArgumentError`` (a
        ``ValueError``) for a mask naming no event (options alone)."""
        wd = ctypes.c_int32()
        with naming(path):
            check(lib.fdsafe_inotify_add_watch(self._value, c_string(path), mask, ctypes.byref(wd)))
        return wd.value

    def remove_watch(self, wd: int) -> None:
        """Removes a watch. One the kernel already dropped is removed without error until
        :meth:`read` has returned its ``IN_IGNORED`` event; an id never issued, already
        removed, or whose ``IN_IGNORED`` was read raises ``OSError`` (``EINVAL``), as
        ``inotify_rm_watch(2)``."""
        check(lib.fdsafe_inotify_remove_watch(self._value, wd))

    @property
    def pending(self) -> int:
        """The number of events read from the kernel and kept inside fdsafe for the next
        :meth:`read_events` (only after reads of fewer than ``MIN_BATCH`` events; an epoll
        set does not see these)."""
        return check(lib.fdsafe_inotify_pending(self._value))

    def read_events(self, max_events: int = 64) -> List[InotifyEvent]:
        """Up to ``max_events`` events, at least one (waits unless non-blocking:
        ``BlockingIOError``). With ``max_events`` below ``MIN_BATCH`` (17) the events that
        did not fit stay inside fdsafe (:attr:`pending`), where ``select``, selectors,
        asyncio and an epoll set cannot see them: an event loop should read at least
        ``MIN_BATCH`` at a time (the default does), or drain :attr:`pending` before it waits
        again."""
        count = batch_arg(max_events, "max_events", 4096)  # the most one read hands out
        buf = (InotifyEventC * count)()
        n = retry_eintr(lambda: lib.fdsafe_inotify_read(self._value, buf, count))
        return [InotifyEvent(e.wd, e.mask, e.cookie, os.fsdecode(e.name[:e.name_len])) for e in buf[:n]]

    def __iter__(self) -> Iterator[InotifyEvent]:
        """Yields events as they come; a non-blocking instance stops when none is left."""
        while True:
            try:
                batch = self.read_events()
            except BlockingIOError:
                return
            yield from batch
