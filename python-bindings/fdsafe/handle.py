"""The base class for every fdsafe handle, and the operations all kinds share."""
from __future__ import annotations

import ctypes
import errno
import math
import time
import warnings
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Type, TypeVar

from ._buffers import data_arg, into_arg, size_arg, timeout_ms
from ._lib import IOVec, c_handle, fast, lib
from .errors import check, error_for
from . import _constants as _c

__all__ = ["EVENT_ERR", "EVENT_HUP", "EVENT_IN", "EVENT_OUT", "EVENT_PRI", "EVENT_RDHUP",
           "INVALID_HANDLE", "Handle", "retry_eintr", "KIND_OTHER", "KIND_PIPE", "KIND_EVENTFD",
           "KIND_STDIO"]

KIND_PIPE, KIND_EVENTFD, KIND_STDIO = _c.FDSAFE_KIND_PIPE, _c.FDSAFE_KIND_EVENTFD, _c.FDSAFE_KIND_STDIO
KIND_OTHER = _c.FDSAFE_KIND_OTHER  # a descriptor of a kind fdsafe has no type for: generic operations only

EVENT_IN, EVENT_PRI, EVENT_OUT, EVENT_ERR, EVENT_HUP, EVENT_RDHUP = _c.FDSAFE_EVENT_IN, _c.FDSAFE_EVENT_PRI, _c.FDSAFE_EVENT_OUT, _c.FDSAFE_EVENT_ERR, _c.FDSAFE_EVENT_HUP, _c.FDSAFE_EVENT_RDHUP

INVALID_HANDLE = _c.FDSAFE_INVALID_HANDLE

H = TypeVar("H", bound="Handle")

_EINTR = -errno.EINTR
_fast_read, _fast_write, _fast_close = fast.fdsafe_read, fast.fdsafe_write, fast.fdsafe_close

# kind number -> class, filled in by each kind's module (see ``Handle.__init_subclass__``).
_CLASSES: Dict[int, Type["Handle"]] = {}


def retry_eintr(call: Callable[[], int]) -> int:
    """Calls again after EINTR, as Python does for its own system calls (PEP 475); a Python
    signal handler that raises still interrupts, because it runs between the attempts.
    Returns ``call``'s result once it is not EINTR; raises its error (see ``errors.check``)."""
    while True:
        code = call()
        if code != -errno.EINTR:
            return check(code)


def retry_eintr_within(call: Callable[[int], int], limit: int, per_second: int = 1000) -> int:
    """:func:`retry_eintr` for a call that waits up to ``limit`` (in ``1/per_second`` of a
    second: milliseconds by default; negative: no limit, 0: just look), which it is given.
    Each retry gets only what is left of the first call's time, as Python's own calls do
    (PEP 475), so a signal that keeps arriving cannot stretch the wait forever."""
    if limit <= 0:
        return retry_eintr(lambda: call(limit))
    deadline = time.monotonic() + limit / per_second
    left = limit
    while True:
        code = call(left)
        if code != -errno.EINTR:
            return check(code)
        left = max(0, math.ceil((deadline - time.monotonic()) * per_second))


