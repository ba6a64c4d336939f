//! Batches of reads and writes in one call, for callers whose per-call cost dominates (the
//! Python bindings pay about 300 ns of ctypes per call, more than the system call itself).

use std::ffi::c_void;

use super::{call, call_direct, codes, fdsafe_handle, out_slice};
use crate::error::{Error, Result};
use crate::handles::{self, Handle};
use crate::kinds::io;

/// `fdsafe_io_op.op`: read up to `len` bytes into `buf` (as `fdsafe_read`).
pub const FDSAFE_IO_READ: u32 = 1;
/// `fdsafe_io_op.op`: write up to `len` bytes from `buf` (as `fdsafe_write`; never raises
/// `SIGPIPE`).
pub const FDSAFE_IO_WRITE: u32 = 2;
/// The most operations one `fdsafe_io_batch` call takes.
pub const FDSAFE_IO_BATCH_MAX: u32 = 65536;

/// One read or write of an `fdsafe_io_batch`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_io_op {
    /// The handle to read from or write to (any readable or writable kind).
    pub handle: fdsafe_handle,
    /// `FDSAFE_IO_READ` or `FDSAFE_IO_WRITE`.
    pub op: u32,
    /// Must be 0.
    pub reserved: u32,
    /// The buffer: written into by a read, read from by a write. NULL only with `len` 0.
    pub buf: *mut c_void,
    /// The buffer's length in bytes.
    pub len: usize,
    /// Written by `fdsafe_io_batch` for each operation it attempted: the bytes transferred
    /// (`>= 0`), or the negative code the same `fdsafe_read` / `fdsafe_write` would return.
    pub result: i64,
}

/// Runs `count` reads and writes in order, each exactly as `fdsafe_read` or `fdsafe_write`
/// would (its own handle lookup, so the handle promise holds per operation; blocking as the
/// descriptor is), and stops at the first that fails. One call replaces `count` calls, for
/// callers (such as Python over ctypes) for whom the call itself costs more than the work.
///
/// Returns the number of operations that succeeded, from the start of `ops`: if it is below
/// `count`, `ops[returned].result` holds the failing operation's negative code (`-EBADF` for
/// a stale handle, `-EINTR`, `-EAGAIN`, `-EPIPE`, any `-errno` of `read(2)` / `write(2)`;
/// `FDSAFE_E_WRONG_KIND` for a fanotify or inotify handle, as `fdsafe_read` and
/// `fdsafe_write` refuse them) and the operations after it were not attempted (their `result` is
/// unchanged). A short read or
/// write is a success (its `result` says how much) and the batch goes on. The thread's last
/// error message is not set for a failing operation; `fdsafe_strerror(result)` describes it.
///
/// Errors: (nothing done, no `result` written) `FDSAFE_E_INVALID_ARGUMENT` for `ops` NULL
/// with `count` > 0, `count` above `FDSAFE_IO_BATCH_MAX`, unknown `flags` (none are defined:
/// pass 0), or an operation with an unknown `op`, a non-zero `reserved`, or a NULL `buf` with
/// `len` > 0 or a `len` above `SSIZE_MAX`. EINTR policy: an interrupted operation fails with
/// `-EINTR` like the system call; resume the batch from it. Thread safety: any thread; the
/// caller must not touch `ops` or the buffers during the call.
#[no_mangle]
pub extern "C" fn fdsafe_io_batch(ops: *mut fdsafe_io_op, count: usize, flags: u32) -> i64 {
    call_direct("fdsafe_io_batch", || {
        if flags != 0 {
            return Err(Error::invalid(format!("unknown flags {flags:#x}")));
        }
        if count > FDSAFE_IO_BATCH_MAX as usize {
            return Err(Error::invalid(format!("{count} operations; at most {FDSAFE_IO_BATCH_MAX} per call")));
        }
        let ops = out_slice(ops, count, "ops")?;
        for (i, op) in ops.iter().enumerate() {
            check_op(op).map_err(|e| e.context(format!("operation {i}")))?;
        }
        for (i, op) in ops.iter_mut().enumerate() {
            match run(op) {
                Ok(n) => op.result = n as i64,
                Err(err) => {
                    op.result = codes::code_of(&err) as i64;
                    return Ok(i as i64);
                }
            }
        }
        Ok(count as i64)
    })
}

