//! The safe Rust core: one module per descriptor kind, each type owning its descriptor.
//! These types know nothing of C; the handle table lends them out to the C layer.

pub mod chardev;
pub mod daemon;
pub mod detect;
pub mod epoll;
pub mod eventfd;
pub mod fanotify;
pub mod fifo;
pub mod file;
pub mod generic;
pub mod inotify;
pub mod io;
pub mod memfd;
pub mod mqueue;
pub mod pidfd;
pub mod pipe;
pub mod signalfd;
pub mod sigset;
pub mod socket;
pub mod splice;
pub mod stdio;
pub mod terminal;
pub mod timerfd;

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{self, Handle, Kind, Object, Stored, TABLE};
use crate::sys;

type Verify = fn(Kind, BorrowedFd<'_>) -> Result<()>;
type Wrap = fn(Kind, OwnedFd) -> Box<dyn Object>;

/// How to check that a descriptor really is of `kind` (asking the kernel), and how to wrap
/// it once checked: one arm per type of object.
fn adopter(kind: Kind) -> (Verify, Wrap) {
    match kind {
        Kind::Pipe => (|_, fd| pipe::PipeEnd::verify(fd), |_, fd| Box::new(pipe::PipeEnd::from_fd(fd))),
        Kind::EventFd => (|_, fd| eventfd::EventFd::verify(fd), |_, fd| Box::new(eventfd::EventFd::from_fd(fd))),
        Kind::Stdio => (|_, fd| stdio::Stdio::verify(fd), |_, fd| Box::new(stdio::Stdio::from_fd(fd))),
        Kind::Other => (|_, fd| generic::verify(fd), |_, fd| Box::new(generic::Generic::from_fd(fd))),
        Kind::TcpListener
        | Kind::TcpStream
        | Kind::Udp
        | Kind::UnixListener
        | Kind::UnixStream
        | Kind::UnixDatagram
        | Kind::UnixSeqpacketListener
        | Kind::UnixSeqpacket => (socket::Socket::verify, |kind, fd| Box::new(socket::Socket::from_parts(fd, kind))),
        Kind::TimerFd => (|_, fd| timerfd::TimerFd::verify(fd), |_, fd| Box::new(timerfd::TimerFd::from_fd(fd))),
        Kind::SignalFd => (|_, fd| signalfd::SignalFd::verify(fd), |_, fd| Box::new(signalfd::SignalFd::from_fd(fd))),
        Kind::Inotify => (|_, fd| inotify::Inotify::verify(fd), |_, fd| Box::new(inotify::Inotify::from_fd(fd))),
        Kind::MessageQueue => {
            (|_, fd| mqueue::MessageQueue::verify(fd), |_, fd| Box::new(mqueue::MessageQueue::from_fd(fd)))
        }
        Kind::Fanotify => (|_, fd| fanotify::Fanotify::verify(fd), |_, fd| Box::new(fanotify::Fanotify::from_fd(fd))),
        Kind::Epoll => (|_, fd| epoll::Epoll::verify(fd), |_, fd| Box::new(epoll::Epoll::from_fd(fd))),
        Kind::File => (|_, fd| file::File::verify(fd), |_, fd| Box::new(file::File::from_fd(fd))),
        Kind::Fifo => (|_, fd| fifo::Fifo::verify(fd), |_, fd| Box::new(fifo::Fifo::from_fd(fd))),
        Kind::CharDevice => (|_, fd| chardev::CharDevice::verify(fd), |_, fd| Box::new(chardev::CharDevice::from_fd(fd))),
        Kind::MemFd => (|_, fd| memfd::MemFd::verify(fd), |_, fd| Box::new(memfd::MemFd::from_fd(fd))),
        Kind::PidFd => (|_, fd| pidfd::PidFd::verify(fd), |_, fd| Box::new(pidfd::PidFd::from_fd(fd))),
        Kind::Terminal => (|_, fd| terminal::Terminal::verify(fd), |_, fd| Box::new(terminal::Terminal::from_fd(fd))),
    }
}

/// Checks with the kernel that `fd` really is a descriptor of `kind`.
pub fn verify(kind: Kind, fd: BorrowedFd<'_>) -> Result<()> {
    (adopter(kind).0)(kind, fd)
}

/// Takes ownership of an open descriptor as a handle of `kind`, after checking it with the
/// kernel and making it close-on-exec. On failure the caller still owns `fd`.
pub fn adopt(fd: RawFd, kind: Kind) -> Result<Handle> {
    let (verify, _) = adopter(kind);
    sys::check_open(fd)?;
    // SAFETY: `fd` is open (just checked); borrowed only for the checks.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    verify(kind, borrowed).map_err(|err| match err {
        Error::InvalidArgument(_) => err,
        // The kernel's refusal of a kind-specific query (ENOTSOCK, EINVAL...) means "not that kind".
        other => Error::invalid(format!("descriptor {fd} is not a {} ({other})", kind.name())),
    })?;
    sys::set_cloexec(borrowed)?;
    // SAFETY: from here the table owns the descriptor, or gives it back below.
    let object = wrap_owned(unsafe { OwnedFd::from_raw_fd(fd) }, kind);
    TABLE.insert(object).map_err(|(err, object)| {
        let _ = object.into_fd().into_raw_fd(); // still the caller's
        err
    })
}

/// A new handle of the same kind for a close-on-exec duplicate of `handle`'s descriptor.
/// The duplicate does not inherit per-handle cleanup (such as unlinking a socket path).
pub fn duplicate(handle: Handle) -> Result<Handle> {
    let guard = handles::get(handle)?;
    let kind = guard.kind();
    let fd = sys::dup_cloexec(guard.object().as_fd())?;
    adopt_owned(fd, kind)
}


/// Wraps a descriptor that fdsafe now owns (one just received over a Unix socket, say) as an
/// object of `kind`, as told by [`detect`] (which says [`Kind::Other`] for what fdsafe has no
/// type for), without registering it.
pub fn wrap_owned(fd: OwnedFd, kind: Kind) -> Stored {
    match kind {
        Kind::Other => Stored::Plain(generic::Generic::from_fd(fd)), // inline: no allocation
        _ => Stored::Boxed((adopter(kind).1)(kind, fd)),
    }
}

/// [`wrap_owned`], registered as a new handle. If the table refuses it, the descriptor is
/// closed.
pub fn adopt_owned(fd: OwnedFd, kind: Kind) -> Result<Handle> {
    TABLE.insert(wrap_owned(fd, kind)).map_err(|(err, _object)| err)
}
