"""epoll sets whose registrations belong to handles: closing a handle removes it from every
set, so no event for a dead handle is ever returned."""
from __future__ import annotations

import ctypes
import errno
import itertools
import os
import threading
import weakref
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple, TypeVar, Union

from ._lib import c_handle, declare, lib
from .errors import ClosedFileError, check
from ._buffers import batch_arg, timeout_ms
from .handle import KIND_OTHER, Handle, retry_eintr_within
from .signals import SigSet, sigset
from . import _constants as _c

__all__ = ["KIND_EPOLL", "EPOLL_IN", "EPOLL_PRI", "EPOLL_OUT", "EPOLL_ERR", "EPOLL_HUP", "EPOLL_RDHUP",
           "EPOLL_EXCLUSIVE", "EPOLL_WAKEUP", "EPOLL_ONESHOT", "EPOLL_ET", "EpollEvent", "Epoll"]

KIND_EPOLL = _c.FDSAFE_KIND_EPOLL

# The user values given to C: a family number (one per set and the twins dup() makes) in the
# bits from KEY_FAMILY_SHIFT up, and a count below, unique in the process. So a wait knows an
# event for a key of its own family that it no longer has data for (removed while the kernel
# was reporting it) from a registration made through C or another wrapper of the same set.
# Kept across importlib.reload: a new count would hand out keys that live sets still hold.
_KEY_FAMILY_SHIFT = 40
_KEYS: "itertools.count[int]" = globals().get("_KEYS") or itertools.count(1)
_FAMILIES: "itertools.count[int]" = globals().get("_FAMILIES") or itertools.count(1)

EPOLL_IN, EPOLL_PRI, EPOLL_OUT, EPOLL_ERR, EPOLL_HUP, EPOLL_RDHUP = _c.FDSAFE_EPOLL_IN, _c.FDSAFE_EPOLL_PRI, _c.FDSAFE_EPOLL_OUT, _c.FDSAFE_EPOLL_ERR, _c.FDSAFE_EPOLL_HUP, _c.FDSAFE_EPOLL_RDHUP
EPOLL_EXCLUSIVE, EPOLL_WAKEUP, EPOLL_ONESHOT, EPOLL_ET = _c.FDSAFE_EPOLL_EXCLUSIVE, _c.FDSAFE_EPOLL_WAKEUP, _c.FDSAFE_EPOLL_ONESHOT, _c.FDSAFE_EPOLL_ET


class EpollEvent(ctypes.Structure):
    """``fdsafe_epoll_event``."""

    _fields_ = [("handle", c_handle), ("user", ctypes.c_uint64), ("events", ctypes.c_uint32),
                ("reserved", ctypes.c_uint32)]


_ev_p = ctypes.POINTER(EpollEvent)
_set_p = ctypes.POINTER(SigSet)
declare({
    "fdsafe_epoll_create": (ctypes.c_int, [ctypes.POINTER(c_handle)]),
    "fdsafe_epoll_add": (ctypes.c_int, [c_handle, c_handle, ctypes.c_uint32, ctypes.c_uint64]),
    "fdsafe_epoll_modify": (ctypes.c_int, [c_handle, c_handle, ctypes.c_uint32, ctypes.c_uint64]),
    "fdsafe_epoll_delete": (ctypes.c_int, [c_handle, c_handle]),
    "fdsafe_epoll_count": (ctypes.c_int64, [c_handle]),
    "fdsafe_epoll_wait": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int]),
    "fdsafe_epoll_pwait": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int, _set_p]),
    "fdsafe_epoll_wait_ns": (ctypes.c_int, [c_handle, _ev_p, ctypes.c_size_t, ctypes.c_int64, _set_p]),
})


E = TypeVar("E", bound="Epoll")

# What add/modify/delete take, as select.epoll: a handle, a descriptor, or an object with fileno()
Target = Union[Handle, int, Any]


def _fd_of(target: Any) -> int:
    if isinstance(target, int) and not isinstance(target, bool):
        if target < 0:
            raise ValueError(f"file descriptor cannot be a negative integer ({target})")
        return target
    fileno = getattr(target, "fileno", None)
    if fileno is None:
        raise TypeError(f"a handle, a descriptor or an object with fileno() is required, not {type(target).__name__}")
    return _fd_of(fileno())


