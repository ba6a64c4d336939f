"""Running under a service manager (the systemd protocols, without libsystemd): socket
activation (``listen_fds``) and service notification (``notify``, ``ready``, ``status``,
``watchdog``, ``fdstore``...).

``listen_fds()`` returns the activated descriptors as handle objects of their detected
class (``TcpListener``, ``UnixListener``...), each with a ``name`` attribute from
``LISTEN_FDNAMES``. The caller owns them. The notification functions return ``True`` when
the message was sent and ``False`` when there is no service manager (``NOTIFY_SOCKET``
unset), which is not an error.
"""
from __future__ import annotations

import ctypes
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ._lib import c_handle, c_handle_p, declare, lib
from .errors import InvalidArgumentError, check
from .handle import Handle, retry_eintr
from .rawio import RawIOHandle
from . import _constants as _c

_int, _u32, _size, _str = ctypes.c_int, ctypes.c_uint32, ctypes.c_size_t, ctypes.c_char_p

LISTEN_UNSET_ENV = _c.FDSAFE_LISTEN_UNSET_ENV
LISTEN_NONE, LISTEN_OTHER_PID, LISTEN_ADOPTED = _c.FDSAFE_LISTEN_NONE, _c.FDSAFE_LISTEN_OTHER_PID, _c.FDSAFE_LISTEN_ADOPTED
NOTIFY_UNSET_ENV = _c.FDSAFE_NOTIFY_UNSET_ENV
NOTIFY_NO_MANAGER, NOTIFY_SENT = _c.FDSAFE_NOTIFY_NO_MANAGER, _c.FDSAFE_NOTIFY_SENT

declare({
    "fdsafe_listen_fds": (_int, [_u32, ctypes.POINTER(_size)]),
    "fdsafe_listen_fd_handle": (_int, [_size, c_handle_p]),
    "fdsafe_listen_fd_name": (_int, [_size, _str, _size]),
    "fdsafe_listen_fd_find": (_int, [_str, c_handle_p]),
    "fdsafe_notify": (_int, [_u32, _str]),
    "fdsafe_notify_handles": (_int, [_u32, _str, ctypes.POINTER(ctypes.c_uint64), _size]),
    "fdsafe_notify_reloading": (_int, [_u32]),
    "fdsafe_notify_status": (_int, [_u32, _str]),
    "fdsafe_notify_fdstore": (_int, [_u32, _str, ctypes.POINTER(ctypes.c_uint64), _size]),
    "fdsafe_watchdog_interval": (_int, [_u32, ctypes.POINTER(ctypes.c_uint64)]),
})


class ListenFds(List[Handle]):
    """The activated handles, in ``LISTEN_FDS`` order. ``status`` is ``LISTEN_ADOPTED``,
    ``LISTEN_NONE`` (not socket-activated) or ``LISTEN_OTHER_PID`` (the variables belong to
    another process; nothing was adopted)."""

    status: int = LISTEN_NONE

    def by_name(self, name: str) -> List[Handle]:
        """Every handle named ``name`` (systemd allows several to share a name)."""
        return [h for h in self if getattr(h, "name", None) == name]

    def names(self) -> Dict[str, Handle]:
        """``{name: handle}``: the first passed handle of each ``LISTEN_FDNAMES`` name (all of
        them are in the sequence itself)."""
        out: Dict[str, Handle] = {}
        for h in self:
            out.setdefault(h.name, h)  # type: ignore[attr-defined]
        return out


# One Python object per activated handle for the life of the process: handing out a second
# owning wrapper would close the handle when either is collected.
# Kept across importlib.reload, for the same reason.
_activated: Optional[List[Handle]] = globals().get("_activated")


def listen_fds(unset_environment: bool = False) -> ListenFds:
    """Adopts the socket-activated descriptors (see ``fdsafe_listen_fds``): checked with the
    kernel, close-on-exec, named. With ``unset_environment`` the ``LISTEN_*`` variables are
    removed so children do not inherit them. Calling again returns the same objects."""
    global _activated
    count = ctypes.c_size_t()
    status = check(lib.fdsafe_listen_fds(LISTEN_UNSET_ENV if unset_environment else 0, ctypes.byref(count)))
    if unset_environment:
        _forget(_LISTEN_VARS)
    result = ListenFds()
    result.status = status
    if status != LISTEN_ADOPTED:
        return result
    if _activated is None:
        made: List[Handle] = []
        try:
            for i in range(count.value):
                out = c_handle()
                check(lib.fdsafe_listen_fd_handle(i, ctypes.byref(out)))
                name = ctypes.create_string_buffer(256)
                n = check(lib.fdsafe_listen_fd_name(i, name, 256))
                made.append(_named(Handle.wrap(out.value), name.raw[:n].decode("ascii")))
        except BaseException:
            for h in made:  # dropped, they would close activated descriptors for good
                h._owned = False
            raise
        _activated = made
    result.extend(_activated)
    return result


