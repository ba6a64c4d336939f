//! POSIX message queues. On Linux a queue descriptor is a file descriptor: pollable, and
//! close-on-exec from the start (the kernel always opens it so).

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt};

bitflags! {
    /// How to open a queue.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MqFlags: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const CREATE = 1 << 2;
        const EXCLUSIVE = 1 << 3;
        const NONBLOCK = 1 << 4;
    }
}

/// The longest queue name after its slash (`NAME_MAX`).
pub(crate) const NAME_MAX: usize = 255;

/// A queue's attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MqAttr {
    pub nonblocking: bool,
    pub max_messages: i64,
    pub message_size: i64,
    pub current_messages: i64,
}

/// Checks a queue name: a leading slash, 1 to 255 further characters, no other slash, and not
/// `/.` or `/..`. Returns the name without its slash (the form the system call takes).
pub fn check_name(name: &CStr) -> Result<CString> {
    let bytes = name.to_bytes();
    let Some(rest) = bytes.strip_prefix(b"/") else {
        return Err(Error::invalid(format!("queue name {:?} must start with '/'", name)));
    };
    if rest.is_empty() || rest.len() > NAME_MAX {
        return Err(Error::invalid(format!("queue name {:?} must have 1 to {NAME_MAX} characters after '/'", name)));
    }
    if rest.contains(&b'/') {
        return Err(Error::invalid(format!("queue name {:?} may hold no '/' after the first", name)));
    }
    if rest == b"." || rest == b".." {
        return Err(Error::invalid(format!("queue name {:?} is reserved", name)));
    }
    CString::new(rest).map_err(|_| Error::invalid("queue name holds a NUL"))
}

fn deadline(timeout: Duration) -> Result<libc::timespec> {
    // mq_timed* take an absolute CLOCK_REALTIME time.
    // SAFETY: clock_gettime fills the struct.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) })?;
    let total = Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
        .checked_add(timeout)
        .ok_or_else(|| Error::invalid("timeout too large"))?;
    Ok(libc::timespec { tv_sec: total.as_secs().min(i64::MAX as u64) as libc::time_t, tv_nsec: total.subsec_nanos() as _ })
}

#[derive(Debug)]
pub struct MessageQueue {
    fd: OwnedFd,
}

