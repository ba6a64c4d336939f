"""The base class for every fdsafe handle, and the operations all kinds share."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import math
import os
import time
import warnings
from multiprocessing import context as _mp_context, reduction as _mp_reduction, util as _mp_util  # about 4 ms of import time
from typing import Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, Sequence, Type, TypeVar

from ._buffers import EAGER_READ_MAX, data_arg, into_arg, read_buffer, size_arg, timeout_ms
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
# Kept across importlib.reload, so that the kinds' modules, not reloaded, stay registered.
_CLASSES: Dict[int, Type["Handle"]] = globals().get("_CLASSES") or {}


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
    return check(eintr_retried_within(call, limit, per_second))


def eintr_retried_within(call: Callable[[int], int], limit: int, per_second: int = 1000) -> int:
    """:func:`retry_eintr_within`'s loop, returning the last code (negative ones too) for a
    caller that reads codes itself."""
    deadline = time.monotonic() + limit / per_second if limit > 0 else None
    left = limit
    while True:
        code = call(left)
        if code != -errno.EINTR:
            return code
        if deadline is not None:
            left = max(0, math.ceil((deadline - time.monotonic()) * per_second))


def private_descriptor(handle: "Handle") -> int:
    """A duplicate of ``handle``'s descriptor that the caller owns and must close, made by
    fdsafe while it holds the handle. Whatever hands a handle's number to code outside fdsafe
    (``os.dup``, ``fcntl``, a raw-descriptor call) uses this: ``fileno()`` only lends the
    number, and another thread's close between ``fileno()`` and its use would free the number
    for the next file opened, which that use would then reach. ``OSError`` EBADF (or the
    kind's closed-file error) for a closed handle."""
    out = c_handle()
    handle._check(lib.fdsafe_dup(handle.value, ctypes.byref(out)))
    return check(lib.fdsafe_fd_release(out.value))  # a handle nobody else knows: never EBUSY


@contextlib.contextmanager
def descriptors_of(items: Sequence[object], number_of: Callable[[Any], int]) -> Iterator[List[int]]:
    """The descriptor numbers of ``items`` for one raw-descriptor call: a handle's is a
    :func:`private_descriptor`, closed when the block ends; any other item's is
    ``number_of(item)`` (the caller's own number, lent as it is)."""
    private: List[int] = []
    try:
        numbers = []
        for item in items:
            if isinstance(item, Handle):
                private.append(private_descriptor(item))
                numbers.append(private[-1])
            else:
                numbers.append(number_of(item))
        yield numbers
    finally:
        for fd in private:
            os.close(fd)


def _reduce_for_process(handle: "Handle") -> Any:
    """How ``multiprocessing`` passes a handle to another process, the way it passes a
    ``socket.socket`` (``multiprocessing.reduction._reduce_socket``): a duplicate of the
    descriptor (``DupFd``: given to the child at its start under spawn and forkserver, or sent
    over a Unix socket for a ``Pipe`` or ``Queue``), adopted there as a new handle of the same
    class. This handle stays open and the sender's own.

    The duplicate is made by fdsafe, holding the handle: a ``Queue`` pickles in its feeder
    thread, and a close meanwhile could otherwise free the borrowed number for another file
    before ``DupFd`` duplicated it (the child then got that file). Under spawn and forkserver
    the number is handed over later in the same ``start()``, so the duplicate lives as long as
    the process object; a ``Pipe`` or ``Queue`` duplicates it again at once."""
    kind = handle.kind  # OSError EBADF for a closed handle
    out = c_handle()
    check(lib.fdsafe_dup(handle.value, ctypes.byref(out)))
    duplicate = Handle(out.value)
    popen = _mp_context.get_spawning_popen()
    dup_fd = _mp_reduction.DupFd(duplicate.fileno())
    if popen is None:
        duplicate.close()
    else:
        _mp_util.Finalize(popen, duplicate.close)
    return _rebuild_in_process, (type(handle), dup_fd, kind)


def _rebuild_in_process(cls: Type["Handle"], dup_fd: Any, kind: int) -> "Handle":
    """The receiving side of :func:`_reduce_for_process`: the descriptor adopted as ``cls``."""
    fd = dup_fd.detach()
    try:
        return cls.adopt(fd, kind)
    except BaseException:
        os.close(fd)  # refused: still ours
        raise


class Handle:
    """An fdsafe handle. Close it with ``close()`` or a ``with`` block; a handle that is
    garbage-collected while still open is closed then (the close is the finalizer's first
    call; as with any finalizer written in Python, an exception a signal handler raises at
    the very moment the finalizer starts, such as Ctrl-C, ends it before that). Closing twice
    is harmless: handles are generational, so a stale one can never close anything else.

    ``pickle`` and ``copy`` refuse handles (``TypeError``), as they refuse ``socket.socket``:
    a copy would be a second owner of one handle. ``multiprocessing`` passes them, as it passes
    ``socket.socket``: as a ``Process`` argument under the spawn and forkserver start methods
    (fork needs nothing) and through its ``Pipe`` and ``Queue``. The receiving process gets a
    new handle of the same class on a duplicate descriptor (the same open file); the sender's
    handle stays open, its own to close. Python-side settings do not travel, as for
    ``socket.socket``: a socket's timeout stays behind, and the copy blocks or not as the
    shared O_NONBLOCK flag says (call ``settimeout`` there). Every kind travels but
    :class:`~fdsafe.Stdio` (each process has its own standard streams) and
    :class:`~fdsafe.Epoll` (its registrations name this process's handles)."""

    KIND: ClassVar[int] = 0
    # Whether multiprocessing may pass objects of this class (see _reduce_for_process).
    _PASSED_TO_PROCESSES: ClassVar[bool] = True
    # Whether this object's close() closed the handle (it then makes no call again).
    _closed_here: bool = False
    # Whether the collector closes the handle (set last in __init__: False until then).
    _owned: bool = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.KIND:
            _CLASSES.setdefault(cls.KIND, cls)
            # multiprocessing's pickler looks reducers up by exact class, so each kind's class
            # (and any subclass of it) is registered; one it does not know falls back to
            # __reduce__, which refuses.
            if cls._PASSED_TO_PROCESSES:
                _mp_reduction.ForkingPickler.register(cls, _reduce_for_process)

    def __init__(self, value: int, owned: bool = True):
        """Wraps a raw handle value. An owned wrapper closes the handle when collected; pass
        ``owned=False`` for a view of a handle that something else owns. A value outside
        ``uint64_t`` raises ``OverflowError``: cut to 64 bits it could name another handle."""
        if not 0 <= value <= 0xFFFF_FFFF_FFFF_FFFF:
            raise OverflowError(f"handle value {value} is outside uint64_t")
        self._c = c_handle(value)  # pre-converted for the unconverted fast calls
        self._value = value
        self._owned = owned  # last: an object whose value was refused owns nothing to close

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
        class's kind, or of ``kind`` (a ``KIND_*`` number). The descriptor is made
        close-on-exec (``os.get_inheritable(fd)`` becomes False), as every fdsafe descriptor
        is by design: a program started later by exec does not inherit it unless given it
        explicitly (``subprocess``'s ``pass_fds``). On failure the caller still owns ``fd``,
        unchanged. ``Handle.adopt`` itself needs ``kind``; for a socket whose kind is not
        known, :func:`fdsafe.from_socket` detects it."""
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
        ``asyncio`` can still unregister it. Streams and epoll sets raise
        :class:`~fdsafe.errors.ClosedFileError` (a ``ValueError``) instead, as ``io.FileIO``
        and ``select.epoll`` do."""
        fd = lib.fdsafe_fd_borrow(self._value)
        if fd == -errno.EBADF:
            return -1
        return check(fd)

    def close(self) -> None:
        """Closes the handle; closing an already-closed handle does nothing."""
        if self._closed_here:
            return  # no call: its failure would replace this thread's last error message
        _fast_close(self._c)
        self._closed_here = True
        self._owned = False  # closed: nothing left for the collector to close

    def release(self) -> int:
        """Ends the handle and returns its descriptor, which the caller must close.

        Raises ``OSError`` EBUSY, and leaves the handle open and working, while another
        thread is inside a call on it (a ``read``, ``recv``, ``accept``, ``wait``... still
        blocked, say; for a pipe's read end on kernels before 6.18, also a write to its write
        end): that call is using the descriptor, and once handed away it could be closed and
        its number reused under the call. ``socket.socket.detach`` does not refuse. Release
        after that call has returned: wake the thread first (give it what it waits for,
        ``shutdown()`` a socket it reads) and join it, or give its calls a timeout. OSError
        EBADF once closed."""
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
        # (multiprocessing's pickler never gets here: see _reduce_for_process.)
        how = "send_fds() or multiprocessing" if self._PASSED_TO_PROCESSES else "send_fds()"
        raise TypeError(f"cannot pickle or copy {type(self).__name__!r} object (use dup() for a second handle, "
                        f"{how} to give one to another process)")

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
        buf: Any = ctypes.create_string_buffer(size) if size <= EAGER_READ_MAX else read_buffer(size)
        length = ctypes.c_size_t(size)
        n = _fast_read(self._c, buf, length)
        while n < 0:
            if n != _EINTR:
                self._check(n)
            n = _fast_read(self._c, buf, length)
        return buf[:n]  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        """Reads into any writable buffer (bytearray, memoryview, array); returns the count."""
        c_buf, size = into_arg(buffer)
        return self._retry(lambda: lib.fdsafe_read(self._value, c_buf, size))

    def write(self, data: Any) -> int:
        """Writes some of ``data`` (any bytes-like object); returns how much. Never raises
        SIGPIPE: a pipe without readers gives ``BrokenPipeError``."""
        if type(data) is not bytes:
            data = data_arg(data)[0]
        length = ctypes.c_size_t(len(data))
        n = _fast_write(self._c, data, length)
        while n < 0:
            if n != _EINTR:
                self._check(n)
            n = _fast_write(self._c, data, length)
        return int(n)

    def writev(self, buffers: Iterable[Any]) -> int:
        """Writes the buffers (any bytes-like objects) with one writev; returns the count."""
        keep = [bytes(memoryview(b)) for b in buffers]
        iov = (IOVec * len(keep))(*[IOVec(ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p), len(b)) for b in keep])
        return self._retry(lambda: lib.fdsafe_writev(self._value, iov, len(keep)))

    def readv(self, sizes: Iterable[int]) -> List[bytes]:
        """Reads with one readv into buffers of ``sizes``; returns each one's bytes."""
        lengths = [size_arg(n) for n in sizes]
        buf = read_buffer(sum(lengths))  # one for all, each read into its own part
        base = ctypes.addressof(buf)
        offsets = [0, *itertools.accumulate(lengths)][:-1]
        iov = (IOVec * len(lengths))(*[IOVec(base + off, n) for off, n in zip(offsets, lengths)])
        n = self._retry(lambda: lib.fdsafe_readv(self._value, iov, len(lengths)))
        out = []
        for off, length in zip(offsets, lengths):
            take = min(n, length)
            out.append(buf[off:off + take])
            n -= take
        return out

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collected(self) -> None:
        """What collecting this object ends besides its own handle (nothing, here). Kinds
        hook in here rather than in ``__del__``, whose warning must name the user's line."""

    def __del__(self) -> None:
        # As for an unclosed file or socket: close it, and say so with a ResourceWarning
        # (only when this close closed something: a handle closed elsewhere is no leak).
        # The close comes first, as a bare C call: a Python signal handler that raises
        # (Ctrl-C, an alarm used as a timeout) runs at the next Python call, and its exception
        # would end this method there, leaving the descriptor open for good.
        closed_now = self._owned and _fast_close(self._c) == 0
        self._owned = False
        self._collected()
        if closed_now:
            try:
                warnings.warn(f"unclosed fdsafe handle {type(self).__name__} {self._value:#x}",
                              ResourceWarning, stacklevel=2, source=self)
            except Warning:
                # Warnings made errors (-W error, pytest's filterwarnings): the handle is
                # closed all the same, and the error goes to sys.unraisablehook
                # ("Exception ignored in ..."), as for an unclosed file or socket.
                raise
            except Exception:  # interpreter shutdown: the warning machinery may be gone
                pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.kind_name
        return f"<{type(self).__name__} {self._value:#x} {state}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_mp_reduction.ForkingPickler.register(Handle, _reduce_for_process)  # generic handles (KIND_OTHER)