fn check_op(op: &fdsafe_io_op) -> Result<()> {
    if op.op != FDSAFE_IO_READ && op.op != FDSAFE_IO_WRITE {
        return Err(Error::invalid(format!("unknown op {}", op.op)));
    }
    if op.reserved != 0 {
        return Err(Error::invalid("reserved is not 0"));
    }
    out_slice(op.buf.cast::<u8>(), op.len, "buf").map(|_| ())
}

#[inline]
fn run(op: &fdsafe_io_op) -> Result<usize> {
    let guard = handles::get(Handle(op.handle))?;
    if op.op == FDSAFE_IO_READ {
        super::handle::plain_io(guard.handle())?;
        let buf = out_slice(op.buf.cast::<u8>(), op.len, "buf")?;
        io::read(guard.fd(), buf)
    } else {
        let buf = super::in_slice(op.buf.cast_const().cast::<u8>(), op.len, "buf")?;
        let iov = [libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() }];
        super::handle::write_iov(&guard, &iov)
    }
}

/// Closes `count` handles, each exactly as `fdsafe_close` would (a handle other threads are
/// inside calls on is marked dead at once and its descriptor closed when the last of those
/// calls returns). One call replaces `count` calls (for the Python bindings, where a call
/// costs more than the close).
///
/// Returns how many of the handles were live and are now closed. Handles that are not live
/// (0, already closed, released, never issued) are skipped, as `fdsafe_close` would refuse
/// them with `-EBADF`; a handle listed twice is closed once.
///
/// Errors: (nothing closed) `FDSAFE_E_INVALID_ARGUMENT` for `handles` NULL with `count` > 0,
/// or `count` above `FDSAFE_IO_BATCH_MAX`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_close_many(handles: *const fdsafe_handle, count: usize) -> i64 {
    call("fdsafe_close_many", || {
        if count > FDSAFE_IO_BATCH_MAX as usize {
            return Err(Error::invalid(format!("{count} handles; at most {FDSAFE_IO_BATCH_MAX} per call")));
        }
        let handles = super::in_slice(handles, count, "handles")?;
        Ok(handles::close_many(handles.iter().map(|&h| Handle(h))) as i64)
    })
}

/// Closes every handle of this process except the `count` handles in `keep`, each exactly as
/// `fdsafe_close` would: only this process's descriptors, never a copy held elsewhere (a
/// parent's, a peer's, a duplicate's). Descriptors that fdsafe does not hold are untouched.
/// Made for a worker right after `fork()` or `fdsafe_pidfd_fork`: it keeps what it serves
/// with and drops every listener, control socket and set it inherited, without naming them.
///
/// Returns how many handles it closed. `keep` may list a handle twice.
///
/// Errors: (nothing closed) `-EBADF` if an entry of `keep` is not a live handle (0, closed,
/// released, never issued: keeping it would keep nothing, so the list is wrong);
/// `FDSAFE_E_INVALID_ARGUMENT` for `keep` NULL with `count` > 0; `-ENOMEM` if the list is too
/// long to copy (the same live handle listed billions of times). Thread safety: any thread,
/// but meant for a process with one thread: a handle another thread creates during the call
/// may or may not be closed.
///
/// In a child forked from a process with threads, a descriptor another thread was closing
/// or making during the fork (the kernel copies the descriptor table before the memory, and
/// the other threads run in between) can be open here with no handle to name it, as it would
/// be for a raw program: this call does not see it. Close such strays by number if it
/// matters (`close_range(2)` above the descriptors the child keeps).
#[no_mangle]
pub extern "C" fn fdsafe_close_all_except(keep: *const fdsafe_handle, count: usize) -> i64 {
    call("fdsafe_close_all_except", || {
        let listed = super::in_slice(keep, count, "keep")?;
        // Checked in place, then copied (a list of any length the caller could map, without
        // an abort where the copy finds no memory).
        if let Some(&stale) = listed.iter().find(|&&h| !handles::is_live(Handle(h))) {
            return Err(Error::from_errno(libc::EBADF).context(format!("keep lists {stale:#x}, which is not a live handle")));
        }
        let mut keep = Vec::new();
        keep.try_reserve_exact(listed.len()).map_err(|_| Error::from_errno(libc::ENOMEM).context("copying keep"))?;
        keep.extend(listed.iter().map(|&h| Handle(h)));
        Ok(handles::close_all_except(keep) as i64)
    })
}
