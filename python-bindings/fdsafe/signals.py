"""Signal sets and the calling thread's signal mask (used by epoll's pwait and signalfd)."""
from __future__ import annotations

import ctypes
import signal
import operator
from typing import Iterable, Set

from ._lib import declare, lib
from .errors import FDSAFE_E_INVALID_ARGUMENT, InvalidArgumentError, check
from . import _constants as _c

__all__ = ["SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK", "SigSet", "sigset", "members", "signal_mask"]

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = _c.FDSAFE_SIG_BLOCK, _c.FDSAFE_SIG_UNBLOCK, _c.FDSAFE_SIG_SETMASK


class SigSet(ctypes.Structure):
    """``fdsafe_sigset``: bit ``n - 1`` of ``bits`` stands for signal ``n``."""

    _fields_ = [("bits", ctypes.c_uint64)]


_set_p = ctypes.POINTER(SigSet)
declare({
    "fdsafe_sigset_empty": (ctypes.c_int, [_set_p]),
    "fdsafe_sigset_fill": (ctypes.c_int, [_set_p]),
    "fdsafe_sigset_add": (ctypes.c_int, [_set_p, ctypes.c_int]),
    "fdsafe_sigset_del": (ctypes.c_int, [_set_p, ctypes.c_int]),
    "fdsafe_sigset_has": (ctypes.c_int, [_set_p, ctypes.c_int]),
    "fdsafe_signal_mask": (ctypes.c_int, [ctypes.c_int, _set_p, _set_p]),
})


_NSIG = 65  # signal.NSIG: the set holds signals 1 to 64


def _signal_number(signo: object) -> int:
    """``signo`` as a signal number, checked as ``signal.pthread_sigmask`` checks it:
    TypeError for a non-integer (a float or a numeric str is not cut or parsed), a
    ValueError out of 1 to 64, however large (``InvalidArgumentError``, as C refuses 0 or
    65, and never the OverflowError of a number beyond a C int). One difference: a ``bool``
    is refused (TypeError), where the stdlib takes ``True`` as signal 1 (SIGHUP): a flag
    passed where a signal was meant is a mistake, not a hang-up."""
    if isinstance(signo, bool) or not hasattr(signo, "__index__"):
        raise TypeError(f"a signal number must be an integer, not {type(signo).__name__}")
    n = operator.index(signo)
    if not 0 < n < _NSIG:
        raise InvalidArgumentError(FDSAFE_E_INVALID_ARGUMENT, f"signal number {n} out of range [1; {_NSIG - 1}]")
    return n


def sigset(signals: Iterable[int]) -> SigSet:
    """A C signal set holding ``signals`` (numbers or ``signal.Signals``). As
    ``signal.pthread_sigmask``: ``TypeError`` for an entry that is not an integer (a float
    or a str, and here a ``bool`` too), ``ValueError`` (``InvalidArgumentError``) for a
    number out of 1 to 64."""
    s = SigSet()
    check(lib.fdsafe_sigset_empty(ctypes.byref(s)))
    for signo in signals:
        check(lib.fdsafe_sigset_add(ctypes.byref(s), _signal_number(signo)))
    return s


def _named(n: int) -> int:
    """``signal.Signals`` member for ``n`` where it has one (as ``signal.pthread_sigmask``
    returns them), else the number (real-time signals between SIGRTMIN and SIGRTMAX)."""
    try:
        return signal.Signals(n)
    except ValueError:
        return n


def members(s: SigSet) -> Set[int]:
    """The signals in a C signal set: ``signal.Signals`` members, plain numbers for those
    without a name."""
    return {_named(n) for n in range(1, 65) if check(lib.fdsafe_sigset_has(ctypes.byref(s), n))}


def signal_mask(how: int, signals: Iterable[int]) -> Set[int]:
    """Changes the calling thread's signal mask (``SIG_BLOCK``, ``SIG_UNBLOCK``,
    ``SIG_SETMASK``) and returns the previous one. Like ``signal.pthread_sigmask``."""
    old = SigSet()
    check(lib.fdsafe_signal_mask(how, ctypes.byref(sigset(signals)), ctypes.byref(old)))
    return members(old)