def _events(events: int) -> int:
    if not isinstance(events, int) or isinstance(events, bool):
        raise TypeError(f"events must be an int, not {type(events).__name__}")
    return events


_FD_SETSIZE = 1024  # glibc's, which select.epoll.poll's default of maxevents follows


# kcmp(2) numbers where it is known for sure; elsewhere _same_file compares inodes.
_SYS_KCMP = {"x86_64": 312, "aarch64": 272, "riscv64": 272}.get(os.uname().machine) \
    if ctypes.sizeof(ctypes.c_void_p) == 8 else None
_KCMP_FILE = 0
_libc = ctypes.CDLL(None)


def _same_file(a: int, b: int) -> bool:
    """Whether descriptors ``a`` and ``b`` of this process refer to one open file
    (``kcmp(KCMP_FILE)``, as fdsafe's C side matches epoll descriptors). Where ``kcmp`` is
    missing, the same device and inode (which eventfds, timerfds and other anonymous-inode
    files all share). ``OSError(EBADF)`` if ``a`` is not open, as ``os.fstat`` raises."""
    sa = os.fstat(a)
    if _SYS_KCMP is not None:
        pid = ctypes.c_long(os.getpid())
        rc = _libc.syscall(ctypes.c_long(_SYS_KCMP), pid, pid, ctypes.c_long(_KCMP_FILE), ctypes.c_long(a),
                           ctypes.c_long(b))
        if rc >= 0:
            return bool(rc == 0)
    sb = os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _ms(timeout: Optional[float]) -> int:
    """Milliseconds, rounded up (never wake early); None or negative: no limit, as
    ``select.epoll.poll`` takes it."""
    if timeout is None:
        return -1
    if not hasattr(timeout, "__float__"):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if float(timeout) < 0:
        return -1
    return timeout_ms(timeout)


def _batch(max_events: object) -> int:
    """``max_events`` checked, and capped at the 1,024 events one wait hands out."""
    return batch_arg(max_events, "max_events", 1024)


class _Activity:
    """What the wrappers of one set share besides its registrations' data: a lock for changing
    that data (one thread may register and unregister while another waits, as with
    ``select.epoll``), the key family, and the waits in progress, during which the duplicates
    held for plain descriptors stay open (closing them would take their registrations out
    from under a waiter that only they can wake)."""

    def __init__(self, fds: Dict[int, Handle], numbers: Dict[int, int], sets: Set[int]) -> None:
        self.lock = threading.RLock()
        self.family = next(_FAMILIES) & ((1 << (64 - _KEY_FAMILY_SHIFT)) - 1)
        self.waits = 0
        self.close_duplicates_after_waits = False
        # Adds since the last look for registrations of closed handles (see `add`).
        self.adds_since_prune = 0
        self.fds, self.numbers, self.sets = fds, numbers, sets
        _ACTIVITIES.add(self)

    def new_key(self) -> int:
        return self.family << _KEY_FAMILY_SHIFT | (next(_KEYS) & ((1 << _KEY_FAMILY_SHIFT) - 1))

    def close_duplicates_if_unused(self) -> None:
        """Closes the duplicates held for plain descriptors once no wrapper of the set is
        open. Called under the lock, with no wait in progress."""
        if not any(lib.fdsafe_handle_kind(v) >= 0 for v in self.sets):
            for handle in self.fds.values():
                handle.close()
            self.fds.clear()
            self.numbers.clear()

    def after_fork_in_child(self) -> None:
        """In a forked child, whose only thread is the forking one: a lock another parent
        thread held would never be let go, and its waits are not here."""
        self.lock = threading.RLock()
        self.waits = 0
        if self.close_duplicates_after_waits:
            self.close_duplicates_after_waits = False
            self.close_duplicates_if_unused()


_ACTIVITIES: "weakref.WeakSet[_Activity]" = globals().get("_ACTIVITIES") or weakref.WeakSet()


def _after_fork_in_child() -> None:
    for activity in list(_ACTIVITIES):
        activity.after_fork_in_child()


