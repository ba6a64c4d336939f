//! Sockets: TCP, UDP and Unix domain (stream, datagram, seqpacket). One type, [`Socket`],
//! holds every kind; its [`Kind`] says which, and the C layer checks it per operation.
//!
//! - [`addr`]: text and `sockaddr` addresses.
//! - [`unix`]: careful binding to filesystem paths (parents, modes, stale files, cleanup).
//! - [`scm`]: descriptor passing and credentials (`SCM_RIGHTS`, `SCM_CREDENTIALS`).
//! - [`message`]: whole messages (address, scattered data, descriptors, credentials).
//! - [`options`]: socket options by number, checked per kind.
//! - [`zerocopy`]: `MSG_ZEROCOPY` completions from the error queue.
//! - [`generic`]: sockets of any family ([`Kind::Socket`]), any option, bind before connect.

pub mod addr;
pub mod generic;
pub mod message;
pub mod options;
pub mod scm;
pub mod udp;
pub mod unix;
pub mod zerocopy;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

pub use addr::{Address, SockAddr};

use crate::error::{Error, Result};
use crate::handles::{Kind, Object, WriteGuard};
use crate::sys::{self, cvt};

/// A socket of any kind. Dropping it closes the descriptor and, for a Unix socket bound to
/// a path by [`unix::bind_path`], removes the path if it is still this socket's file.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    kind: Kind,
    // Dropped after `fd` (fields drop in order).
    /// Boxed: rare, and a socket stays small enough to live in its handle's slot.
    bound_path: Option<Box<unix::BoundPath>>,
}

bitflags! {
    /// Flags for send.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SendFlags: u32 {
        /// Do not wait (`MSG_DONTWAIT`).
        const DONTWAIT = 1 << 0;
        /// More data follows (`MSG_MORE`).
        const MORE = 1 << 1;
        /// Zero-copy send (`MSG_ZEROCOPY`); the socket must have opted in.
        const ZEROCOPY = 1 << 2;
        /// Out-of-band data (`MSG_OOB`): TCP's urgent byte, or a Unix stream's.
        const OOB = 1 << 3;
    }
}

bitflags! {
    /// Flags for receive.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvFlags: u32 {
        /// Do not wait (`MSG_DONTWAIT`).
        const DONTWAIT = 1 << 0;
        /// Look without consuming (`MSG_PEEK`).
        const PEEK = 1 << 1;
        /// Wait for the whole buffer on stream sockets (`MSG_WAITALL`).
        const WAITALL = 1 << 2;
        /// Return the real length of a datagram even when it was longer than the buffer
        /// (`MSG_TRUNC`; datagram, seqpacket and raw sockets).
        const TRUNC = 1 << 3;
        /// Receive the out-of-band byte (`MSG_OOB`).
        const OOB = 1 << 4;
    }
}

bitflags! {
    /// Flags for creating sockets (listen, connect, bind, accept, pairs).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CreateFlags: u32 {
        /// The new socket is non-blocking.
        const NONBLOCK = 1 << 0;
        /// `SO_REUSEPORT`.
        const REUSEPORT = 1 << 1;
        /// IPv6 only (`IPV6_V6ONLY`); without it IPv6 sockets are dual-stack.
        const V6ONLY = 1 << 2;
        /// Do not set `SO_REUSEADDR` (listeners set it by default).
        const NO_REUSEADDR = 1 << 3;
    }
}

impl SendFlags {
    pub fn raw(self) -> i32 {
        let mut f = libc::MSG_NOSIGNAL;
        if self.contains(SendFlags::DONTWAIT) {
            f |= libc::MSG_DONTWAIT;
        }
        if self.contains(SendFlags::MORE) {
            f |= libc::MSG_MORE;
        }
        if self.contains(SendFlags::ZEROCOPY) {
            f |= libc::MSG_ZEROCOPY;
        }
        if self.contains(SendFlags::OOB) {
            f |= libc::MSG_OOB;
        }
        f
    }
}

impl RecvFlags {
    pub fn raw(self) -> i32 {
        let mut f = 0;
        if self.contains(RecvFlags::DONTWAIT) {
            f |= libc::MSG_DONTWAIT;
        }
        if self.contains(RecvFlags::PEEK) {
            f |= libc::MSG_PEEK;
        }
        if self.contains(RecvFlags::WAITALL) {
            f |= libc::MSG_WAITALL;
        }
        if self.contains(RecvFlags::TRUNC) {
            f |= libc::MSG_TRUNC;
        }
        if self.contains(RecvFlags::OOB) {
            f |= libc::MSG_OOB;
        }
        f
    }
}

