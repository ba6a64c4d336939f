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
pub mod pty_spawn;
pub mod pipe;
pub mod signalfd;
pub mod sigset;
pub mod socket;
pub mod splice;
pub mod stdio;
pub mod terminal;
pub mod termios;
pub mod timerfd;
pub mod tun;

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, Object, Stored};
use crate::sys;

/// Checks with the kernel that `fd` really is a descriptor of `kind`.
pub fn verify(kind: Kind, fd: BorrowedFd<'_>) -> Result<()> {
    match kind {
        Kind::Pipe => pipe::PipeEnd::verify(fd),
        Kind::EventFd => eventfd::EventFd::verify(fd),
        Kind::Stdio => stdio::Stdio::verify(fd),
        Kind::Other => generic::verify(fd),
        kind if kind.is_socket() => socket::Socket::verify(kind, fd),
        Kind::TimerFd => timerfd::TimerFd::verify(fd),
        Kind::SignalFd => signalfd::SignalFd::verify(fd),
        Kind::Inotify => inotify::Inotify::verify(fd),
        Kind::MessageQueue => mqueue::MessageQueue::verify(fd),
        Kind::Fanotify => fanotify::Fanotify::verify(fd),
        Kind::Epoll => epoll::Epoll::verify(fd),
        Kind::File => file::File::verify(fd),
        Kind::Fifo => fifo::Fifo::verify(fd),
        Kind::CharDevice => chardev::CharDevice::verify(fd),
        Kind::MemFd => memfd::MemFd::verify(fd),
        Kind::PidFd => pidfd::PidFd::verify(fd),
        Kind::Terminal => terminal::Terminal::verify(fd),
        Kind::Tun => tun::Tun::verify(fd),
        _ => unreachable!("every socket kind is matched above"),
    }
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
    // An O_PATH descriptor names a file without opening it: reads, writes and most queries
    // fail with EBADF, which would read as a stale handle. Only the generic kind takes it.
    if kind != Kind::Other && sys::status_flags(borrowed)? & libc::O_PATH != 0 {
        return Err(Error::invalid(format!("descriptor {fd} is an O_PATH descriptor, usable only as FDSAFE_KIND_OTHER")));
    }
    verify(kind, borrowed).map_err(|err| match err {
        Error::InvalidArgument(_) => err,
        // The kernel's refusal of a kind-specific query (ENOTSOCK, EINVAL...) means "not that kind".
        other => Error::invalid(format!("descriptor {fd} is not a {} ({other})", kind.name())),
    })?;
    // Files and character devices are checked by file type, which other kinds share: a memfd
    // or message queue is a regular file, a terminal or TUN device a character device. Adopted
    // as the wider kind, they would lose their own calls (seals, settings): refused.
    if matches!(kind, Kind::File | Kind::CharDevice) {
        let actual = detect::detect(borrowed)?;
        if actual != kind {
            return Err(Error::invalid(format!(
                "descriptor {fd} is a {}, not a {}: adopt it as FDSAFE_KIND_{}",
                actual.name(),
                kind.name(),
                actual.name().to_uppercase()
            )));
        }
    }
    Ok(())
}

/// The object for `fd`, a duplicate of `original`'s descriptor: of the same kind, for an
/// epoll set sharing the original's registrations, as the kernel shares its interest list,
/// for an inotify instance or fanotify group sharing the events read and not handed out
/// (and a group's unanswered permission events), and for a Unix socket bound to a path,
/// removing the path if it closes last.
pub fn wrap_duplicate(original: &dyn Object, fd: OwnedFd) -> Stored {
    if let Some(set) = original.downcast::<epoll::Epoll>() {
        return Stored::Boxed(Box::new(set.duplicate(fd)));
    }
    if let Some(socket) = original.downcast::<socket::Socket>() {
        return Stored::Socket(socket.duplicate(fd));
    }
    // Events read and not handed out, and unanswered permission events, are the instance's.
    if let Some(watcher) = original.downcast::<inotify::Inotify>() {
        return Stored::Boxed(Box::new(watcher.duplicate(fd)));
    }
    if let Some(group) = original.downcast::<fanotify::Fanotify>() {
        return Stored::Boxed(Box::new(group.duplicate(fd)));
    }
    wrap_owned(fd, original.kind())
}

/// Wraps a descriptor that fdsafe now owns (one just received over a Unix socket, say) as an
/// object of `kind`, as told by [`detect`] (which says [`Kind::Other`] for what fdsafe has no
/// type for), without registering it. An epoll descriptor of an instance a handle here
/// already refers to shares that handle's registrations.
pub fn wrap_owned(fd: OwnedFd, kind: Kind) -> Stored {
    let boxed = |object: Box<dyn Object>| Stored::Boxed(object);
    match kind {
        // Inline: no allocation; plain descriptors need no cleanup either.
        Kind::Other | Kind::EventFd => Stored::Plain(generic::Generic::with_kind(fd, kind)),
        Kind::Pipe => Stored::Pipe(pipe::PipeEnd::from_fd(fd)),
        kind if kind.is_socket() => Stored::Socket(socket::Socket::from_parts(fd, kind)),
        Kind::Stdio => boxed(Box::new(stdio::Stdio::from_fd(fd))),
        Kind::TimerFd => boxed(Box::new(timerfd::TimerFd::from_fd(fd))),
        Kind::SignalFd => boxed(Box::new(signalfd::SignalFd::from_fd(fd))),
        Kind::Inotify => boxed(Box::new(inotify::Inotify::from_fd(fd))),
        Kind::MessageQueue => boxed(Box::new(mqueue::MessageQueue::from_fd(fd))),
        Kind::Fanotify => boxed(Box::new(fanotify::Fanotify::from_fd(fd))),
        Kind::Epoll => boxed(Box::new(epoll::Epoll::from_fd(fd))),
        Kind::File => boxed(Box::new(file::File::from_fd(fd))),
        Kind::Fifo => boxed(Box::new(fifo::Fifo::from_fd(fd))),
        Kind::CharDevice => boxed(Box::new(chardev::CharDevice::from_fd(fd))),
        Kind::MemFd => boxed(Box::new(memfd::MemFd::from_fd(fd))),
        Kind::PidFd => boxed(Box::new(pidfd::PidFd::from_fd(fd))),
        Kind::Terminal => boxed(Box::new(terminal::Terminal::from_fd(fd))),
        Kind::Tun => boxed(Box::new(tun::Tun::from_fd(fd))),
        _ => unreachable!("every socket kind is matched above"),
    }
}
