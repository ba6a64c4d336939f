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

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, Object, Stored};
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

/// Checks with the kernel that the open descriptor `fd` really is of `kind`, for adoption.
/// Standard streams are refused: a stdio handle must come from `stdio::Stdio::open`, which
/// keeps the process's own streams open when the handle closes, and no query can tell a
/// descriptor that is "a standard stream" from any other.
pub fn check_adoptable(fd: RawFd, kind: Kind) -> Result<()> {
    if kind == Kind::Stdio {
        return Err(Error::invalid("stdio handles come only from fdsafe_stdio_open, never from adoption"));
    }
    sys::check_open(fd)?;
    // SAFETY: `fd` is open (just checked); borrowed only for the checks.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    verify(kind, borrowed).map_err(|err| match err {
        Error::InvalidArgument(_) => err,
        // The kernel's refusal of a kind-specific query (ENOTSOCK, EINVAL...) means "not that kind".
        other => Error::invalid(format!("descriptor {fd} is not a {} ({other})", kind.name())),
    })
}

/// Wraps a descriptor that fdsafe now owns (one just received over a Unix socket, say) as an
/// object of `kind`, as told by [`detect`] (which says [`Kind::Other`] for what fdsafe has no
/// type for), without registering it.
pub fn wrap_owned(fd: OwnedFd, kind: Kind) -> Stored {
    match kind {
        // Inline: no allocation, no cleanup.
        Kind::Other | Kind::EventFd => Stored::Plain(generic::Generic::with_kind(fd, kind)),
        Kind::Pipe => Stored::Pipe(pipe::PipeEnd::from_fd(fd)),
        Kind::TcpListener
        | Kind::TcpStream
        | Kind::Udp
        | Kind::UnixListener
        | Kind::UnixStream
        | Kind::UnixDatagram
        | Kind::UnixSeqpacketListener
        | Kind::UnixSeqpacket => Stored::Socket(socket::Socket::from_parts(fd, kind)),
        _ => Stored::Boxed((adopter(kind).1)(kind, fd)),
    }
}
