//! Zero-copy moves between descriptors: splice, vmsplice, tee, sendfile, copy_file_range.
//! These take raw descriptors (borrowed for the call) so that the C layer can pass a handle's
//! descriptor or one the caller owns; the kernel decides which pairs are allowed. None of
//! them raises `SIGPIPE`: a reader-less pipe or a closed socket gives `EPIPE`.

use std::os::fd::RawFd;

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::kinds::io::{iov_total, without_sigpipe};
use crate::sys::cvt;

bitflags! {
    /// `SPLICE_F_*`, same bit values as the kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SpliceFlags: u32 {
        const MOVE = 0x01;
        const NONBLOCK = 0x02;
        const MORE = 0x04;
        const GIFT = 0x08;
    }
}

fn ptr(offset: &mut Option<i64>) -> *mut i64 {
    offset.as_mut().map_or(std::ptr::null_mut(), |o| o as *mut i64)
}

fn check_offset(offset: &Option<i64>) -> Result<()> {
    match offset {
        Some(o) if *o < 0 => Err(Error::invalid(format!("offset {o} is negative"))),
        _ => Ok(()),
    }
}

/// `splice(2)`. An offset given is used instead of (and does not move) that side's file
/// position, and is advanced by the bytes moved.
pub fn splice(fd_in: RawFd, off_in: &mut Option<i64>, fd_out: RawFd, off_out: &mut Option<i64>, len: usize, flags: SpliceFlags) -> Result<usize> {
    check_offset(off_in)?;
    check_offset(off_out)?;
    if flags.contains(SpliceFlags::GIFT) {
        return Err(Error::invalid("GIFT applies to vmsplice only"));
    }
    let (pi, po) = (ptr(off_in), ptr(off_out));
    // SAFETY: the offsets point to live i64s or are NULL.
    without_sigpipe(len, || cvt(unsafe { libc::splice(fd_in, pi, fd_out, po, len, flags.bits()) }).map(|n| n as usize))
}

/// `vmsplice(2)` from the caller's memory into a pipe.
pub fn vmsplice(pipe: RawFd, iov: &[libc::iovec], flags: SpliceFlags) -> Result<usize> {
    if iov.len() > libc::UIO_MAXIOV as usize {
        return Err(Error::invalid(format!("{} buffers; the kernel takes at most {}", iov.len(), libc::UIO_MAXIOV)));
    }
    if flags.contains(SpliceFlags::MORE) {
        return Err(Error::invalid("MORE does not apply to vmsplice"));
    }
    // On a read end the kernel would splice the other way, writing into the caller's
    // (const) buffers: only a descriptor open for writing is accepted.
    // SAFETY: F_GETFL only reads the status flags.
    let mode = cvt(unsafe { libc::fcntl(pipe, libc::F_GETFL) })? & libc::O_ACCMODE;
    if mode == libc::O_RDONLY {
        return Err(Error::invalid(format!("descriptor {pipe} is a read end; vmsplice needs a pipe's write end")));
    }
    // SAFETY: the iovecs describe readable memory (the C layer documents it).
    without_sigpipe(iov_total(iov), || cvt(unsafe { libc::vmsplice(pipe, iov.as_ptr(), iov.len(), flags.bits()) }).map(|n| n as usize))
}

/// `tee(2)`: copies pipe data to another pipe without consuming it.
pub fn tee(fd_in: RawFd, fd_out: RawFd, len: usize, flags: SpliceFlags) -> Result<usize> {
    if flags.contains(SpliceFlags::GIFT) {
        return Err(Error::invalid("GIFT applies to vmsplice only"));
    }
    // SAFETY: plain call on borrowed descriptors.
    without_sigpipe(len, || cvt(unsafe { libc::tee(fd_in, fd_out, len, flags.bits()) }).map(|n| n as usize))
}

/// `sendfile(2)` from `fd_in` (a file) to any `fd_out`.
pub fn sendfile(fd_in: RawFd, off_in: &mut Option<i64>, fd_out: RawFd, count: usize) -> Result<usize> {
    check_offset(off_in)?;
    let pi = ptr(off_in);
    // SAFETY: the offset points to a live i64 or is NULL.
    without_sigpipe(count, || cvt(unsafe { libc::sendfile(fd_out, fd_in, pi, count) }).map(|n| n as usize))
}

/// `copy_file_range(2)` between files (flags must be 0: the kernel defines none).
pub fn copy_file_range(fd_in: RawFd, off_in: &mut Option<i64>, fd_out: RawFd, off_out: &mut Option<i64>, len: usize) -> Result<usize> {
    check_offset(off_in)?;
    check_offset(off_out)?;
    let (pi, po) = (ptr(off_in), ptr(off_out));
    // SAFETY: the offsets point to live i64s or are NULL.
    let n = cvt(unsafe { libc::syscall(libc::SYS_copy_file_range, fd_in, pi, fd_out, po, len, 0u32) })?;
    Ok(n as usize)
}
