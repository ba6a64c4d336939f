//! Standard input, output and error as handles.
//!
//! A stdio handle owns a close-on-exec duplicate of the stream (numbered 3 or above), so
//! closing it never closes descriptors 0, 1 or 2. On request, closing it also points the
//! stream itself at `/dev/null`: the number stays taken, so a later `open` can never land on
//! descriptor 1 and receive the program's `printf` output.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, Object};
use crate::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Input = 0,
    Output = 1,
    Error = 2,
}

impl Stream {
    pub fn from_fd_number(n: i32) -> Option<Stream> {
        match n {
            0 => Some(Stream::Input),
            1 => Some(Stream::Output),
            2 => Some(Stream::Error),
            _ => None,
        }
    }
}

bitflags! {
    /// Options for [`Stdio::open`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StdioFlags: u32 {
        /// When the handle is closed, point the stream itself at `/dev/null`.
        const CLOSE_STREAM = 1 << 0;
    }
}

#[derive(Debug)]
pub struct Stdio {
    fd: OwnedFd,
    // Dropped after `fd`: the stream is redirected once our duplicate is closed.
    redirect: Option<RedirectOnDrop>,
}

#[derive(Debug)]
struct RedirectOnDrop(Stream);

impl Drop for RedirectOnDrop {
    fn drop(&mut self) {
        // SAFETY: opening /dev/null and dup2 onto a standard stream number.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, self.0 as i32);
                libc::close(null);
            }
        }
    }
}

impl Stdio {
    pub fn open(stream: Stream, flags: StdioFlags) -> Result<Stdio> {
        // SAFETY: the standard stream is borrowed only for the duplication.
        let original = unsafe { BorrowedFd::borrow_raw(stream as i32) };
        sys::check_open(stream as i32)?;
        let fd = sys::dup_cloexec(original).map_err(|e| e.context(format!("duplicating standard stream {}", stream as i32)))?;
        let redirect = flags.contains(StdioFlags::CLOSE_STREAM).then(|| RedirectOnDrop(stream));
        Ok(Stdio { fd, redirect })
    }

    /// Any open descriptor can be treated as a standard stream.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        sys::check_open(fd.as_raw_fd())
    }

    pub fn from_fd(fd: OwnedFd) -> Stdio {
        Stdio { fd, redirect: None }
    }

    /// Whether the stream is a terminal.
    pub fn is_terminal(&self) -> bool {
        // SAFETY: isatty only queries our descriptor.
        unsafe { libc::isatty(self.fd.as_raw_fd()) == 1 }
    }
}

impl AsFd for Stdio {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Object for Stdio {
    fn kind(&self) -> Kind {
        Kind::Stdio
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        let Stdio { fd, redirect } = *self;
        std::mem::forget(redirect); // released: the caller now decides about the stream
        fd
    }
}

/// Returns an error unless `n` names a standard stream.
pub fn stream(n: i32) -> Result<Stream> {
    Stream::from_fd_number(n).ok_or_else(|| Error::invalid(format!("{n} is not a standard stream (0, 1 or 2)")))
}

