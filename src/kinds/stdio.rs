//! Standard input, output and error as handles.
//!
//! A stdio handle owns a close-on-exec duplicate of the stream (numbered 3 or above), so
//! closing it never closes descriptors 0, 1 or 2. On request, closing it also points the
//! stream itself at `/dev/null`: the number stays taken, so a later `open` can never land on
//! descriptor 1 and receive the program's `printf` output.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

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
    // Dropped before `fd`: the redirect compares the stream with our duplicate.
    redirect: Option<RedirectOnDrop>,
    fd: OwnedFd,
}

/// Points the stream at `/dev/null` when dropped, if the stream's number still names the
/// open file the handle duplicated. Once the program has closed the stream (or adopted it
/// into a handle and closed that), the number may be another file's, another handle's even:
/// replacing that would redirect a live handle to `/dev/null`, so it is left alone.
#[derive(Debug)]
struct RedirectOnDrop {
    stream: Stream,
    /// The handle's duplicate of the stream, open while this is dropped (see `Stdio`).
    duplicate: RawFd,
}

impl Drop for RedirectOnDrop {
    fn drop(&mut self) {
        if !same_open_file(self.stream as i32, self.duplicate) {
            return;
        }
        // SAFETY: opening /dev/null and dup2 onto a standard stream number.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
            if null >= 0 {
                libc::dup2(null, self.stream as i32);
                libc::close(null);
            }
        }
    }
}

/// Whether two descriptor numbers of this process name one open file: `kcmp(KCMP_FILE)`, or
/// where the kernel lacks it, the same device and inode (which may take two opens of one
/// file for one).
fn same_open_file(a: RawFd, b: RawFd) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp only compares two of this process's descriptors.
    let pid = unsafe { libc::getpid() } as libc::c_long;
    match unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a as libc::c_long, b as libc::c_long) } {
        0 => true,
        r if r > 0 => false,
        _ => {
            let (a, b) = unsafe { (BorrowedFd::borrow_raw(a), BorrowedFd::borrow_raw(b)) };
            match (sys::fstat(a), sys::fstat(b)) {
                (Ok(x), Ok(y)) => (x.st_dev, x.st_ino, x.st_rdev) == (y.st_dev, y.st_ino, y.st_rdev),
                _ => false,
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
        let duplicate = fd.as_raw_fd();
        // Made only when asked (`then`, not `then_some`): a made one redirects when dropped.
        let redirect = flags.contains(StdioFlags::CLOSE_STREAM).then(|| RedirectOnDrop { stream, duplicate });
        Ok(Stdio { redirect, fd })
    }

    /// Any open descriptor can be treated as a standard stream.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        sys::check_open(fd.as_raw_fd())
    }

    pub fn from_fd(fd: OwnedFd) -> Stdio {
        Stdio { redirect: None, fd }
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
        let Stdio { redirect, fd } = *self;
        std::mem::forget(redirect); // released: the caller now decides about the stream
        fd
    }
}

/// Returns an error unless `n` names a standard stream.
pub fn stream(n: i32) -> Result<Stream> {
    Stream::from_fd_number(n).ok_or_else(|| Error::invalid(format!("{n} is not a standard stream (0, 1 or 2)")))
}

