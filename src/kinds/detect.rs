//! Telling what a descriptor is, by asking the kernel: the `fstat` file type, the
//! anonymous-inode name, and for sockets `getpeername` (connected ones) or `SO_DOMAIN` and
//! `SO_ACCEPTCONN`, then `SO_TYPE`.
//! Used for descriptors received over Unix sockets.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{Error, Result};
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
///
/// A connected socket is asked `getpeername` first, which tells its family and that it is no
/// listener in one call where `SO_DOMAIN` and `SO_ACCEPTCONN` take two. Connected sockets are
/// what is passed most (a connection handed to a worker); an unconnected one (a listener, a
/// datagram socket with no peer) costs one call more than asking it directly.
pub fn socket_kind(fd: BorrowedFd<'_>) -> Result<Option<Kind>> {
    match peer_family(fd) {
        Some(family) => classify(fd, family, || Ok(false)),
        None => unconnected_socket_kind(fd),
    }
}

/// [`socket_kind`] through `SO_DOMAIN` and `SO_ACCEPTCONN`, connected or not.
fn unconnected_socket_kind(fd: BorrowedFd<'_>) -> Result<Option<Kind>> {
    classify(fd, sockopt(fd, libc::SO_DOMAIN)?, || Ok(sockopt(fd, libc::SO_ACCEPTCONN)? != 0))
}

