"""pidfd: a handle on one process, immune to pid reuse."""
from __future__ import annotations

import ctypes
import errno
import os
import shutil
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Tuple

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
        waiting for a child of this process that is still running gives
        ``BlockingIOError`` rather than waiting. Waiting for a process that is not this
        one's child gives ``ChildProcessError``, blocking or not. ``ProcessLookupError`` if
        there is no such process."""
        out = c_handle()
        check(lib.fdsafe_pidfd_open(pid, PIDFD_NONBLOCK if nonblocking else 0, ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def spawn(cls, argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> "PidFd":
        """Starts a program (``os.posix_spawnp``) and opens a pidfd for it. Use
        ``wait_exit`` to reap it. A ``str``, ``bytes`` or path ``argv`` is the program alone,
        as ``subprocess`` takes it. With ``env``, a program name without a slash is searched
        in ``env``'s ``PATH``, as ``subprocess`` and ``os.execvpe`` search it
        (``FileNotFoundError`` if it is not there); without, in this process's.

        The pidfd is checked to name this child. A child can be reaped before its pidfd is
        opened only by something that reaps children as they exit (``SIGCHLD`` ignored, a
        handler or another thread calling ``waitpid(-1)``), and only if the program exits at
        once: then ``ChildProcessError`` is raised (the program ran). ``fork`` has no such
        window.

        The child starts with no signal blocked, as ``fdsafe_terminal_spawn`` starts its
        own (``subprocess`` passes the mask on): signals this process blocks to read them
        from a :class:`~fdsafe.SignalFd` would otherwise stay blocked in the child, which
        ``send_signal(SIGTERM)`` then could not stop."""
        args = [argv] if isinstance(argv, (str, bytes, os.PathLike)) else list(argv)
        if not args:
            raise ValueError("argv is empty: it names the program and its arguments")
        program = args[0] if env is None else _find_program(args[0], env)
        pid = os.posix_spawnp(program, args, dict(os.environ if env is None else env), setsigmask=())
        reaped = ChildProcessError(errno.ECHILD, f"child {pid} ({args[0]!r}) was reaped by another waiter "
                                                 "before its pidfd was opened (is SIGCHLD ignored?)")
        try:
            p = cls.open(pid)
        except ProcessLookupError:
            raise reaped from None
        except BaseException:
            _kill_if_still_ours(pid)
            raise
        try:  # the pid named our child when it was opened, unless it was reaped and reused
            os.waitid(os.P_PIDFD, p.fileno(), os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            p.close()
            raise reaped from None
        return p

    @property
    def pid(self) -> int:
        """The process id (``ProcessLookupError`` once it has been reaped)."""
        return check(lib.fdsafe_pidfd_get_pid(self._value))

    def send_signal(self, signal: int) -> None:
        """Sends signal number ``signal`` to the process (``pidfd_send_signal``): never to
        another process that reused the pid. ``ProcessLookupError`` once it has been
        reaped; an exited child not yet waited for takes the signal without error, as
        with ``os.kill``.
        As ``os.kill``: ``TypeError`` for a float or a str (and for a bool, which ``os.kill``
        takes as signal 0 or 1), ``OverflowError`` for a number a C int cannot hold (never
        cut to another signal)."""
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
        the child to exit, then collects its status. None if the timeout passed first.
        As ``os.waitid(P_PIDFD, ...)``: ``ChildProcessError`` at once for a process that is
        not this one's child, and on a non-blocking pidfd (``PidFd.open(pid,
        nonblocking=True)``) ``BlockingIOError`` rather than waiting for a running child."""
        # Asked first, as waitid would answer, because poll waits for any process's exit.
        if self.waitid(WAIT_EXITED | WAIT_NOHANG | WAIT_NOWAIT) is None:
            if self.nonblocking:
                raise BlockingIOError(errno.EAGAIN, "the process has not exited and the pidfd is non-blocking")
            # Without a timeout, the blocking wait itself: a close by another thread meanwhile
            # leaves it waiting and reaping, as os.waitid does (a poll first would leave the
            # wait after it to a closed handle, and the child a zombie).
            if timeout is not None and not self.wait(EVENT_IN, timeout):
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


def _find_program(program: Any, env: Mapping[Any, Any]) -> Any:
    """Where a child given the environment ``env`` finds ``program`` (``str``, ``bytes`` or
    path-like), as ``subprocess`` and ``os.execvpe`` find it: a name without a slash is
    searched in ``env``'s ``PATH`` (``os.get_exec_path(env)``), not in this process's;
    ``FileNotFoundError`` if it is not there. A path with a slash is returned as it is."""
    name = os.fspath(program)
    if (b"/" if isinstance(name, bytes) else "/") in name:
        return program
    found = shutil.which(name, path=os.pathsep.join(os.get_exec_path(env)))
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


def _kill_if_still_ours(pid: int) -> None:
    """Kills and reaps ``pid`` if it is still an unreaped child of ours (then its pid cannot
    have gone to another process); leaves any other process alone."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def fork() -> Tuple[int, Optional[PidFd]]:
    """``os.fork()`` with a pidfd for the child: ``(0, None)`` in the child, ``(pid, PidFd)``
    in the parent. The pidfd is made before anything can reap the child, so it names that
    child even if ``SIGCHLD`` is ignored or another waiter reaps children: the child waits at
    the fork, on a close-on-exec pipe, until the parent has opened the pidfd (the protocol of
    ``fdsafe_pidfd_fork``); if that fails, the child exits (127) without returning from the
    fork, is reaped, and the error is raised.

    The fork itself is ``os.fork``, which does the interpreter's fork bookkeeping
    (``os.register_at_fork`` hooks run, its locks are made fresh in the child). A fork made in
    C (``fdsafe_pidfd_fork`` through ctypes) skips it: with other threads running Python
    code, children hung on a lock whose owner did not exist in them (34 of 300)."""
    wait_end, word_end = os.pipe()
    try:
        pid = os.fork()
    except BaseException:
        os.close(wait_end)
        os.close(word_end)
        raise
    if pid == 0:
        try:
            os.close(word_end)  # so that the parent's death reads as the end
            word = os.read(wait_end, 1)  # retried after a signal (PEP 475)
            os.close(wait_end)
        except BaseException:
            word = b""
        if word != b"g":
            os._exit(127)
        return 0, None
    try:
        pidfd = PidFd.open(pid)
    except BaseException:
        # The parent still holds the read end: the word cannot meet a pipe without readers.
        os.write(word_end, b"s")
        os.close(word_end)
        os.close(wait_end)
        try:
            os.waitpid(pid, 0)  # our child, unreaped until it read the word
        except ChildProcessError:
            pass  # reaped as it exited (SIGCHLD ignored)
        raise
    os.write(word_end, b"g")
    os.close(word_end)
    os.close(wait_end)
    return pid, pidfd
