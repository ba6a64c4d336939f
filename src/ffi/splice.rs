//! Zero-copy moves: splice, vmsplice, tee, sendfile, copy_file_range. Each comes twice: with
//! handles (any kind; the kernel decides which pairs work), and with raw descriptors
//! (`*_fd`) that the caller owns and only lends for the one call.

use std::ffi::c_int;
use std::os::fd::RawFd;

use super::kinds::parse_flags;
use super::{call, fdsafe_handle};
use crate::error::{Error, Result};
use crate::handles::{self, Handle};
use crate::kinds::splice::{self, SpliceFlags};
use crate::sys;

/// Splice flag (`SPLICE_F_MOVE`): a hint to move pages instead of copying them.
pub const FDSAFE_SPLICE_MOVE: u32 = 0x01;
/// Splice flag (`SPLICE_F_NONBLOCK`): do not block on the pipes (`-EAGAIN` instead). The
/// other side may still block unless it is itself in non-blocking mode.
pub const FDSAFE_SPLICE_NONBLOCK: u32 = 0x02;
/// Splice flag (`SPLICE_F_MORE`): more data follows (a hint for sockets, like `MSG_MORE`).
pub const FDSAFE_SPLICE_MORE: u32 = 0x04;
/// vmsplice flag (`SPLICE_F_GIFT`): the pages are given to the kernel (see `fdsafe_vmsplice`).
pub const FDSAFE_SPLICE_GIFT: u32 = 0x08;

/// An in/out offset: NULL means "use and move the file position".
struct Offset {
    ptr: *mut i64,
    value: Option<i64>,
}

impl Offset {
    fn new(ptr: *mut i64, name: &str) -> Result<Offset> {
        if !ptr.is_null() && !ptr.is_aligned() {
            return Err(Error::invalid(format!("{name} is misaligned")));
        }
        // SAFETY: non-NULL and aligned; the caller vouches that it points to an int64_t.
        let value = (!ptr.is_null()).then(|| unsafe { ptr.read() });
        Ok(Offset { ptr, value })
    }
    /// Written back only after the call succeeded.
    fn commit(self) {
        if let Some(v) = self.value {
            // SAFETY: as in `new`.
            unsafe { self.ptr.write(v) }
        }
    }
}

fn fd_of(guard: &handles::Guard) -> RawFd {
    guard.raw_fd()
}

fn raw(fd: c_int, name: &str) -> Result<RawFd> {
    sys::check_open(fd).map_err(|e| e.context(name.to_string()))?;
    Ok(fd)
}

fn do_splice(fd_in: RawFd, off_in: *mut i64, fd_out: RawFd, off_out: *mut i64, len: usize, flags: SpliceFlags) -> Result<i64> {
    let (mut oi, mut oo) = (Offset::new(off_in, "off_in")?, Offset::new(off_out, "off_out")?);
    let n = splice::splice(fd_in, &mut oi.value, fd_out, &mut oo.value, len, flags)?;
    oi.commit();
    oo.commit();
    Ok(n as i64)
}

