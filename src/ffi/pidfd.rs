//! pidfd.

use std::ffi::c_int;
use std::os::fd::IntoRawFd;

use super::kinds::{fdsafe_kind, kind_from_c};
use super::{call, fdsafe_handle, Out, FDSAFE_NONBLOCK};
use crate::error::Error;
use crate::handles::{self, get_as, Handle};
use crate::kinds::pidfd::{Forked, PidFd};

/// `fdsafe_pidfd_wait` flag: do not wait; return 0 if the child is still running (the
/// kernel's `WNOHANG`).
pub const FDSAFE_PIDFD_WAIT_NOHANG: u32 = 1;
const _: () = assert!(FDSAFE_PIDFD_WAIT_NOHANG == libc::WNOHANG as u32);
/// `fdsafe_pidfd_waitid` flag: report a child that has stopped on a signal (`WSTOPPED`).
pub const FDSAFE_PIDFD_WAIT_STOPPED: u32 = 2;
/// `fdsafe_pidfd_waitid` flag: report a child that has exited or was killed (`WEXITED`).
pub const FDSAFE_PIDFD_WAIT_EXITED: u32 = 4;
/// `fdsafe_pidfd_waitid` flag: report a stopped child resumed by `SIGCONT` (`WCONTINUED`).
pub const FDSAFE_PIDFD_WAIT_CONTINUED: u32 = 8;
/// `fdsafe_pidfd_waitid` flag: leave the reported state to be collected again (`WNOWAIT`):
/// an exited child is not reaped.
pub const FDSAFE_PIDFD_WAIT_NOWAIT: u32 = 0x0100_0000;
const _: () = assert!(FDSAFE_PIDFD_WAIT_STOPPED == libc::WSTOPPED as u32 && FDSAFE_PIDFD_WAIT_EXITED == libc::WEXITED as u32);
const _: () = assert!(FDSAFE_PIDFD_WAIT_CONTINUED == libc::WCONTINUED as u32 && FDSAFE_PIDFD_WAIT_NOWAIT == libc::WNOWAIT as u32);
const _: () = assert!(FDSAFE_NONBLOCK == libc::O_NONBLOCK as u32); // PIDFD_NONBLOCK

/// `fdsafe_pidfd_exit.code`: the process called `exit`; `status` is its exit status.
pub const FDSAFE_PIDFD_EXITED: c_int = 1;
/// Killed by a signal; `status` is the signal number.
pub const FDSAFE_PIDFD_KILLED: c_int = 2;
/// Killed by a signal and dumped core; `status` is the signal number.
pub const FDSAFE_PIDFD_DUMPED: c_int = 3;
/// A traced child stopped (`CLD_TRAPPED`); `status` is the signal number.
pub const FDSAFE_PIDFD_TRAPPED: c_int = 4;
/// Stopped by a signal (`CLD_STOPPED`, with `FDSAFE_PIDFD_WAIT_STOPPED`); `status` is the
/// stopping signal.
pub const FDSAFE_PIDFD_STOPPED: c_int = 5;
/// Resumed by `SIGCONT` (`CLD_CONTINUED`, with `FDSAFE_PIDFD_WAIT_CONTINUED`); `status` is
/// `SIGCONT`.
pub const FDSAFE_PIDFD_CONTINUED: c_int = 6;
const _: () = assert!(FDSAFE_PIDFD_EXITED == libc::CLD_EXITED && FDSAFE_PIDFD_KILLED == libc::CLD_KILLED);
const _: () = assert!(FDSAFE_PIDFD_DUMPED == libc::CLD_DUMPED && FDSAFE_PIDFD_TRAPPED == libc::CLD_TRAPPED);
const _: () = assert!(FDSAFE_PIDFD_STOPPED == libc::CLD_STOPPED && FDSAFE_PIDFD_CONTINUED == libc::CLD_CONTINUED);

/// How a child process ended, or that it stopped or continued, filled by
/// `fdsafe_pidfd_wait` and `fdsafe_pidfd_waitid` (the kernel's `si_pid`, `si_code`,
/// `si_status`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_pidfd_exit {
    /// The process id it had.
    pub pid: c_int,
    /// `FDSAFE_PIDFD_EXITED`, `FDSAFE_PIDFD_KILLED` or `FDSAFE_PIDFD_DUMPED`; from
    /// `fdsafe_pidfd_waitid` also `FDSAFE_PIDFD_STOPPED`, `FDSAFE_PIDFD_CONTINUED` or
    /// `FDSAFE_PIDFD_TRAPPED`.
    pub code: c_int,
    /// The exit status (0-255) for `FDSAFE_PIDFD_EXITED`, otherwise the signal number.
    pub status: c_int,
}

