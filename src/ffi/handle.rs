//! Operations on any handle: close, kind, raw-descriptor interop, duplication, non-blocking
//! mode, readiness and plain I/O.

use std::ffi::{c_int, c_void};
use std::os::fd::IntoRawFd;

use super::kinds::{fdsafe_kind, kind_code, kind_from_c};
use super::{call, call_direct, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, Detour, Handle, OwnerCall, TABLE};
use crate::kinds::{self, io};
use crate::sys;
use crate::sys::direct;

/// Readable (`POLLIN`). The `FDSAFE_EVENT_*` values equal the kernel's `POLL*`/`EPOLL*` bits.
pub const FDSAFE_EVENT_IN: u32 = 0x001;
/// Urgent or priority data (`POLLPRI`).
pub const FDSAFE_EVENT_PRI: u32 = 0x002;
/// Writable (`POLLOUT`).
pub const FDSAFE_EVENT_OUT: u32 = 0x004;
/// Error condition (`POLLERR`); always reported, need not be asked for.
pub const FDSAFE_EVENT_ERR: u32 = 0x008;
/// Hang-up (`POLLHUP`); always reported, need not be asked for.
pub const FDSAFE_EVENT_HUP: u32 = 0x010;
/// The peer shut down its writing side (`POLLRDHUP`, sockets).
pub const FDSAFE_EVENT_RDHUP: u32 = 0x2000;
const WAIT_EVENTS: u32 =
    FDSAFE_EVENT_IN | FDSAFE_EVENT_PRI | FDSAFE_EVENT_OUT | FDSAFE_EVENT_ERR | FDSAFE_EVENT_HUP | FDSAFE_EVENT_RDHUP;

/// Closes a handle of any kind.
///
/// The handle stops working at once: every later call with it returns `-EBADF`, even after
/// its slot and descriptor number are reused. The kernel descriptor is closed when the last
/// operation that was already running on the handle (in other threads) returns, so those
/// operations never touch another file. A thread blocked inside a system call on the handle
/// stays blocked until the call returns by itself (data, timeout, signal), except on sockets
/// fdsafe created (listen, connect, accept, pairs), which are shut down to wake such calls.
/// Sockets that came from elsewhere (adopted, received, socket-activated, duplicated) are
/// never shut down, since that would reach every other copy (a service manager's, a
/// sender's). To stop a blocked reader of another kind, wake it first (write to it, or use
/// non-blocking mode and `fdsafe_wait` with a timeout).
///
/// Cost: closing a handle that another thread created runs `membarrier(2)` once (the creating
/// thread uses its handles without atomic operations, and the close must see whether it is
/// inside one); `fdsafe_close_many` runs it once for all the handles it closes.
///
/// Returns 0, or `-EBADF` if the handle is 0, already closed (a second close closes nothing),
/// or was never issued.
/// Thread safety: any thread; of two racing closes, one returns 0 and the other `-EBADF`.
#[no_mangle]
pub extern "C" fn fdsafe_close(handle: fdsafe_handle) -> c_int {
    // No cancellation guard: closing enters no cancellation point but in finalizing an object
    // with cleanup, which guards itself.
    call_direct("fdsafe_close", || TABLE.close(Handle(handle)).map(|_| 0))
}

/// `fdsafe_reference_mode`: a handle is used without any atomic read-modify-write by the
/// thread that created it; other threads take a counted reference; a close from another
/// thread than the creator runs `membarrier(2)` once. The default.
pub const FDSAFE_REFERENCE_CREATOR_FAST: u32 = 0;
/// `fdsafe_reference_mode`: every call takes a counted reference (one compare-and-swap and one
/// subtract, about 10 ns), and no close ever runs `membarrier(2)`. For thread pools in which
/// one thread creates handles (an acceptor) and others use and close them.
pub const FDSAFE_REFERENCE_COUNTED: u32 = 1;

