"""pidfd: a handle on one process, immune to pid reuse."""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, Tuple

from ._buffers import int_arg
from ._lib import c_handle, c_handle_p, c_kind, declare, lib
from .errors import check
from .handle import EVENT_IN, Handle, retry_eintr
from . import _constants as _c

__all__ = ["KIND_PIDFD", "PIDFD_NONBLOCK", "WAIT_NOHANG", "WAIT_EXITED", "WAIT_STOPPED", "WAIT_CONTINUED",
           "WAIT_NOWAIT", "EXITED", "KILLED", "DUMPED", "TRAPPED", "STOPPED", "CONTINUED", "ExitStatus",
           "PidFd", "fork"]

_int, _u32 = ctypes.c_int, ctypes.c_uint32
_INT_MIN, _INT_MAX = -2**31, 2**31 - 1


class _Exit(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_int), ("code", ctypes.c_int), ("status", ctypes.c_int)]


declare({
    "fdsafe_pidfd_open": (_int, [_int, _u32, c_handle_p]),
    "fdsafe_pidfd_fork": (_int, [c_handle_p]),
    "fdsafe_pidfd_send_signal": (_int, [c_handle, _int, _u32]),
    "fdsafe_pidfd_wait": (_int, [c_handle, _u32, ctypes.POINTER(_Exit)]),
    "fdsafe_pidfd_waitid": (_int, [c_handle, _u32, ctypes.POINTER(_Exit)]),
    "fdsafe_pidfd_getfd": (_int, [c_handle, _int, c_kind, c_handle_p]),
    "fdsafe_pidfd_get_pid": (_int, [c_handle]),
})

KIND_PIDFD = _c.FDSAFE_KIND_PIDFD
PIDFD_NONBLOCK = _c.FDSAFE_NONBLOCK
# waitid options: the kernel's values (os.WEXITED, os.WSTOPPED... are the same numbers).
WAIT_NOHANG = _c.FDSAFE_PIDFD_WAIT_NOHANG
WAIT_EXITED, WAIT_STOPPED = _c.FDSAFE_PIDFD_WAIT_EXITED, _c.FDSAFE_PIDFD_WAIT_STOPPED
WAIT_CONTINUED, WAIT_NOWAIT = _c.FDSAFE_PIDFD_WAIT_CONTINUED, _c.FDSAFE_PIDFD_WAIT_NOWAIT
# ExitStatus.code: the kernel's si_code (os.CLD_EXITED... are the same numbers).
EXITED, KILLED, DUMPED = _c.FDSAFE_PIDFD_EXITED, _c.FDSAFE_PIDFD_KILLED, _c.FDSAFE_PIDFD_DUMPED
TRAPPED, STOPPED, CONTINUED = _c.FDSAFE_PIDFD_TRAPPED, _c.FDSAFE_PIDFD_STOPPED, _c.FDSAFE_PIDFD_CONTINUED


@dataclass(frozen=True)
class ExitStatus:
    """A child's state change, as ``os.waitid`` reports it: ``code`` is EXITED, KILLED,
    DUMPED, STOPPED, CONTINUED or TRAPPED (``si_code``); ``status`` the exit status or the
    signal number (``si_status``)."""

    pid: int
    code: int
    status: int

    @property
    def exited(self) -> bool:
        """True if the child called exit (``status`` is then its exit status)."""
        return self.code == EXITED

    @property
    def stopped(self) -> bool:
        """True if the child was stopped by a signal (or is stopped under a tracer)."""
        return self.code in (STOPPED, TRAPPED)

    @property
    def continued(self) -> bool:
        """True if a stopped child was continued (``SIGCONT``)."""
        return self.code == CONTINUED

    @property
    def signal(self) -> Optional[int]:
        """The killing, stopping or continuing signal; None for a normal exit."""
        return None if self.code == EXITED else self.status


