"""Fast descriptor passing: :class:`HandlePasser` sends and receives descriptors over one Unix
socket with buffers made once, and gives received handles as plain handle values (``int``)
instead of one Python object each.

The friendly path (``UnixStream.send_fds`` / ``recv_fds``) builds ctypes arrays and a Python
object per received handle on every call; over ctypes that costs more than the system calls.
A passer is built once per socket and then costs one library call per send, one per receive
and one per close of everything a message brought (``fdsafe_close_many``)::

    passer = HandlePasser(sock)               # kind=KIND_OTHER: no kernel query per descriptor
    passer.send(b"x", [listener, pipe_end])   # handle objects, handle values, or a HandleList
    data, values, info = passer.recv()        # values: array('Q') of ints, the caller's to close
    if info & (RECV_INFO_CTRUNC | RECV_INFO_CLOSED): ...   # more arrived than max_handles
    ...
    passer.close_received()                   # closes every handle of the last recv

Values are ordinary fdsafe handles: any function that takes a handle takes them, and
:func:`wrap` turns them into objects when wanted. A value that is not closed leaks its
descriptor until the process exits (no garbage collector closes an ``int``).
"""
from __future__ import annotations

import array
import ctypes
import errno
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, Union

from ._lib import fast
from .errors import FDSAFE_E_WRONG_KIND, InvalidArgumentError, WrongKindError, check, error_for
from .handle import _CLASSES, KIND_OTHER, Handle
from .socket import KIND_UNIX_DATAGRAM, KIND_UNIX_SEQPACKET, KIND_UNIX_STREAM, MAX_FDS, RecvInfo
from . import batch as _batch  # noqa: F401  (declares fdsafe_close_many for the header check)

__all__ = ["HandleList", "HandlePasser", "close_values", "wrap", "PASS_DATA_MAX"]

PASS_DATA_MAX = 1 << 24  # the largest receive buffer a passer takes (16 MiB)

_EINTR = -errno.EINTR
_INVALID = -10002  # FDSAFE_E_INVALID_ARGUMENT
_PASSING_KINDS = (KIND_UNIX_STREAM, KIND_UNIX_DATAGRAM, KIND_UNIX_SEQPACKET)
_KIND_STDIO, _KIND_LAST = 3, KIND_OTHER

# The library without argument conversion (``_lib.fast``, which has every declared function's
# return type: the socket and batch modules imported above declare these). Every argument
# is made ready for libffi before the hot path: ``from_param`` gives the very ``CArgObject``
# ctypes would otherwise build for each ctypes argument on every call (handles as uint64,
# lengths as size_t, pointers), and ``byref`` objects are passed as they are. The uint32_t
# flags and the int kinds go as Python ints, which ctypes passes as a C int (exact for values below
# 2**31, checked).
# Typed here (they return C integers) for the type checker, which sees ctypes' calls as Any.
_send_handles: Callable[..., int] = fast.fdsafe_socket_send_handles
_recv_as: Callable[..., int] = fast.fdsafe_socket_recv_handles_as
_recv: Callable[..., int] = fast.fdsafe_socket_recv_handles
_close_many: Callable[..., int] = fast.fdsafe_close_many
_handle_kind: Callable[..., int] = fast.fdsafe_handle_kind
_size = ctypes.c_size_t.from_param
_array = array.array
_u64 = ctypes.c_uint64.from_param
_ptr = ctypes.c_void_p.from_param
_SIZES = [_size(n) for n in range(256)]  # ready-made small lengths and counts
_CLOSE_CHUNK = 65536  # FDSAFE_IO_BATCH_MAX: the most fdsafe_close_many takes
_SMALL_DATA = 256  # receive buffers up to this size are copied out whole, then cut

if TYPE_CHECKING:
    ValueArray = array.array[int]
else:  # array.array takes no type argument at run time before Python 3.12
    ValueArray = array.array
Handles = Union[Sequence[int], Sequence[Handle], Sequence[Union[int, Handle]], ValueArray]