/// Opens a pidfd for the process `pid` (`pidfd_open(2)`), a handle of kind
/// `FDSAFE_KIND_PIDFD`, close-on-exec (`FDSAFE_O_CLOEXEC` is accepted). `flags`: 0 or
/// `FDSAFE_NONBLOCK` (`PIDFD_NONBLOCK`:
/// `fdsafe_pidfd_wait` on a running child then returns `-EAGAIN` instead of waiting). The handle keeps
/// referring to that process even after its pid is reused. It becomes readable
/// (`fdsafe_wait` with `FDSAFE_EVENT_IN`) when the process exits.
///
/// Ownership: the caller owns `*handle_out`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for `pid <= 0`, unknown flags or a NULL `handle_out`;
/// `-ESRCH` if there is no such process; `-ENOENT` (the kernel's answer) for the id of a
/// thread that is not its process's main thread; `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_open(pid: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_pidfd_open", || {
        let nonblocking = super::kinds::nonblocking_flag(flags, "pidfd")?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(PidFd::open(pid, nonblocking)?))?.0);
        Ok(0)
    })
}

/// Forks the calling process and gives the parent a pidfd for the child. The pidfd is made
/// before anything can reap the child, so it names that child even when `SIGCHLD` is ignored,
/// a `SIGCHLD` handler reaps with `waitpid(-1)` or another thread waits: the child waits at
/// the fork (on a close-on-exec pipe, for as long as the parent takes to open the pidfd and
/// record the handle), then returns 0. If that fails, the child exits with status 127 without
/// returning from the fork, the parent reaps it, and the error is returned; if the parent dies
/// first, the child exits likewise.
///
/// Returns the child's pid (> 0) in the parent, with `*handle_out` set; 0 in the child, where
/// `*handle_out` is not written. The child inherits fdsafe's descriptors (all close-on-exec)
/// and a copy of the handle table, and may use and close every handle it inherited (closing
/// one closes only its own copy), even when the parent has other threads: fdsafe's fork
/// handlers leave none of its locks held (see the README's fork section). Everything outside
/// fdsafe follows the rules of `fork()`: in a multithreaded program, another library's locks
/// (a thread pool's mutex, say) may be held by a thread that did not come along.
/// Ownership: the parent owns `*handle_out`; reap the child with `fdsafe_pidfd_wait`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `handle_out` (nothing forked); `-EAGAIN` /
/// `-ENOMEM` from `fork`; `-EMFILE` / `-ENFILE` (the pipe or the pidfd; the child, if made,
/// exited without running the caller's code). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_fork(handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_pidfd_fork", || {
        let out = Out::new(handle_out, "handle_out")?;
        match PidFd::fork(|pidfd| handles::insert(Box::new(pidfd)))? {
            Forked::Parent(pid, handle) => {
                out.write(handle.0);
                Ok(pid)
            }
            Forked::Child => Ok(0),
        }
    })
}

/// Sends signal `signal` to the process (`pidfd_send_signal(2)`); 0 only checks that it
/// still exists. `flags` must be 0.
///
/// Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for
/// non-zero flags; `-EINVAL` (from the kernel) for an invalid signal number; `-ESRCH` if the
/// process has exited; `-EPERM`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_send_signal(handle: fdsafe_handle, signal: c_int, flags: u32) -> c_int {
    call("fdsafe_pidfd_send_signal", || {
        if flags != 0 {
            return Err(Error::invalid(format!("pidfd_send_signal flags {flags:#x}: pass 0")));
        }
        get_as::<PidFd>(Handle(handle), "a pidfd")?.send_signal(signal)?;
        Ok(0)
    })
}

/// Waits for the child process to exit and collects its status (`waitid(P_PIDFD, WEXITED)`),
/// which reaps it. `flags`: 0 or `FDSAFE_PIDFD_WAIT_NOHANG`. To wait with a timeout or next
/// to other handles, first wait for `FDSAFE_EVENT_IN` on the pidfd (`fdsafe_wait`, poll,
/// epoll), then call this.
///
/// Returns 1 with `*exit_out` filled, or 0 (`FDSAFE_PIDFD_WAIT_NOHANG`, still running;
/// `*exit_out` untouched). Blocks otherwise; a signal gives `-EINTR` (not retried).
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags or
/// a NULL `exit_out`; `-ECHILD` if the process is not a child of this process or was already
/// reaped; `-EAGAIN` for a non-blocking pidfd whose child still runs; `-EINTR`.
/// Thread safety: any thread; only one waiter collects the status.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_wait(handle: fdsafe_handle, flags: u32, exit_out: *mut fdsafe_pidfd_exit) -> c_int {
    call("fdsafe_pidfd_wait", || {
        if flags & !FDSAFE_PIDFD_WAIT_NOHANG != 0 {
            return Err(Error::invalid(format!("unknown wait flag bits {:#x}", flags & !FDSAFE_PIDFD_WAIT_NOHANG)));
        }
        let out = Out::new(exit_out, "exit_out")?;
        match get_as::<PidFd>(Handle(handle), "a pidfd")?.wait(flags != 0)? {
            Some(e) => {
                out.write(fdsafe_pidfd_exit { pid: e.pid, code: e.code, status: e.status });
                Ok(1)
            }
            None => Ok(0),
        }
    })
}