/// Moves up to `len` bytes from `in` to `out` inside the kernel (`splice(2)`); one of the two
/// must be a pipe (a pipe or FIFO handle, or stdio redirected to one). Works for pipe to pipe,
/// file or memfd to pipe, pipe to file, pipe to socket, socket to pipe.
/// `off_in` / `off_out`: NULL to use (and advance) that side's file position, or a pointer to
/// an offset that is used instead and advanced by the bytes moved (the file position is left
/// alone); must be NULL for a pipe side (`-ESPIPE` otherwise). `flags`: `FDSAFE_SPLICE_MOVE`,
/// `FDSAFE_SPLICE_NONBLOCK`, `FDSAFE_SPLICE_MORE`.
///
/// Returns the bytes moved; 0 means end of input (or `len` 0).
/// Never raises `SIGPIPE`: a pipe without readers gives `-EPIPE`. Offsets are written only
/// on success. Blocks like a read and a write; a signal gives `-EINTR` (not retried).
/// Errors: `-EBADF` for a dead handle; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags,
/// `FDSAFE_SPLICE_GIFT`, a negative or misaligned offset; from the kernel `-EINVAL` for an
/// unsupported pair (neither side a pipe, a file opened for appending as output...),
/// `-ESPIPE`, `-EAGAIN`, `-EPIPE`, `-ENOTCONN` for an unconnected socket, `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_splice(
    r#in: fdsafe_handle,
    off_in: *mut i64,
    out: fdsafe_handle,
    off_out: *mut i64,
    len: usize,
    flags: u32,
) -> i64 {
    call("fdsafe_splice", || {
        let flags = parse_flags::<SpliceFlags>(flags, "splice")?;
        let (gi, go) = (handles::get(Handle(r#in))?, handles::get(Handle(out))?);
        do_splice(fd_of(&gi), off_in, fd_of(&go), off_out, len, flags)
    })
}

/// `fdsafe_splice` with raw descriptors that the caller owns: fdsafe borrows them for this
/// call only and never closes them. To mix, pass a handle's descriptor from
/// `fdsafe_fd_borrow` (keep the handle open during the call).
/// Errors: as `fdsafe_splice`, with `-EBADF` for a descriptor that is not open.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_splice_fd(fd_in: c_int, off_in: *mut i64, fd_out: c_int, off_out: *mut i64, len: usize, flags: u32) -> i64 {
    call("fdsafe_splice_fd", || {
        let flags = parse_flags::<SpliceFlags>(flags, "splice")?;
        do_splice(raw(fd_in, "fd_in")?, off_in, raw(fd_out, "fd_out")?, off_out, len, flags)
    })
}

fn do_vmsplice(pipe: RawFd, iov: *const libc::iovec, iovcnt: c_int, flags: u32) -> Result<i64> {
    let flags = parse_flags::<SpliceFlags>(flags, "vmsplice")?;
    let count = usize::try_from(iovcnt).map_err(|_| Error::invalid(format!("iovcnt {iovcnt} is negative")))?;
    let iov = super::boundary::iov_slice(iov, count, "iov")?;
    Ok(splice::vmsplice(pipe, iov, flags)? as i64)
}

/// Maps the caller's memory described by `iov[0..iovcnt]` into the pipe's write end `pipe`
/// (`vmsplice(2)`). `flags`: `FDSAFE_SPLICE_NONBLOCK`, `FDSAFE_SPLICE_GIFT`.
///
/// Lifetime rule: the pipe refers to the caller's pages, not a copy, until a reader consumes
/// them. Without `FDSAFE_SPLICE_GIFT`, changing or freeing the memory before the data has
/// been read changes what the reader gets (the kernel may or may not have copied it): keep
/// the buffers unchanged until the data is consumed. With `FDSAFE_SPLICE_GIFT` the pages are
/// given to the kernel: the caller must never touch them again (and they must be
/// page-aligned, whole pages, for the gift to take effect).
///
/// Returns the bytes placed in the pipe. Never raises `SIGPIPE`.
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags, `FDSAFE_SPLICE_MORE`,
/// a NULL `iov` with `iovcnt > 0`, a negative `iovcnt` or one above `IOV_MAX`, a buffer
/// NULL with a length, lengths adding up to more than `SSIZE_MAX`, or a
/// descriptor open only for reading (the kernel would read from the pipe into the buffers
/// instead); from the kernel `-EBADF` if `pipe` is not a pipe, `-EAGAIN`, `-EPIPE`, `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_vmsplice(pipe: fdsafe_handle, iov: *const libc::iovec, iovcnt: c_int, flags: u32) -> i64 {
    call("fdsafe_vmsplice", || {
        let guard = handles::get(Handle(pipe))?;
        do_vmsplice(fd_of(&guard), iov, iovcnt, flags)
    })
}

/// `fdsafe_vmsplice` into a raw pipe descriptor that the caller owns (borrowed for the call).
/// Errors: as `fdsafe_vmsplice`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_vmsplice_fd(pipe_fd: c_int, iov: *const libc::iovec, iovcnt: c_int, flags: u32) -> i64 {
    call("fdsafe_vmsplice_fd", || do_vmsplice(raw(pipe_fd, "pipe_fd")?, iov, iovcnt, flags))
}

