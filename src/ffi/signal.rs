//! Signal sets, signal masks and signalfd.

use std::ffi::c_int;

use super::kinds::map_flags;
use super::{call, fdsafe_handle, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, get_as, Handle};
use crate::kinds::signalfd::{thread_count, SignalFd, SignalFdFlags};
use crate::kinds::sigset::{self, SigSet};

/// A set of signals: bit `n - 1` of `bits` stands for signal `n` (1 to 64), the layout of the
/// kernel's own signal set. Build it with `fdsafe_sigset_empty` / `fdsafe_sigset_add`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_sigset {
    /// Bit `n - 1` set: signal `n` is in the set.
    pub bits: u64,
}

/// Reads a caller's input struct; NULL is refused.
pub(super) fn read_in<T>(ptr: *const T, name: &str) -> crate::error::Result<T> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL; the caller vouches that it points to a `T` (any alignment).
    Ok(unsafe { ptr.read_unaligned() })
}

/// Reads an optional input struct: NULL gives `None`.
pub(super) fn read_opt<T>(ptr: *const T) -> Option<T> {
    // SAFETY: non-NULL; the caller vouches that it points to a `T` (any alignment).
    (!ptr.is_null()).then(|| unsafe { ptr.read_unaligned() })
}

/// Borrows a caller's NUL-terminated string; NULL is refused.
pub(super) fn c_str<'a>(ptr: *const std::ffi::c_char, name: &str) -> crate::error::Result<&'a std::ffi::CStr> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL; the caller vouches for a NUL-terminated string that outlives the call.
    Ok(unsafe { std::ffi::CStr::from_ptr(ptr) })
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
        Ok((read_in(set, "set")?.bits & bit != 0) as c_int)
    })
}

/// `fdsafe_signal_mask` operation: add the set to the blocked signals.
pub const FDSAFE_SIG_BLOCK: c_int = 0;
/// `fdsafe_signal_mask` operation: remove the set from the blocked signals.
pub const FDSAFE_SIG_UNBLOCK: c_int = 1;
/// `fdsafe_signal_mask` operation: make the set the blocked signals.
pub const FDSAFE_SIG_SETMASK: c_int = 2;
const _: () = assert!(FDSAFE_SIG_BLOCK == libc::SIG_BLOCK && FDSAFE_SIG_UNBLOCK == libc::SIG_UNBLOCK);
const _: () = assert!(FDSAFE_SIG_SETMASK == libc::SIG_SETMASK);

/// Changes the calling thread's signal mask (`pthread_sigmask`): `how` is
/// `FDSAFE_SIG_BLOCK`, `FDSAFE_SIG_UNBLOCK` or `FDSAFE_SIG_SETMASK` (the kernel's `SIG_*` values). Writes the previous mask
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
        let bits = read_in(set, "set")?.bits;
        let out = if old_out.is_null() { None } else { Some(Out::new(old_out, "old_out")?) };
        let old = sigset::thread_mask(how, SigSet(bits))?;
        if let Some(out) = out {
            out.write(fdsafe_sigset { bits: old.0 });
        }
        Ok(0)
    })
}


/// One signal read from a signalfd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_siginfo {
    /// The signal number.
    pub signo: i32,
    /// How it was sent: `SI_USER` (0, `kill`), `SI_QUEUE` (-1, `sigqueue`), `SI_TKILL` (-6),
    /// the kernel (> 0; for `SIGCHLD`: `CLD_EXITED` 1, `CLD_KILLED` 2, `CLD_DUMPED` 3...).
    pub code: i32,
    /// The sending process (`kill`, `sigqueue`) or the child (`SIGCHLD`).
    pub pid: u32,
    /// The real user ID of the sender (or of the child).
    pub uid: u32,
    /// `SIGCHLD`: the exit status (`CLD_EXITED`) or the signal that ended the child.
    pub status: i32,
    /// An error number that came with the signal (rarely used; 0).
    pub errno_value: i32,
    /// The integer sent with `sigqueue` (the low 32 bits of `ptr_value`).
    pub int_value: i32,
    /// The descriptor for `SIGIO`/`SIGPOLL`, else 0.
    pub fd: i32,
    /// The pointer-sized value sent with `sigqueue`.
    pub ptr_value: u64,
    /// `SIGCHLD`: user CPU time of the child, in clock ticks.
    pub utime: u64,
    /// `SIGCHLD`: system CPU time of the child, in clock ticks.
    pub stime: u64,
    /// The faulting address for hardware-generated signals, else 0.
    pub addr: u64,
}

