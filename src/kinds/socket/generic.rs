//! The kernel's whole socket surface: sockets of any family, type and protocol
//! ([`Kind::Socket`]: netlink, packet, vsock, raw IP...), options of any level and name as
//! raw bytes, and typed client sockets bound to a chosen local address before they connect.
//!
//! Addresses here are the caller's `sockaddr` bytes, passed to the kernel as they are: the
//! kernel, not fdsafe, knows what a netlink or vsock address holds. Only the length is
//! checked (at least the family, at most a `sockaddr_storage`).

use std::os::fd::{AsRawFd, BorrowedFd};

use super::{unix, Address, SockAddr, Socket};
use crate::error::{Error, Result};
use crate::handles::Kind;
use crate::sys::{self, cvt};

/// A close-on-exec socket of any `domain`, `type` and `protocol` (the kernel's values) as a
/// [`Kind::Socket`]. `ty` carries no flags: `SOCK_CLOEXEC` is always set, `SOCK_NONBLOCK`
/// when `nonblock`.
pub fn create(domain: i32, ty: i32, protocol: i32, nonblock: bool) -> Result<Socket> {
    if ty & (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Err(Error::invalid("type carries SOCK_CLOEXEC or SOCK_NONBLOCK: pass FDSAFE_NONBLOCK in flags"));
    }
    let mut flags = ty | libc::SOCK_CLOEXEC;
    if nonblock {
        flags |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: socket returns a new descriptor on success.
    let fd = cvt(unsafe { libc::socket(domain, flags, protocol) })
        .map_err(|e| e.context(format!("socket({domain}, {ty}, {protocol})")))?;
    // SAFETY: a new descriptor we own.
    Ok(Socket::created(unsafe { sys::owned(fd) }, Kind::Socket))
}

/// Checks with the kernel that `fd` is a socket (of any family).
pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
    let mut domain: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int option.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN, (&mut domain as *mut i32).cast(), &mut len) })
        .map(drop)
        .map_err(|_| Error::invalid(format!("descriptor {} is not a socket", fd.as_raw_fd())))
}

/// A `sockaddr` of any family, copied as it is: at least the 2-byte family, at most a
/// `sockaddr_storage`. (TCP, UDP and Unix addresses are checked by [`SockAddr::from_bytes`].)
pub fn raw_address(bytes: &[u8]) -> Result<SockAddr> {
    let mut out = SockAddr::empty();
    if bytes.len() < 2 || bytes.len() > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(Error::invalid(format!("a sockaddr of {} bytes", bytes.len())));
    }
    // SAFETY: the storage holds at least `bytes.len()` bytes (checked).
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.as_mut_ptr().cast::<u8>(), bytes.len()) };
    out.len = bytes.len() as _;
    if out.family() == libc::AF_UNIX && bytes.len() == UNIX_MAX + 1 && bytes[UNIX_MAX] == 0 {
        // A path filling all 108 bytes of sun_path: the kernel reports it with a NUL past the
        // structure (111 bytes) and refuses that length as an argument (-EINVAL). Trimmed as
        // SockAddr::from_bytes trims it.
        out.len = UNIX_MAX as _;
    }
    Ok(out)
}

/// The size of a `sockaddr_un` (2-byte family and 108-byte path).
const UNIX_MAX: usize = std::mem::size_of::<libc::sockaddr_un>();

/// The address `bytes` for `socket`: any family for a [`Kind::Socket`], checked for the
/// typed kinds.
pub fn address_for(socket: &Socket, bytes: &[u8]) -> Result<SockAddr> {
    if socket.kind() == Kind::Socket {
        raw_address(bytes)
    } else {
        SockAddr::from_bytes(bytes)
    }
}

impl Socket {
    /// `listen` without changing the socket's kind (a [`Kind::Socket`] stays one; the
    /// handle's kind is fixed when it is made).
    pub fn listen_keeping_kind(&self, backlog: i32) -> Result<()> {
        // SAFETY: listen on our descriptor.
        cvt(unsafe { libc::listen(self.fd().as_raw_fd(), backlog) }).map(drop).map_err(|e| e.context("listen"))
    }

    /// `getsockopt` of any option into `buf`; returns the length the kernel wrote.
    /// `SOL_SOCKET, SO_PEERPIDFD` is refused: the kernel would install a new descriptor
    /// outside the handle table (leaked when `buf` is under 4 bytes); `scm::peer_pidfd` makes
    /// it a handle.
    pub fn option_bytes(&self, level: i32, name: i32, buf: &mut [u8]) -> Result<usize> {
        if level == libc::SOL_SOCKET && name == super::scm::SO_PEERPIDFD {
            return Err(Error::invalid("SO_PEERPIDFD makes a descriptor: use fdsafe_socket_peer_pidfd"));
        }
        let mut len = libc::socklen_t::try_from(buf.len()).map_err(|_| Error::invalid("option buffer over 4 GiB"))?;
        // SAFETY: the buffer is valid for `len` bytes; the kernel writes at most that many.
        cvt(unsafe { libc::getsockopt(self.fd().as_raw_fd(), level, name, buf.as_mut_ptr().cast(), &mut len) })
            .map_err(|e| e.context(format!("getsockopt({level}, {name})")))?;
        Ok((len as usize).min(buf.len()))
    }

