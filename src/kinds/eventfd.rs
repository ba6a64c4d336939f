//! eventfd: a 64-bit counter in the kernel, for waking an event loop.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt, direct};

bitflags! {
    /// Options for [`EventFd::new`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EventFdFlags: u32 {
        /// Each read takes 1 from the counter instead of emptying it.
        const SEMAPHORE = 1 << 0;
        const NONBLOCK = 1 << 1;
    }
}

#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// The descriptor (an eventfd needs nothing else: the table stores it as a plain one).
    pub fn into_inner(self) -> OwnedFd {
        self.fd
    }

    pub fn new(initial: u32, flags: EventFdFlags) -> Result<EventFd> {
        let mut raw_flags = libc::EFD_CLOEXEC;
        if flags.contains(EventFdFlags::SEMAPHORE) {
            raw_flags |= libc::EFD_SEMAPHORE;
        }
        if flags.contains(EventFdFlags::NONBLOCK) {
            raw_flags |= libc::EFD_NONBLOCK;
        }
        // SAFETY: eventfd returns a new descriptor on success.
        let fd = cvt(unsafe { libc::eventfd(initial, raw_flags) }).map_err(|e| e.context("eventfd"))?;
        Ok(EventFd { fd: unsafe { sys::owned(fd) } })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("eventfd") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not an eventfd", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> EventFd {
        EventFd { fd }
    }

}

/// Reads an eventfd's counter: its whole value (resetting it to 0), or 1 in semaphore mode.
/// Blocks while it is 0, unless non-blocking (`EAGAIN`).
#[inline]
pub fn read(fd: BorrowedFd<'_>) -> Result<u64> {
    let mut value = 0u64;
    // SAFETY: reads exactly 8 bytes into `value`.
    unsafe { direct::read(fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) }?;
    Ok(value)
}

/// Adds `value` to an eventfd's counter. Blocks (or `EAGAIN`) if the sum would exceed
/// `u64::MAX - 1`; `u64::MAX` itself is refused by the kernel with `EINVAL`.
#[inline]
pub fn write(fd: BorrowedFd<'_>, value: u64) -> Result<()> {
    // SAFETY: writes exactly the 8 bytes of `value`.
    unsafe { direct::write(fd.as_raw_fd(), (&value as *const u64).cast(), 8) }?;
    Ok(())
}

fd_object!(EventFd, Kind::EventFd, WriteGuard::None);