impl MessageQueue {
    pub fn open(name: &CStr, flags: MqFlags, mode: u32, attr: Option<(i64, i64)>) -> Result<MessageQueue> {
        let short = check_name(name)?;
        let mut oflag = match (flags.contains(MqFlags::READ), flags.contains(MqFlags::WRITE)) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            (true, false) => libc::O_RDONLY,
            (false, false) => return Err(Error::invalid("open a queue for reading, writing or both")),
        };
        if flags.contains(MqFlags::CREATE) {
            oflag |= libc::O_CREAT;
        }
        if flags.contains(MqFlags::EXCLUSIVE) {
            if !flags.contains(MqFlags::CREATE) {
                return Err(Error::invalid("exclusive needs create"));
            }
            oflag |= libc::O_EXCL;
        }
        if flags.contains(MqFlags::NONBLOCK) {
            oflag |= libc::O_NONBLOCK;
        }
        oflag |= libc::O_CLOEXEC; // the kernel sets it anyway
        // SAFETY: a zeroed mq_attr is valid; only maxmsg and msgsize are read by the kernel.
        let mut raw_attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        let mut attr_ptr: *mut libc::mq_attr = std::ptr::null_mut();
        // The mode and attributes are read only when the queue is created, as mq_open(3) says;
        // an open of an existing queue ignores them, as the raw call does.
        let creating = flags.contains(MqFlags::CREATE);
        let mode = if creating { mode } else { 0 };
        if mode > 0o7777 {
            return Err(Error::invalid(format!("mode {mode:#o} has bits beyond 07777")));
        }
        if let Some((max_messages, message_size)) = attr.filter(|_| creating) {
            if max_messages <= 0 || message_size <= 0 {
                return Err(Error::invalid("max_messages and message_size must be positive"));
            }
            raw_attr.mq_maxmsg = max_messages;
            raw_attr.mq_msgsize = message_size;
            attr_ptr = &mut raw_attr;
        }
        // SAFETY: the raw system call (glibc's mq_open strips the slash the same way); the
        // name is NUL-terminated and the attributes valid or NULL.
        let fd = unsafe { libc::syscall(libc::SYS_mq_open, short.as_ptr(), oflag, mode as libc::mode_t, attr_ptr) };
        if fd < 0 {
            return Err(Error::last_os().context(format!("mq_open {}", name.to_string_lossy())));
        }
        Ok(MessageQueue { fd: unsafe { sys::owned(fd as i32) } })
    }

    pub fn unlink(name: &CStr) -> Result<()> {
        let short = check_name(name)?;
        // SAFETY: NUL-terminated name.
        let rc = unsafe { libc::syscall(libc::SYS_mq_unlink, short.as_ptr()) };
        if rc < 0 {
            return Err(Error::last_os().context(format!("mq_unlink {}", name.to_string_lossy())));
        }
        Ok(())
    }

    fn getset(fd: i32, new: Option<&libc::mq_attr>) -> Result<libc::mq_attr> {
        // SAFETY: zeroed plain struct filled by the kernel.
        let mut old: libc::mq_attr = unsafe { std::mem::zeroed() };
        let new_ptr = new.map_or(std::ptr::null(), |a| a as *const libc::mq_attr);
        // SAFETY: valid pointers or NULL.
        let rc = unsafe { libc::syscall(libc::SYS_mq_getsetattr, fd, new_ptr, &mut old as *mut libc::mq_attr) };
        if rc < 0 {
            return Err(Error::last_os().context("mq_getsetattr"));
        }
        Ok(old)
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        Self::getset(fd.as_raw_fd(), None)
            .map(drop)
            .map_err(|_| Error::invalid(format!("descriptor {} is not a message queue", fd.as_raw_fd())))
    }

    pub fn from_fd(fd: OwnedFd) -> MessageQueue {
        MessageQueue { fd }
    }

    fn convert(a: &libc::mq_attr) -> MqAttr {
        MqAttr {
            nonblocking: a.mq_flags & libc::O_NONBLOCK as i64 != 0,
            max_messages: a.mq_maxmsg,
            message_size: a.mq_msgsize,
            current_messages: a.mq_curmsgs,
        }
    }

    pub fn attributes(&self) -> Result<MqAttr> {
        Ok(Self::convert(&Self::getset(self.fd.as_raw_fd(), None)?))
    }

    /// Sets the only attribute that can change (non-blocking mode); returns the old ones.
    pub fn set_nonblocking(&self, on: bool) -> Result<MqAttr> {
        // SAFETY: zeroed plain struct.
        let mut new: libc::mq_attr = unsafe { std::mem::zeroed() };
        new.mq_flags = if on { libc::O_NONBLOCK as i64 } else { 0 };
        Ok(Self::convert(&Self::getset(self.fd.as_raw_fd(), Some(&new))?))
    }

    pub fn send(&self, msg: &[u8], priority: u32, timeout: Option<Duration>) -> Result<()> {
        let ts = timeout.map(deadline).transpose()?;
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the message is readable for its length; the deadline valid or NULL.
        let rc = unsafe {
            libc::syscall(libc::SYS_mq_timedsend, self.fd.as_raw_fd(), msg.as_ptr(), msg.len(), priority, ts_ptr)
        };
        if rc < 0 {
            return Err(Error::last_os().context("mq_timedsend"));
        }
        Ok(())
    }

    pub fn receive(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<(usize, u32)> {
        let ts = timeout.map(deadline).transpose()?;
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let mut priority = 0u32;
        // SAFETY: the buffer is writable for its length; the deadline valid or NULL.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mq_timedreceive,
                self.fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut priority as *mut u32,
                ts_ptr,
            )
        };
        if rc < 0 {
            return Err(Error::last_os().context("mq_timedreceive"));
        }
        Ok((rc as usize, priority))
    }

    /// Asks for `signo` (with `value`) when a message arrives in the empty queue; `None`
    /// removes this process's registration.
    pub fn notify(&self, signal: Option<(i32, i32)>) -> Result<()> {
        // SAFETY: a zeroed sigevent is valid; fields set below.
        let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
        let ev_ptr = match signal {
            Some((signo, value)) => {
                crate::kinds::sigset::SigSet::check(signo)?;
                ev.sigev_notify = libc::SIGEV_SIGNAL;
                ev.sigev_signo = signo;
                ev.sigev_value = libc::sigval { sival_ptr: value as isize as *mut libc::c_void };
                &ev as *const libc::sigevent
            }
            None => std::ptr::null(),
        };
        // SAFETY: valid sigevent or NULL.
        let rc = unsafe { libc::syscall(libc::SYS_mq_notify, self.fd.as_raw_fd(), ev_ptr) };
        if rc < 0 {
            return Err(Error::last_os().context("mq_notify"));
        }
        Ok(())
    }
}

fd_object!(MessageQueue, Kind::MessageQueue, WriteGuard::None);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name(c"/jobs").unwrap().as_bytes(), b"jobs");
        for bad in [c"jobs", c"/", c"/a/b", c"//", c"/.", c"/..", c""] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        let longest = CString::new(format!("/{}", "x".repeat(NAME_MAX))).unwrap();
        assert!(check_name(&longest).is_ok());
        let too_long = CString::new(format!("/{}", "x".repeat(NAME_MAX + 1))).unwrap();
        assert!(check_name(&too_long).is_err());
    }
}