/// `(domain, type)` for a socket kind.
fn domain_type(kind: Kind, family: i32) -> Result<(i32, i32)> {
    Ok(match kind {
        Kind::TcpListener | Kind::TcpStream => (family, libc::SOCK_STREAM),
        Kind::Udp => (family, libc::SOCK_DGRAM),
        Kind::UnixListener | Kind::UnixStream => (libc::AF_UNIX, libc::SOCK_STREAM),
        Kind::UnixDatagram => (libc::AF_UNIX, libc::SOCK_DGRAM),
        Kind::UnixSeqpacketListener | Kind::UnixSeqpacket => (libc::AF_UNIX, libc::SOCK_SEQPACKET),
        other => return Err(Error::invalid(format!("{} is not a socket kind", other.name()))),
    })
}

/// The kind a socket has once it listens, or once it is connected/accepted.
pub fn listener_kind(kind: Kind) -> Kind {
    match kind {
        Kind::TcpStream => Kind::TcpListener,
        Kind::UnixStream => Kind::UnixListener,
        Kind::UnixSeqpacket => Kind::UnixSeqpacketListener,
        other => other,
    }
}

pub fn stream_kind(kind: Kind) -> Kind {
    match kind {
        Kind::TcpListener => Kind::TcpStream,
        Kind::UnixListener => Kind::UnixStream,
        Kind::UnixSeqpacketListener => Kind::UnixSeqpacket,
        other => other,
    }
}

pub fn is_unix(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::UnixListener | Kind::UnixStream | Kind::UnixDatagram | Kind::UnixSeqpacketListener | Kind::UnixSeqpacket
    )
}

pub fn is_listener(kind: Kind) -> bool {
    matches!(kind, Kind::TcpListener | Kind::UnixListener | Kind::UnixSeqpacketListener)
}

fn set_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32, what: &str) -> Result<()> {
    // SAFETY: an int option.
    cvt(unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, (&value as *const i32).cast(), std::mem::size_of::<i32>() as _)
    })
    .map(drop)
    .map_err(|e| e.context(format!("setsockopt {what}")))
}

fn get_int(fd: BorrowedFd<'_>, level: i32, name: i32, what: &str) -> Result<i32> {
    let mut value: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int option.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut value as *mut i32).cast(), &mut len) })
        .map_err(|e| e.context(format!("getsockopt {what}")))?;
    Ok(value)
}

impl Socket {
    /// A new, unconnected, close-on-exec socket of `kind` in `family` (for TCP/UDP).
    pub fn new(kind: Kind, family: i32, nonblock: bool) -> Result<Socket> {
        let (domain, ty) = domain_type(kind, family)?;
        let mut flags = ty | libc::SOCK_CLOEXEC;
        if nonblock {
            flags |= libc::SOCK_NONBLOCK;
        }
        // SAFETY: socket returns a new descriptor on success.
        let fd = cvt(unsafe { libc::socket(domain, flags, 0) }).map_err(|e| e.context("socket"))?;
        Ok(Socket::created(unsafe { sys::owned(fd) }, kind))
    }

    /// A socket fdsafe made itself (socket, accept, socketpair).
    fn created(fd: OwnedFd, kind: Kind) -> Socket {
        Socket::from_parts(fd, kind)
    }

    /// Gives up the descriptor; a bound path stays where it is (the caller owns the socket
    /// now) and the rest is freed.
    pub fn into_owned_fd(self) -> OwnedFd {
        let Socket { fd, bound_path, .. } = self;
        if let Some(path) = bound_path {
            path.disarm();
        }
        fd
    }

