//! Signal sets and signal masks, for `fdsafe_epoll_pwait` and signalfd.

use std::ffi::c_int;

use super::{call, Out};
use crate::error::Error;
use crate::kinds::sigset::{self, SigSet};

/// A set of signals: bit `n - 1` of `bits` stands for signal `n` (1 to 64), the layout of the
/// kernel's own signal set. Build it with `fdsafe_sigset_empty` / `fdsafe_sigset_add`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_sigset {
    /// Bit `n - 1` set: signal `n` is in the set.
    pub bits: u64,
}

fn with_set(set: *mut fdsafe_sigset, f: impl FnOnce(&mut u64) -> crate::error::Result<c_int>) -> crate::error::Result<c_int> {
    if set.is_null() {
        return Err(Error::invalid("set is NULL"));
    }
    // SAFETY: non-NULL; the caller vouches that it points to an fdsafe_sigset.
    let mut bits = unsafe { set.read_unaligned() }.bits;
    let result = f(&mut bits)?;
    // SAFETY: as above.
    unsafe { set.write_unaligned(fdsafe_sigset { bits }) };
    Ok(result)
}

/// Empties `*set`. Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sigset_empty(set: *mut fdsafe_sigset) -> c_int {
    call("fdsafe_sigset_empty", || {
        with_set(set, |bits| {
            *bits = 0;
            Ok(0)
        })
    })
}

/// Puts every signal 1 to 64 in `*set` (the kernel never blocks `SIGKILL` and `SIGSTOP`, and
/// glibc keeps its internal signals 32 and 33 out of any mask).
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sigset_fill(set: *mut fdsafe_sigset) -> c_int {
    call("fdsafe_sigset_fill", || {
        with_set(set, |bits| {
            *bits = u64::MAX;
            Ok(0)
        })
    })
}

/// Adds signal `signo` to `*set`. Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL or a number
/// outside 1..64 (the set is then unchanged). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sigset_add(set: *mut fdsafe_sigset, signo: c_int) -> c_int {
    call("fdsafe_sigset_add", || {
        let bit = SigSet::check(signo)?;
        with_set(set, |bits| {
            *bits |= bit;
            Ok(0)
        })
    })
}

/// Removes signal `signo` from `*set`. Errors: as `fdsafe_sigset_add`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sigset_del(set: *mut fdsafe_sigset, signo: c_int) -> c_int {
    call("fdsafe_sigset_del", || {
        let bit = SigSet::check(signo)?;
        with_set(set, |bits| {
            *bits &= !bit;
            Ok(0)
        })
    })
}

/// 1 if `signo` is in `*set`, 0 if not. Errors: as `fdsafe_sigset_add`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sigset_has(set: *const fdsafe_sigset, signo: c_int) -> c_int {
    call("fdsafe_sigset_has", || {
        let bit = SigSet::check(signo)?;
        if set.is_null() {
            return Err(Error::invalid("set is NULL"));
        }
        // SAFETY: non-NULL; the caller vouches that it points to an fdsafe_sigset.
        Ok((unsafe { set.read_unaligned() }.bits & bit != 0) as c_int)
    })
}

/// `fdsafe_signal_mask` operation: add the set to the blocked signals.
pub const FDSAFE_SIG_BLOCK: c_int = 0;
/// `fdsafe_signal_mask` operation: remove the set from the blocked signals.
pub const FDSAFE_SIG_UNBLOCK: c_int = 1;
/// `fdsafe_signal_mask` operation: make the set the blocked signals.
pub const FDSAFE_SIG_SETMASK: c_int = 2;

/// Changes the calling thread's signal mask (`pthread_sigmask`): `how` is
/// `FDSAFE_SIG_BLOCK`, `FDSAFE_SIG_UNBLOCK` or `FDSAFE_SIG_SETMASK`. Writes the previous mask
/// to `*old_out` if it is not NULL. Threads created afterwards inherit the mask, so calling
/// this in the main thread before any other thread starts blocks signals process-wide.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for an unknown `how` or a NULL `set`.
/// Thread safety: affects only the calling thread.
#[no_mangle]
pub extern "C" fn fdsafe_signal_mask(how: c_int, set: *const fdsafe_sigset, old_out: *mut fdsafe_sigset) -> c_int {
    call("fdsafe_signal_mask", || {
        let how = match how {
            FDSAFE_SIG_BLOCK => libc::SIG_BLOCK,
            FDSAFE_SIG_UNBLOCK => libc::SIG_UNBLOCK,
            FDSAFE_SIG_SETMASK => libc::SIG_SETMASK,
            other => return Err(Error::invalid(format!("{other} is not an FDSAFE_SIG_* operation"))),
        };
        if set.is_null() {
            return Err(Error::invalid("set is NULL"));
        }
        let out = if old_out.is_null() { None } else { Some(Out::new(old_out, "old_out")?) };
        // SAFETY: non-NULL; the caller vouches that it points to an fdsafe_sigset.
        let bits = unsafe { set.read_unaligned() }.bits;
        let old = sigset::thread_mask(how, SigSet(bits))?;
        if let Some(out) = out {
            out.write(fdsafe_sigset { bits: old.0 });
        }
        Ok(0)
    })
}