def _invalid(message: str) -> InvalidArgumentError:
    return InvalidArgumentError(_INVALID, message)


def _check_flags(flags: int) -> int:
    if not isinstance(flags, int) or not 0 <= flags < 1 << 31:
        raise _invalid(f"flags {flags!r} out of range")
    return flags


def _as_value(h: Union[int, Handle]) -> int:
    if isinstance(h, Handle):
        return h._value
    if isinstance(h, int) and not isinstance(h, bool):
        return h
    raise TypeError(f"a handle must be an fdsafe Handle or its int value, not {type(h).__name__}")


def _value_array(handles: Handles) -> ValueArray:
    """``handles`` as an ``array('Q')`` of handle values (the very array if it is one)."""
    if type(handles) is _array and handles.typecode == "Q":
        return handles
    if type(handles) is not list and type(handles) is not tuple:
        handles = list(handles)
    try:
        if not handles:
            return _array("Q")
        if isinstance(handles[0], Handle):
            try:
                return _array("Q", [h._value for h in handles])  # type: ignore[union-attr]  # objects
            except AttributeError:
                return _array("Q", [_as_value(h) for h in handles])
        try:
            return _array("Q", handles)  # handle values: one C loop
        except TypeError:
            return _array("Q", [_as_value(h) for h in handles])
    except OverflowError:
        raise _invalid("a handle value is negative or above 64 bits") from None


def close_values(values: Sequence[int]) -> int:
    """Closes every handle value in ``values`` (a list, an ``array('Q')``...) with one
    library call per 65536 (``fdsafe_close_many``). Values that are not live (already closed,
    released, 0) are skipped, as are repeats. Returns how many were closed. (For handle
    objects, ``fdsafe.close_all`` also marks the objects closed.)"""
    raw = _value_array(values)
    done, total = 0, len(raw)
    for start in range(0, total, _CLOSE_CHUNK):
        part = raw[start:start + _CLOSE_CHUNK] if total > _CLOSE_CHUNK else raw
        done += check(_close_many(_ptr(part.buffer_info()[0]), _size(len(part))))
    return done


def wrap(values: Sequence[int]) -> List[Handle]:
    """Owning handle objects, each of its handle's class, for handle values the caller owns
    (such as received ones): each object closes its handle when closed or collected, so
    do not close the values as well. Raises ``OSError`` (EBADF) for a value that is not live
    before wrapping any."""
    kinds = [check(_handle_kind(_u64(v))) for v in values]
    return [_CLASSES.get(k, Handle)(v) for v, k in zip(values, kinds)]


class HandleList:
    """A fixed list of handles made ready for :meth:`HandlePasser.send`, for a program that
    passes the same handles again and again (the listening sockets a supervisor hands to
    each new worker): the conversion is done once. It keeps handle objects given to it
    alive; it does not own or close anything."""

    __slots__ = ("_keep", "_array", "_ref", "_count", "_n")

    def __init__(self, handles: Handles):
        values = _value_array(handles)
        if len(values) > MAX_FDS:
            raise _invalid(f"{len(values)} handles in one message; the kernel takes at most {MAX_FDS}")
        self._keep = list(handles)  # objects stay alive (and so open) while the list exists
        self._array = (ctypes.c_uint64 * max(len(values), 1))(*values)
        self._ref = ctypes.byref(self._array)
        self._n = len(values)
        self._count = _SIZES[self._n]

    def __len__(self) -> int:
        return self._n

    def values(self) -> List[int]:
        """The handle values, in order."""
        return list(self._array[:self._n])