/// Copies up to `len` bytes from the pipe `in` to the pipe `out` without consuming them
/// (`tee(2)`): the data stays readable from `in`. `flags`: `FDSAFE_SPLICE_NONBLOCK`,
/// `FDSAFE_SPLICE_MOVE` and `FDSAFE_SPLICE_MORE` (accepted, no effect).
///
/// Returns the bytes copied; 0 if `in` has no writers and is empty.
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags or
/// `FDSAFE_SPLICE_GIFT`; from the kernel `-EINVAL` if either is not a pipe or both are the
/// same pipe, `-EAGAIN`, `-EPIPE`, `-EINTR`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tee(r#in: fdsafe_handle, out: fdsafe_handle, len: usize, flags: u32) -> i64 {
    call("fdsafe_tee", || {
        let flags = parse_flags::<SpliceFlags>(flags, "tee")?;
        let (gi, go) = (handles::get(Handle(r#in))?, handles::get(Handle(out))?);
        Ok(splice::tee(fd_of(&gi), fd_of(&go), len, flags)? as i64)
    })
}

/// `fdsafe_tee` with raw pipe descriptors that the caller owns (borrowed for the call).
/// Errors: as `fdsafe_tee`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tee_fd(fd_in: c_int, fd_out: c_int, len: usize, flags: u32) -> i64 {
    call("fdsafe_tee_fd", || {
        let flags = parse_flags::<SpliceFlags>(flags, "tee")?;
        Ok(splice::tee(raw(fd_in, "fd_in")?, raw(fd_out, "fd_out")?, len, flags)? as i64)
    })
}

fn do_sendfile(fd_in: RawFd, off_in: *mut i64, fd_out: RawFd, count: usize) -> Result<i64> {
    let mut oi = Offset::new(off_in, "off_in")?;
    let n = splice::sendfile(fd_in, &mut oi.value, fd_out, count)?;
    oi.commit();
    Ok(n as i64)
}

/// Sends up to `count` bytes from `in` (a file or memfd: something that can be mapped) to
/// `out`, which may be any writable handle: a socket, a pipe, a file, stdio (`sendfile(2)`).
/// `off_in`: NULL to read from (and advance) `in`'s file position, or a pointer to an offset
/// used instead and advanced by the bytes sent.
///
/// Returns the bytes sent (0 at end of file). Never raises `SIGPIPE`: a closed socket or
/// reader-less pipe gives `-EPIPE`. Blocks on `out` unless it is non-blocking; a signal gives
/// `-EINTR` if nothing was sent yet.
/// Errors: `-EBADF` for a dead handle; `FDSAFE_E_INVALID_ARGUMENT` for a negative or
/// misaligned offset; from the kernel `-EINVAL` if `in` cannot be mapped (a pipe or socket) or
/// `out` is a file opened for appending, `-ESPIPE` for an `off_in` on an `in` that cannot
/// seek (a pipe), `-EAGAIN`, `-EPIPE`, `-ENOTCONN` and `-EDESTADDRREQ`
/// for an unconnected socket `out`, `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sendfile(r#in: fdsafe_handle, off_in: *mut i64, out: fdsafe_handle, count: usize) -> i64 {
    call("fdsafe_sendfile", || {
        let (gi, go) = (handles::get(Handle(r#in))?, handles::get(Handle(out))?);
        do_sendfile(fd_of(&gi), off_in, fd_of(&go), count)
    })
}

/// `fdsafe_sendfile` with raw descriptors that the caller owns (borrowed for the call), e.g.
/// a socket fdsafe has no handle kind for yet. Errors: as `fdsafe_sendfile`, with `-EBADF`
/// for a descriptor that is not open. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_sendfile_fd(fd_in: c_int, off_in: *mut i64, fd_out: c_int, count: usize) -> i64 {
    call("fdsafe_sendfile_fd", || do_sendfile(raw(fd_in, "fd_in")?, off_in, raw(fd_out, "fd_out")?, count))
}

fn do_copy(fd_in: RawFd, off_in: *mut i64, fd_out: RawFd, off_out: *mut i64, len: usize, flags: u32) -> Result<i64> {
    if flags != 0 {
        return Err(Error::invalid(format!("copy_file_range flags {flags:#x}: none are defined, pass 0")));
    }
    let (mut oi, mut oo) = (Offset::new(off_in, "off_in")?, Offset::new(off_out, "off_out")?);
    let n = splice::copy_file_range(fd_in, &mut oi.value, fd_out, &mut oo.value, len)?;
    oi.commit();
    oo.commit();
    Ok(n as i64)
}

/// Copies up to `len` bytes between two files inside the kernel (`copy_file_range(2)`; the
/// file system may share blocks instead of copying). Offsets as in `fdsafe_splice`. `flags`
/// must be 0.
///
/// Returns the bytes copied (0 at the end of `in`). Errors: `-EBADF`;
/// `FDSAFE_E_INVALID_ARGUMENT` for non-zero flags or a negative or misaligned offset; from
/// the kernel `-EINVAL` if either is not a regular file or the ranges of one file overlap,
/// `-EBADF` if `out` is not open for writing or is appending, `-EISDIR` for a directory,
/// `-EOVERFLOW`, or `-EFBIG` for the output's limit, if an offset plus `len` passes the
/// largest file offset, `-EXDEV` across some file systems, `-EPERM` for a sealed memfd. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_copy_file_range(
    r#in: fdsafe_handle,
    off_in: *mut i64,
    out: fdsafe_handle,
    off_out: *mut i64,
    len: usize,
    flags: u32,
) -> i64 {
    call("fdsafe_copy_file_range", || {
        let (gi, go) = (handles::get(Handle(r#in))?, handles::get(Handle(out))?);
        do_copy(fd_of(&gi), off_in, fd_of(&go), off_out, len, flags)
    })
}

/// `fdsafe_copy_file_range` with raw descriptors that the caller owns (borrowed for the
/// call). Errors: as `fdsafe_copy_file_range`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_copy_file_range_fd(fd_in: c_int, off_in: *mut i64, fd_out: c_int, off_out: *mut i64, len: usize, flags: u32) -> i64 {
    call("fdsafe_copy_file_range_fd", || do_copy(raw(fd_in, "fd_in")?, off_in, raw(fd_out, "fd_out")?, off_out, len, flags))
}