/// Chooses how calls on handles created from now on hold them for their length
/// (`FDSAFE_REFERENCE_CREATOR_FAST` or `FDSAFE_REFERENCE_COUNTED`); existing handles keep the
/// way they were made with. Both keep the handle promise: a descriptor is never closed, and its
/// number never reused, while a call on it runs. They differ in cost only: see the constants
/// and `fdsafe_close`.
///
/// Returns the previous mode. Errors: `FDSAFE_E_INVALID_ARGUMENT` for another `mode`.
/// Thread safety: any thread; a handle created concurrently gets one mode or the other.
#[no_mangle]
pub extern "C" fn fdsafe_reference_mode(mode: u32) -> c_int {
    call("fdsafe_reference_mode", || {
        let fast = match mode {
            FDSAFE_REFERENCE_CREATOR_FAST => true,
            FDSAFE_REFERENCE_COUNTED => false,
            other => return Err(Error::invalid(format!("unknown reference mode {other}"))),
        };
        let was_fast = TABLE.set_creator_fast_path(fast);
        Ok(if was_fast { FDSAFE_REFERENCE_CREATOR_FAST } else { FDSAFE_REFERENCE_COUNTED } as c_int)
    })
}

/// The kind of a live handle: an `FDSAFE_KIND_*` value (> 0).
///
/// Errors: `-EBADF` for 0, closed or never-issued handles. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_handle_kind(handle: fdsafe_handle) -> c_int {
    call_direct("fdsafe_handle_kind", || Ok(kind_code(handles::get(Handle(handle))?.kind())))
}

/// Lends the raw descriptor of a handle, for `poll()` or another library. fdsafe keeps
/// ownership: do not close it, and stop using it before the handle is closed (once it is, the
/// number may belong to another file).
///
/// Returns the descriptor (>= 0), or `-EBADF` for 0, closed or never-issued handles.
/// Thread safety: any thread; takes no lock and no reference (two atomic loads).
#[no_mangle]
pub extern "C" fn fdsafe_fd_borrow(handle: fdsafe_handle) -> c_int {
    call_direct("fdsafe_fd_borrow", || TABLE.peek_fd(Handle(handle)))
}

/// Ends a handle and gives its descriptor to the caller, who must close it. The handle dies
/// (later calls return `-EBADF`); the descriptor stays open and close-on-exec, and the kind's
/// cleanup (such as unlinking a socket path) does not run.
///
/// Returns the descriptor (>= 0). Errors: `-EBADF` for a dead handle; `-EBUSY` while another
/// thread is inside an operation on the handle, which for a pipe's read end includes a write
/// to its write end (the handle is then left as it was).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fd_release(handle: fdsafe_handle) -> c_int {
    call("fdsafe_fd_release", || Ok(TABLE.release(Handle(handle))?.into_raw_fd()))
}

/// Adopts an open descriptor as a handle of `kind`, after checking with the kernel that it
/// really is one (`fstat` file type, the anonymous-inode name in `/proc/self/fd`, socket
/// options). The descriptor is made close-on-exec.
///
/// Ownership: on success fdsafe owns `fd` (close it only through the handle); on failure the
/// caller still owns it and nothing was changed.
/// Errors: `-EBADF` if `fd` is not open; `FDSAFE_E_INVALID_ARGUMENT` if `handle_out` is NULL,
/// `kind` is not an `FDSAFE_KIND_*` value or cannot be adopted, `fd` is not of that kind, or
/// `fd` already belongs to a live handle; other `-errno` from the checks.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fd_adopt(fd: c_int, kind: fdsafe_kind, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_fd_adopt", || {
        let out = Out::new(handle_out, "handle_out")?;
        let handle = kinds::adopt(fd, kind_from_c(kind)?)?;
        out.write(handle.0);
        Ok(0)
    })
}

/// Duplicates a handle: a new handle of the same kind for a new close-on-exec descriptor that
/// shares the open file (offset, status flags) with the original. Each must be closed.
/// The duplicate does not inherit per-handle cleanup such as unlinking a socket path.
///
/// Errors: `-EBADF` for a dead handle; `FDSAFE_E_INVALID_ARGUMENT` if `handle_out` is NULL;
/// `-EMFILE` at the descriptor limit. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_dup(handle: fdsafe_handle, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_dup", || {
        let out = Out::new(handle_out, "handle_out")?;
        out.write(kinds::duplicate(Handle(handle))?.0);
        Ok(0)
    })
}

