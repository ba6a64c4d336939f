//! Telling what a descriptor is, by asking the kernel: the `fstat` file type, the
//! anonymous-inode name, and for sockets `SO_DOMAIN`, `SO_TYPE` and `SO_ACCEPTCONN`.
//! Used for descriptors received over Unix sockets.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::Result;
use crate::handles::Kind;
use crate::sys;

fn sockopt(fd: BorrowedFd<'_>, name: i32) -> Result<i32> {
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int option.
    sys::cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, name, (&mut value as *mut i32).cast(), &mut len) })?;
    Ok(value)
}

/// The socket kind of `fd`, or `None` if it is a socket of a family or type fdsafe has no
/// kind for (netlink, raw...). Errors if `fd` is not a socket at all.
pub fn socket_kind(fd: BorrowedFd<'_>) -> Result<Option<Kind>> {
    let domain = sockopt(fd, libc::SO_DOMAIN)?;
    let ty = sockopt(fd, libc::SO_TYPE)?;
    let listening = || -> Result<bool> { Ok(sockopt(fd, libc::SO_ACCEPTCONN)? != 0) };
    Ok(match (domain, ty) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM) => {
            let protocol = sockopt(fd, libc::SO_PROTOCOL)?;
            if protocol != libc::IPPROTO_TCP {
                return Ok(None); // MPTCP, SCTP...
            }
            Some(if listening()? { Kind::TcpListener } else { Kind::TcpStream })
        }
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) if sockopt(fd, libc::SO_PROTOCOL)? == libc::IPPROTO_UDP => Some(Kind::Udp),
        (libc::AF_UNIX, libc::SOCK_STREAM) => Some(if listening()? { Kind::UnixListener } else { Kind::UnixStream }),
        (libc::AF_UNIX, libc::SOCK_DGRAM) => Some(Kind::UnixDatagram),
        (libc::AF_UNIX, libc::SOCK_SEQPACKET) => {
            Some(if listening()? { Kind::UnixSeqpacketListener } else { Kind::UnixSeqpacket })
        }
        _ => None,
    })
}

/// The kind of any descriptor. Descriptors fdsafe has no kind for (a netlink socket, a
/// block device, `userfaultfd`...) are reported as [`Kind::Stdio`], the generic readable and
/// writable handle.
pub fn detect(fd: BorrowedFd<'_>) -> Result<Kind> {
    let st = sys::fstat(fd)?;
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFSOCK => socket_kind(fd)?.unwrap_or(Kind::Stdio),
        libc::S_IFIFO => {
            // An anonymous pipe reads as "pipe:[inode]"; a FIFO has a path.
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default();
            if link.to_string_lossy().starts_with("pipe:") {
                Kind::Pipe
            } else {
                Kind::Fifo
            }
        }
        libc::S_IFCHR => {
            // SAFETY: isatty only queries the descriptor.
            if unsafe { libc::isatty(fd.as_raw_fd()) } == 1 {
                Kind::Terminal
            } else {
                Kind::CharDevice
            }
        }
        libc::S_IFREG | libc::S_IFDIR => {
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default();
            if link.to_string_lossy().starts_with("/memfd:") {
                Kind::MemFd
            } else if is_mqueue(fd) {
                Kind::MessageQueue
            } else {
                Kind::File
            }
        }
        _ => match sys::anon_inode_name(fd)?.as_deref() {
            Some("eventfd") => Kind::EventFd,
            Some("timerfd") => Kind::TimerFd,
            Some("signalfd") => Kind::SignalFd,
            Some("inotify") => Kind::Inotify,
            Some("fanotify") => Kind::Fanotify,
            Some("eventpoll") => Kind::Epoll,
            Some("pidfd") => Kind::PidFd,
            _ => Kind::Stdio,
        },
    })
}

fn is_mqueue(fd: BorrowedFd<'_>) -> bool {
    const MQUEUE_MAGIC: i64 = 0x1980_2006;
    let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct on success.
    unsafe { libc::fstatfs(fd.as_raw_fd(), sfs.as_mut_ptr()) == 0 && sfs.assume_init().f_type as i64 == MQUEUE_MAGIC }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn detects_common_kinds() {
        let (a, b) = crate::kinds::socket::pair(Kind::UnixSeqpacket, false).unwrap();
        assert_eq!(detect(a.fd()).unwrap(), Kind::UnixSeqpacket);
        drop(b);
        let (r, _w) = crate::kinds::pipe::pipe(crate::kinds::pipe::PipeFlags::empty()).unwrap();
        assert_eq!(detect(r.as_fd()).unwrap(), Kind::Pipe);
        let e = crate::kinds::eventfd::EventFd::new(0, crate::kinds::eventfd::EventFdFlags::empty()).unwrap();
        assert_eq!(detect(std::os::fd::AsFd::as_fd(&e)).unwrap(), Kind::EventFd);
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(detect(f.as_fd()).unwrap(), Kind::File);
    }
}