    /// A socket of `kind` (checked by the caller if it came from elsewhere).
    pub fn from_parts(fd: OwnedFd, kind: Kind) -> Socket {
        Socket { fd, kind, bound_path: None }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The kind whose rules apply to this socket: its own, or for a socket of any family
    /// ([`Kind::Socket`]) the typed kind its family, type and protocol make it (a TCP socket
    /// from `fdsafe_socket_create` takes TCP's options), asked of the kernel; a family fdsafe
    /// has no typed kind for stays [`Kind::Socket`].
    pub fn typed_kind(&self) -> Result<Kind> {
        if self.kind != Kind::Socket {
            return Ok(self.kind);
        }
        Ok(crate::kinds::detect::socket_kind(self.fd())?.unwrap_or(Kind::Socket))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Checks with the kernel that `fd` is a socket of `kind` (see [`crate::kinds::detect`]).
    pub fn verify(kind: Kind, fd: BorrowedFd<'_>) -> Result<()> {
        if kind == Kind::Socket {
            return generic::verify(fd);
        }
        match crate::kinds::detect::socket_kind(fd)? {
            Some(actual) if actual == kind => Ok(()),
            Some(actual) => Err(Error::invalid(format!(
                "descriptor {} is a {} socket, not a {}",
                fd.as_raw_fd(),
                actual.name(),
                kind.name()
            ))),
            None => Err(Error::invalid(format!("descriptor {} is not a socket fdsafe knows", fd.as_raw_fd()))),
        }
    }

    pub fn bind(&self, addr: &SockAddr) -> Result<()> {
        // SAFETY: a valid address of `len` bytes.
        cvt(unsafe { libc::bind(self.fd.as_raw_fd(), addr.as_ptr(), addr.len) })
            .map(drop)
            .map_err(|e| e.context(format!("bind {addr:?}")))
    }

    /// `listen`, turning a stream or seqpacket socket into a listener.
    pub fn listen(&mut self, backlog: i32) -> Result<()> {
        // SAFETY: listen on our descriptor.
        cvt(unsafe { libc::listen(self.fd.as_raw_fd(), backlog) }).map_err(|e| e.context("listen"))?;
        self.kind = listener_kind(self.kind);
        Ok(())
    }

    /// Starts or completes a connection. For a blocking socket this waits like `connect(2)`.
    pub fn connect_raw(&self, addr: &SockAddr) -> Result<()> {
        // SAFETY: a valid address of `len` bytes.
        cvt(unsafe { libc::connect(self.fd.as_raw_fd(), addr.as_ptr(), addr.len) }).map(drop)
    }

    /// Connects, waiting at most `timeout_ms` (negative: no limit): the socket is made
    /// non-blocking for the attempt and restored. `-ETIMEDOUT` when the time runs out.
    pub fn connect_timeout(&self, addr: &SockAddr, timeout_ms: i32) -> Result<()> {
        if timeout_ms < 0 {
            return self.connect_raw(addr).map_err(|e| e.context(format!("connect {addr:?}")));
        }
        let was_nonblocking = sys::nonblocking(self.fd())?;
        sys::set_nonblocking(self.fd(), true)?;
        let result = match self.connect_raw(addr) {
            Ok(()) => Ok(()),
            Err(Error::Os { errno: libc::EINPROGRESS, .. }) => match self.await_connect(timeout_ms) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Error::from_errno(libc::ETIMEDOUT)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        sys::set_nonblocking(self.fd(), was_nonblocking)?;
        result.map_err(|e| e.context(format!("connect {addr:?}")))
    }

    /// Connects a Unix stream or seqpacket socket, waiting at most `timeout_ms` (-1: no limit)
    /// for room in a full listener's queue: `ETIMEDOUT` once it has passed (0: at once). The
    /// kernel bounds that wait by `SO_SNDTIMEO`, set for the connect and cleared after (the
    /// socket is new: nothing else has set it).
    pub fn connect_unix_timeout(&self, addr: &SockAddr, timeout_ms: i32) -> Result<()> {
        let result = if timeout_ms < 0 {
            self.connect_raw(addr)
        } else if timeout_ms == 0 {
            // SO_SNDTIMEO 0 would mean no limit: look once, without waiting.
            sys::set_nonblocking(self.fd(), true)?;
            let result = self.connect_raw(addr);
            sys::set_nonblocking(self.fd(), false)?;
            result
        } else {
            let limit = libc::timeval { tv_sec: (timeout_ms / 1000) as _, tv_usec: ((timeout_ms % 1000) * 1000) as _ };
            self.set_send_timeout(limit)?;
            let result = self.connect_raw(addr);
            self.set_send_timeout(libc::timeval { tv_sec: 0, tv_usec: 0 })?;
            result
        };
        match result {
            Err(Error::Os { errno: libc::EAGAIN, .. }) if timeout_ms >= 0 => Err(Error::from_errno(libc::ETIMEDOUT)),
            other => other,
        }
        .map_err(|e| e.context(format!("connect {addr:?}")))
    }

    fn set_send_timeout(&self, limit: libc::timeval) -> Result<()> {
        // SAFETY: a timeval, as SO_SNDTIMEO takes.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&limit as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(|_| ())
        .map_err(|e| e.context("setsockopt SO_SNDTIMEO"))
    }

    /// Waits up to `timeout_ms` for a non-blocking connect to finish and returns its result:
    /// `Ok` when connected, `EINPROGRESS` while still pending after the wait, or the error that
    /// ended the attempt (`ECONNREFUSED`...).
    pub fn finish_connect(&self, timeout_ms: i32) -> Result<()> {
        match self.await_connect(timeout_ms)? {
            true => Ok(()),
            false if timeout_ms == 0 => Err(Error::from_errno(libc::EINPROGRESS)),
            false => Err(Error::from_errno(libc::ETIMEDOUT)),
        }
    }

    /// Waits up to `timeout_ms` for the connect under way: `Ok(true)` once connected,
    /// `Ok(false)` if the time ran out, or the error that ended the attempt.
    fn await_connect(&self, timeout_ms: i32) -> Result<bool> {
        // A listener is always "not connected" and never writable: it would wait forever.
        if get_int(self.fd(), libc::SOL_SOCKET, libc::SO_ACCEPTCONN, "SO_ACCEPTCONN")? != 0 {
            return Err(Error::from_errno(libc::ENOTCONN).context("a listener has no connect under way"));
        }
        if crate::kinds::io::wait(self.fd(), libc::POLLOUT, timeout_ms)? == 0 {
            return Ok(false);
        }
        let err = get_int(self.fd(), libc::SOL_SOCKET, libc::SO_ERROR, "SO_ERROR")?;
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        // Connected only if there is a peer now. A TCP socket stays "connecting" for the
        // socket layer until a connect(2) sees the connection made: connecting to the peer
        // once more leaves it as a blocking connect does, so that a later connect says
        // EISCONN rather than a first 0. (A Unix connect completes within the call.)
        let peer = self.peer_address()?;
        if matches!(peer.family(), libc::AF_INET | libc::AF_INET6) {
            match self.connect_raw(&peer) {
                Ok(()) | Err(Error::Os { errno: libc::EISCONN, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Accepts a connection: a close-on-exec socket of the matching stream kind and, if
    /// `with_peer`, the peer's address (not asked for otherwise: the kernel would copy it).
    pub fn accept(&self, nonblock: bool, with_peer: bool) -> Result<(Socket, Option<SockAddr>)> {
        let mut addr = SockAddr::empty();
        let mut flags = libc::SOCK_CLOEXEC;
        if nonblock {
            flags |= libc::SOCK_NONBLOCK;
        }
        let (addr_ptr, len_ptr) = match with_peer {
            true => (addr.as_mut_ptr(), &mut addr.len as *mut libc::socklen_t),
            false => (std::ptr::null_mut(), std::ptr::null_mut()),
        };
        // SAFETY: the address buffer and its length are valid, or both NULL. Made directly,
        // not through libc's wrapper, so it is no cancellation point.
        let fd = unsafe { sys::direct::accept4(self.fd.as_raw_fd(), addr_ptr, len_ptr, flags) }.map_err(|e| e.context("accept"))?;
        let socket = Socket::created(unsafe { sys::owned(fd as libc::c_int) }, stream_kind(self.kind));
        let peer = with_peer.then(|| {
            clamp_len(&mut addr);
            addr
        });
        Ok((socket, peer))
    }

    /// Sends bytes (never raising `SIGPIPE`: `flags.raw()` carries `MSG_NOSIGNAL`). Made
    /// directly, not through libc's wrapper, so it is no cancellation point.
    pub fn send(&self, buf: &[u8], flags: SendFlags) -> Result<usize> {
        // SAFETY: the buffer is valid for its length.
        unsafe { sys::direct::send(self.fd.as_raw_fd(), buf.as_ptr(), buf.len(), flags.raw()) }
    }

    pub fn send_to(&self, buf: &[u8], flags: SendFlags, to: &SockAddr) -> Result<usize> {
        if self.kind == Kind::TcpStream {
            // Linux ignores the address on a connected TCP socket and sends to the peer: a
            // call that names a destination must not send elsewhere. (A Unix stream socket's
            // kernel refuses it itself.)
            return Err(Error::from_errno(libc::EISCONN).context("a TCP stream sends only to its peer (use send)"));
        }
        // SAFETY: buffer and address valid for their lengths.
        let n = cvt(unsafe {
            libc::sendto(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags.raw(), to.as_ptr(), to.len)
        })?;
        Ok(n as usize)
    }

    /// Refuses the receive flags the kernel would not honour on this socket, before anything
    /// is received: `MSG_TRUNC` on a stream socket (`SO_TYPE` `SOCK_STREAM`: Linux discards
    /// the bytes instead of copying them, tcp(7), so stream data would be lost), and
    /// `MSG_OOB` on a UDP socket, whose kernel ignores the flag and hands over the next
    /// ordinary datagram: refused with `EOPNOTSUPP`, as Unix datagram, raw and netlink
    /// sockets' kernels refuse it. Asks the kernel only when one of those flags is given.
    pub fn check_recv_flags(&self, flags: RecvFlags) -> Result<()> {
        if flags.contains(RecvFlags::TRUNC) && self.get_int(libc::SOL_SOCKET, libc::SO_TYPE, "SO_TYPE")? == libc::SOCK_STREAM {
            return Err(Error::invalid("FDSAFE_MSG_TRUNC on a stream socket: Linux would discard the bytes (tcp(7))"));
        }
        if flags.contains(RecvFlags::OOB) && self.ignores_oob()? {
            return Err(Error::from_errno(libc::EOPNOTSUPP)
                .context("MSG_OOB on a UDP socket, which has no out-of-band data (the kernel would take a datagram)"));
        }
        Ok(())
    }

    fn ignores_oob(&self) -> Result<bool> {
        Ok(match self.kind {
            Kind::Udp => true,
            Kind::Socket => matches!(
                self.get_int(libc::SOL_SOCKET, libc::SO_PROTOCOL, "SO_PROTOCOL")?,
                libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE
            ),
            _ => false,
        })
    }

    /// Receives bytes. Made directly, not through libc's wrapper, so it is no cancellation
    /// point.
    pub fn recv(&self, buf: &mut [u8], flags: RecvFlags) -> Result<usize> {
        // SAFETY: the buffer is valid for its length.
        unsafe { sys::direct::recv(self.fd.as_raw_fd(), buf.as_mut_ptr(), buf.len(), flags.raw()) }
    }

    pub fn recv_from(&self, buf: &mut [u8], flags: RecvFlags) -> Result<(usize, SockAddr)> {
        let mut addr = SockAddr::empty();
        // SAFETY: buffer and address valid for their lengths.
        let n = cvt(unsafe {
            libc::recvfrom(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags.raw(), addr.as_mut_ptr(), &mut addr.len)
        })?;
        clamp_len(&mut addr);
        Ok((n as usize, addr))
    }

    pub fn shutdown(&self, read: bool, write: bool) -> Result<()> {
        let how = match (read, write) {
            (true, true) => libc::SHUT_RDWR,
            (true, false) => libc::SHUT_RD,
            (false, true) => libc::SHUT_WR,
            (false, false) => return Err(Error::invalid("shutdown of neither direction")),
        };
        // SAFETY: shutdown on our descriptor.
        cvt(unsafe { libc::shutdown(self.fd.as_raw_fd(), how) }).map(drop).map_err(|e| e.context("shutdown"))
    }

    pub fn local_address(&self) -> Result<SockAddr> {
        let mut addr = SockAddr::empty();
        // SAFETY: valid address buffer.
        cvt(unsafe { libc::getsockname(self.fd.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len) })
            .map_err(|e| e.context("getsockname"))?;
        clamp_len(&mut addr);
        Ok(addr)
    }

    pub fn peer_address(&self) -> Result<SockAddr> {
        let mut addr = SockAddr::empty();
        // SAFETY: valid address buffer.
        cvt(unsafe { libc::getpeername(self.fd.as_raw_fd(), addr.as_mut_ptr(), &mut addr.len) })
            .map_err(|e| e.context("getpeername"))?;
        clamp_len(&mut addr);
        Ok(addr)
    }

    /// A socket for `fd`, a duplicate of this one's descriptor: it removes the bound path
    /// too, if it is the socket's last descriptor when it closes.
    pub fn duplicate(&self, fd: OwnedFd) -> Socket {
        Socket { fd, kind: self.kind, bound_path: self.bound_path.clone() }
    }

    pub fn set_bound_path(&mut self, path: unix::BoundPath) {
        self.bound_path = Some(Box::new(path));
    }

    /// The path this handle removes when closed, if any.
    pub fn bound_path(&self) -> Option<&unix::BoundPath> {
        self.bound_path.as_deref()
    }

    pub(crate) fn set_int(&self, level: i32, name: i32, value: i32, what: &str) -> Result<()> {
        set_int(self.fd(), level, name, value, what)
    }

    pub(crate) fn get_int(&self, level: i32, name: i32, what: &str) -> Result<i32> {
        get_int(self.fd(), level, name, what)
    }
}

/// The kernel reports the full length even when it truncated; never claim more than we hold.
pub(crate) fn clamp_len(addr: &mut SockAddr) {
    let max = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    if addr.len > max {
        addr.len = max;
    }
}

/// Creates a socket for `kind`, applies `flags`, binds it to `addr` and, for listeners,
/// listens.
pub fn bind_inet(kind: Kind, addr: &SockAddr, backlog: Option<i32>, flags: CreateFlags) -> Result<Socket> {
    let family = addr.family();
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Err(Error::invalid(format!("{addr:?} is not an IPv4 or IPv6 address")));
    }
    let mut socket = Socket::new(kind, family, flags.contains(CreateFlags::NONBLOCK))?;
    if backlog.is_some() && !flags.contains(CreateFlags::NO_REUSEADDR) {
        socket.set_int(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1, "SO_REUSEADDR")?;
    }
    if flags.contains(CreateFlags::REUSEPORT) {
        socket.set_int(libc::SOL_SOCKET, libc::SO_REUSEPORT, 1, "SO_REUSEPORT")?;
    }
    if family == libc::AF_INET6 {
        let v6only = i32::from(flags.contains(CreateFlags::V6ONLY));
        socket.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v6only, "IPV6_V6ONLY")?;
    } else if flags.contains(CreateFlags::V6ONLY) {
        return Err(Error::invalid("V6ONLY with an IPv4 address"));
    }
    socket.bind(addr)?;
    if let Some(backlog) = backlog {
        socket.listen(backlog)?;
    }
    Ok(socket)
}

/// Creates a TCP or Unix stream/seqpacket socket and connects it to `addr`.
pub fn connect(kind: Kind, addr: &SockAddr, timeout_ms: i32, nonblock: bool) -> Result<(Socket, bool)> {
    let socket = Socket::new(kind, addr.family(), nonblock)?;
    if nonblock {
        return match socket.connect_raw(addr) {
            Ok(()) => Ok((socket, true)),
            Err(Error::Os { errno: libc::EINPROGRESS, .. }) => Ok((socket, false)),
            Err(e) => Err(e.context(format!("connect {addr:?}"))),
        };
    }
    socket.connect_timeout(addr, timeout_ms)?;
    Ok((socket, true))
}

/// Two connected Unix sockets of `kind` (stream, datagram or seqpacket).
pub fn pair(kind: Kind, nonblock: bool) -> Result<(Socket, Socket)> {
    let (domain, ty) = domain_type(kind, libc::AF_UNIX)?;
    let mut fds = [-1; 2];
    let mut flags = ty | libc::SOCK_CLOEXEC;
    if nonblock {
        flags |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: socketpair fills two descriptors on success.
    cvt(unsafe { libc::socketpair(domain, flags, 0, fds.as_mut_ptr()) }).map_err(|e| e.context("socketpair"))?;
    // SAFETY: two new descriptors we own.
    unsafe { Ok((Socket::created(sys::owned(fds[0]), kind), Socket::created(sys::owned(fds[1]), kind))) }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Object for Socket {
    fn kind(&self) -> Kind {
        self.kind
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        (*self).into_owned_fd()
    }
    fn write_guard(&self) -> WriteGuard {
        WriteGuard::Socket
    }
}
