//! signalfd: signals read as records from a descriptor instead of run as handlers.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::kinds::sigset::{thread_mask, SigSet};
use crate::sys::{self, cvt};

bitflags! {
    /// Options for [`SignalFd::new`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SignalFdFlags: u32 {
        const NONBLOCK = 1 << 0;
    }
}

/// The most records one read takes.
pub(crate) const MAX_BATCH: usize = 64;

#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Blocks `set` in the calling thread, then creates a signalfd for it.
    pub fn new(set: SigSet, flags: SignalFdFlags) -> Result<SignalFd> {
        let mut raw = libc::SFD_CLOEXEC;
        if flags.contains(SignalFdFlags::NONBLOCK) {
            raw |= libc::SFD_NONBLOCK;
        }
        // Blocked first, so that none of them is acted on between the two calls; a failed
        // creation puts the thread's mask back as it was.
        let before = thread_mask(libc::SIG_BLOCK, set)?;
        let mask = set.to_libc();
        // SAFETY: signalfd(-1, ...) returns a new descriptor on success.
        match cvt(unsafe { libc::signalfd(-1, &mask, raw) }) {
            Ok(fd) => Ok(SignalFd { fd: unsafe { sys::owned(fd) } }),
            Err(e) => {
                let _ = thread_mask(libc::SIG_SETMASK, before);
                Err(e.context("signalfd"))
            }
        }
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("signalfd") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not a signalfd", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> SignalFd {
        SignalFd { fd }
    }

    /// Blocks `set` in the calling thread and makes it the signals this descriptor reads.
    pub fn update(&self, set: SigSet) -> Result<()> {
        thread_mask(libc::SIG_BLOCK, set)?;
        let mask = set.to_libc();
        // SAFETY: updates the mask of our own signalfd.
        cvt(unsafe { libc::signalfd(self.fd.as_raw_fd(), &mask, 0) }).map_err(|e| e.context("signalfd"))?;
        Ok(())
    }

    /// Reads up to `max` pending signals (at least one; waits for it unless non-blocking).
    pub fn read(&self, max: usize) -> Result<Vec<libc::signalfd_siginfo>> {
        let count = max.clamp(1, MAX_BATCH);
        // SAFETY: signalfd_siginfo is plain data; zeroed is a valid value.
        let mut buf: Vec<libc::signalfd_siginfo> = vec![unsafe { std::mem::zeroed() }; count];
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: the buffer holds `count` records.
        let n = cvt(unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), count * size) })? as usize;
        buf.truncate(n / size);
        Ok(buf)
    }
}

fd_object!(SignalFd, Kind::SignalFd, WriteGuard::None);

/// The number of threads in this process (from `/proc/self/status`).
pub fn thread_count() -> Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| Error::from(e).context("/proc/self/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:").and_then(|v| v.trim().parse().ok()))
        .ok_or_else(|| Error::Internal("no Threads: line in /proc/self/status".into()))
}
