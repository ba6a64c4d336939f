//! Anonymous pipes: a read end and a write end, each its own handle.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{fd_object, Kind};
use crate::sys::{self, cvt};

bitflags! {
    /// Options for [`pipe`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PipeFlags: u32 {
        /// Both ends start in non-blocking mode.
        const NONBLOCK = 1 << 0;
        /// Packet mode (`O_DIRECT`): each write is one packet, each read returns at most one.
        const PACKET = 1 << 1;
    }
}

/// One end of a pipe (or a FIFO adopted as a pipe).
#[derive(Debug)]
pub struct PipeEnd {
    fd: OwnedFd,
    /// On a write end made by [`pipe`]: a second open file description of the same pipe for
    /// writing, non-blocking whatever the end's own mode. A write that holds the read end (so
    /// it needs no `SIGPIPE` guard) goes through it, since it must never block while holding
    /// the read end: a writer waiting for room would keep the read end from closing, and so
    /// never get the `EPIPE` that closing it should give.
    nonblocking_twin: Option<OwnedFd>,
}

/// Creates a pipe; returns `(read_end, write_end)`, both close-on-exec.
pub fn pipe(flags: PipeFlags) -> Result<(PipeEnd, PipeEnd)> {
    let mut fds = [-1; 2];
    let mut oflags = libc::O_CLOEXEC;
    if flags.contains(PipeFlags::NONBLOCK) {
        oflags |= libc::O_NONBLOCK;
    }
    if flags.contains(PipeFlags::PACKET) {
        oflags |= libc::O_DIRECT;
    }
    // SAFETY: pipe2 writes two descriptors into the array on success.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), oflags) }).map_err(|e| e.context("pipe2"))?;
    // SAFETY: both are new descriptors that we own.
    let (reader, mut writer) = unsafe { (PipeEnd::from_fd(sys::owned(fds[0])), PipeEnd::from_fd(sys::owned(fds[1]))) };
    // Packet mode belongs to the open file description and a reopened pipe cannot have it:
    // packet pipes go without the twin (their writes take the guard).
    if !flags.contains(PipeFlags::PACKET) {
        writer.nonblocking_twin = reopen_for_nonblocking_writes(writer.fd.as_fd()).ok();
    }
    Ok((reader, writer))
}

/// A new open file description of the pipe `fd` for writing, with `O_NONBLOCK` (opening
/// `/proc/self/fd/N` opens the pipe again, as a FIFO would be opened; a `dup` would share
/// `fd`'s mode).
fn reopen_for_nonblocking_writes(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number");
    // SAFETY: a NUL-terminated path; open returns a new descriptor on success.
    let twin = cvt(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: a new descriptor that we own.
    Ok(unsafe { sys::owned(twin) })
}

impl PipeEnd {
    /// Checks that `fd` is a pipe or FIFO.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        if sys::file_type(fd)? != libc::S_IFIFO {
            return Err(Error::invalid(format!("descriptor {} is not a pipe", fd.as_raw_fd())));
        }
        Ok(())
    }

    pub fn from_fd(fd: OwnedFd) -> PipeEnd {
        PipeEnd { fd, nonblocking_twin: None }
    }

    /// The write end's non-blocking twin descriptor (see the field), if it has one.
    pub fn nonblocking_twin(&self) -> Option<BorrowedFd<'_>> {
        self.nonblocking_twin.as_ref().map(AsFd::as_fd)
    }

    /// The pipe's capacity in bytes (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> Result<usize> {
        // SAFETY: fcntl query on our descriptor.
        let n = cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GETPIPE_SZ) })?;
        Ok(n as usize)
    }

    /// Asks for a capacity of at least `bytes`; returns the capacity the kernel chose (it
    /// rounds up to a power-of-two number of pages).
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        let request = i32::try_from(bytes).map_err(|_| Error::invalid(format!("capacity {bytes} does not fit an int")))?;
        // SAFETY: fcntl on our descriptor.
        let n = cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_SETPIPE_SZ, request) })
            .map_err(|e| e.context(format!("F_SETPIPE_SZ to {bytes}")))?;
        Ok(n as usize)
    }
}

// Giving up the descriptor drops the write end's twin (closed with it).
fd_object!(PipeEnd, Kind::Pipe);