class HandlePasser:
    """Descriptor passing on one connected Unix socket (stream, datagram or seqpacket) with
    everything made once: :meth:`send`, :meth:`recv` and :meth:`close_received` are one
    library call each, and :meth:`recv` gives handle values (an ``array('Q')`` of ints), not
    one object per handle.

    ``size`` is the most data bytes one :meth:`recv` takes (1 to ``PASS_DATA_MAX``;
    descriptors travel with data), ``max_handles`` the most descriptors (0 to 253: the
    kernel's limit). ``kind`` says what received descriptors become: ``KIND_OTHER`` (the
    default) makes generic handles with no kernel query per descriptor (read, write, wait,
    fileno and the other generic calls work; kind-specific calls refuse them); a Unix or TCP
    socket kind checks each descriptor is such a socket (one that is not gets its detected
    kind); ``None`` detects each descriptor's kind (about 2 microseconds each).

    The passer refers to ``sock`` but does not own it: close the socket as usual (a closed
    socket makes every call raise ``OSError`` EBADF). :meth:`send` may be called from any
    thread; :meth:`recv` and :meth:`close_received` share the passer's buffers, so one thread
    at a time (make a passer per receiving thread).
    """

    __slots__ = ("_sock", "_sock_c", "_size", "_buf", "_buf_view", "_max", "_out", "_out_ptr", "_info",
                 "_recv_args", "_recv_fn", "_small", "_count", "_kind")

    def __init__(self, sock: Handle, size: int = 1, max_handles: int = MAX_FDS, kind: Optional[int] = KIND_OTHER):
        if not isinstance(sock, Handle):
            raise TypeError(f"sock must be an fdsafe socket handle, not {type(sock).__name__}")
        sock_kind = check(_handle_kind(_u64(sock._value)))  # -EBADF for a closed handle
        if sock_kind not in _PASSING_KINDS:
            raise WrongKindError(FDSAFE_E_WRONG_KIND, f"descriptor passing needs a connected Unix socket "
                                                      f"(stream, datagram or seqpacket), not kind {sock_kind}")
        if type(size) is not int or not 1 <= size <= PASS_DATA_MAX:
            raise _invalid(f"size {size!r}: a receive takes 1 to {PASS_DATA_MAX} bytes")
        if type(max_handles) is not int or not 0 <= max_handles <= MAX_FDS:
            raise _invalid(f"max_handles {max_handles!r}: 0 to {MAX_FDS} descriptors per message")
        if kind is not None and (type(kind) is not int or not 1 <= kind <= _KIND_LAST or kind == _KIND_STDIO):
            raise _invalid(f"kind {kind!r}: a kind number other than stdio, or None to detect")
        self._sock = sock
        self._sock_c = _u64(sock._value)
        self._size = size
        self._buf = ctypes.create_string_buffer(size)
        self._buf_view = memoryview(self._buf).cast("B")
        self._max = max_handles
        # The received handle values land in an array('Q'), so handing them out is one slice.
        self._out: ValueArray = array.array("Q", bytes(8 * max(max_handles, 1)))
        self._out_ptr = _ptr(self._out.buffer_info()[0])  # the array is never resized
        self._info = RecvInfo()
        self._kind = kind
        buf, info, cap = ctypes.byref(self._buf), ctypes.byref(self._info), _SIZES[max_handles]
        self._recv_args: Tuple[Any, ...]
        if kind is None:
            self._recv_fn = _recv
            self._recv_args = (self._sock_c, buf, _size(size), 0, self._out_ptr, cap, info)
        else:
            self._recv_fn = _recv_as
            self._recv_args = (self._sock_c, buf, _size(size), 0, kind, self._out_ptr, cap, info)
        self._small = size <= _SMALL_DATA
        self._count = 0

    @property
    def socket(self) -> Handle:
        """The socket this passer sends and receives on."""
        return self._sock

    @property
    def flags(self) -> int:
        """``RECV_INFO_*`` bits of the last successful :meth:`recv`: ``RECV_INFO_TRUNC`` (data
        beyond ``size`` was cut), ``RECV_INFO_CTRUNC`` / ``RECV_INFO_CLOSED`` (descriptors
        beyond ``max_handles`` arrived and were closed: none leaked)."""
        return int(self._info.flags)

    @property
    def closed_count(self) -> int:
        """How many descriptors of the last successful :meth:`recv` fdsafe closed."""
        return int(self._info.closed_count)

    def send(self, data: bytes, handles: Union[Handles, HandleList], flags: int = 0) -> int:
        """Sends ``data`` (at least one byte on a stream socket) with the descriptors of ``handles`` (handle
        objects, handle values, an ``array('Q')`` of values such as :meth:`recv` gives, or a
        :class:`HandleList`, the fastest; at most 253) in one message; returns the bytes sent (on a stream socket the descriptors
        travel with the first byte: send any rest with ``sock.sendall``). The handles stay the
        sender's, open; the library holds each for the send, so a concurrent close waits.
        A stale handle raises ``OSError`` (EBADF) with nothing sent. ``flags``:
        ``MSG_DONTWAIT``. Retries after EINTR; never raises SIGPIPE (``BrokenPipeError``)."""
        if type(handles) is HandleList and type(data) is bytes and not flags and len(data) < 256:
            # the common case, with nothing to convert
            sent = _send_handles(self._sock_c, data, _SIZES[len(data)], handles._ref, handles._count, 0)
            if sent >= 0:
                return sent
        return self._send(data, handles, flags)

    def _send(self, data: bytes, handles: Union[Handles, HandleList], flags: int) -> int:
        if type(data) is not bytes:
            data = bytes(data)
        if flags:
            _check_flags(flags)
        length = len(data)
        size = _SIZES[length] if length < 256 else _size(length)
        ptr: Any
        if isinstance(handles, HandleList):
            ptr, count = handles._ref, handles._count
        else:
            values = _value_array(handles)
            n = len(values)
            if n > MAX_FDS:
                raise _invalid(f"{n} handles in one message; the kernel takes at most {MAX_FDS}")
            ptr, count = _ptr(values.buffer_info()[0]), _SIZES[n]
        sent = _send_handles(self._sock_c, data, size, ptr, count, flags)
        while sent < 0:
            if sent != _EINTR:
                raise error_for(sent)
            sent = _send_handles(self._sock_c, data, size, ptr, count, flags)
        return sent

    def recv(self, flags: int = 0) -> Tuple[bytes, ValueArray, int]:
        """Receives one message: ``(data, values, info_flags)``. ``values`` is an
        ``array('Q')`` of new handles the caller owns and must close (:meth:`close_received`
        closes them all, :func:`close_values` some; :func:`wrap` makes objects that close
        themselves); each descriptor was close-on-exec from arrival. ``data`` is empty at
        end-of-stream. ``info_flags`` holds ``RECV_INFO_*`` bits, as :attr:`flags`:
        ``RECV_INFO_CTRUNC`` or ``RECV_INFO_CLOSED`` if descriptors beyond ``max_handles``
        arrived (they were closed, none leaked), ``RECV_INFO_TRUNC`` if data beyond ``size``
        was cut. ``flags``: ``MSG_DONTWAIT``, ``MSG_PEEK``. Retries after EINTR (nothing
        was received then)."""
        if flags:
            _check_flags(flags)
            args = self._recv_args[:3] + (flags,) + self._recv_args[4:]
        else:
            args = self._recv_args
        n = self._recv_fn(*args)
        if n < 0:  # nothing received; the values of the previous message stay in the buffer
            while n == _EINTR:
                n = self._recv_fn(*args)
            if n < 0:
                raise error_for(n)
        info = self._info
        count = self._count = info.handle_count
        return (self._buf.raw[:n] if self._small else self._buf_view[:n].tobytes()), self._out[:count], info.flags

    def close_received(self) -> int:
        """Closes every handle the last :meth:`recv` gave, in one library call; those already
        closed (by value, or wrapped and closed) are skipped. Returns how many were closed.
        Call it once you are done with all of them; to keep one, ``fdsafe_dup`` it
        (``Handle.dup``) first, or close the others with :func:`close_values` instead."""
        count = self._count
        if not count:
            return 0
        self._count = 0
        done = _close_many(self._out_ptr, _SIZES[count])
        if done < 0:
            raise error_for(done)
        return done
