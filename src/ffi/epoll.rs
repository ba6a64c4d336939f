//! epoll sets whose registrations are keyed by handle and end when the handle is closed.

use std::ffi::c_int;
use std::time::Duration;

use super::signal::{fdsafe_sigset, read_opt};
use super::{call, call_direct, fdsafe_handle, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, get_as, Handle};
use crate::kinds::epoll::{Epoll, Timeout};
use crate::kinds::sigset::SigSet;

/// epoll event: readable (`EPOLLIN`). The `FDSAFE_EPOLL_*` values equal the kernel's bits
/// (and `FDSAFE_EVENT_*` for the first six).
pub const FDSAFE_EPOLL_IN: u32 = 0x001;
/// epoll event: urgent or priority data (`EPOLLPRI`).
pub const FDSAFE_EPOLL_PRI: u32 = 0x002;
/// epoll event: writable (`EPOLLOUT`).
pub const FDSAFE_EPOLL_OUT: u32 = 0x004;
/// epoll event: error (`EPOLLERR`); always reported, need not be asked for.
pub const FDSAFE_EPOLL_ERR: u32 = 0x008;
/// epoll event: hang-up (`EPOLLHUP`); always reported, need not be asked for.
pub const FDSAFE_EPOLL_HUP: u32 = 0x010;
/// epoll event: the peer shut down its writing side (`EPOLLRDHUP`, stream sockets).
pub const FDSAFE_EPOLL_RDHUP: u32 = 0x2000;
/// epoll option: with several sets watching one file, wake only one of them
/// (`EPOLLEXCLUSIVE`; only with `fdsafe_epoll_add`, `fdsafe_epoll_modify` refuses it).
pub const FDSAFE_EPOLL_EXCLUSIVE: u32 = 0x1000_0000;
/// epoll option: keep the system from suspending while the event is pending
/// (`EPOLLWAKEUP`; silently ignored by the kernel without `CAP_BLOCK_SUSPEND`).
pub const FDSAFE_EPOLL_WAKEUP: u32 = 0x2000_0000;
/// epoll option: report the registration once, then disable it until `fdsafe_epoll_modify`
/// re-arms it (`EPOLLONESHOT`).
pub const FDSAFE_EPOLL_ONESHOT: u32 = 0x4000_0000;
/// epoll option: edge-triggered, report only changes (`EPOLLET`).
pub const FDSAFE_EPOLL_ET: u32 = 0x8000_0000;

/// One ready registration, as `fdsafe_epoll_wait` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_epoll_event {
    /// The registered handle that is ready. It was live when the wait returned; another
    /// thread may close it afterwards, and calls with it then return `-EBADF`.
    pub handle: fdsafe_handle,
    /// The 64-bit value given at `fdsafe_epoll_add` / `fdsafe_epoll_modify`.
    pub user: u64,
    /// The ready `FDSAFE_EPOLL_*` event bits.
    pub events: u32,
    /// Always 0.
    pub reserved: u32,
}

/// Creates an empty epoll set (close-on-exec).
///
/// The registrations belong to the kernel's epoll instance, as its interest list does: a
/// duplicate of the set (`fdsafe_dup`), or a copy passed over a Unix socket to this same
/// process, received, adopted (`fdsafe_fd_adopt`) or copied with `fdsafe_pidfd_getfd`
/// while a handle of it is live here (matched with `kcmp(KCMP_FILE)`), is another handle of
/// the same set: registrations made through any of them are reported, modified, deleted and
/// counted through any of them.
///
/// Ownership: the caller owns `*handle_out`. Closing one handle of a set leaves its other
/// handles working; closing the last ends all its registrations (the registered handles
/// stay open). Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `handle_out`; `-EMFILE`, `-ENOMEM`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_create(handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_epoll_create", || {
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(Epoll::new()?))?.0);
        Ok(0)
    })
}