/// The kind of a socket of family `domain`, asking `SO_TYPE` and, where they matter,
/// `SO_PROTOCOL` and `listening`.
fn classify(fd: BorrowedFd<'_>, domain: i32, listening: impl Fn() -> Result<bool>) -> Result<Option<Kind>> {
    let ty = sockopt(fd, libc::SO_TYPE)?;
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

/// The family of a connected socket's peer; `None` if `fd` is not a connected socket (not a
/// socket, not connected, or a family that cannot name its peer). A listener has no peer.
fn peer_family(fd: BorrowedFd<'_>) -> Option<i32> {
    // SAFETY: a zeroed sockaddr_storage is valid, and getpeername writes at most `len` bytes.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let r = unsafe { libc::getpeername(fd.as_raw_fd(), (&mut addr as *mut libc::sockaddr_storage).cast(), &mut len) };
    (r == 0 && len as usize >= std::mem::size_of::<libc::sa_family_t>()).then_some(i32::from(addr.ss_family))
}

// Filesystem magic numbers (`fstatfs`). MQUEUE_MAGIC is not in the uapi headers; this is
// the value ipc/mqueue.c uses (checked on this kernel). PID_FS_MAGIC: pidfds live on pidfs
// since Linux 6.9 (before, they are anonymous inodes named "[pidfd]").
const PIPEFS_MAGIC: i64 = 0x5049_5045;
const MQUEUE_MAGIC: i64 = 0x1980_0202;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;
const PID_FS_MAGIC: i64 = 0x5049_4446;

/// The `/proc/thread-self/fd` link names of the anonymous-inode kinds.
const ANON_KINDS: [(&[u8], Kind); 7] = [
    (b"[eventfd]", Kind::EventFd),
    (b"[timerfd]", Kind::TimerFd),
    (b"[signalfd]", Kind::SignalFd),
    (b"inotify", Kind::Inotify),
    (b"[fanotify]", Kind::Fanotify),
    (b"[eventpoll]", Kind::Epoll),
    (b"[pidfd]", Kind::PidFd),
];

fn anon_kind(link: &[u8]) -> Option<Kind> {
    let name = link.strip_prefix(b"anon_inode:")?;
    ANON_KINDS.iter().find(|(n, _)| *n == name).map(|&(_, kind)| kind)
}

/// Tells the kinds of descriptors, cheaply: `fstat` and `fstatfs` where they suffice, and
/// the `/proc/thread-self/fd` link only for anonymous inodes and tmpfs files. A detector made for
/// several descriptors reads the links through one directory descriptor opened on first
/// need and kept for the detector's life (a message's worth of received descriptors costs
/// one `open`); one made for a single descriptor reads `/proc/thread-self/fd/N` directly, which
/// costs less than opening the directory.
pub struct Detector {
    proc_fd_dir: Option<std::os::fd::OwnedFd>,
    several: bool,
}

impl Default for Detector {
    fn default() -> Detector {
        Detector::new()
    }
}

impl Detector {
    pub fn new() -> Detector {
        Detector::for_count(2)
    }

    /// A detector for about `count` descriptors (see the type's documentation).
    pub fn for_count(count: usize) -> Detector {
        Detector { proc_fd_dir: None, several: count > 1 }
    }

    /// The kind of any descriptor. Sockets of a family or type fdsafe has no typed kind for
    /// (netlink, packet, raw IP...) are [`Kind::Socket`]; other descriptors fdsafe has no
    /// kind for (a block device, `userfaultfd`...) are [`Kind::Other`], the generic readable
    /// and writable handle.
    ///
    /// An `O_PATH` descriptor names a file without opening it, and every read, write or
    /// socket call on it fails with `EBADF`: it is [`Kind::Other`], as adoption rules. Files,
    /// directories, pipes, FIFOs and devices are asked `F_GETFL` for it (one call more);
    /// sockets tell it by the `EBADF` of their first query. One reopened from an anonymous
    /// inode's `/proc/thread-self/fd` link (an eventfd's...) is not told apart: that check would
    /// cost every received eventfd a call, for a descriptor nobody passes.
    pub fn detect(&mut self, fd: BorrowedFd<'_>) -> Result<Kind> {
        let st = sys::fstat(fd)?;
        let mut link = [0u8; LINK_MAX];
        let file_type = st.st_mode & libc::S_IFMT;
        let opened_by_path = matches!(file_type, libc::S_IFREG | libc::S_IFDIR | libc::S_IFIFO | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFLNK);
        if opened_by_path && sys::status_flags(fd)? & libc::O_PATH != 0 {
            return Ok(Kind::Other);
        }
        Ok(match file_type {
            libc::S_IFSOCK => match socket_kind(fd) {
                Ok(kind) => kind.unwrap_or(Kind::Socket),
                Err(Error::Os { errno: libc::EBADF, .. }) => Kind::Other, // O_PATH: no socket calls
                Err(err) => return Err(err),
            },
            // An anonymous pipe lives on pipefs; a FIFO on the filesystem of its path.
            libc::S_IFIFO if fs_magic(fd) == Some(PIPEFS_MAGIC) => Kind::Pipe,
            libc::S_IFIFO => Kind::Fifo,
            // SAFETY: isatty only queries the descriptor.
            libc::S_IFCHR if unsafe { libc::isatty(fd.as_raw_fd()) } == 1 => Kind::Terminal,
            libc::S_IFCHR if crate::kinds::tun::Tun::verify(fd).is_ok() => Kind::Tun,
            libc::S_IFCHR => Kind::CharDevice,
            libc::S_IFREG | libc::S_IFDIR => match fs_magic(fd) {
                Some(MQUEUE_MAGIC) => Kind::MessageQueue,
                Some(TMPFS_MAGIC | HUGETLBFS_MAGIC) if self.link(fd, &mut link).is_some_and(|l| l.starts_with(b"/memfd:")) => {
                    Kind::MemFd
                }
                _ => Kind::File,
            },
            _ => self.link(fd, &mut link).and_then(anon_kind).unwrap_or(Kind::Other),
        })
    }

    /// The kind of a descriptor the caller expects to be `expected`: confirmed with the
    /// fewest kernel queries that tell that kind apart from every other, and detected in full
    /// ([`Detector::detect`]) when they do not confirm it, so the result is always the
    /// descriptor's true kind. The queries, by expected kind:
    ///
    /// - connected Unix stream and seqpacket sockets: `getpeername` (an `AF_UNIX` peer
    ///   means a Unix socket that is connected, so not a listener) and `SO_TYPE`: 2 calls
    ///   instead of `fstat` plus `SO_DOMAIN`, `SO_TYPE`, `SO_ACCEPTCONN`;
    /// - TCP sockets: `TCP_INFO` (only TCP and MPTCP sockets answer it; its state tells a
    ///   listener) and `SO_PROTOCOL` (TCP, not MPTCP): 2 calls instead of 5;
    /// - the other sockets: `SO_DOMAIN`, `SO_TYPE` and the one more each needs, no `fstat`;
    /// - pidfds: `fstatfs` (pidfs, Linux 6.9 and later) instead of the `/proc` link;
    /// - eventfd, timerfd, signalfd, inotify, fanotify, epoll (and pidfds before 6.9): the
    ///   `/proc/thread-self/fd` link alone, without the `fstat`. These kinds share one anonymous
    ///   inode; nothing but the link's name (or `/proc/thread-self/fdinfo`) tells them apart
    ///   without side effects;
    /// - every other kind: full detection, which is that kind's check.
    pub fn detect_expecting(&mut self, expected: Kind, fd: BorrowedFd<'_>) -> Result<Kind> {
        let confirmed = match expected {
            Kind::UnixStream => connected_unix_type(fd) == Some(libc::SOCK_STREAM),
            Kind::UnixSeqpacket => connected_unix_type(fd) == Some(libc::SOCK_SEQPACKET),
            Kind::TcpStream | Kind::TcpListener => tcp_kind(fd) == Some(expected),
            Kind::UnixListener | Kind::UnixDatagram | Kind::UnixSeqpacketListener | Kind::Udp => {
                matches!(unconnected_socket_kind(fd), Ok(Some(k)) if k == expected)
            }
            Kind::PidFd if fs_magic(fd) == Some(PID_FS_MAGIC) => true,
            Kind::EventFd | Kind::TimerFd | Kind::SignalFd | Kind::Inotify | Kind::Fanotify | Kind::Epoll | Kind::PidFd => {
                let mut link = [0u8; LINK_MAX];
                self.link(fd, &mut link).and_then(anon_kind) == Some(expected)
            }
            _ => false,
        };
        if confirmed {
            Ok(expected)
        } else {
            self.detect(fd)
        }
    }

    /// The target of `/proc/self/fd/N` (in `buf`), or `None` if /proc cannot tell. No
    /// allocation: the number is formatted on the stack.
    fn link<'b>(&mut self, fd: BorrowedFd<'_>, buf: &'b mut [u8; LINK_MAX]) -> Option<&'b [u8]> {
        const PREFIX: &[u8] = b"/proc/thread-self/fd/"; // as sys::proc_fd_path, on the stack
        let mut path = [0u8; PREFIX.len() + 12];
        path[..PREFIX.len()].copy_from_slice(PREFIX);
        decimal(fd.as_raw_fd(), &mut path[PREFIX.len()..]); // NUL-terminated
        if self.several && self.proc_fd_dir.is_none() {
            // SAFETY: open returns a new descriptor that we own.
            let dir = unsafe {
                libc::open(sys::PROC_FD_DIR.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
            };
            if dir >= 0 {
                // SAFETY: a new descriptor, ours.
                self.proc_fd_dir = Some(unsafe { sys::owned(dir) });
            } else {
                // No number left for the directory (a receiver at RLIMIT_NOFILE): read each
                // link by its full path, which needs no descriptor, rather than guess a kind.
                self.several = false;
            }
        }
        // SAFETY: both paths are NUL-terminated; readlink(at) writes at most buf.len() bytes.
        let n = unsafe {
            match &self.proc_fd_dir {
                Some(dir) => libc::readlinkat(
                    dir.as_raw_fd(),
                    path[PREFIX.len()..].as_ptr().cast(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                ),
                None => libc::readlink(path.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()),
            }
        };
        (n > 0).then(|| &buf[..n as usize])
    }
}

/// Room for a `/proc/self/fd` link target that fdsafe compares (longer ones are truncated,
/// which no compared name is).
const LINK_MAX: usize = 256;

/// Writes `n` (>= 0) in decimal followed by a NUL into `out` (at least 11 bytes).
fn decimal(n: i32, out: &mut [u8]) {
    let mut value = n.max(0) as u32;
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for i in 0..len {
        out[i] = digits[len - 1 - i];
    }
    out[len] = 0;
}

/// The type of a connected Unix socket (a connected socket is never a listener), then
/// `SO_TYPE`. `None` for anything else (not a socket, another family, not connected).
fn connected_unix_type(fd: BorrowedFd<'_>) -> Option<i32> {
    if peer_family(fd) != Some(libc::AF_UNIX) {
        return None;
    }
    sockopt(fd, libc::SO_TYPE).ok()
}

/// `TcpStream` or `TcpListener` for a TCP socket: `TCP_INFO` answers only on TCP (and
/// MPTCP) sockets and its first byte is the state; `SO_PROTOCOL` rules out MPTCP, as full
/// detection does.
fn tcp_kind(fd: BorrowedFd<'_>) -> Option<Kind> {
    const TCP_LISTEN: u8 = 10;
    // SAFETY: a zeroed tcp_info is valid; the kernel writes at most `len` bytes.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_INFO, (&mut info as *mut libc::tcp_info).cast(), &mut len)
    };
    if r != 0 || len < 1 || sockopt(fd, libc::SO_PROTOCOL).ok()? != libc::IPPROTO_TCP {
        return None;
    }
    Some(if info.tcpi_state == TCP_LISTEN { Kind::TcpListener } else { Kind::TcpStream })
}

/// The kind of one descriptor (see [`Detector::detect`]).
pub fn detect(fd: BorrowedFd<'_>) -> Result<Kind> {
    Detector::for_count(1).detect(fd)
}

/// The kind of an open file that a path reached and `fstat` calls a regular file, when it is
/// not a file: a memfd, however it was opened (`memfd_create`, or reopened through
/// `/proc/thread-self/fd/N`: it lives on tmpfs or hugetlbfs and the kernel names it
/// `/memfd:NAME`), or a message queue (on an mqueue filesystem).
pub fn kind_reached_by_path(fd: BorrowedFd<'_>) -> Option<Kind> {
    let mut link = [0u8; LINK_MAX];
    match fs_magic(fd)? {
        MQUEUE_MAGIC => Some(Kind::MessageQueue),
        TMPFS_MAGIC | HUGETLBFS_MAGIC => Detector::for_count(1)
            .link(fd, &mut link)
            .is_some_and(|l| l.starts_with(b"/memfd:"))
            .then_some(Kind::MemFd),
        _ => None,
    }
}

/// Whether a FIFO-type descriptor is an anonymous pipe (it lives on pipefs) rather than a
/// named FIFO (on the filesystem of its path). `None` if `fstatfs` fails.
pub fn is_anonymous_pipe(fd: BorrowedFd<'_>) -> Option<bool> {
    fs_magic(fd).map(|magic| magic == PIPEFS_MAGIC)
}

fn fs_magic(fd: BorrowedFd<'_>) -> Option<i64> {
    let mut sfs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct on success.
    // `f_type`'s type differs between architectures (i64 here).
    #[allow(clippy::unnecessary_cast)]
    let magic = |sfs: libc::statfs| sfs.f_type as i64;
    (unsafe { libc::fstatfs(fd.as_raw_fd(), sfs.as_mut_ptr()) } == 0).then(|| magic(unsafe { sfs.assume_init() }))
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

    /// An O_PATH descriptor can only be read as a path: a received one of a file, a
    /// directory, a pipe, a FIFO, a device or a socket file is Other, not the kind of what
    /// it names (whose calls would all fail with EBADF on a live handle).
    #[test]
    fn path_only_descriptors_are_other() {
        let dir = std::env::temp_dir().join(format!("fdsafe-detect-opath-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let fifo = dir.join("fifo");
        let fifo_c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0);
        let listener = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
        let (r, _w) = crate::kinds::pipe::pipe(crate::kinds::pipe::PipeFlags::empty()).unwrap();
        let pipe_link = format!("/proc/self/fd/{}", r.as_fd().as_raw_fd());
        let sock = dir.join("sock");
        for path in ["/proc/self/status", "/dev/null", dir.to_str().unwrap(), fifo.to_str().unwrap(), sock.to_str().unwrap(), pipe_link.as_str()] {
            let c = std::ffi::CString::new(path).unwrap();
            let fd = raw_fd(unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) });
            for several in [false, true] {
                let mut detector = Detector::for_count(if several { 2 } else { 1 });
                assert_eq!(detector.detect(fd.as_fd()).unwrap(), Kind::Other, "{path}");
            }
        }
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn raw_fd(fd: i32) -> std::os::fd::OwnedFd {
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        unsafe { crate::sys::owned(fd) }
    }

    #[test]
    fn proc_paths_are_formatted_on_the_stack() {
        let mut out = [0xffu8; 12];
        decimal(0, &mut out);
        assert_eq!(&out[..2], b"0\0");
        decimal(1_234_567_890, &mut out);
        assert_eq!(&out[..11], b"1234567890\0");
        decimal(i32::MAX, &mut out);
        assert_eq!(&out[..11], b"2147483647\0");
    }

    /// Every expected kind gives the descriptor's true kind, whether the quick check
    /// confirms it or fails and full detection runs; and both detector modes agree.
    #[test]
    fn expected_kinds_are_confirmed_or_detected_in_full() {
        use crate::kinds::socket::{pair, Socket};
        let (us, _us_peer) = pair(Kind::UnixStream, false).unwrap();
        let (useq, _useq_peer) = pair(Kind::UnixSeqpacket, false).unwrap();
        let (udg, _udg_peer) = pair(Kind::UnixDatagram, false).unwrap();
        let unconnected = Socket::new(Kind::UnixStream, libc::AF_UNIX, false).unwrap();
        let mut tcp_listener = Socket::new(Kind::TcpStream, libc::AF_INET, false).unwrap();
        tcp_listener.listen(1).unwrap();
        let tcp = Socket::new(Kind::TcpStream, libc::AF_INET6, false).unwrap();
        let udp = raw_fd(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) });
        let raw_tcp = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_TCP) };
        let raw_tcp = (raw_tcp >= 0).then(|| raw_fd(raw_tcp));
        let ev = crate::kinds::eventfd::EventFd::new(0, crate::kinds::eventfd::EventFdFlags::empty()).unwrap();
        let timer = raw_fd(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) });
        let ep = raw_fd(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) });
        let ino = raw_fd(unsafe { libc::inotify_init1(libc::IN_CLOEXEC) });
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) } as i32;
        let pidfd = (pidfd >= 0).then(|| raw_fd(pidfd));
        let (r, _w) = crate::kinds::pipe::pipe(crate::kinds::pipe::PipeFlags::empty()).unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        // Connected, so `getpeername` answers; a listener and a socket whose peer has gone.
        let tcp_server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_client = std::net::TcpStream::connect(tcp_server.local_addr().unwrap()).unwrap();
        let (tcp_accepted, _) = tcp_server.accept().unwrap();
        let udp_connected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        udp_connected.connect(tcp_server.local_addr().unwrap()).unwrap();
        let (orphan, gone) = pair(Kind::UnixStream, false).unwrap();
        drop(gone);
        let path = std::env::temp_dir().join(format!("fdsafe-detect-listener-{}", std::process::id()));
        let unix_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let unix_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (unix_accepted, _) = unix_listener.accept().unwrap();
        std::fs::remove_file(&path).unwrap();
        let netlink = raw_fd(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) });
        // SAFETY: a zeroed sockaddr_nl is valid; pid 0 is the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as u16;
        let len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        assert_eq!(unsafe { libc::connect(netlink.as_raw_fd(), (&kernel as *const libc::sockaddr_nl).cast(), len) }, 0);

        let mut cases: Vec<(BorrowedFd<'_>, Kind)> = vec![
            (us.fd(), Kind::UnixStream),
            (useq.fd(), Kind::UnixSeqpacket),
            (udg.fd(), Kind::UnixDatagram),
            (unconnected.fd(), Kind::UnixStream),
            (tcp_listener.fd(), Kind::TcpListener),
            (tcp.fd(), Kind::TcpStream),
            (udp.as_fd(), Kind::Udp),
            (std::os::fd::AsFd::as_fd(&ev), Kind::EventFd),
            (timer.as_fd(), Kind::TimerFd),
            (ep.as_fd(), Kind::Epoll),
            (ino.as_fd(), Kind::Inotify),
            (r.as_fd(), Kind::Pipe),
            (file.as_fd(), Kind::File),
            (tcp_server.as_fd(), Kind::TcpListener),
            (tcp_client.as_fd(), Kind::TcpStream),
            (tcp_accepted.as_fd(), Kind::TcpStream),
            (udp_connected.as_fd(), Kind::Udp),
            (orphan.fd(), Kind::UnixStream),
            (unix_listener.as_fd(), Kind::UnixListener),
            (unix_client.as_fd(), Kind::UnixStream),
            (unix_accepted.as_fd(), Kind::UnixStream),
            (netlink.as_fd(), Kind::Socket), // connected, a family with no kind of its own
        ];
        if let Some(p) = &pidfd {
            cases.push((p.as_fd(), Kind::PidFd));
        }
        if let Some(raw) = &raw_tcp {
            cases.push((raw.as_fd(), Kind::Socket)); // protocol TCP, but not a TCP socket
        }
        let expectations = [
            Kind::UnixStream,
            Kind::UnixSeqpacket,
            Kind::UnixDatagram,
            Kind::UnixListener,
            Kind::UnixSeqpacketListener,
            Kind::TcpStream,
            Kind::TcpListener,
            Kind::Udp,
            Kind::EventFd,
            Kind::TimerFd,
            Kind::SignalFd,
            Kind::Epoll,
            Kind::Inotify,
            Kind::Fanotify,
            Kind::PidFd,
            Kind::Pipe,
            Kind::File,
        ];
        for several in [1, 2] {
            let mut d = Detector::for_count(several);
            for &(fd, truth) in &cases {
                assert_eq!(d.detect(fd).unwrap(), truth, "detect {truth:?}");
                for &expected in &expectations {
                    assert_eq!(d.detect_expecting(expected, fd).unwrap(), truth, "{truth:?} expected as {expected:?}");
                }
            }
        }
    }
}
