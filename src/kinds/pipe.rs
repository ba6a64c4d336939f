//! Anonymous pipes: a read end and a write end, each its own handle.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::handles::{Handle, Kind, Object, WriteGuard};
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

/// One end of an anonymous pipe.
#[derive(Debug)]
pub struct PipeEnd {
    fd: OwnedFd,
    /// On a write end made by [`pipe`]: the handle of its read end (0: none known). A write
    /// that holds it needs no `SIGPIPE` guard (see [`WriteGuard::PipeWithReader`]). Set once,
    /// before the write end's handle is handed out.
    reader: AtomicU64,
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
    unsafe { Ok((PipeEnd::from_fd(sys::owned(fds[0])), PipeEnd::from_fd(sys::owned(fds[1])))) }
}

impl PipeEnd {
    /// Checks that `fd` is an anonymous pipe's end (a named FIFO has its own kind, as
    /// detection says of it).
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        if sys::file_type(fd)? != libc::S_IFIFO {
            return Err(Error::invalid(format!("descriptor {} is not a pipe", fd.as_raw_fd())));
        }
        match crate::kinds::detect::is_anonymous_pipe(fd) {
            Some(true) => Ok(()),
            Some(false) => Err(Error::invalid(format!("descriptor {} is a named FIFO: adopt it as FDSAFE_KIND_FIFO", fd.as_raw_fd()))),
            None => Err(Error::last_os().context("fstatfs")),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> PipeEnd {
        PipeEnd { fd, reader: AtomicU64::new(0) }
    }

    /// Gives up the descriptor.
    pub fn into_owned_fd(self) -> OwnedFd {
        self.fd
    }

    /// Records the handle of this write end's read end (see the field).
    pub fn set_reader(&self, reader: Handle) {
        self.reader.store(reader.0, Ordering::Relaxed);
    }
}

/// The capacity in bytes of the pipe or FIFO `fd` is an end of (`F_GETPIPE_SZ`).
pub fn capacity(fd: BorrowedFd<'_>) -> Result<usize> {
    // SAFETY: fcntl query on a borrowed descriptor.
    let n = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) })?;
    Ok(n as usize)
}

/// Asks for a capacity of at least `bytes` for the pipe or FIFO `fd` is an end of; returns the
/// capacity the kernel chose (it rounds up to a power-of-two number of pages).
pub fn set_capacity(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize> {
    let request = i32::try_from(bytes).map_err(|_| Error::invalid(format!("capacity {bytes} does not fit an int")))?;
    // SAFETY: fcntl on a borrowed descriptor.
    let n = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, request) })
        .map_err(|e| e.context(format!("F_SETPIPE_SZ to {bytes}")))?;
    Ok(n as usize)
}

impl AsFd for PipeEnd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Object for PipeEnd {
    fn kind(&self) -> Kind {
        Kind::Pipe
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        self.fd
    }
    fn write_guard(&self) -> WriteGuard {
        match self.reader.load(Ordering::Relaxed) {
            0 => WriteGuard::BlockSigpipe,
            reader => WriteGuard::PipeWithReader { reader: Handle(reader) },
        }
    }
}