    /// `setsockopt` of any option from `value`.
    pub fn set_option_bytes(&self, level: i32, name: i32, value: &[u8]) -> Result<()> {
        let len = libc::socklen_t::try_from(value.len()).map_err(|_| Error::invalid("option value over 4 GiB"))?;
        // SAFETY: the buffer is valid for `len` bytes and only read.
        cvt(unsafe { libc::setsockopt(self.fd().as_raw_fd(), level, name, value.as_ptr().cast(), len) })
            .map(drop)
            .map_err(|e| e.context(format!("setsockopt({level}, {name})")))
    }
}

/// The typed kind of a client socket of `family` and `ty`: TCP stream, UDP, or a Unix stream,
/// datagram or seqpacket socket.
pub fn client_kind(family: i32, ty: i32) -> Result<Kind> {
    Ok(match (family, ty) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM) => Kind::TcpStream,
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => Kind::Udp,
        (libc::AF_UNIX, libc::SOCK_STREAM) => Kind::UnixStream,
        (libc::AF_UNIX, libc::SOCK_DGRAM) => Kind::UnixDatagram,
        (libc::AF_UNIX, libc::SOCK_SEQPACKET) => Kind::UnixSeqpacket,
        _ => return Err(Error::invalid(format!("no client socket of family {family} and type {ty}: use fdsafe_socket_create"))),
    })
}

/// A client socket of type `ty` bound to `local`, then connected to `remote` (both of one
/// family). A Unix `local` of just the family (2 bytes) autobinds an abstract name. A path
/// is bound as `bind(2)` binds it: nothing is removed before, nor after a success (the file
/// stays when the socket closes); if the connect fails, the socket file the bind made is
/// removed (only if the path still names that file). Returns the socket and whether it is
/// connected (false: a non-blocking TCP connect in progress).
pub fn connect_from(ty: i32, local: &SockAddr, remote: &SockAddr, timeout_ms: i32, nonblock: bool) -> Result<(Socket, bool)> {
    if local.family() != remote.family() {
        return Err(Error::invalid(format!("local {local:?} and remote {remote:?} are of different families")));
    }
    let kind = client_kind(remote.family(), ty)?;
    let socket = Socket::new(kind, remote.family(), nonblock)?;
    socket.bind(local)?;
    // The file a Unix path bind just made: removed if the connect fails (dropped), kept on
    // success (disarmed).
    let made = match local.address() {
        Ok(Address::Path(path)) => unix::BoundPath::just_bound(&path),
        _ => None,
    };
    let result = connect_bound(socket, kind, remote, timeout_ms, nonblock);
    if let (Ok(_), Some(made)) = (&result, made) {
        made.disarm();
    }
    result
}

/// The connect of [`connect_from`], once bound.
fn connect_bound(socket: Socket, kind: Kind, remote: &SockAddr, timeout_ms: i32, nonblock: bool) -> Result<(Socket, bool)> {
    if matches!(kind, Kind::UnixStream | Kind::UnixSeqpacket) && !nonblock {
        socket.connect_unix_timeout(remote, timeout_ms)?;
        return Ok((socket, true));
    }
    if kind != Kind::TcpStream {
        socket.connect_raw(remote).map_err(|e| e.context(format!("connect {remote:?}")))?;
        return Ok((socket, true));
    }
    if nonblock {
        return match socket.connect_raw(remote) {
            Ok(()) => Ok((socket, true)),
            Err(Error::Os { errno: libc::EINPROGRESS, .. }) => Ok((socket, false)),
            Err(e) => Err(e.context(format!("connect {remote:?}"))),
        };
    }
    socket.connect_timeout(remote, timeout_ms)?;
    Ok((socket, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlink_sockets_are_generic_and_detected_as_such() {
        let s = create(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE, false).unwrap();
        assert_eq!(s.kind(), Kind::Socket);
        assert_eq!(crate::kinds::detect::detect(s.fd()).unwrap(), Kind::Socket);
        verify(s.fd()).unwrap();
        let mut v = [0u8; 4];
        assert_eq!(s.option_bytes(libc::SOL_SOCKET, libc::SO_PROTOCOL, &mut v).unwrap(), 4);
        assert_eq!(i32::from_ne_bytes(v), libc::NETLINK_ROUTE);
    }

    #[test]
    fn a_full_unix_path_as_the_kernel_reports_it_is_trimmed() {
        let mut bytes = vec![0u8; UNIX_MAX + 1];
        bytes[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        bytes[2..UNIX_MAX].fill(b'a');
        assert_eq!(raw_address(&bytes).unwrap().bytes().len(), UNIX_MAX);
        // Anything else is passed as it is.
        bytes[UNIX_MAX] = b'a';
        assert_eq!(raw_address(&bytes).unwrap().bytes().len(), UNIX_MAX + 1);
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert!(create(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, false).is_err());
        assert!(raw_address(&[1]).is_err());
        assert!(client_kind(libc::AF_NETLINK, libc::SOCK_RAW).is_err());
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert!(verify(std::os::fd::AsFd::as_fd(&file)).is_err());
    }
}