if not globals().get("_FORK_HOOK_REGISTERED"):  # once, across importlib.reload
    os.register_at_fork(after_in_child=lambda: _after_fork_in_child())
    _FORK_HOOK_REGISTERED = True


class Epoll(Handle):
    """An epoll set. ``add(handle, events, data)`` registers a handle; ``wait`` returns
    ``(data, events)`` pairs, where ``data`` is what was given to ``add`` (the handle itself
    by default)."""

    KIND = KIND_EPOLL
    _PASSED_TO_PROCESSES = False  # its registrations name this process's handles

    def __init__(self, value: int, owned: bool = True):
        super().__init__(value, owned)
        # Shared with the twins dup() makes, as the kernel's interest list is:
        self._data: Dict[int, Tuple[Handle, Any]] = {}  # user value -> (handle, data)
        self._keys: Dict[int, int] = {}  # handle value -> user value
        self._fds: Dict[int, Handle] = {}  # plain descriptor -> the handle registered for it
        self._numbers: Dict[int, int] = {}  # that handle's value -> the plain descriptor
        self._sets: Set[int] = {value}  # the handle values of this set's wrappers
        self._activity = _Activity(self._fds, self._numbers, self._sets)

    @classmethod
    def create(cls) -> "Epoll":
        """A new, empty epoll set (close-on-exec); the caller owns it."""
        out = c_handle()
        check(lib.fdsafe_epoll_create(ctypes.byref(out)))
        return cls(out.value)

    @classmethod
    def fromfd(cls, fd: int) -> "Epoll":
        """``select.epoll.fromfd``: takes ownership of the epoll descriptor ``fd`` (pass
        ``os.dup(other.fileno())`` for a second handle of a set open here). A copy of a set
        open here shares its registrations, as in the kernel; those made through another
        wrapper are reported with their handle as the data. Registrations made outside
        fdsafe (by ``select.epoll.register`` on the same set, say) are never reported or
        counted: fdsafe reports only what it registered, so that no event can name a
        descriptor it cannot vouch for. Register those targets again here."""
        return cls.adopt(fd, KIND_EPOLL)

    def dup(self) -> "Epoll":
        """Another handle of this set (``os.dup``): registrations made through either are
        reported (with their ``data``), changed, deleted and counted through both, plain
        descriptors and objects with ``fileno()`` included (registering one again through
        the other is a ``FileExistsError``), as for a duplicate of a ``select.epoll``.
        Closing one leaves the other working: the duplicates held for plain descriptors
        stay until the last of them is closed."""
        twin = super().dup()
        twin._data, twin._keys, twin._fds, twin._sets = self._data, self._keys, self._fds, self._sets
        twin._numbers, twin._activity = self._numbers, self._activity
        self._sets.add(twin.value)
        return twin

    def fileno(self) -> int:
        """The epoll descriptor, lent; :class:`ClosedFileError` (a ``ValueError``) once
        closed, as ``select.epoll.fileno`` raises."""
        return self._check(lib.fdsafe_fd_borrow(self._value))

    def _prune(self) -> None:
        # Handles closed since they were added left the set in C; forget them here too. Over
        # a copy: `closed` is a library call, during which another thread may add or delete.
        for hv, key in list(self._keys.items()):
            entry = self._data.get(key)
            if entry is None or entry[0].closed:
                if self._keys.get(hv) == key:
                    del self._keys[hv]
                self._drop_key(key)

    def _target(self, target: Target, register: bool) -> Tuple[Handle, bool]:
        """The handle registered for ``target``, and whether it was made by this call: the
        handle itself, or for a plain descriptor (an int, or an object's ``fileno()``) a
        handle on a duplicate of it, made on ``register`` and looked up after (fdsafe
        registers handles, not descriptors)."""
        if isinstance(target, Handle):
            return target, False
        fd = _fd_of(target)
        handle = self._fds.get(fd)
        if handle is not None and not handle.closed:
            if self._names_another_file(fd, handle, register):
                # The caller closed the descriptor it registered without unregistering it,
                # and its number now names another file. The kernel would have dropped the
                # old registration with the file; here the duplicate kept it alive. Drop it
                # (closing the duplicate ends its registration): a register then registers
                # the new file, and a modify or unregister finds nothing registered
                # (FileNotFoundError), as select.epoll does.
                self._forget(fd)
            else:
                return handle, False
        if not register:
            raise self._closed_error(FileNotFoundError(errno.ENOENT, f"descriptor {fd} is not registered"))
        dup = os.dup(fd)
        try:
            handle = Handle.adopt(dup, KIND_OTHER)
        except BaseException:
            os.close(dup)
            raise
        self._fds[fd] = handle
        self._numbers[handle.value] = fd
        return handle, True

    @staticmethod
    def _names_another_file(fd: int, handle: Handle, register: bool) -> bool:
        """Whether descriptor number ``fd`` now names a file other than the one ``handle``
        (the set's duplicate) holds. A closed ``fd`` raises ``OSError(EBADF)`` for a register,
        as ``select.epoll`` does; for a modify or unregister it names nothing else, so the
        duplicate's registration can still be changed or dropped."""
        try:
            return not _same_file(fd, handle.fileno())
        except OSError:
            if register:
                raise
            return False

    @staticmethod
    def _still_names(fd: int, handle: Handle) -> bool:
        """Whether descriptor number ``fd`` still names the file ``handle`` (the set's
        duplicate of it) holds."""
        try:
            return _same_file(fd, handle.fileno())
        except (OSError, ValueError):  # fd closed, or the duplicate closed meanwhile
            return False

    def _closed_error(self, err: OSError) -> Exception:
        """:class:`ClosedFileError` (a ``ValueError``, as ``select.epoll`` raises) for any
        failure once this set is closed; else ``err`` (a closed target handle in an open set
        is a plain ``OSError(EBADF)``). Every method raises through this."""
        if self.closed:
            return ClosedFileError(errno.EBADF, "I/O operation on closed epoll object")
        return err

    def add(self, target: Target, events: int = EPOLL_IN, data: Any = None) -> None:
        """Registers ``target`` for ``events``; ``wait`` then reports ``data`` (default: the
        target itself). ``target`` is a handle (its registration ends when it is closed), a
        plain descriptor or an object with ``fileno()``, as ``select.epoll.register`` takes.
        A plain descriptor is registered through a duplicate that this set holds until
        ``unregister`` (or until the set is closed): unregister it before closing it, or the
        duplicate keeps the file (a socket's connection) open and its registration alive
        until its next event, which is not reported: a wait checks that the number still
        names the registered file before reporting it, and drops a registration whose
        number was closed or reused (closing the duplicate), as ``select.epoll`` reports
        nothing for a closed descriptor.
        Registering a descriptor number again once it names another file (the old one
        closed without ``unregister``, the number reused) drops the old file's registration
        and registers the new one, as ``select.epoll`` does; the same file again is a
        ``FileExistsError``. A closed set raises :class:`ClosedFileError` (a
        ``ValueError``, as ``select.epoll``)."""
        with self._activity.lock:
            # The data of handles closed since they were added is forgotten now and then,
            # after as many adds as there are registrations: looking at every registration
            # on every add made each add cost as much as the set is large (2.7 ms at 4,000).
            self._activity.adds_since_prune += 1
            if self._activity.adds_since_prune > max(64, len(self._keys)):
                self._activity.adds_since_prune = 0
                self._prune()
            handle, made = self._target(target, register=True)
            key = self._activity.new_key()
            # The data is in place before the kernel holds the key: a thread already waiting
            # on the set may get an event for it at once.
            self._data[key] = (handle, target if data is None else data)
            try:
                self._check(lib.fdsafe_epoll_add(self._value, handle.value, _events(events), key))
            except BaseException:
                self._data.pop(key, None)
                if made:  # a failed register leaves an earlier registration of the target alone
                    self._drop_fd(target)
                raise
            self._keys[handle.value] = key

    register = add

    def modify(self, target: Target, events: int, data: Any = None) -> None:
        """Changes the events of a registered target, and its ``data`` when given (without
        it, the ``data`` given to ``add`` stays: re-arming a one-shot registration keeps what
        the waits report). A registration keeps its key for life, so a thread waiting on the
        set meanwhile reports the old or the new ``data``, never a bare handle."""
        with self._activity.lock:
            handle, _ = self._target(target, register=False)
            key = self._keys.get(handle.value)
            fresh = key is None  # registered through C or another process's copy of the set
            if key is None:
                key = self._activity.new_key()
            previous = self._data.get(key)
            entry = (handle, data if data is not None else previous[1] if previous is not None else target)
            self._data[key] = entry
            try:
                self._check(lib.fdsafe_epoll_modify(self._value, handle.value, _events(events), key))
            except BaseException:
                if previous is None:
                    self._data.pop(key, None)
                else:
                    self._data[key] = previous
                raise
            if fresh:
                self._keys[handle.value] = key

    def delete(self, target: Target) -> None:
        """Removes a registered target (a handle, a descriptor or an object with
        ``fileno()``) from the set, and closes the duplicate held for a plain descriptor.
        FileNotFoundError (ENOENT) if it is not in the set."""
        with self._activity.lock:
            handle, _ = self._target(target, register=False)
            try:
                self._check(lib.fdsafe_epoll_delete(self._value, handle.value))
            finally:
                key = self._keys.pop(handle.value, None)
                if key is not None:
                    self._drop_key(key)
                self._drop_fd(target)

    unregister = delete

    def _drop_fd(self, target: Target) -> None:
        if not isinstance(target, Handle):
            self._forget(_fd_of(target))

    def _forget(self, fd: int, only: Optional[Handle] = None) -> None:
        """Closes the duplicate held for descriptor ``fd`` (which ends its registration) and
        forgets its data; with ``only``, just if that is still the duplicate held (not one a
        later register made). Called under the lock."""
        handle = self._fds.get(fd)
        if handle is None or (only is not None and handle is not only):
            return
        del self._fds[fd]
        self._numbers.pop(handle.value, None)
        key = self._keys.pop(handle.value, None)
        if key is not None:
            self._drop_key(key)
        handle.close()

    def _drop_key(self, key: int) -> None:
        """Forgets a registration's data (a wait that gets an event for it drops it, the key
        being of this set's family). Called under the lock."""
        self._data.pop(key, None)

    def close(self) -> None:
        """Closes the set, and the duplicates it holds for plain descriptors unless a twin
        made by :meth:`dup` is still open. A thread waiting on the set meanwhile goes on
        waiting, as with ``select.epoll``, and is woken by the registered targets, plain
        descriptors included: their duplicates are closed when the last wait returns."""
        self._leave()
        super().close()

    def release(self) -> int:
        """Ends the handle and returns the set's descriptor, which the caller must close: a
        bare set, out of which the registrations made through this package were taken
        (unless a twin made by :meth:`dup` is still open, whose they stay); the duplicates
        held for plain descriptors are closed, as by :meth:`close`. ``OSError`` EBUSY, with
        the set left as it was, while another thread is inside a call on it."""
        fd = super().release()
        self._leave()
        return fd

    def _leave(self) -> None:
        """This wrapper is done with the set: if no other wrapper sharing its registrations
        is open, close the duplicates held for plain descriptors (ending their
        registrations). A twin whose handle ended some other way (``release()``, a close
        through another object of its handle value) counts as closed: fdsafe never makes a
        stale handle value live again."""
        with self._activity.lock:
            self._sets.discard(self._value)
            if self._activity.waits:
                self._activity.close_duplicates_after_waits = True
            else:
                self._activity.close_duplicates_if_unused()

    def _collected(self) -> None:
        # The duplicates are this set's own business: close them quietly, and let the set
        # itself warn if it was left open.
        if hasattr(self, "_sets"):
            self._leave()

    def __len__(self) -> int:
        """The number of registrations (:class:`ClosedFileError` once closed)."""
        return self._check(lib.fdsafe_epoll_count(self._value))

    def __enter__(self: "E") -> "E":
        """The set itself; :class:`ClosedFileError` (a ``ValueError``) once closed, as
        ``select.epoll``."""
        if self.closed:
            raise ClosedFileError(errno.EBADF, "I/O operation on closed epoll object")
        return self

    def __bool__(self) -> bool:
        """True, even when empty, as a ``select.epoll`` object: ``ep = ep or
        Epoll.create()`` must not make a second set."""
        return True

    def _collect(self, call: Callable[[Any, int], int], max_events: int, limit: int,
                 per_second: int = 1000) -> List[Tuple[Any, int]]:
        buf = (EpollEvent * max_events)()
        activity = self._activity
        with activity.lock:
            activity.waits += 1
        try:
            try:
                n = retry_eintr_within(lambda left: call(buf, left), limit, per_second)
            except OSError as err:
                raise self._closed_error(err) from None
            with activity.lock:
                return [event for event in map(self._event, buf[:n]) if event is not None]
        finally:
            with activity.lock:
                activity.waits -= 1
                if not activity.waits and activity.close_duplicates_after_waits:
                    activity.close_duplicates_after_waits = False
                    activity.close_duplicates_if_unused()

    def _event(self, ev: EpollEvent) -> Optional[Tuple[Any, int]]:
        """What a wait reports for one kernel event, or None for nothing. Called under the
        lock."""
        entry = self._data.get(ev.user)
        if entry is not None:
            number = self._numbers.get(entry[0].value)
            if number is not None and not self._still_names(number, entry[0]):
                # The caller closed the descriptor it registered without unregistering it (the
                # number may name another file now). select.epoll would report nothing more
                # for it; reporting the number would point at the wrong file. Drop the
                # registration and its duplicate (so a connection ends).
                self._forget(number, only=entry[0])
                return None
            return entry[1], ev.events
        if ev.user >> _KEY_FAMILY_SHIFT == self._activity.family:
            return None  # unregistered through this set while the kernel was reporting it
        # Registered through C or another wrapper: a view of the handle (which another
        # thread may have closed since the wait returned).
        try:
            handle = Handle.wrap(ev.handle, owned=False)
        except OSError:
            handle = Handle(ev.handle, owned=False)
        return handle, ev.events

    # Not Handle.wait (readiness of one handle): for an epoll set, waiting means epoll_wait.
    def wait(  # type: ignore[override]
        self, timeout: Optional[float] = None, max_events: int = 64
    ) -> List[Tuple[Any, int]]:
        """Waits up to ``timeout`` seconds (None or negative: no limit) and returns
        ``(data, events)`` pairs. An interrupted wait is retried (PEP 475) for what is left of
        the timeout."""
        most = _batch(max_events)
        return self._collect(lambda b, ms: lib.fdsafe_epoll_wait(self._value, b, most, ms), most, _ms(timeout))

    def poll(self, timeout: Optional[float] = None, maxevents: int = -1) -> List[Tuple[Any, int]]:
        """:meth:`wait` with ``select.epoll.poll``'s arguments: ``maxevents`` -1 takes up to
        ``FD_SETSIZE - 1`` (1,023) events, as the standard library does."""
        if maxevents == -1:
            maxevents = _FD_SETSIZE - 1
        elif type(maxevents) is int and maxevents < 1:
            raise ValueError(f"maxevents must be greater than 0, got {maxevents}")
        return self.wait(timeout, maxevents)

    def wait_ns(self, timeout_ns: int = -1, max_events: int = 64,
                unblock: Optional[Iterable[int]] = None) -> List[Tuple[Any, int]]:
        """Waits with a nanosecond timeout (``epoll_pwait2``); ``unblock``: the signal mask to
        use while waiting, given as the signals to leave blocked."""
        mask = None if unblock is None else ctypes.byref(sigset(unblock))
        most = _batch(max_events)
        return self._collect(lambda b, ns: lib.fdsafe_epoll_wait_ns(self._value, b, most, ns, mask),
                             most, timeout_ns, 1_000_000_000)

    def pwait(self, mask: Iterable[int], timeout: Optional[float] = None,
              max_events: int = 64) -> List[Tuple[Any, int]]:
        """Waits with the thread's signal mask replaced by ``mask`` (the signals blocked
        during the wait). An unblocked signal's Python handler runs and the wait then goes on
        (or the handler's exception propagates)."""
        s = sigset(mask)
        most = _batch(max_events)
        return self._collect(lambda b, ms: lib.fdsafe_epoll_pwait(self._value, b, most, ms, ctypes.byref(s)),
                             most, _ms(timeout))

    def __iter__(self) -> Iterator[Tuple[Any, int]]:
        """Iterates over the events ready now (a zero-timeout wait)."""
        return iter(self.wait(0))
