"""Signal sets and the calling thread's signal mask (used by epoll's pwait and signalfd)."""
from __future__ import annotations

import ctypes
from typing import Iterable, Set

from ._lib import declare, lib
from .errors import check
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


def sigset(signals: Iterable[int]) -> SigSet:
    """A C signal set holding ``signals`` (numbers or ``signal.Signals``)."""
    s = SigSet()
    check(lib.fdsafe_sigset_empty(ctypes.byref(s)))
    for signo in signals:
        check(lib.fdsafe_sigset_add(ctypes.byref(s), int(signo)))
    return s


def members(s: SigSet) -> Set[int]:
    """The signal numbers in a C signal set."""
    return {n for n in range(1, 65) if check(lib.fdsafe_sigset_has(ctypes.byref(s), n))}


def signal_mask(how: int, signals: Iterable[int]) -> Set[int]:
    """Changes the calling thread's signal mask (``SIG_BLOCK``, ``SIG_UNBLOCK``,
    ``SIG_SETMASK``) and returns the previous one. Like ``signal.pthread_sigmask``."""
    old = SigSet()
    check(lib.fdsafe_signal_mask(how, ctypes.byref(sigset(signals)), ctypes.byref(old)))
    return members(old)