/// Whether the handle is in non-blocking mode: 1 yes, 0 no.
///
/// The mode belongs to the open file, so it is shared with duplicates (for a stdio handle,
/// with the process's standard stream). Errors: `-EBADF`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_nonblocking_get(handle: fdsafe_handle) -> c_int {
    call("fdsafe_nonblocking_get", || Ok(sys::nonblocking(handles::get(Handle(handle))?.object().as_fd())? as c_int))
}

/// Turns non-blocking mode on or off. In non-blocking mode an operation that would wait
/// returns `-EAGAIN` instead. Shared with duplicates, as for `fdsafe_nonblocking_get`.
///
/// Returns 0. Errors: `-EBADF`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_nonblocking_set(handle: fdsafe_handle, nonblocking: bool) -> c_int {
    call("fdsafe_nonblocking_set", || {
        sys::set_nonblocking(handles::get(Handle(handle))?.object().as_fd(), nonblocking)?;
        Ok(0)
    })
}

/// Waits until the handle is ready for `events` (`FDSAFE_EVENT_IN`, `FDSAFE_EVENT_OUT`...)
/// or `timeout_ms` milliseconds pass (-1: no limit, 0: just check).
///
/// Returns the ready events (> 0; `FDSAFE_EVENT_ERR` and `FDSAFE_EVENT_HUP` may appear
/// unasked), or 0 on timeout. Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for unknown
/// event bits or a timeout below -1; `-EINTR` if a signal handler ran (not retried, so that
/// a daemon can check its flags). Thread safety: any thread; closing the handle meanwhile
/// does not wake the wait (except for sockets), but its descriptor stays open until it returns.
#[no_mangle]
pub extern "C" fn fdsafe_wait(handle: fdsafe_handle, events: u32, timeout_ms: c_int) -> c_int {
    call("fdsafe_wait", || {
        if events & !WAIT_EVENTS != 0 {
            return Err(Error::invalid(format!("unknown event bits {:#x}", events & !WAIT_EVENTS)));
        }
        if timeout_ms < -1 {
            return Err(Error::invalid(format!("timeout {timeout_ms} ms (use -1 for no limit)")));
        }
        let guard = handles::get(Handle(handle))?;
        Ok(io::wait(guard.fd(), events as i16, timeout_ms)? as u16 as c_int)
    })
}

