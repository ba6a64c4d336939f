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

// Filesystem magic numbers (`fstatfs`). MQUEUE_MAGIC is not in the uapi headers; this is
// the value ipc/mqueue.c uses (checked on this kernel).
const PIPEFS_MAGIC: i64 = 0x5049_5045;
const MQUEUE_MAGIC: i64 = 0x1980_0202;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;

/// Tells the kinds of descriptors, cheaply: `fstat` and `fstatfs` where they suffice, and
/// the `/proc/self/fd` link only for anonymous inodes and tmpfs files, through one directory
/// descriptor opened on first need and kept for the detector's life (a message's worth of
/// received descriptors costs one `open`).
#[derive(Default)]
pub struct Detector {
    proc_fd_dir: Option<std::os::fd::OwnedFd>,
}

impl Detector {
    pub fn new() -> Detector {
        Detector::default()
    }

    /// The kind of any descriptor. Descriptors fdsafe has no kind for (a netlink socket, a
    /// block device, `userfaultfd`...) are reported as [`Kind::Other`], the generic readable
    /// and writable handle.
    pub fn detect(&mut self, fd: BorrowedFd<'_>) -> Result<Kind> {
        let st = sys::fstat(fd)?;
        Ok(match st.st_mode & libc::S_IFMT {
            libc::S_IFSOCK => socket_kind(fd)?.unwrap_or(Kind::Other),
            // An anonymous pipe lives on pipefs; a FIFO on the filesystem of its path.
            libc::S_IFIFO if fs_magic(fd) == Some(PIPEFS_MAGIC) => Kind::Pipe,
            libc::S_IFIFO => Kind::Fifo,
            // SAFETY: isatty only queries the descriptor.
            libc::S_IFCHR if unsafe { libc::isatty(fd.as_raw_fd()) } == 1 => Kind::Terminal,
            libc::S_IFCHR => Kind::CharDevice,
            libc::S_IFREG | libc::S_IFDIR => match fs_magic(fd) {
                Some(MQUEUE_MAGIC) => Kind::MessageQueue,
                Some(TMPFS_MAGIC | HUGETLBFS_MAGIC) if self.link(fd).is_some_and(|l| l.starts_with("/memfd:")) => {
                    Kind::MemFd
                }
                _ => Kind::File,
            },
            _ => match self.link(fd).as_deref().and_then(|l| l.strip_prefix("anon_inode:")) {
                Some("[eventfd]") => Kind::EventFd,
                Some("[timerfd]") => Kind::TimerFd,
                Some("[signalfd]") => Kind::SignalFd,
                Some("inotify") => Kind::Inotify,
                Some("[fanotify]") => Kind::Fanotify,
                Some("[eventpoll]") => Kind::Epoll,
                Some("[pidfd]") => Kind::PidFd,
                _ => Kind::Other,
            },
        })
    }

    /// The target of `/proc/self/fd/N`, or `None` if /proc cannot tell.
    fn link(&mut self, fd: BorrowedFd<'_>) -> Option<String> {
        if self.proc_fd_dir.is_none() {
            // SAFETY: open returns a new descriptor that we own.
            let dir = unsafe {
                libc::open(c"/proc/self/fd".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
            };
            if dir < 0 {
                return None;
            }
            self.proc_fd_dir = Some(unsafe { sys::owned(dir) });
        }
        let dir = self.proc_fd_dir.as_ref()?.as_raw_fd();
        let name = std::ffi::CString::new(fd.as_raw_fd().to_string()).ok()?;
        let mut buf = [0u8; 256];
        // SAFETY: readlinkat writes at most buf.len() bytes into buf.
        let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n as usize]).into_owned())
    }
}

/// The kind of one descriptor (see [`Detector::detect`]).
pub fn detect(fd: BorrowedFd<'_>) -> Result<Kind> {
    Detector::new().detect(fd)
}

fn fs_magic(fd: BorrowedFd<'_>) -> Option<i64> {
    let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct on success.
    (unsafe { libc::fstatfs(fd.as_raw_fd(), sfs.as_mut_ptr()) } == 0).then(|| unsafe { sfs.assume_init() }.f_type as i64)
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
        let dir = std::env::temp_dir().join(format!("fdsafe-detect-{}", std::process::id()));
        let fifo = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let fifo_fd = unsafe { libc::open(fifo.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        let fifo_fd = unsafe { crate::sys::owned(fifo_fd) };
        assert_eq!(detect(fifo_fd.as_fd()).unwrap(), Kind::Fifo);
        std::fs::remove_file(&dir).unwrap();
        let memfd = unsafe { libc::memfd_create(c"detect".as_ptr(), libc::MFD_CLOEXEC) };
        let memfd = unsafe { crate::sys::owned(memfd) };
        assert_eq!(detect(memfd.as_fd()).unwrap(), Kind::MemFd);
        let mq = unsafe {
            libc::mq_open(c"/fdsafe-detect-test".as_ptr(), libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC, 0o600, std::ptr::null::<libc::mq_attr>())
        };
        assert!(mq >= 0);
        unsafe { libc::mq_unlink(c"/fdsafe-detect-test".as_ptr()) };
        let mq = unsafe { crate::sys::owned(mq) };
        assert_eq!(detect(mq.as_fd()).unwrap(), Kind::MessageQueue);
    }
}
