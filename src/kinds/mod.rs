//! The safe Rust core: one module per descriptor kind, each type owning its descriptor.
//! These types know nothing of C; the handle table lends them out to the C layer.

pub mod chardev;
pub mod eventfd;
pub mod fifo;
pub mod file;
pub mod io;
pub mod memfd;
pub mod pidfd;
pub mod pipe;
pub mod splice;
pub mod stdio;
pub mod terminal;

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{self, Handle, Kind, Object, TABLE};
use crate::sys;

type Verify = fn(BorrowedFd<'_>) -> Result<()>;
type Wrap = fn(OwnedFd) -> Box<dyn Object>;

/// How to check that a descriptor really is of `kind` (asking the kernel), and how to wrap
/// it once checked. One line per kind that can be adopted or duplicated.
fn adopter(kind: Kind) -> Result<(Verify, Wrap)> {
    Ok(match kind {
        Kind::Pipe => (pipe::PipeEnd::verify, |fd| Box::new(pipe::PipeEnd::from_fd(fd))),
        Kind::EventFd => (eventfd::EventFd::verify, |fd| Box::new(eventfd::EventFd::from_fd(fd))),
        Kind::Stdio => (stdio::Stdio::verify, |fd| Box::new(stdio::Stdio::from_fd(fd))),
        Kind::File => (file::File::verify, |fd| Box::new(file::File::from_fd(fd))),
        Kind::Fifo => (fifo::Fifo::verify, |fd| Box::new(fifo::Fifo::from_fd(fd))),
        Kind::CharDevice => (chardev::CharDevice::verify, |fd| Box::new(chardev::CharDevice::from_fd(fd))),
        Kind::MemFd => (memfd::MemFd::verify, |fd| Box::new(memfd::MemFd::from_fd(fd))),
        Kind::PidFd => (pidfd::PidFd::verify, |fd| Box::new(pidfd::PidFd::from_fd(fd))),
        Kind::Terminal => (terminal::Terminal::verify, |fd| Box::new(terminal::Terminal::from_fd(fd))),
        other => return Err(Error::invalid(format!("adopting a {} descriptor is not supported yet", other.name()))),
    })
}

/// Checks with the kernel that `fd` really is a descriptor of `kind`.
pub fn verify(kind: Kind, fd: BorrowedFd<'_>) -> Result<()> {
    (adopter(kind)?.0)(fd)
}

/// Takes ownership of an open descriptor as a handle of `kind`, after checking it with the
/// kernel and making it close-on-exec. On failure the caller still owns `fd`.
pub fn adopt(fd: RawFd, kind: Kind) -> Result<Handle> {
    let (verify, wrap) = adopter(kind)?;
    sys::check_open(fd)?;
    // SAFETY: `fd` is open (just checked); borrowed only for the checks.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    verify(borrowed)?;
    sys::set_cloexec(borrowed)?;
    // SAFETY: from here the table owns the descriptor, or gives it back below.
    let object = wrap(unsafe { OwnedFd::from_raw_fd(fd) });
    TABLE.insert(object).map_err(|(err, object)| {
        let _ = object.into_fd().into_raw_fd(); // still the caller's
        err
    })
}

/// A new handle of the same kind for a close-on-exec duplicate of `handle`'s descriptor.
/// The duplicate does not inherit per-handle cleanup (such as unlinking a socket path).
pub fn duplicate(handle: Handle) -> Result<Handle> {
    let guard = handles::get(handle)?;
    let (_, wrap) = adopter(guard.kind())?;
    let fd = sys::dup_cloexec(guard.object().as_fd())?;
    handles::insert(wrap(fd))
}

