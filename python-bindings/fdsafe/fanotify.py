"""fanotify: file-system events for files, mounts and file systems, with permission events.

No descriptor ever reaches Python: notification events carry the file's path, permission
events keep their descriptor inside fdsafe until ``respond`` answers them.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Iterator, List, Optional, Union

from ._buffers import batch_arg, c_string
from ._lib import c_handle, declare, lib
from .errors import check, naming
from .file import PathLike
from .handle import Handle, retry_eintr
from . import _constants as _c

__all__ = ["KIND_FANOTIFY", "MIN_BATCH", "NONBLOCK", "CLASS_CONTENT", "CLASS_PRE_CONTENT", "UNLIMITED_QUEUE",
           "UNLIMITED_MARKS", "REPORT_TID", "REPORT_FID", "REPORT_DIR_FID", "REPORT_NAME",
           "REPORT_DFID_NAME", "MARK_ADD", "MARK_REMOVE", "MARK_DONT_FOLLOW", "MARK_ONLYDIR", "MARK_MOUNT",
           "MARK_FLUSH", "MARK_FILESYSTEM", "MARK_EVICTABLE", "ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE",
           "CLOSE_NOWRITE", "OPEN", "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF",
           "OPEN_EXEC", "Q_OVERFLOW", "FS_ERROR", "OPEN_PERM", "ACCESS_PERM", "OPEN_EXEC_PERM", "PRE_ACCESS",
           "EVENT_ON_CHILD", "RENAME", "ONDIR", "ALLOW", "DENY", "FanotifyEventC", "FanotifyEvent",
           "Fanotify"]

KIND_FANOTIFY = _c.FDSAFE_KIND_FANOTIFY
MIN_BATCH = _c.FDSAFE_FANOTIFY_MIN_BATCH

NONBLOCK, CLASS_CONTENT, CLASS_PRE_CONTENT = _c.FDSAFE_FAN_NONBLOCK, _c.FDSAFE_FAN_CLASS_CONTENT, _c.FDSAFE_FAN_CLASS_PRE_CONTENT
UNLIMITED_QUEUE, UNLIMITED_MARKS, REPORT_TID = _c.FDSAFE_FAN_UNLIMITED_QUEUE, _c.FDSAFE_FAN_UNLIMITED_MARKS, _c.FDSAFE_FAN_REPORT_TID
REPORT_FID, REPORT_DIR_FID, REPORT_NAME, REPORT_DFID_NAME = _c.FDSAFE_FAN_REPORT_FID, _c.FDSAFE_FAN_REPORT_DIR_FID, _c.FDSAFE_FAN_REPORT_NAME, _c.FDSAFE_FAN_REPORT_DFID_NAME
MARK_ADD, MARK_REMOVE, MARK_DONT_FOLLOW, MARK_ONLYDIR = _c.FDSAFE_FAN_MARK_ADD, _c.FDSAFE_FAN_MARK_REMOVE, _c.FDSAFE_FAN_MARK_DONT_FOLLOW, _c.FDSAFE_FAN_MARK_ONLYDIR
MARK_MOUNT, MARK_FLUSH, MARK_FILESYSTEM, MARK_EVICTABLE = _c.FDSAFE_FAN_MARK_MOUNT, _c.FDSAFE_FAN_MARK_FLUSH, _c.FDSAFE_FAN_MARK_FILESYSTEM, _c.FDSAFE_FAN_MARK_EVICTABLE
ACCESS, MODIFY, ATTRIB, CLOSE_WRITE, CLOSE_NOWRITE, OPEN = _c.FDSAFE_FAN_ACCESS, _c.FDSAFE_FAN_MODIFY, _c.FDSAFE_FAN_ATTRIB, _c.FDSAFE_FAN_CLOSE_WRITE, _c.FDSAFE_FAN_CLOSE_NOWRITE, _c.FDSAFE_FAN_OPEN
MOVED_FROM, MOVED_TO, CREATE, DELETE, DELETE_SELF, MOVE_SELF = _c.FDSAFE_FAN_MOVED_FROM, _c.FDSAFE_FAN_MOVED_TO, _c.FDSAFE_FAN_CREATE, _c.FDSAFE_FAN_DELETE, _c.FDSAFE_FAN_DELETE_SELF, _c.FDSAFE_FAN_MOVE_SELF
OPEN_EXEC, Q_OVERFLOW, FS_ERROR = _c.FDSAFE_FAN_OPEN_EXEC, _c.FDSAFE_FAN_Q_OVERFLOW, _c.FDSAFE_FAN_FS_ERROR
OPEN_PERM, ACCESS_PERM, OPEN_EXEC_PERM, PRE_ACCESS = _c.FDSAFE_FAN_OPEN_PERM, _c.FDSAFE_FAN_ACCESS_PERM, _c.FDSAFE_FAN_OPEN_EXEC_PERM, _c.FDSAFE_FAN_PRE_ACCESS
EVENT_ON_CHILD, RENAME, ONDIR = _c.FDSAFE_FAN_EVENT_ON_CHILD, _c.FDSAFE_FAN_RENAME, _c.FDSAFE_FAN_ONDIR
ALLOW, DENY = _c.FDSAFE_FAN_ALLOW, _c.FDSAFE_FAN_DENY


class FanotifyEventC(ctypes.Structure):
    """``fdsafe_fanotify_event``."""

    _fields_ = [("mask", ctypes.c_uint64), ("id", ctypes.c_uint64), ("pid", ctypes.c_int32),
                ("has_fid", ctypes.c_uint32), ("fsid", ctypes.c_uint64), ("handle_type", ctypes.c_int32),
                ("handle_bytes", ctypes.c_uint32), ("handle", ctypes.c_uint8 * 128), ("name_len", ctypes.c_uint32),
                ("path_len", ctypes.c_uint32), ("name", ctypes.c_char * 256), ("path", ctypes.c_char * 4096)]


@dataclass(frozen=True)
class FanotifyEvent:
    """One fanotify event: its mask bits, the process that caused it, and what it is about:
    ``path`` in descriptor-based groups, ``fsid``, ``file_handle`` and ``handle_type`` (and
    ``name``) in FID groups. ``id`` is non-zero for a permission event, which must be
    answered with :meth:`Fanotify.respond`."""

    mask: int
    pid: int
    id: int  # non-zero for permission events: answer with ``respond``
    path: Optional[str]  # descriptor-based groups
    name: Optional[str]  # FID groups with names
    fsid: Optional[int]  # FID groups
    file_handle: Optional[bytes]
    handle_type: Optional[int]

    @property
    def is_permission(self) -> bool:
        """True for a permission event, which waits for :meth:`Fanotify.respond`."""
        return self.id != 0


declare({
    "fdsafe_fanotify_init": (ctypes.c_int, [ctypes.c_uint32, ctypes.POINTER(c_handle)]),
    "fdsafe_fanotify_mark": (ctypes.c_int, [c_handle, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_char_p]),
    "fdsafe_fanotify_read": (ctypes.c_int, [c_handle, ctypes.POINTER(FanotifyEventC), ctypes.c_size_t]),
    "fdsafe_fanotify_respond": (ctypes.c_int, [c_handle, ctypes.c_uint64, ctypes.c_uint32]),
    "fdsafe_fanotify_event_fd": (ctypes.c_int, [c_handle, ctypes.c_uint64]),
    "fdsafe_fanotify_pending": (ctypes.c_int, [c_handle]),
    "fdsafe_fanotify_unanswered": (ctypes.c_int, [c_handle]),
})


def _event(e: FanotifyEventC) -> FanotifyEvent:
    fid = bool(e.has_fid)
    return FanotifyEvent(
        e.mask, e.pid, e.id,
        os.fsdecode(e.path[:e.path_len]) if e.path_len else None,
        os.fsdecode(e.name[:e.name_len]) if e.name_len else None,
        e.fsid if fid else None,
        bytes(e.handle[:e.handle_bytes]) if fid else None,
        e.handle_type if fid else None,
    )


class Fanotify(Handle):
    """A fanotify group: file-system events for files, mounts or whole file systems, with
    permission events a program answers. No event descriptor reaches Python: events carry
    paths, and permission events keep their descriptor inside fdsafe until answered."""

    KIND = KIND_FANOTIFY

    @classmethod
    def init(cls, flags: int = 0) -> "Fanotify":
        """Creates a group (needs CAP_SYS_ADMIN: ``PermissionError`` otherwise)."""
        out = c_handle()
        check(lib.fdsafe_fanotify_init(flags, ctypes.byref(out)))
        return cls(out.value)

    def mark(self, path: Optional[PathLike], mask: int, flags: int = MARK_ADD) -> None:
        """Adds (``MARK_ADD``), removes (``MARK_REMOVE``) or flushes (``MARK_FLUSH``, ``path``
        None) the events of ``mask`` for ``path``; ``MARK_MOUNT`` or ``MARK_FILESYSTEM`` in
        ``flags`` mark the mount or file system holding it. OSError as ``fanotify_mark``."""
        with naming(path):
            check(lib.fdsafe_fanotify_mark(self._value, flags, mask, None if path is None else c_string(path)))

    def read_events(self, max_events: int = MIN_BATCH) -> List[FanotifyEvent]:
        """Up to ``max_events`` queued events (at least one: waits unless the group is
        non-blocking, BlockingIOError then)."""
        count = batch_arg(max_events, "max_events", 4096)  # the most one read hands out
        buf = (FanotifyEventC * count)()
        n = retry_eintr(lambda: lib.fdsafe_fanotify_read(self._value, buf, count))
        return [_event(e) for e in buf[:n]]

    def __iter__(self) -> Iterator[FanotifyEvent]:
        """Yields events as they come; a non-blocking group stops when none is left."""
        while True:
            try:
                batch = self.read_events()
            except BlockingIOError:
                return
            yield from batch

    def respond(self, event: Union[FanotifyEvent, int], allow: bool) -> None:
        """Answers a permission event (deny makes the operation fail with EPERM)."""
        ident = event.id if isinstance(event, FanotifyEvent) else event
        check(lib.fdsafe_fanotify_respond(self._value, ident, ALLOW if allow else DENY))

    def event_fileno(self, event: Union[FanotifyEvent, int]) -> int:
        """Lends an unanswered permission event's descriptor (do not close it)."""
        ident = event.id if isinstance(event, FanotifyEvent) else event
        return check(lib.fdsafe_fanotify_event_fd(self._value, ident))

    @property
    def pending(self) -> int:
        """The number of events read from the kernel and kept inside fdsafe for the next
        :meth:`read_events` (only after reads of fewer than ``MIN_BATCH`` events; an epoll
        set does not see these)."""
        return check(lib.fdsafe_fanotify_pending(self._value))

    @property
    def unanswered(self) -> int:
        """The number of permission events read and not yet answered."""
        return check(lib.fdsafe_fanotify_unanswered(self._value))
