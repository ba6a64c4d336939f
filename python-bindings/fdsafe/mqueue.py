"""POSIX message queues (pollable: a queue can sit in an ``Epoll`` set)."""
from __future__ import annotations

import ctypes
import math
import os
from typing import Any, NamedTuple, Optional, Tuple

from ._lib import c_handle, declare, lib
from ._buffers import c_string, data_arg, int_arg, timeout_ms
from .errors import check
from .file import access_mode
from .handle import Handle, retry_eintr_within
from . import _constants as _c

__all__ = ["KIND_MQUEUE", "MQ_CREATE", "MQ_EXCLUSIVE", "MQ_NONBLOCK", "MqAttrC",
           "MqAttr", "unlink", "MessageQueue"]

KIND_MQUEUE = _c.FDSAFE_KIND_MQUEUE
MQ_CREATE, MQ_EXCLUSIVE, MQ_NONBLOCK = _c.FDSAFE_O_CREAT, _c.FDSAFE_O_EXCL, _c.FDSAFE_NONBLOCK


class MqAttrC(ctypes.Structure):
    """``fdsafe_mq_attr``."""

    _fields_ = [("nonblocking", ctypes.c_uint32), ("reserved", ctypes.c_uint32), ("max_messages", ctypes.c_int64),
                ("message_size", ctypes.c_int64), ("current_messages", ctypes.c_int64)]


class MqAttr(NamedTuple):
    """A queue's attributes: non-blocking mode, its capacity (``max_messages`` of at most
    ``message_size`` bytes each), and the number of messages in it now."""

    nonblocking: bool
    max_messages: int
    message_size: int
    current_messages: int


_attr_p = ctypes.POINTER(MqAttrC)
declare({
    "fdsafe_mq_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32, _attr_p,
                                      ctypes.POINTER(c_handle)]),
    "fdsafe_mq_unlink": (ctypes.c_int, [ctypes.c_char_p]),
    "fdsafe_mq_send": (ctypes.c_int, [c_handle, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int64]),
    "fdsafe_mq_receive": (ctypes.c_int64, [c_handle, ctypes.c_void_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_uint32), ctypes.c_int64]),
    "fdsafe_mq_get_attr": (ctypes.c_int, [c_handle, _attr_p]),
    "fdsafe_mq_set_attr": (ctypes.c_int, [c_handle, _attr_p, _attr_p]),
    "fdsafe_mq_notify_signal": (ctypes.c_int, [c_handle, ctypes.c_int, ctypes.c_int]),
    "fdsafe_mq_notify_none": (ctypes.c_int, [c_handle]),
})


_NS_PER_SECOND = 1_000_000_000
_NS_MAX = 2**63 - 1
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1
_I64_MIN, _I64_MAX = -2**63, 2**63 - 1


def _ns(timeout: Optional[float]) -> int:
    if timeout is None:
        return -1
    timeout_ms(timeout)  # ValueError for a negative timeout, as everywhere
    return min(math.ceil(timeout * _NS_PER_SECOND), _NS_MAX)  # rounded up: never wake early


def _attr(a: MqAttrC) -> MqAttr:
    return MqAttr(bool(a.nonblocking), a.max_messages, a.message_size, a.current_messages)


def unlink(name: str) -> None:
    """Removes a queue by name (it lives on while descriptors for it are open)."""
    check(lib.fdsafe_mq_unlink(c_string(name)))


class MessageQueue(Handle):
    """A POSIX message queue (``mq_open``): messages of bounded size, each with a priority,
    received highest priority first; waitable like any handle (readable when a message is
    there, writable when there is room)."""

    KIND = KIND_MQUEUE

    @classmethod
    def open(cls, name: str, read: bool = True, write: bool = True, create: bool = False,
             exclusive: bool = False, mode: int = 0o600, max_messages: Optional[int] = None,
             message_size: Optional[int] = None, nonblocking: bool = False) -> "MessageQueue":
        """Opens (or, with ``create``, creates; with ``exclusive`` too, only creates) queue
        ``name`` ("/name"), for reading, writing or both. ``mode`` (permissions),
        ``max_messages`` and ``message_size`` (bytes) apply when it is created; if only one
        is given, the other is the default (10 messages, 8192 bytes). Only ``None`` means
        the default: 0 or a negative number is refused with ``InvalidArgumentError`` (errno
        ``EINVAL``, as ``mq_open`` refuses it). OSError as ``mq_open`` (FileNotFoundError,
        FileExistsError, PermissionError...)."""
        flags = (access_mode(read, write) | (MQ_CREATE if create else 0)
                 | (MQ_EXCLUSIVE if exclusive else 0) | (MQ_NONBLOCK if nonblocking else 0))
        attr = None
        if max_messages is not None or message_size is not None:
            # Checked here: ctypes would cut a number the C structure's int64 cannot hold.
            count = 10 if max_messages is None else int_arg(max_messages, "max_messages", _I64_MIN, _I64_MAX)
            size = 8192 if message_size is None else int_arg(message_size, "message_size", _I64_MIN, _I64_MAX)
            attr = ctypes.byref(MqAttrC(0, 0, count, size, 0))
        out = c_handle()
        check(lib.fdsafe_mq_open(c_string(name), flags, mode, attr, ctypes.byref(out)))
        return cls(out.value)

    unlink = staticmethod(unlink)

    @property
    def attributes(self) -> MqAttr:
        """The queue's attributes now (:class:`MqAttr`)."""
        a = MqAttrC()
        check(lib.fdsafe_mq_get_attr(self._value, ctypes.byref(a)))
        return _attr(a)

    def set_nonblocking(self, on: bool) -> MqAttr:
        """Changes non-blocking mode; returns the previous attributes."""
        old = MqAttrC()
        check(lib.fdsafe_mq_set_attr(self._value, ctypes.byref(MqAttrC(int(on))), ctypes.byref(old)))
        return _attr(old)

    def send(self, data: Any, priority: int = 0, timeout: Optional[float] = None) -> None:
        """Sends a message (any bytes-like object); ``timeout`` (seconds) limits a wait on a
        full queue (``TimeoutError``)."""
        ns = _ns(timeout)
        ptr, n = data_arg(data)
        retry_eintr_within(lambda left: lib.fdsafe_mq_send(self._value, ptr, n, priority, left), ns, _NS_PER_SECOND)

    def receive(self, timeout: Optional[float] = None) -> Tuple[bytes, int]:
        """Takes the oldest message of the highest priority: ``(message, priority)``. Waits
        for one up to ``timeout`` seconds (None: no limit), then ``TimeoutError``; a
        non-blocking queue raises BlockingIOError when empty."""
        size = self.attributes.message_size
        buf = ctypes.create_string_buffer(size)
        prio = ctypes.c_uint32()
        ns = _ns(timeout)
        n = retry_eintr_within(lambda left: lib.fdsafe_mq_receive(self._value, buf, size, ctypes.byref(prio), left),
                               ns, _NS_PER_SECOND)
        return buf.raw[:n], prio.value

    def notify_signal(self, signo: int, value: int = 0) -> None:
        """Signal ``signo`` (with ``value``) when a message arrives in the empty queue (once).
        Both are C ints: ``TypeError`` for a float or a str, ``OverflowError`` out of range."""
        check(lib.fdsafe_mq_notify_signal(self._value, int_arg(signo, "signo", _INT_MIN, _INT_MAX),
                                          int_arg(value, "value", _INT_MIN, _INT_MAX)))

    def notify_none(self) -> None:
        """Cancels this process's :meth:`notify_signal` registration."""
        check(lib.fdsafe_mq_notify_none(self._value))
