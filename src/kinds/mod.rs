//! The safe Rust core: one module per descriptor kind, each type owning its descriptor.
//! These types know nothing of C; the handle table lends them out to the C layer.

pub mod daemon;
pub mod detect;
pub mod eventfd;
pub mod io;
pub mod pipe;
pub mod socket;
pub mod stdio;

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
        Kind::TcpListener => (|fd| socket::Socket::verify(Kind::TcpListener, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::TcpListener))),
        Kind::TcpStream => (|fd| socket::Socket::verify(Kind::TcpStream, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::TcpStream))),
        Kind::Udp => (|fd| socket::Socket::verify(Kind::Udp, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::Udp))),
        Kind::UnixListener => (|fd| socket::Socket::verify(Kind::UnixListener, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::UnixListener))),
        Kind::UnixStream => (|fd| socket::Socket::verify(Kind::UnixStream, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::UnixStream))),
        Kind::UnixDatagram => (|fd| socket::Socket::verify(Kind::UnixDatagram, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::UnixDatagram))),
        Kind::UnixSeqpacketListener => (
            |fd| socket::Socket::verify(Kind::UnixSeqpacketListener, fd),
            |fd| Box::new(socket::Socket::from_parts(fd, Kind::UnixSeqpacketListener)),
        ),
        Kind::UnixSeqpacket => (|fd| socket::Socket::verify(Kind::UnixSeqpacket, fd), |fd| Box::new(socket::Socket::from_parts(fd, Kind::UnixSeqpacket))),
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
    verify(borrowed).map_err(|err| match err {
        Error::InvalidArgument(_) => err,
        // The kernel's refusal of a kind-specific query (ENOTSOCK, EINVAL...) means "not that kind".
        other => Error::invalid(format!("descriptor {fd} is not a {} ({other})", kind.name())),
    })?;
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


/// Wraps a descriptor that fdsafe now owns (one just received over a Unix socket, say) as a
/// handle of `kind`. Kinds without an adopter in this build are wrapped as [`Kind::Stdio`],
/// the generic readable/writable handle, so the descriptor is never leaked or dropped. If the
/// table refuses it, the descriptor is closed.
pub fn adopt_owned(fd: OwnedFd, kind: Kind) -> Result<Handle> {
    let wrap = match adopter(kind) {
        Ok((_, wrap)) => wrap,
        Err(_) => |fd| Box::new(stdio::Stdio::from_fd(fd)) as Box<dyn Object>,
    };
    handles::insert(wrap(fd))
}

/// Wraps a descriptor fdsafe now owns as an object of `kind` without registering it
/// (the generic [`Kind::Stdio`] object for kinds without an adopter in this build).
pub fn wrap_owned(fd: OwnedFd, kind: Kind) -> Box<dyn Object> {
    match adopter(kind) {
        Ok((_, wrap)) => wrap(fd),
        Err(_) => Box::new(stdio::Stdio::from_fd(fd)),
    }
}