/// Adds `target` (a handle of any pollable kind) to the set `epoll`, watching `events`
/// (`FDSAFE_EPOLL_*` bits), and reported with the caller's `user` value.
///
/// The registration belongs to the handle: when `target` is closed (or released) through
/// fdsafe, it is gone from every set it is in, in the kernel too, by the time its descriptor
/// closes (when the close returns, or, if another thread is inside a call on it, when the
/// last such call returns), even if a duplicate of the descriptor (lent, sent, inherited by a
/// child) keeps the open file alive. No event for the handle is returned by
/// `fdsafe_epoll_wait` from the moment the close begins. Two copies fdsafe cannot know of
/// keep the kernel's registration until they close: one in a child made by a raw `clone(2)`
/// or `fork` system call (no fork handler ran), and one another process took with
/// `pidfd_getfd(2)`; `fdsafe_epoll_wait` still drops its events (a level-triggered one
/// wakes the wait, which goes on).
///
/// Errors: `-EBADF` for a stale `epoll` or `target`; `FDSAFE_E_WRONG_KIND` if `epoll` is not
/// an epoll set; `FDSAFE_E_INVALID_ARGUMENT` for unknown event bits; `-EEXIST` if `target` is
/// already in the set; `-EPERM` for a kind the kernel cannot poll (regular files, `/dev/null`);
/// `-EINVAL` for the set itself (any handle of it), for `FDSAFE_EPOLL_EXCLUSIVE` with
/// `FDSAFE_EPOLL_ONESHOT` or on a target that is itself an epoll set (as `epoll_ctl(2)`);
/// `-ELOOP` for a cycle of sets; `-ENOMEM`, `-ENOSPC`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_add(epoll: fdsafe_handle, target: fdsafe_handle, events: u32, user: u64) -> c_int {
    // No cancellation guard, here and in modify and delete: `epoll_ctl` is no cancellation
    // point, and a close finished by a dropped guard guards itself.
    call_direct("fdsafe_epoll_add", || {
        let set = get_as::<Epoll>(Handle(epoll), "an epoll set")?;
        let target = handles::get(Handle(target))?;
        set.add(&handles::TABLE, set.handle(), &target, events, user)?;
        Ok(0)
    })
}

/// Changes the events and user value of `target`'s registration in `epoll`; re-arms a
/// one-shot registration.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown bits;
/// `-ENOENT` if `target` is not in the set (or has left it: its close began in another
/// thread that still holds it); `-EINVAL` from the kernel for
/// `FDSAFE_EPOLL_EXCLUSIVE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_modify(epoll: fdsafe_handle, target: fdsafe_handle, events: u32, user: u64) -> c_int {
    call_direct("fdsafe_epoll_modify", || {
        let set = get_as::<Epoll>(Handle(epoll), "an epoll set")?;
        let target = handles::get(Handle(target))?;
        set.modify(&target, events, user)?;
        Ok(0)
    })
}

/// Removes `target` from `epoll`. (Closing `target` does this by itself.)
///
/// Errors: `-EBADF` (a closed `target` has already left every set); `FDSAFE_E_WRONG_KIND`;
/// `-ENOENT` if `target` is not in the set. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_delete(epoll: fdsafe_handle, target: fdsafe_handle) -> c_int {
    call_direct("fdsafe_epoll_delete", || {
        let set = get_as::<Epoll>(Handle(epoll), "an epoll set")?;
        let target = handles::get(Handle(target))?;
        set.delete(&target)?;
        Ok(0)
    })
}

/// The number of registrations in `epoll`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_count(epoll: fdsafe_handle) -> i64 {
    call("fdsafe_epoll_count", || Ok(get_as::<Epoll>(Handle(epoll), "an epoll set")?.len() as i64))
}