/// Reads up to `len` bytes into `buf` from a handle of any readable kind.
///
/// Returns the number of bytes read (0 at end of file, or when `len` is 0).
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` if `buf` is NULL with `len > 0` or `len`
/// exceeds `SSIZE_MAX`; `-EAGAIN` in non-blocking mode; `-EINTR` if a signal handler ran
/// before any data arrived; any other `-errno` from `read(2)`.
/// Thread safety: any thread; see `fdsafe_close` for closing during a read.
#[no_mangle]
pub extern "C" fn fdsafe_read(handle: fdsafe_handle, buf: *mut c_void, len: usize) -> i64 {
    let call = if buf.is_null() || len > isize::MAX as usize {
        Err(Detour::NOT_RUN)
    } else {
        // SAFETY: the caller provides `len` writable bytes at `buf` (checked non-null).
        TABLE.owner_call(Handle(handle), None, |held| unsafe { direct::read_raw(held.fd(), buf.cast(), len) })
    };
    match call {
        Ok(n) if n >= 0 => n as i64,
        _ => {
            crate::sys::cold_path();
            read_full(handle, buf, len, call)
        }
    }
}

#[cold]
#[inline(never)]
fn read_full(handle: fdsafe_handle, buf: *mut c_void, len: usize, call: OwnerCall) -> i64 {
    call_direct("fdsafe_read", || {
        // Settling may finalize the slot: inside the boundary, as every other path.
        let ran = TABLE.settle(call);
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        if let Some(ret) = ran {
            return Ok(direct::check(ret)? as i64);
        }
        let guard = handles::get(Handle(handle))?;
        Ok(io::read(guard.fd(), buf)? as i64)
    })
}

/// Writes up to `len` bytes from `buf` to a handle of any writable kind.
///
/// Never raises `SIGPIPE`: writing to a pipe or socket whose reading side is gone returns
/// `-EPIPE`. (A pipe from `fdsafe_pipe_create` whose read end handle is still open needs no
/// guard: the write holds the read end, so the pipe has a reader, and goes through the write
/// end's non-blocking twin, so it never waits while holding it; a write that finds too little
/// room lets the read end go and waits like any other, so closing the read end wakes it with
/// `-EPIPE` as with raw descriptors. Other pipes and FIFOs: `SIGPIPE` is blocked in the
/// calling thread for the length of the write and the one the write raised is discarded; a
/// thread that blocks it itself is left alone.)
/// Returns the number of bytes written (possibly fewer than `len`).
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `buf` with `len > 0` or a `len`
/// above `SSIZE_MAX`; `-EPIPE`; `-EAGAIN`; `-EINTR`; other `-errno` from `write(2)`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_write(handle: fdsafe_handle, buf: *const c_void, len: usize) -> i64 {
    let mut reader = None;
    let call = if buf.is_null() || len > isize::MAX as usize {
        Err(Detour::NOT_RUN)
    } else {
        // SAFETY: the caller provides `len` readable bytes at `buf` (checked non-null).
        TABLE.owner_call(Handle(handle), None, |held| unsafe { io::owner_write(held, buf.cast(), len, &mut reader) })
    };
    match call {
        Ok(n) if n >= 0 => n as i64,
        _ => {
            crate::sys::cold_path();
            write_full(handle, buf, len, call, reader)
        }
    }
}

#[cold]
#[inline(never)]
fn write_full(handle: fdsafe_handle, buf: *const c_void, len: usize, call: OwnerCall, reader: Option<OwnerCall>) -> i64 {
    call_direct("fdsafe_write", || {
        // The read end first: the write end is left already, and a closer of the read end may
        // be waiting for this thread.
        let short = reader.and_then(|reader| TABLE.settle(reader));
        let ran = TABLE.settle(call).filter(|&ret| ret != io::NOT_WRITTEN);
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        if let Some(ret) = ran {
            return Ok(direct::check(ret)? as i64);
        }
        let guard = match handles::get(Handle(handle)) {
            Ok(guard) => guard,
            // Bytes written count even if the handle was closed before the rest could be.
            Err(_) if short.is_some_and(|done| done > 0) => return Ok(short.unwrap_or(0) as i64),
            Err(err) => return Err(err),
        };
        match short {
            Some(short) => Ok(io::finish_write(&guard, short, buf)? as i64),
            None => Ok(io::write(&guard, buf)? as i64),
        }
    })
}

/// Scatter read (`readv(2)`) into `iovcnt` buffers. Same returns and errors as `fdsafe_read`;
/// `FDSAFE_E_INVALID_ARGUMENT` also if `iov` is NULL with `iovcnt > 0`, or `iovcnt` is
/// negative or above `IOV_MAX` (1024). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_readv(handle: fdsafe_handle, iov: *const libc::iovec, iovcnt: c_int) -> i64 {
    call_direct("fdsafe_readv", || {
        let iov = in_slice(iov, iov_len(iovcnt)?, "iov")?;
        let guard = handles::get(Handle(handle))?;
        Ok(io::readv(guard.fd(), iov)? as i64)
    })
}

/// Gather write (`writev(2)`) from `iovcnt` buffers. Never raises `SIGPIPE`, as
/// `fdsafe_write`. Same returns and errors as `fdsafe_write`, plus the `iov` checks of
/// `fdsafe_readv`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_writev(handle: fdsafe_handle, iov: *const libc::iovec, iovcnt: c_int) -> i64 {
    call_direct("fdsafe_writev", || {
        let iov = in_slice(iov, iov_len(iovcnt)?, "iov")?;
        let guard = handles::get(Handle(handle))?;
        Ok(io::writev(&guard, iov)? as i64)
    })
}

fn iov_len(iovcnt: c_int) -> crate::Result<usize> {
    usize::try_from(iovcnt).map_err(|_| Error::invalid(format!("iovcnt {iovcnt} is negative")))
}
