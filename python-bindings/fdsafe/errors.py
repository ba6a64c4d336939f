"""Errors: OS failures raise ``OSError`` (with the right errno, so Python picks the subclass,
e.g. ``BlockingIOError`` for EAGAIN); the library's own codes raise ``FdsafeError`` subclasses."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from typing import Any, Callable, Iterator, Optional, Tuple, Type

from ._lib import lib
from . import _constants as _c

__all__ = ["FDSAFE_E_WRONG_KIND", "FDSAFE_E_INVALID_ARGUMENT", "FDSAFE_E_BUFFER_TOO_SMALL",
           "FDSAFE_E_INTERNAL", "FdsafeError", "WrongKindError", "InvalidArgumentError",
           "BufferTooSmallError", "ClosedFileError", "InternalError", "strerror", "error_name", "last_error",
           "error_for", "check"]

FDSAFE_E_WRONG_KIND = _c.FDSAFE_E_WRONG_KIND
FDSAFE_E_INVALID_ARGUMENT = _c.FDSAFE_E_INVALID_ARGUMENT
FDSAFE_E_BUFFER_TOO_SMALL = _c.FDSAFE_E_BUFFER_TOO_SMALL
FDSAFE_E_INTERNAL = _c.FDSAFE_E_INTERNAL


class FdsafeError(Exception):
    """An error fdsafe detected itself. ``code`` is the negative FDSAFE_E_* value. Survives
    ``pickle`` and ``copy`` with its attributes, as the standard library's errors do (so a
    worker's error reaches ``concurrent.futures`` callers)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> Any:
        # The default calls the class with self.args, the message alone, which __init__
        # refuses: rebuild from the base's arguments instead, and set the attributes
        # (code, filename...) from the state, as for any exception.
        reduced = super().__reduce__()
        return (_rebuild, (type(self), reduced[1])) + tuple(reduced[2:])


def _rebuild(cls: Type[BaseException], args: Tuple[Any, ...]) -> BaseException:
    """An exception of ``cls`` made from its base's arguments (see FdsafeError.__reduce__)."""
    err = cls.__new__(cls, *args)
    (OSError if issubclass(cls, OSError) else Exception).__init__(err, *args)
    return err


class WrongKindError(FdsafeError, TypeError):
    """The handle is alive but of another kind than the operation needs."""


class InvalidArgumentError(FdsafeError, OSError, ValueError):
    """fdsafe refused an argument before doing anything. Also an ``OSError`` with errno
    ``EINVAL``, as the standard library raises where the kernel refuses the same argument
    (``shutdown(7)``, a negative offset), and a ``ValueError``."""

    def __init__(self, code: int, message: str):
        OSError.__init__(self, errno.EINVAL, message)
        self.code = code


class ClosedFileError(OSError, ValueError):
    """A stream (a pipe end, file, memfd, FIFO, terminal...) or an epoll set used after it
    was closed, by any of its methods: an ``OSError`` with errno ``EBADF``, as fdsafe answers
    for any closed handle, and a ``ValueError``, as ``io.FileIO`` and ``select.epoll`` raise
    ("I/O operation on closed file", "... on closed epoll object"). Other kinds raise a
    plain ``OSError(EBADF)``."""

    @classmethod
    def replacing(cls, err: OSError, what: str, closed: Callable[[], bool]) -> OSError:
        """This error for ``err`` if it is an EBADF and ``closed()`` says the handle is
        closed, else ``err``. ``closed`` is asked only then, after ``err`` took this thread's
        last error message: its message alone is no proof, since a signal handler or a
        finalizer may fail another fdsafe call between the failed call and the message."""
        if err.errno == errno.EBADF and closed():
            return cls(errno.EBADF, f"I/O operation on closed {what} ({err.strerror})")
        return err


class BufferTooSmallError(FdsafeError):
    """The buffer cannot hold the result."""


class InternalError(FdsafeError):
    """A bug in fdsafe (a caught panic)."""


_LIBRARY_ERRORS = {
    FDSAFE_E_WRONG_KIND: WrongKindError,
    FDSAFE_E_INVALID_ARGUMENT: InvalidArgumentError,
    FDSAFE_E_BUFFER_TOO_SMALL: BufferTooSmallError,
    FDSAFE_E_INTERNAL: InternalError,
}


def strerror(code: int) -> str:
    """The message for a negative fdsafe return code (an errno's text, or fdsafe's own)."""
    return str(lib.fdsafe_strerror(code).decode())


def error_name(code: int) -> str:
    """The name of a negative fdsafe return code: "EBADF", "FDSAFE_E_WRONG_KIND"..."""
    return str(lib.fdsafe_error_name(code).decode())


def last_error() -> str:
    """This thread's most recent fdsafe failure message."""
    size = lib.fdsafe_last_error(None, 0)
    buf = ctypes.create_string_buffer(size)
    lib.fdsafe_last_error(buf, size)
    return buf.value.decode(errors="replace")


def error_for(code: int, message: Optional[str] = None) -> Exception:
    """The exception for a negative return code, with ``message`` (by default this thread's
    last error message): an FdsafeError subclass for fdsafe's own codes, else OSError with
    errno ``-code`` (Python picks the subclass: FileNotFoundError, BlockingIOError...)."""
    if message is None:
        message = last_error()
    cls = _LIBRARY_ERRORS.get(code)
    if cls is not None:
        return cls(code, message)
    return OSError(-code, message)


def check(code: int) -> int:
    """Returns ``code`` if it is >= 0, else raises the matching exception."""
    if code < 0:
        raise error_for(code)
    return code


@contextlib.contextmanager
def naming(path: Any) -> Iterator[None]:
    """Gives an ``OSError`` raised inside the block ``path`` as its ``filename``, as the
    ``os`` module names the path of a failed call: a ``str`` or ``bytes`` path as given, a
    path-like one as ``os.fspath`` makes it. Not for ``EBADF``, which is about a handle."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno != errno.EBADF:
            err.filename = os.fspath(path)
        raise