#[inline(always)] // the wait returns straight into the exported function
fn wait_into(
    op: &'static str,
    epoll: fdsafe_handle,
    events_out: *mut fdsafe_epoll_event,
    max_events: usize,
    timeout: Timeout,
    sigmask: *const fdsafe_sigset,
) -> c_int {
    // Every system call on this path is direct (the wait, its back-off sleep, the set's lock).
    call_direct(op, || {
        let out = out_slice(events_out, max_events, "events_out")?;
        if out.is_empty() {
            return Err(Error::invalid("max_events is 0"));
        }
        let mask = read_opt(sigmask).map(|s| SigSet(s.bits));
        let set = get_as::<Epoll>(Handle(epoll), "an epoll set")?;
        // Events go straight into the caller's array: out-params are written only on success,
        // and a wait that fails (EINTR...) reports nothing, so no partial result is visible.
        let n = set.wait_with(out.len(), timeout, mask, |i, r| {
            if let Some(slot) = out.get_mut(i) {
                *slot = fdsafe_epoll_event { handle: r.handle.0, user: r.user, events: r.events, reserved: 0 };
            }
        })?;
        Ok(n as c_int)
    })
}

fn millis(timeout_ms: c_int) -> Timeout {
    if timeout_ms < 0 {
        Timeout::Forever
    } else {
        Timeout::Millis(timeout_ms as u32)
    }
}

/// Waits up to `timeout_ms` milliseconds (negative: no limit, 0: just look) for registered
/// handles to become ready, and writes up to `max_events` of them (at most 1024 per call) to
/// `events_out`.
///
/// Returns the number of events written, 0 on timeout. Events of handles that were closed,
/// or began closing, before the wait looked at them are dropped, and the wait goes on for the
/// rest of the timeout. Registrations made through any handle of the set are reported (see
/// `fdsafe_epoll_create`); those made outside fdsafe (in an adopted set) never are.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` if `events_out` is
/// NULL or `max_events` is 0 or absurd; `-EINTR` if a signal handler ran (fdsafe does not
/// retry). Thread safety: any thread; several threads may wait on one set.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_wait(
    epoll: fdsafe_handle,
    events_out: *mut fdsafe_epoll_event,
    max_events: usize,
    timeout_ms: c_int,
) -> c_int {
    wait_into("fdsafe_epoll_wait", epoll, events_out, max_events, millis(timeout_ms), std::ptr::null())
}

/// `fdsafe_epoll_wait` with the calling thread's signal mask replaced by `*sigmask` for the
/// length of the wait, atomically (`epoll_pwait`): unblock a signal only while waiting, so its
/// handler cannot run between a check and the wait. A NULL `sigmask` leaves the mask alone.
/// glibc's own signals (32 and 33) stay unblocked whatever the set holds, as
/// `pthread_sigmask` keeps them (a thread blocking 33 would hold up `setuid` in every other
/// thread).
///
/// Errors: as `fdsafe_epoll_wait`; `-EINTR` when a signal unblocked by the mask arrives.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_pwait(
    epoll: fdsafe_handle,
    events_out: *mut fdsafe_epoll_event,
    max_events: usize,
    timeout_ms: c_int,
    sigmask: *const fdsafe_sigset,
) -> c_int {
    wait_into("fdsafe_epoll_pwait", epoll, events_out, max_events, millis(timeout_ms), sigmask)
}

/// `fdsafe_epoll_pwait` with a timeout in nanoseconds (`epoll_pwait2`, Linux 5.11):
/// `timeout_ns` negative waits without limit, 0 just looks. `sigmask` may be NULL.
///
/// Errors: as `fdsafe_epoll_pwait`; `-ENOSYS` where the kernel lacks `epoll_pwait2`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_epoll_wait_ns(
    epoll: fdsafe_handle,
    events_out: *mut fdsafe_epoll_event,
    max_events: usize,
    timeout_ns: i64,
    sigmask: *const fdsafe_sigset,
) -> c_int {
    let timeout = if timeout_ns < 0 { Timeout::Forever } else { Timeout::Precise(Duration::from_nanos(timeout_ns as u64)) };
    wait_into("fdsafe_epoll_wait_ns", epoll, events_out, max_events, timeout, sigmask)
}