class PidFd(Handle):
    """A pidfd (``FDSAFE_KIND_PIDFD``): readable (``wait(EVENT_IN)``) once the process exits."""

    KIND = KIND_PIDFD

    @classmethod
    def open(cls, pid: int, nonblocking: bool = False) -> "PidFd":
        """A pidfd for the running process ``pid`` (``pidfd_open``). With ``nonblocking``,
        waiting for a process that is not this one's child gives BlockingIOError rather
        than waiting. ``ProcessLookupError`` if there is no such process."""
        out = c_handle()
        check(lib.fdsafe_pidfd_open(pid, PIDFD_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def spawn(cls, argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> "PidFd":
        """Starts a program (``os.posix_spawnp``) and opens a pidfd for it; race-free, since
        nothing reaps the child before the pidfd exists. Use ``wait_exit`` to reap it. A
        ``str``, ``bytes`` or path ``argv`` is the program alone, as ``subprocess`` takes it."""
        args = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv)
        if not args:
            raise ValueError("argv is empty: it names the program and its arguments")
        pid = os.posix_spawnp(args[0], args, dict(os.environ if env is None else env))
        try:
            return cls.open(pid)
        except BaseException:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise

    @property
    def pid(self) -> int:
        """The process id (``ProcessLookupError`` once it has exited)."""
        return check(lib.fdsafe_pidfd_get_pid(self._value))

    def send_signal(self, signal: int) -> None:
        """Sends signal number ``signal`` to the process (``pidfd_send_signal``): never to
        another process that reused the pid. ``ProcessLookupError`` once it has exited.
        As ``os.kill``: ``TypeError`` for a float or a str, ``OverflowError`` for a number
        a C int cannot hold (never cut to another signal)."""
        signo = int_arg(signal, "signal", _INT_MIN, _INT_MAX)
        check(lib.fdsafe_pidfd_send_signal(self._value, signo, 0))

    def poll_exit(self) -> Optional[ExitStatus]:
        """Collects the status if the child has exited, else None."""
        e = _Exit()
        if retry_eintr(lambda: lib.fdsafe_pidfd_wait(self._value, WAIT_NOHANG, ctypes.byref(e))) == 0:
            return None
        return ExitStatus(e.pid, e.code, e.status)

    def wait_exit(self, timeout: Optional[float] = None) -> Optional[ExitStatus]:
        """Waits (through poll on the pidfd) up to ``timeout`` seconds (None: no limit) for
        the child to exit, then collects its status. None if the timeout passed first."""
        if not self.wait(EVENT_IN, timeout):
            return None
        e = _Exit()
        retry_eintr(lambda: lib.fdsafe_pidfd_wait(self._value, 0, ctypes.byref(e)))
        return ExitStatus(e.pid, e.code, e.status)

    def waitid(self, options: int = WAIT_EXITED) -> Optional[ExitStatus]:
        """``os.waitid(P_PIDFD, ...)`` through the handle: ``options`` combines at least one of
        WAIT_EXITED, WAIT_STOPPED, WAIT_CONTINUED with WAIT_NOHANG and WAIT_NOWAIT (or
        ``os.W*``). Returns the state change, or None with WAIT_NOHANG when none is pending."""
        e = _Exit()
        if retry_eintr(lambda: lib.fdsafe_pidfd_waitid(self._value, options, ctypes.byref(e))) == 0:
            return None
        return ExitStatus(e.pid, e.code, e.status)

    def getfd(self, target_fd: int, kind: int) -> Handle:
        """A copy of the process's descriptor ``target_fd`` as a handle of ``kind``."""
        out = c_handle()
        check(lib.fdsafe_pidfd_getfd(self._value, target_fd, kind, ctypes.byref(out)))
        return Handle.wrap(out.value)


def fork() -> Tuple[int, Optional[PidFd]]:
    """``fdsafe_pidfd_fork``: ``(0, None)`` in the child, ``(pid, PidFd)`` in the parent. Like
    ``os.fork`` without Python's own fork bookkeeping: the child should only ``os._exit``
    or ``os.exec*``."""
    out = c_handle()
    pid = check(lib.fdsafe_pidfd_fork(ctypes.byref(out)))
    return (0, None) if pid == 0 else (pid, PidFd(out.value))