impl From<&libc::signalfd_siginfo> for fdsafe_siginfo {
    fn from(s: &libc::signalfd_siginfo) -> Self {
        fdsafe_siginfo {
            signo: s.ssi_signo as i32,
            code: s.ssi_code,
            pid: s.ssi_pid,
            uid: s.ssi_uid,
            status: s.ssi_status,
            errno_value: s.ssi_errno,
            int_value: s.ssi_int,
            fd: s.ssi_fd,
            ptr_value: s.ssi_ptr,
            utime: s.ssi_utime,
            stime: s.ssi_stime,
            addr: s.ssi_addr,
        }
    }
}

fn read_set(set: *const fdsafe_sigset) -> crate::error::Result<SigSet> {
    Ok(SigSet(read_in(set, "set")?.bits))
}

/// Blocks the signals of `*set` in the calling thread, then creates a signalfd that reads
/// them (close-on-exec; `flags`: `FDSAFE_NONBLOCK` (`SFD_NONBLOCK`) or 0; `FDSAFE_O_CLOEXEC`,
/// `SFD_CLOEXEC`, is accepted).
///
/// A signalfd only receives signals that are blocked: a signal sent to the process is
/// delivered to any thread that does not block it (running its handler or its default
/// action, which may end the process) instead of being queued for the signalfd. **Every other
/// thread must block these signals too**: block them with `fdsafe_signal_block_process` in
/// the main thread before any thread starts (threads inherit the mask). `SIGKILL` and
/// `SIGSTOP` may be in `*set` (as after `fdsafe_sigset_fill`), but the kernel never blocks
/// them, so the signalfd never reads them: they keep their effect.
///
/// Ownership: the caller owns `*handle_out`; closing it does not unblock the signals.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `set` or `handle_out`, or unknown flags;
/// `-EMFILE`. On any error the calling thread's mask is as it was. Thread safety: changes
/// the calling thread's mask only.
#[no_mangle]
pub extern "C" fn fdsafe_signalfd_create(set: *const fdsafe_sigset, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_signalfd_create", || {
        let set = read_set(set)?;
        let flags = map_flags(
            flags,
            &[(super::FDSAFE_NONBLOCK, SignalFdFlags::NONBLOCK), (super::file::FDSAFE_O_CLOEXEC, SignalFdFlags::empty())],
            "signalfd",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(SignalFd::new(set, flags)?))?.0);
        Ok(0)
    })
}

/// Blocks the signals of `*set` in the calling thread and makes them the set `handle` reads
/// (replacing the old set; signals left out are not unblocked).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `set`.
/// Thread safety: changes the calling thread's mask only.
#[no_mangle]
pub extern "C" fn fdsafe_signalfd_update(handle: fdsafe_handle, set: *const fdsafe_sigset) -> c_int {
    call("fdsafe_signalfd_update", || {
        let set = read_set(set)?;
        get_as::<SignalFd>(Handle(handle), "a signalfd")?.update(set)?;
        Ok(0)
    })
}

/// Reads up to `max` pending signals (at most 64 per call) into `infos_out`, waiting for the
/// first unless non-blocking. Returns the number of records written (>= 1).
///
/// The kernel keeps at most one pending instance of each standard signal (1 to 31): two
/// `SIGCHLD` sent before a read arrive as **one** record, carrying the details of the first.
/// Real-time signals (`SIGRTMIN` and above) are queued and each arrives as its own record. To
/// watch children reliably, use one pidfd per child (readable when it exits) rather than
/// counting `SIGCHLD` records.
///
/// A thread reads the signals pending for the whole process and those pending for itself.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for NULL
/// `infos_out`, `max == 0` or an absurd `max`; `-EAGAIN` (non-blocking, nothing pending);
/// `-EINTR`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_signalfd_read(handle: fdsafe_handle, infos_out: *mut fdsafe_siginfo, max: usize) -> c_int {
    call("fdsafe_signalfd_read", || {
        let out = out_slice(infos_out, max, "infos_out")?;
        if out.is_empty() {
            return Err(Error::invalid("max is 0"));
        }
        let records = get_as::<SignalFd>(Handle(handle), "a signalfd")?.read(out.len())?;
        for (slot, r) in out.iter_mut().zip(&records) {
            *slot = r.into();
        }
        Ok(records.len() as c_int)
    })
}

/// Blocks the signals of `*set` for the process: in the calling thread, and so in every
/// thread it starts afterwards. Call it in the main thread before any other thread exists
/// (before libraries start theirs), then create the signalfd.
///
/// Returns the number of threads in the process: 1 means the whole process now blocks the
/// set; more means the threads that already exist were not changed and may still take these
/// signals. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `set`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_signal_block_process(set: *const fdsafe_sigset) -> c_int {
    call("fdsafe_signal_block_process", || {
        let set = read_set(set)?;
        sigset::thread_mask(libc::SIG_BLOCK, set)?;
        Ok(thread_count()?.min(c_int::MAX as u32) as c_int)
    })
}