/// Waits for a state change of the child process, as `waitid(P_PIDFD, fd, &info, flags)`:
/// `flags` holds at least one of `FDSAFE_PIDFD_WAIT_EXITED` (exited or killed; collecting it
/// reaps the child), `FDSAFE_PIDFD_WAIT_STOPPED` (stopped by a signal),
/// `FDSAFE_PIDFD_WAIT_CONTINUED` (resumed by `SIGCONT`), plus any of
/// `FDSAFE_PIDFD_WAIT_NOHANG` (do not wait) and `FDSAFE_PIDFD_WAIT_NOWAIT` (report the state
/// but leave it to be collected again). These are the kernel's `W*` values. A stop or a
/// continuation is reported once, unless `FDSAFE_PIDFD_WAIT_NOWAIT` leaves it in place.
///
/// Returns 1 with `*exit_out` filled (`code` tells which change: `FDSAFE_PIDFD_EXITED`,
/// `FDSAFE_PIDFD_KILLED`, `FDSAFE_PIDFD_DUMPED`, `FDSAFE_PIDFD_STOPPED`,
/// `FDSAFE_PIDFD_CONTINUED`, `FDSAFE_PIDFD_TRAPPED`), or 0 with `FDSAFE_PIDFD_WAIT_NOHANG`
/// when no asked-for change is pending (`*exit_out` untouched). Blocks otherwise; a signal
/// gives `-EINTR` (not retried).
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags,
/// none of the three states, or a NULL `exit_out`; `-ECHILD` if the process is not a child
/// of this process or was already reaped; `-EAGAIN` for a non-blocking pidfd with no change
/// pending; `-EINTR`. Thread safety: any thread; only one waiter collects each change.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_waitid(handle: fdsafe_handle, flags: u32, exit_out: *mut fdsafe_pidfd_exit) -> c_int {
    call("fdsafe_pidfd_waitid", || {
        let out = Out::new(exit_out, "exit_out")?;
        let options = i32::try_from(flags).map_err(|_| Error::invalid(format!("unknown waitid flag bits {flags:#x}")))?;
        crate::kinds::pidfd::check_wait_options(options)?; // bad flags first, as every function
        let pidfd = get_as::<PidFd>(Handle(handle), "a pidfd")?;
        match pidfd.waitid(options)? {
            Some(e) => {
                out.write(fdsafe_pidfd_exit { pid: e.pid, code: e.code, status: e.status });
                Ok(1)
            }
            None => Ok(0),
        }
    })
}

/// Copies the descriptor `target_fd` out of the process (`pidfd_getfd(2)`) and wraps the
/// close-on-exec copy as a handle of `kind` (an `FDSAFE_KIND_*` value that can be adopted,
/// checked with the kernel as `fdsafe_fd_adopt` does). The copy shares the open file with
/// the other process's descriptor.
///
/// Ownership: the caller owns `*handle_out`; the other process keeps its descriptor.
/// Errors: `-EBADF` for a dead handle, a negative `target_fd`, or if the process has no
/// descriptor `target_fd`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `handle_out`, an unknown or non-adoptable kind, or a descriptor not of that kind (the copy
/// is then closed); `-EPERM` without ptrace rights over the process; `-ESRCH` if it exited.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_getfd(handle: fdsafe_handle, target_fd: c_int, kind: fdsafe_kind, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_pidfd_getfd", || {
        let out = Out::new(handle_out, "handle_out")?;
        let kind = kind_from_c(kind)?;
        let fd = get_as::<PidFd>(Handle(handle), "a pidfd")?.getfd(target_fd)?;
        // On failure `adopt` leaves the descriptor to us: close it again.
        let raw = fd.into_raw_fd();
        match super::handle::adopt(raw, kind) {
            Ok(h) => {
                out.write(h.0);
                Ok(0)
            }
            Err(e) => {
                // SAFETY: still ours (adopt failed).
                drop(unsafe { crate::sys::owned(raw) });
                Err(e)
            }
        }
    })
}

/// The process id the pidfd refers to (> 0), read from `/proc/thread-self/fdinfo`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-ESRCH` once the process has been reaped (a
/// child that has exited keeps its pid until it is waited for, as the kernel reports);
/// `-ENOENT` without `/proc` mounted.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pidfd_get_pid(handle: fdsafe_handle) -> c_int {
    call("fdsafe_pidfd_get_pid", || get_as::<PidFd>(Handle(handle), "a pidfd")?.pid())
}