def _named(h: Handle, name: str) -> Handle:
    """``h`` with its activation name as ``name``: a stream's ``name`` (a file's, a FIFO's,
    a device's...) is the one ``io`` shows, set through its own field."""
    if isinstance(h, RawIOHandle):
        h._name = name
    else:
        h.name = name  # type: ignore[attr-defined]
    return h


def _forget(names: Sequence[str]) -> None:
    # The C library changed the process environment; keep Python's copy in step.
    for name in names:
        os.environ.pop(name, None)


_LISTEN_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")
_WATCHDOG_VARS = ("WATCHDOG_USEC", "WATCHDOG_PID")


def _flags(unset_environment: bool) -> int:
    return NOTIFY_UNSET_ENV if unset_environment else 0


def _enc(text: Union[str, bytes]) -> bytes:
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if b"\0" in raw:
        raise ValueError("embedded null byte")  # the message would end there
    return raw


def _handle_array(handles: Sequence[Handle]) -> Tuple["ctypes.Array[ctypes.c_uint64]", int]:
    items = list(handles)
    return (ctypes.c_uint64 * max(len(items), 1))(*[h.value for h in items]), len(items)


def notify(state: Union[str, bytes], handles: Sequence[Handle] = (), unset_environment: bool = False) -> bool:
    """Sends ``KEY=value`` lines (``"READY=1"``, ``"STATUS=..."``...) to the service manager,
    with our credentials and, if given, the handles' descriptors. ``False``: no manager."""
    arr, n = _handle_array(handles)
    try:
        code = retry_eintr(lambda: lib.fdsafe_notify_handles(_flags(unset_environment), _enc(state), arr, n))
    except OSError:
        if unset_environment:  # removed also when the send failed
            _forget(("NOTIFY_SOCKET",))
        raise
    if unset_environment:
        _forget(("NOTIFY_SOCKET",))
    return code == NOTIFY_SENT


def ready(status: Optional[str] = None) -> bool:
    """``READY=1`` (and ``STATUS=`` if given, one line, as for :func:`status`: a newline
    would add assignments of its own): start-up is complete."""
    if status is not None and "\n" in status:
        raise InvalidArgumentError(_c.FDSAFE_E_INVALID_ARGUMENT, "a status text must be a single line")
    return notify("READY=1" if status is None else f"READY=1\nSTATUS={status}")


def reloading() -> bool:
    """``RELOADING=1`` with ``MONOTONIC_USEC=now``; send ``ready()`` when the reload is done."""
    return retry_eintr(lambda: lib.fdsafe_notify_reloading(0)) == NOTIFY_SENT


def stopping() -> bool:
    """Tells the service manager the service is stopping (``STOPPING=1``). False when no
    manager listens (no ``NOTIFY_SOCKET``)."""
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """Sets the status line the service manager shows (``STATUS=text``; one line). False
    when no manager listens."""
    return retry_eintr(lambda: lib.fdsafe_notify_status(0, _enc(text))) == NOTIFY_SENT


def watchdog() -> bool:
    """The watchdog keep-alive ping (``WATCHDOG=1``): send it more often than
    :func:`watchdog_usec` microseconds. False when no manager listens."""
    return notify("WATCHDOG=1")


def fdstore(handles: Union[Handle, Iterable[Handle]], name: str) -> bool:
    """Hands descriptors to the manager's store under ``name`` (``FDSTORE=1``,
    ``FDNAME=name``). The handles stay ours."""
    items = [handles] if isinstance(handles, Handle) else list(handles)
    arr, n = _handle_array(items)
    return retry_eintr(lambda: lib.fdsafe_notify_fdstore(0, _enc(name), arr, n)) == NOTIFY_SENT


def watchdog_usec(unset_environment: bool = False) -> int:
    """The watchdog interval in microseconds, or 0 when not enabled for this process."""
    usec = ctypes.c_uint64()
    enabled = check(lib.fdsafe_watchdog_interval(_flags(unset_environment), ctypes.byref(usec)))
    if unset_environment:
        _forget(_WATCHDOG_VARS)
    return usec.value if enabled else 0


__all__ = ["ListenFds", "listen_fds", "notify", "ready", "reloading", "stopping", "status",
           "watchdog", "fdstore", "watchdog_usec", "LISTEN_NONE", "LISTEN_OTHER_PID",
           "LISTEN_ADOPTED", "LISTEN_UNSET_ENV", "NOTIFY_UNSET_ENV", "NOTIFY_NO_MANAGER",
           "NOTIFY_SENT"]