class Handle:
    """An fdsafe handle. Close it with ``close()`` or a ``with`` block; a handle that is
    garbage-collected while still open is closed then. Closing twice is harmless: handles are
    generational, so a stale one can never close anything else."""

    KIND: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND:
            _CLASSES.setdefault(cls.KIND, cls)

    def __init__(self, value: int, owned: bool = True):
        """Wraps a raw handle value. An owned wrapper closes the handle when collected; pass
        ``owned=False`` for a view of a handle that something else owns."""
        self._value = value
        self._owned = owned
        self._c = c_handle(value)  # pre-converted for the unconverted fast calls

    @staticmethod
    def wrap(value: int, owned: bool = True) -> "Handle":
        """A Python object of the right class for a raw handle value (e.g. a received one)."""
        kind = check(lib.fdsafe_handle_kind(value))
        return _CLASSES.get(kind, Handle)(value, owned)

    @staticmethod
    def _wrap_new(value: int) -> "Handle":
        """An owning object for a handle fdsafe just created for us (live, and ours alone):
        its kind is in the value's top 8 bits, so no library call is needed."""
        return _CLASSES.get(value >> 56, Handle)(value, True)

    @classmethod
    def adopt(cls: Type[H], fd: int, kind: Optional[int] = None) -> H:
        """Takes ownership of an open descriptor (see fdsafe_fd_adopt) as a handle of this
        class's kind, or of ``kind`` (a ``KIND_*`` number). On failure the caller still owns
        ``fd``. ``Handle.adopt`` itself needs ``kind``; for a socket whose kind is not known,
        :func:`fdsafe.from_socket` detects it."""
        if kind is None and not cls.KIND:
            raise TypeError(f"{cls.__name__}.adopt needs kind= (a KIND_* number), or call it on a kind's class "
                            "(EventFd.adopt(fd)); fdsafe.from_socket(fd) detects a socket's kind")
        out = c_handle()
        check(lib.fdsafe_fd_adopt(fd, kind if kind is not None else cls.KIND, ctypes.byref(out)))
        return cls(out.value)

    @property
    def value(self) -> int:
        """The raw 64-bit handle, as C functions take it."""
        return self._value

    @property
    def kind(self) -> int:
        """The handle's ``KIND_*`` number (OSError EBADF once closed)."""
        return self._check(lib.fdsafe_handle_kind(self._value))

    @property
    def kind_name(self) -> str:
        """The kind's name ("pipe", "tcp_stream"...)."""
        return str(lib.fdsafe_kind_name(self.kind).decode())

    @property
    def closed(self) -> bool:
        """True once the handle is closed; using it then raises OSError EBADF."""
        return bool(lib.fdsafe_handle_kind(self._value) < 0)

    def fileno(self) -> int:
        """The raw descriptor, lent (fdsafe keeps ownership); works with ``selectors``.
        -1 once the handle is closed, as ``socket.fileno`` gives, so that ``selectors`` and
        ``asyncio`` can still unregister it."""
        fd = lib.fdsafe_fd_borrow(self._value)
        if fd == -errno.EBADF:
            return -1
        return check(fd)

    def close(self) -> None:
        """Closes the handle; closing an already-closed handle does nothing."""
        _fast_close(self._c)
        self._owned = False  # closed: nothing left for the collector to close

    def release(self) -> int:
        """Ends the handle and returns its descriptor, which the caller must close."""
        return self._check(lib.fdsafe_fd_release(self._value))

    def dup(self: H) -> H:
        """A new handle on a duplicate descriptor sharing the open file (os.dup), with this
        handle's Python-side settings (a socket's timeout), as ``socket.dup`` keeps them."""
        out = c_handle()
        self._check(lib.fdsafe_dup(self._value, ctypes.byref(out)))
        copy = type(self)(out.value)
        copy._copy_settings_from(self)
        return copy

    def _closed_error(self, err: OSError) -> Exception:
        """The exception to raise for ``err`` from a call on this handle: ``err`` itself
        here. Kinds with a use-after-close error of their own (streams and epoll sets, which
        raise :class:`~fdsafe.errors.ClosedFileError` as ``io`` and ``select.epoll`` raise
        ``ValueError``) return it from every method through :meth:`_check`,
        :meth:`_retry` and this."""
        return err

    def _check(self, code: int) -> int:
        """``errors.check`` for a call on this handle (see :meth:`_closed_error`)."""
        if code < 0:
            err = error_for(code)
            raise (self._closed_error(err) if isinstance(err, OSError) else err) from None
        return code

    def _retry(self, call: Callable[[], int]) -> int:
        """:func:`retry_eintr` for a call on this handle (see :meth:`_closed_error`)."""
        try:
            return retry_eintr(call)
        except OSError as err:
            raise self._closed_error(err) from None

    def _copy_settings_from(self, other: "Handle") -> None:
        """What :meth:`dup` carries over besides the descriptor (nothing, here)."""

    def __reduce__(self) -> Any:
        # A copy would be a second owner of one handle value: collecting either closes the
        # other's descriptor. socket.socket and io.FileIO refuse to be copied or pickled too.
        raise TypeError(f"cannot pickle or copy {type(self).__name__!r} object (use dup() for a second handle, "
                        "send_fds() to give one to another process)")

    @property
    def nonblocking(self) -> bool:
        """The open file's O_NONBLOCK flag (shared with its duplicates); settable."""
        return bool(self._check(lib.fdsafe_nonblocking_get(self._value)))

    @nonblocking.setter
    def nonblocking(self, on: bool) -> None:
        self._check(lib.fdsafe_nonblocking_set(self._value, on))

    def wait(self, events: int = EVENT_IN, timeout: Optional[float] = None) -> int:
        """Waits up to ``timeout`` seconds (None: no limit, 0: just check) for readiness;
        returns the ready events, 0 on timeout."""
        ms = timeout_ms(timeout)
        try:
            return retry_eintr_within(lambda left: lib.fdsafe_wait(self._value, events, left), ms)
        except OSError as err:
            raise self._closed_error(err) from None

    def read(self, size: int) -> bytes:
        """Reads up to ``size`` bytes (b"" at end of file)."""
        if type(size) is not int or size < 0:
            size = size_arg(size)
        buf = ctypes.create_string_buffer(size)
        length = ctypes.c_size_t(size)
        n = _fast_read(self._c, buf, length)
        while n < 0:
            if n != _EINTR:
                raise error_for(n)
            n = _fast_read(self._c, buf, length)
        return buf.raw[:n]

    def readinto(self, buffer: Any) -> int:
        """Reads into any writable buffer (bytearray, memoryview, array); returns the count."""
        c_buf, size = into_arg(buffer)
        return retry_eintr(lambda: lib.fdsafe_read(self._value, c_buf, size))

    def write(self, data: Any) -> int:
        """Writes some of ``data`` (any bytes-like object); returns how much. Never raises
        SIGPIPE: a pipe without readers gives ``BrokenPipeError``."""
        if type(data) is not bytes:
            data = data_arg(data)[0]
        length = ctypes.c_size_t(len(data))
        n = _fast_write(self._c, data, length)
        while n < 0:
            if n != _EINTR:
                raise error_for(n)
            n = _fast_write(self._c, data, length)
        return int(n)

    def writev(self, buffers: Iterable[Any]) -> int:
        """Writes the buffers (any bytes-like objects) with one writev; returns the count."""
        keep = [bytes(memoryview(b)) for b in buffers]
        iov = (IOVec * len(keep))(*[IOVec(ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p), len(b)) for b in keep])
        return self._retry(lambda: lib.fdsafe_writev(self._value, iov, len(keep)))

    def readv(self, sizes: Iterable[int]) -> List[bytes]:
        """Reads with one readv into buffers of ``sizes``; returns each one's bytes."""
        bufs = [ctypes.create_string_buffer(size_arg(n)) for n in sizes]
        iov = (IOVec * len(bufs))(*[IOVec(ctypes.cast(b, ctypes.c_void_p), len(b)) for b in bufs])
        n = self._retry(lambda: lib.fdsafe_readv(self._value, iov, len(bufs)))
        out = []
        for b in bufs:
            take = min(n, len(b))
            out.append(b.raw[:take])
            n -= take
        return out

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # As for an unclosed file or socket: close it, and say so with a ResourceWarning
        # (only when this close closed something: a handle closed elsewhere is no leak).
        if getattr(self, "_owned", False):
            self._owned = False
            if lib.fdsafe_close(self._value) == 0:
                try:
                    warnings.warn(f"unclosed fdsafe handle {type(self).__name__} {self._value:#x}",
                                  ResourceWarning, stacklevel=2, source=self)
                except Exception:  # interpreter shutdown: the warning machinery may be gone
                    pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.kind_name
        return f"<{type(self).__name__} {self._value:#x} {state}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
