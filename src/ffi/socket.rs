//! Sockets of every kind: addresses, send/receive, shutdown, accept, connect completion,
//! options and zero-copy completions. Family-specific creation lives in `tcp.rs`/`udp.rs`
//! (TCP, UDP) and `unix.rs` (Unix sockets, descriptor passing, credentials).

use std::ffi::{c_char, c_int, c_void, CStr};

use super::kinds::map_flags;
use super::{call, call_direct, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Handle, Kind, TypedGuard};
use crate::kinds::socket::options::{self, SockOpt};
use crate::kinds::socket::{self, generic, zerocopy, RecvFlags, SendFlags, SockAddr, Socket};

/// Room for any address text fdsafe writes, NUL included.
pub const FDSAFE_ADDRESS_TEXT_MAX: u32 = 512;

/// Send and receive flag: do not wait; `-EAGAIN` if the call would block (`MSG_DONTWAIT`).
/// The `FDSAFE_MSG_*` values equal the kernel's `MSG_*`.
pub const FDSAFE_MSG_DONTWAIT: u32 = 0x40;
/// Receive flag: look at the data without consuming it (`MSG_PEEK`).
pub const FDSAFE_MSG_PEEK: u32 = 0x2;
/// Receive flag: on stream sockets wait until the buffer is full (`MSG_WAITALL`).
pub const FDSAFE_MSG_WAITALL: u32 = 0x100;
/// Send flag: accepted and always in force: no fdsafe send raises `SIGPIPE` (`MSG_NOSIGNAL`).
pub const FDSAFE_MSG_NOSIGNAL: u32 = 0x4000;
/// Send flag: more data follows (`MSG_MORE`).
pub const FDSAFE_MSG_MORE: u32 = 0x8000;
/// Send flag: zero-copy (`MSG_ZEROCOPY`); the socket must have `SO_ZEROCOPY` on, and the
/// buffer must stay unchanged until `fdsafe_socket_zerocopy_completions` reports it. Without
/// `SO_ZEROCOPY` the kernel ignores the flag: the send copies, as a plain one, and no
/// completion will ever be reported for it.
pub const FDSAFE_MSG_ZEROCOPY: u32 = 0x0400_0000;
/// Send and receive flag: out-of-band data (`MSG_OOB`): a send's last byte becomes TCP's
/// urgent byte (or a Unix stream socket's out-of-band byte); a receive takes that byte, or
/// fails as the kernel says (`-EINVAL` when there is none or `SO_OOBINLINE` is on,
/// `-EOPNOTSUPP` on datagram sockets; on a UDP socket, whose kernel would ignore the flag and
/// hand over the next datagram, fdsafe says `-EOPNOTSUPP` itself).
pub const FDSAFE_MSG_OOB: u32 = 0x1;
/// Receive flag: accepted and always in force: every descriptor a message brings is
/// close-on-exec (`MSG_CMSG_CLOEXEC`).
pub const FDSAFE_MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;
const _: () = assert!(FDSAFE_MSG_CMSG_CLOEXEC == libc::MSG_CMSG_CLOEXEC as u32);

/// `fdsafe_socket_shutdown`: stop receiving (`SHUT_RD`).
pub const FDSAFE_SHUT_RD: c_int = 0;
/// `fdsafe_socket_shutdown`: stop sending; the peer reads end-of-file (`SHUT_WR`).
pub const FDSAFE_SHUT_WR: c_int = 1;
/// `fdsafe_socket_shutdown`: both directions (`SHUT_RDWR`).
pub const FDSAFE_SHUT_RDWR: c_int = 2;

/// Socket option level: the socket itself (`SOL_SOCKET`). With `FDSAFE_SO_*` names.
pub const FDSAFE_SOL_SOCKET: c_int = 1;
/// Socket option level: IPv4 (`IPPROTO_IP`). With `FDSAFE_IP_*` names.
pub const FDSAFE_IPPROTO_IP: c_int = 0;
/// Socket option level: TCP (`IPPROTO_TCP`). With `FDSAFE_TCP_*` names.
pub const FDSAFE_IPPROTO_TCP: c_int = 6;
/// Socket option level: IPv6 (`IPPROTO_IPV6`). With `FDSAFE_IPV6_*` names.
pub const FDSAFE_IPPROTO_IPV6: c_int = 41;

/// `SO_BROADCAST` (0/1). UDP.
pub const FDSAFE_SO_BROADCAST: c_int = 6;
/// `SO_KEEPALIVE` (0/1).
pub const FDSAFE_SO_KEEPALIVE: c_int = 9;
/// `SO_LINGER`: seconds to linger on close, or -1 for off.
pub const FDSAFE_SO_LINGER: c_int = 13;
/// `SO_RCVBUF` in bytes (the kernel doubles what is set, and reports the doubled value).
pub const FDSAFE_SO_RCVBUF: c_int = 8;
/// `SO_SNDBUF` in bytes (doubled like `SO_RCVBUF`).
pub const FDSAFE_SO_SNDBUF: c_int = 7;
/// `SO_REUSEADDR` (0/1). TCP and UDP.
pub const FDSAFE_SO_REUSEADDR: c_int = 2;
/// `SO_REUSEPORT` (0/1). TCP and UDP.
pub const FDSAFE_SO_REUSEPORT: c_int = 15;
/// `SO_PASSCRED` (0/1): receive the sender's credentials with each message. Unix sockets.
pub const FDSAFE_SO_PASSCRED: c_int = 16;
/// `SO_BUSY_POLL` in microseconds. TCP and UDP.
pub const FDSAFE_SO_BUSY_POLL: c_int = 46;
/// `SO_INCOMING_CPU`: the CPU that handles the socket's packets. TCP and UDP.
pub const FDSAFE_SO_INCOMING_CPU: c_int = 49;
/// `SO_ZEROCOPY` (0/1): allow `FDSAFE_MSG_ZEROCOPY`. TCP and UDP.
pub const FDSAFE_SO_ZEROCOPY: c_int = 60;
/// `TCP_NODELAY` (0/1). TCP.
pub const FDSAFE_TCP_NODELAY: c_int = 1;
/// `TCP_CORK` (0/1). TCP.
pub const FDSAFE_TCP_CORK: c_int = 3;
/// `TCP_KEEPIDLE`: idle seconds before the first keepalive probe. TCP.
pub const FDSAFE_TCP_KEEPIDLE: c_int = 4;
/// `TCP_KEEPINTVL`: seconds between probes. TCP.
pub const FDSAFE_TCP_KEEPINTVL: c_int = 5;
/// `TCP_KEEPCNT`: unanswered probes before the connection drops. TCP.
pub const FDSAFE_TCP_KEEPCNT: c_int = 6;
/// `TCP_USER_TIMEOUT` in milliseconds. TCP.
pub const FDSAFE_TCP_USER_TIMEOUT: c_int = 18;
/// `TCP_FASTOPEN`: the pending fast-open queue length of a listener. TCP.
pub const FDSAFE_TCP_FASTOPEN: c_int = 23;
/// `IP_TTL`: the time-to-live of outgoing IPv4 packets. TCP and UDP.
pub const FDSAFE_IP_TTL: c_int = 2;
/// `IP_MULTICAST_TTL`. UDP.
pub const FDSAFE_IP_MULTICAST_TTL: c_int = 33;
/// `IP_MULTICAST_LOOP` (0/1). UDP.
pub const FDSAFE_IP_MULTICAST_LOOP: c_int = 34;
/// `IPV6_UNICAST_HOPS`: the hop limit of outgoing IPv6 packets. IPv6 TCP and UDP.
pub const FDSAFE_IPV6_UNICAST_HOPS: c_int = 16;
/// `IPV6_MULTICAST_HOPS`. IPv6 UDP.
pub const FDSAFE_IPV6_MULTICAST_HOPS: c_int = 18;
/// `IPV6_MULTICAST_LOOP` (0/1). IPv6 UDP.
pub const FDSAFE_IPV6_MULTICAST_LOOP: c_int = 19;
/// `IPV6_V6ONLY` (0/1). IPv6 TCP and UDP sockets.
pub const FDSAFE_IPV6_V6ONLY: c_int = 26;

mod kernel_values {
    use super::*;
    const _: () = assert!(FDSAFE_MSG_DONTWAIT == libc::MSG_DONTWAIT as u32 && FDSAFE_MSG_PEEK == libc::MSG_PEEK as u32);
    const _: () = assert!(FDSAFE_MSG_WAITALL == libc::MSG_WAITALL as u32 && FDSAFE_MSG_NOSIGNAL == libc::MSG_NOSIGNAL as u32);
    const _: () = assert!(FDSAFE_MSG_MORE == libc::MSG_MORE as u32 && FDSAFE_MSG_ZEROCOPY == libc::MSG_ZEROCOPY as u32);
    const _: () = assert!(FDSAFE_MSG_OOB == libc::MSG_OOB as u32);
    const _: () = assert!(FDSAFE_SHUT_RD == libc::SHUT_RD && FDSAFE_SHUT_WR == libc::SHUT_WR && FDSAFE_SHUT_RDWR == libc::SHUT_RDWR);
    const _: () = assert!(FDSAFE_SOL_SOCKET == libc::SOL_SOCKET && FDSAFE_IPPROTO_IP == libc::IPPROTO_IP);
    const _: () = assert!(FDSAFE_IPPROTO_TCP == libc::IPPROTO_TCP && FDSAFE_IPPROTO_IPV6 == libc::IPPROTO_IPV6);
    const _: () = assert!(FDSAFE_SO_BROADCAST == libc::SO_BROADCAST && FDSAFE_SO_KEEPALIVE == libc::SO_KEEPALIVE);
    const _: () = assert!(FDSAFE_SO_LINGER == libc::SO_LINGER && FDSAFE_SO_RCVBUF == libc::SO_RCVBUF);
    const _: () = assert!(FDSAFE_SO_SNDBUF == libc::SO_SNDBUF && FDSAFE_SO_REUSEADDR == libc::SO_REUSEADDR);
    const _: () = assert!(FDSAFE_SO_REUSEPORT == libc::SO_REUSEPORT && FDSAFE_SO_PASSCRED == libc::SO_PASSCRED);
    const _: () = assert!(FDSAFE_SO_BUSY_POLL == libc::SO_BUSY_POLL && FDSAFE_SO_INCOMING_CPU == libc::SO_INCOMING_CPU);
    const _: () = assert!(FDSAFE_SO_ZEROCOPY == libc::SO_ZEROCOPY && FDSAFE_TCP_NODELAY == libc::TCP_NODELAY);
    const _: () = assert!(FDSAFE_TCP_CORK == libc::TCP_CORK && FDSAFE_TCP_KEEPIDLE == libc::TCP_KEEPIDLE);
    const _: () = assert!(FDSAFE_TCP_KEEPINTVL == libc::TCP_KEEPINTVL && FDSAFE_TCP_KEEPCNT == libc::TCP_KEEPCNT);
    const _: () = assert!(FDSAFE_TCP_USER_TIMEOUT == libc::TCP_USER_TIMEOUT && FDSAFE_TCP_FASTOPEN == libc::TCP_FASTOPEN);
    const _: () = assert!(FDSAFE_IP_TTL == libc::IP_TTL && FDSAFE_IP_MULTICAST_TTL == libc::IP_MULTICAST_TTL);
    const _: () = assert!(FDSAFE_IP_MULTICAST_LOOP == libc::IP_MULTICAST_LOOP && FDSAFE_IPV6_UNICAST_HOPS == libc::IPV6_UNICAST_HOPS);
    const _: () = assert!(FDSAFE_IPV6_MULTICAST_HOPS == libc::IPV6_MULTICAST_HOPS && FDSAFE_IPV6_MULTICAST_LOOP == libc::IPV6_MULTICAST_LOOP);
    const _: () = assert!(FDSAFE_IPV6_V6ONLY == libc::IPV6_V6ONLY);
}

/// Send flags in the kernel's values (`MSG_DONTWAIT`, `MSG_MORE`, `MSG_ZEROCOPY`, `MSG_OOB`,
/// `MSG_NOSIGNAL`) as the core's; anything else is refused.
pub(crate) fn send_flags(bits: u32) -> Result<SendFlags> {
    map_flags(
        bits,
        &[
            (FDSAFE_MSG_DONTWAIT, SendFlags::DONTWAIT),
            (FDSAFE_MSG_MORE, SendFlags::MORE),
            (FDSAFE_MSG_ZEROCOPY, SendFlags::ZEROCOPY),
            (FDSAFE_MSG_OOB, SendFlags::OOB),
            (FDSAFE_MSG_NOSIGNAL, SendFlags::empty()),
        ],
        "send",
    )
}

/// Receive flags in the kernel's values (`MSG_DONTWAIT`, `MSG_PEEK`, `MSG_WAITALL`, `MSG_OOB`;
/// `MSG_CMSG_CLOEXEC`, always in force, is accepted).
pub(crate) fn recv_flags(bits: u32) -> Result<RecvFlags> {
    map_flags(
        bits,
        &[
            (FDSAFE_MSG_DONTWAIT, RecvFlags::DONTWAIT),
            (FDSAFE_MSG_PEEK, RecvFlags::PEEK),
            (FDSAFE_MSG_WAITALL, RecvFlags::WAITALL),
            (FDSAFE_MSG_OOB, RecvFlags::OOB),
            (FDSAFE_MSG_CMSG_CLOEXEC, RecvFlags::empty()),
        ],
        "receive",
    )
}

/// [`recv_flags`] plus `MSG_TRUNC` (return a datagram's real length), for the receives that
/// return a length the caller compares with its buffer.
pub(crate) fn recv_flags_with_trunc(bits: u32) -> Result<RecvFlags> {
    let trunc = bits & super::message::FDSAFE_MSG_TRUNC != 0;
    let mut flags = recv_flags(bits & !super::message::FDSAFE_MSG_TRUNC)?;
    flags.set(RecvFlags::TRUNC, trunc);
    Ok(flags)
}

/// A range of finished zero-copy sends, as read from the socket's error queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_zerocopy_completion {
    /// The first send number of the range. Zero-copy sends are numbered from 0 per socket,
    /// one number per successful `fdsafe_socket_send` with `FDSAFE_MSG_ZEROCOPY`.
    pub first: u32,
    /// The last send number of the range (inclusive).
    pub last: u32,
    /// 1 if the kernel copied the data instead of sending it in place (always so on
    /// loopback), 0 if the pages were sent zero-copy.
    pub copied: u32,
}

pub(crate) fn c_text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: the caller passes a NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| Error::invalid(format!("{name} is not UTF-8")))
}

pub(crate) fn socket_of(handle: fdsafe_handle) -> Result<TypedGuard<Socket>> {
    get_as::<Socket>(Handle(handle), "a socket")
}

/// Looks a socket up and checks its kind is one of `kinds`.
#[inline(always)]
pub(crate) fn socket_in(handle: fdsafe_handle, kinds: &[Kind], expected: &'static str) -> Result<TypedGuard<Socket>> {
    let guard = get_as::<Socket>(Handle(handle), expected)?;
    // The lookup checked the handle's kind bits against the slot's.
    if !kinds.iter().any(|&kind| Handle(handle).kind_bits() == kind as u8) {
        return Err(Error::WrongKind { actual: guard.kind(), expected });
    }
    Ok(guard)
}

pub(crate) fn write_text(text: &str, buf: *mut c_char, cap: usize) -> Result<c_int> {
    write_bytes_text(text.as_bytes(), buf, cap)
}

/// [`write_text`] for bytes that need not be UTF-8 (interface names, paths): the bytes and a NUL.
pub(crate) fn write_bytes_text(text: &[u8], buf: *mut c_char, cap: usize) -> Result<c_int> {
    // NULL is refused even with a 0 capacity: these calls document no size query (the
    // `*_MAX` constants give the room to allow).
    if buf.is_null() {
        return Err(Error::invalid("text_out is NULL"));
    }
    let out = out_slice(buf.cast::<u8>(), cap, "text_out")?;
    let needed = text.len() + 1;
    if out.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    out[..text.len()].copy_from_slice(text);
    out[text.len()] = 0;
    c_int::try_from(text.len()).map_err(|_| Error::Internal("text length".into()))
}

/// Checks an optional (sockaddr, capacity, length) out-triple: all NULL/0 means "not wanted".
pub(crate) struct AddrOut<'a> {
    buf: Option<&'a mut [u8]>,
    len_out: Option<Out<usize>>,
}

impl AddrOut<'_> {
    pub(crate) fn new(addr: *mut c_void, cap: usize, len_out: *mut usize, optional: bool) -> Result<Self> {
        if optional && addr.is_null() && cap == 0 && len_out.is_null() {
            return Ok(AddrOut { buf: None, len_out: None });
        }
        // Capacity 0 is a buffer too small (the last error says how much is needed), checked
        // by `check_room` or `write` like any other short capacity.
        let buf = out_slice(addr.cast::<u8>(), cap, "addr_out")?;
        Ok(AddrOut { buf: Some(buf), len_out: Some(Out::new(len_out, "addr_len_out")?) })
    }

    /// Whether the caller asked for the address.
    pub(crate) fn wanted(&self) -> bool {
        self.buf.is_some()
    }

    /// Checks the capacity before the operation, so nothing is consumed when it is too small.
    pub(crate) fn check_room(&self, needed: usize) -> Result<()> {
        match &self.buf {
            Some(b) if b.len() < needed => Err(Error::BufferTooSmall { needed }),
            _ => Ok(()),
        }
    }

    pub(crate) fn write(self, addr: &SockAddr) -> Result<()> {
        if let (Some(buf), Some(len_out)) = (self.buf, self.len_out) {
            let bytes = addr.bytes();
            if buf.len() < bytes.len() {
                return Err(Error::BufferTooSmall { needed: bytes.len() });
            }
            buf[..bytes.len()].copy_from_slice(bytes);
            len_out.write(bytes.len());
        }
        Ok(())
    }
}

const STORAGE: usize = std::mem::size_of::<libc::sockaddr_storage>();

pub(crate) fn sockaddr_in(addr: *const c_void, len: usize) -> Result<SockAddr> {
    SockAddr::from_bytes(in_slice(addr.cast::<u8>(), len, "addr")?)
}

/// Parses an address text (`127.0.0.1:8080`, `[::1]:8080`, `[fe80::1%eth0]:80`,
/// `/run/app.sock` (any text containing `/` is a path), `@name` for an abstract Unix name,
/// with bytes that are not printable written as a backslash, `x` and two hex digits, `""` for an unnamed Unix address) into a `struct sockaddr` of the exact length
/// the kernel expects: `sockaddr_in`, `sockaddr_in6`, or `sockaddr_un` counting the path's
/// NUL, or for abstract names the leading NUL and the name with no padding.
///
/// `addr_out` has room for `addr_cap` bytes (`sizeof(struct sockaddr_storage)` always
/// suffices); `*addr_len_out` receives the length. Host names are never resolved.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL pointers or text that is not one of these
/// forms (the last error says why: a missing port, a port above 65535, a bare file name...);
/// `-ENAMETOOLONG` for a path over 108 bytes (a path of exactly 108 fills sun_path with no
/// NUL, as the kernel allows) or an abstract name over 107 bytes; `-ENODEV` for an IPv6
/// scope naming, by name, an interface that does not exist (`[fe80::1%nosuch]:80`; a scope
/// index is not looked up: the kernel judges it where the address is used);
/// `FDSAFE_E_BUFFER_TOO_SMALL` if `addr_cap` is too small.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_address_parse(text: *const c_char, addr_out: *mut c_void, addr_cap: usize, addr_len_out: *mut usize) -> c_int {
    call("fdsafe_address_parse", || {
        let out = AddrOut::new(addr_out, addr_cap, addr_len_out, false)?;
        let addr = SockAddr::parse(c_text(text, "text")?)?;
        out.write(&addr)?;
        Ok(0)
    })
}

/// Formats a `struct sockaddr` of `addr_len` bytes (AF_INET, AF_INET6 or AF_UNIX) as text in
/// the forms `fdsafe_address_parse` reads, so that every text it gives is parsed back to the
/// same address: an unnamed Unix address gives the empty string, a relative path without a
/// `/` (`a.sock`) gives `./a.sock` (the same file), as does one starting with `@` (`@d/a.sock`
/// gives `./@d/a.sock`, not an abstract name), abstract names escape any byte. A path
/// that is not UTF-8 has no text (`-EILSEQ`): its `struct sockaddr` form always round-trips.
/// One part of an address has no place in the text: an IPv6 flow label (`sin6_flowinfo`),
/// which reads back as 0 (the scope id is kept, as `%index`).
/// Writes the text and its NUL into `text_out` (capacity `text_cap`; `FDSAFE_ADDRESS_TEXT_MAX`
/// always suffices) and returns the text length (without the NUL).
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL pointers, another family, or a length too
/// short for the family; `-EILSEQ` for a path that is not UTF-8; `FDSAFE_E_BUFFER_TOO_SMALL`
/// (nothing written). Thread safety: any.
#[no_mangle]
pub extern "C" fn fdsafe_address_format(addr: *const c_void, addr_len: usize, text_out: *mut c_char, text_cap: usize) -> c_int {
    call("fdsafe_address_format", || {
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        write_text(&sockaddr_in(addr, addr_len)?.to_text()?, text_out, text_cap)
    })
}

fn address_text(handle: fdsafe_handle, peer: bool, text_out: *mut c_char, text_cap: usize) -> Result<c_int> {
    let s = socket_of(handle)?;
    let addr = if peer { s.peer_address()? } else { s.local_address()? };
    write_text(&addr.to_text()?, text_out, text_cap)
}

fn address_raw(handle: fdsafe_handle, peer: bool, addr_out: *mut c_void, addr_cap: usize, addr_len_out: *mut usize) -> Result<c_int> {
    let out = AddrOut::new(addr_out, addr_cap, addr_len_out, false)?;
    let s = socket_of(handle)?;
    let addr = if peer { s.peer_address()? } else { s.local_address()? };
    out.write(&addr)?;
    Ok(0)
}

/// The socket's own address as text (see `fdsafe_address_format`): for TCP and UDP the port
/// the kernel chose when bound to port 0, for autobound Unix sockets the abstract name the
/// kernel chose (`@` and five hex digits), for unnamed Unix sockets the empty string.
/// Returns the text length.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-sockets; `FDSAFE_E_INVALID_ARGUMENT` for a
/// NULL `text_out`, or a socket of a family with no text form (netlink, packet...: use
/// `fdsafe_socket_local_sockaddr`); `-EILSEQ` for a Unix path that is not UTF-8 (use
/// `fdsafe_socket_local_sockaddr`); `FDSAFE_E_BUFFER_TOO_SMALL`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_local_address(handle: fdsafe_handle, text_out: *mut c_char, text_cap: usize) -> c_int {
    call("fdsafe_socket_local_address", || address_text(handle, false, text_out, text_cap))
}

/// The connected peer's address as text.
/// Errors: as `fdsafe_socket_local_address`, plus `-ENOTCONN` for an unconnected socket.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_address(handle: fdsafe_handle, text_out: *mut c_char, text_cap: usize) -> c_int {
    call("fdsafe_socket_peer_address", || address_text(handle, true, text_out, text_cap))
}

/// The socket's own address as a `struct sockaddr` (`getsockname`), in `addr_out` (capacity
/// `addr_cap`) with its length in `*addr_len_out`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for NULL pointers;
/// `FDSAFE_E_BUFFER_TOO_SMALL`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_local_sockaddr(handle: fdsafe_handle, addr_out: *mut c_void, addr_cap: usize, addr_len_out: *mut usize) -> c_int {
    call("fdsafe_socket_local_sockaddr", || address_raw(handle, false, addr_out, addr_cap, addr_len_out))
}

/// The peer's address as a `struct sockaddr` (`getpeername`).
/// Errors: as `fdsafe_socket_local_sockaddr`, plus `-ENOTCONN`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_sockaddr(handle: fdsafe_handle, addr_out: *mut c_void, addr_cap: usize, addr_len_out: *mut usize) -> c_int {
    call("fdsafe_socket_peer_sockaddr", || address_raw(handle, true, addr_out, addr_cap, addr_len_out))
}

/// The port of a TCP or UDP socket's own address (`getsockname`) as a number: the port the
/// kernel chose when the socket was bound to port 0. Also for a `FDSAFE_KIND_SOCKET` of
/// `AF_INET` or `AF_INET6` (`fdsafe_socket_create`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for a socket that is not IPv4 or IPv6 (a Unix socket
/// has no port); `FDSAFE_E_INVALID_ARGUMENT` for a NULL `port_out`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_local_port(handle: fdsafe_handle, port_out: *mut u16) -> c_int {
    call("fdsafe_socket_local_port", || {
        let out = Out::new(port_out, "port_out")?;
        let expected = "a TCP or UDP socket";
        let s = socket_in(handle, &[Kind::TcpListener, Kind::TcpStream, Kind::Udp, Kind::Socket], expected)?;
        let port = match s.local_address()?.address() {
            Ok(socket::Address::V4(_, port) | socket::Address::V6(_, port, _)) => port,
            _ => return Err(Error::WrongKind { actual: s.kind(), expected }),
        };
        out.write(port);
        Ok(0)
    })
}

/// The security label of the peer of a connected socket (`SO_PEERSEC`), as the kernel's
/// security module (SELinux, AppArmor, Smack) wrote it, without a trailing NUL, into
/// `label_out` (room for `cap` bytes) followed by a NUL. Returns the label's length.
///
/// Errors: `-ENOPROTOOPT` when no security module of this kernel provides socket labels (the
/// last error says so); `-ENODATA` when the peer has no label; `FDSAFE_E_BUFFER_TOO_SMALL`
/// (the last error says how much is needed; nothing written); `-EBADF`;
/// `FDSAFE_E_WRONG_KIND` for non-sockets; `FDSAFE_E_INVALID_ARGUMENT` for NULL with `cap` > 0;
/// `-ENOTCONN`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_security_label(handle: fdsafe_handle, label_out: *mut c_char, cap: usize) -> c_int {
    call("fdsafe_socket_peer_security_label", || {
        let out = out_slice(label_out.cast::<u8>(), cap, "label_out")?;
        let label = socket::scm::peer_security_label(&*socket_of(handle)?)?;
        if out.len() < label.len() + 1 {
            return Err(Error::BufferTooSmall { needed: label.len() + 1 });
        }
        out[..label.len()].copy_from_slice(&label);
        out[label.len()] = 0;
        c_int::try_from(label.len()).map_err(|_| Error::Internal("label length".into()))
    })
}

/// Sends bytes on a connected socket of any kind (for datagram and seqpacket sockets, one
/// message). Never raises `SIGPIPE` (`MSG_NOSIGNAL`): a closed peer gives `-EPIPE`.
/// `flags` (the kernel's values): `FDSAFE_MSG_DONTWAIT`, `FDSAFE_MSG_MORE`,
/// `FDSAFE_MSG_ZEROCOPY`, `FDSAFE_MSG_OOB`, `FDSAFE_MSG_NOSIGNAL` (always in force), or 0.
/// Returns the bytes sent, which on stream sockets may be fewer than `len`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-sockets (listeners get the kernel's answer:
/// `-EPIPE` for TCP, `-ENOTCONN` for Unix); `FDSAFE_E_INVALID_ARGUMENT` for NULL with `len` > 0 or unknown flags; `-EPIPE`,
/// `-ECONNRESET`, `-ECONNREFUSED` (a datagram peer that is gone), `-EDESTADDRREQ` (an
/// unconnected datagram socket), `-ENOTCONN`, `-EAGAIN`, `-EMSGSIZE`, `-EOPNOTSUPP`
/// (`FDSAFE_MSG_OOB` on a socket without out-of-band data: Unix, UDP), `-ENOBUFS` (the
/// zero-copy budget, `optmem_max`, used up); `-EINTR` if a signal handler ran
/// while waiting (like the system call; fdsafe does not retry). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send(handle: fdsafe_handle, buf: *const c_void, len: usize, flags: u32) -> i64 {
    // No cancellation guard: the send is a direct system call (see `Socket::send`).
    call_direct("fdsafe_socket_send", || {
        let flags = send_flags(flags)?;
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        Ok(socket_of(handle)?.send(buf, flags)? as i64)
    })
}

/// Receives bytes (one message on datagram and seqpacket sockets; a longer message is
/// truncated to `len`, the rest discarded, as `recv(2)`). Returns the bytes received; 0 means
/// the peer shut down (stream) or an empty message arrived. `flags` (the kernel's
/// values): `FDSAFE_MSG_DONTWAIT`, `FDSAFE_MSG_PEEK`, `FDSAFE_MSG_WAITALL`, `FDSAFE_MSG_TRUNC`,
/// `FDSAFE_MSG_OOB` (the out-of-band byte), or 0.
///
/// Truncation: with `FDSAFE_MSG_TRUNC` a datagram or seqpacket message returns its real
/// length, so a result above `len` says the rest was discarded (as `recv(2)` does); without
/// it nothing tells. `FDSAFE_MSG_TRUNC` is refused on stream sockets (TCP, Unix stream, a
/// `FDSAFE_KIND_SOCKET` of type `SOCK_STREAM`), where Linux would discard the bytes instead
/// of copying them (tcp(7)). `fdsafe_socket_recv_message` reports it as a flag, with the sender's
/// address; `fdsafe_readv` cannot (use `fdsafe_socket_recv_message` for scattered data).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` (unknown flags,
/// `FDSAFE_MSG_TRUNC` on a stream socket: nothing is received); `-EOPNOTSUPP` for
/// `FDSAFE_MSG_OOB` on a datagram socket; `-EAGAIN`; `-ECONNRESET`; `-ENOTCONN`; `-EINVAL`
/// (from the kernel: a receive the socket's protocol refuses); `-EINTR` (not retried).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_recv(handle: fdsafe_handle, buf: *mut c_void, len: usize, flags: u32) -> i64 {
    // No cancellation guard: the receive is a direct system call (see `Socket::recv`).
    call_direct("fdsafe_socket_recv", || {
        let flags = recv_flags_with_trunc(flags)?;
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let socket = socket_of(handle)?;
        socket.check_recv_flags(flags)?;
        Ok(socket.recv(buf, flags)? as i64)
    })
}

/// Sends one datagram to the address given as text (UDP, Unix datagram sockets). Never raises
/// `SIGPIPE`. Returns the bytes sent.
///
/// Errors: as `fdsafe_socket_send`, plus `FDSAFE_E_INVALID_ARGUMENT` for a NULL or bad
/// `address`, and the kernel's `-ECONNREFUSED`, `-ENOENT` (no such Unix path),
/// `-EAFNOSUPPORT` (an address of another family; a Unix socket says `-EINVAL`), `-EINVAL`,
/// `-EISCONN` (also for a TCP stream, whose kernel would send to its peer instead),
/// `-EOPNOTSUPP` (a Unix stream socket, which takes no per-message address).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_to(handle: fdsafe_handle, buf: *const c_void, len: usize, flags: u32, address: *const c_char) -> i64 {
    call("fdsafe_socket_send_to", || {
        let flags = send_flags(flags)?;
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        let to = SockAddr::parse(c_text(address, "address")?)?;
        Ok(socket_of(handle)?.send_to(buf, flags, &to)? as i64)
    })
}

/// Like `fdsafe_socket_send_to` with the destination as a `struct sockaddr` of `addr_len`
/// bytes. Errors: as `fdsafe_socket_send_to`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_to_sockaddr(
    handle: fdsafe_handle,
    buf: *const c_void,
    len: usize,
    flags: u32,
    addr: *const c_void,
    addr_len: usize,
) -> i64 {
    call("fdsafe_socket_send_to_sockaddr", || {
        let flags = send_flags(flags)?;
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        let s = socket_of(handle)?;
        let to = generic::address_for(&s, in_slice(addr.cast::<u8>(), addr_len, "addr")?)?;
        Ok(s.send_to(buf, flags, &to)? as i64)
    })
}

/// Receives one datagram and the sender's address, written to `addr_out` (capacity
/// `addr_cap`, length in `*addr_len_out`; format it with `fdsafe_address_format`). Pass
/// NULL, 0, NULL to skip the address. An unnamed Unix sender gives a length of 0: the kernel
/// reports no address (there is none to answer). Returns the bytes received (with `FDSAFE_MSG_TRUNC`, the datagram's real length:
/// above `len` when it was truncated). Every address returned is accepted back by
/// `fdsafe_socket_send_to_sockaddr`, and its text by `fdsafe_socket_send_to`.
///
/// Errors: as `fdsafe_socket_recv` (so `FDSAFE_E_INVALID_ARGUMENT` for `FDSAFE_MSG_TRUNC`
/// on a stream socket, nothing received); `FDSAFE_E_BUFFER_TOO_SMALL` if `addr_cap` is smaller than
/// `sizeof(struct sockaddr_storage)` (checked first: nothing is consumed). Thread safety: any.
#[no_mangle]
pub extern "C" fn fdsafe_socket_recv_from(
    handle: fdsafe_handle,
    buf: *mut c_void,
    len: usize,
    flags: u32,
    addr_out: *mut c_void,
    addr_cap: usize,
    addr_len_out: *mut usize,
) -> i64 {
    call("fdsafe_socket_recv_from", || {
        let flags = recv_flags_with_trunc(flags)?;
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let out = AddrOut::new(addr_out, addr_cap, addr_len_out, true)?;
        out.check_room(STORAGE)?;
        let socket = socket_of(handle)?;
        socket.check_recv_flags(flags)?;
        let (n, from) = socket.recv_from(buf, flags)?;
        out.write(&from)?;
        Ok(n as i64)
    })
}

/// Shuts down one or both directions, as `shutdown(2)`: `how` is `FDSAFE_SHUT_RD`,
/// `FDSAFE_SHUT_WR` or `FDSAFE_SHUT_RDWR` (the kernel's `SHUT_*` values). The handle stays
/// open.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for any other `how`;
/// `-ENOTCONN`. Thread safety: any thread; wakes threads blocked in receive.
#[no_mangle]
pub extern "C" fn fdsafe_socket_shutdown(handle: fdsafe_handle, how: c_int) -> c_int {
    call("fdsafe_socket_shutdown", || {
        let (read, write) = match how {
            FDSAFE_SHUT_RD => (true, false),
            FDSAFE_SHUT_WR => (false, true),
            FDSAFE_SHUT_RDWR => (true, true),
            other => return Err(Error::invalid(format!("shutdown how {other}: not SHUT_RD, SHUT_WR or SHUT_RDWR"))),
        };
        socket_of(handle)?.shutdown(read, write)?;
        Ok(0)
    })
}

/// Accepts a connection on a TCP, Unix stream or Unix seqpacket listener, or on a
/// `FDSAFE_KIND_SOCKET` listening with `fdsafe_socket_listen` (the new socket is then a
/// `FDSAFE_KIND_SOCKET` too). With `SO_RCVTIMEO` set, a blocking accept gives `-EAGAIN`
/// when that time passes with no connection. `*handle_out`
/// receives the new connected socket (close-on-exec, `SOCK_CLOEXEC` accepted; non-blocking with
/// `FDSAFE_NONBLOCK`, the kernel's `SOCK_NONBLOCK`), and the peer's address goes to `addr_out` / `*addr_len_out`
/// (pass NULL, 0, NULL to skip it, and the kernel is not asked for it; ask the handle later
/// with `fdsafe_socket_peer_address`).
/// Waits for a connection unless the listener is non-blocking (`-EAGAIN`).
///
/// Ownership: the caller closes the new handle. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for
/// anything but a listener; `FDSAFE_E_INVALID_ARGUMENT` (NULL `handle_out`, unknown flags);
/// `FDSAFE_E_BUFFER_TOO_SMALL` if `addr_cap` is below `sizeof(struct sockaddr_storage)`
/// (checked first); `-EAGAIN`; `-EMFILE`; `-EINTR` (not retried); `-EINVAL` after the
/// listener was shut down (`fdsafe_socket_shutdown`). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_accept(
    handle: fdsafe_handle,
    flags: u32,
    handle_out: *mut fdsafe_handle,
    addr_out: *mut c_void,
    addr_cap: usize,
    addr_len_out: *mut usize,
) -> c_int {
    // No cancellation guard: accept4 is made directly (no cancellation point), and inserting
    // enters none.
    call_direct("fdsafe_socket_accept", || {
        let nonblocking = super::kinds::nonblocking_flag(flags, "accept")?;
        let out = Out::new(handle_out, "handle_out")?;
        let addr = AddrOut::new(addr_out, addr_cap, addr_len_out, true)?;
        addr.check_room(STORAGE)?;
        let listener = socket_in(
            handle,
            &[Kind::TcpListener, Kind::UnixListener, Kind::UnixSeqpacketListener, Kind::Socket],
            "a listening socket",
        )?;
        let (socket, peer) = listener.accept(nonblocking, addr.wanted())?;
        let new = handles::insert(socket)?;
        if let Some(peer) = peer {
            addr.write(&peer)?; // cannot fail: room checked above
        }
        out.write(new.0);
        Ok(0)
    })
}

/// The kinds `connect(2)` may be asked of: every socket kind; the typed ones keep their kind
/// whatever the kernel answers (their addresses are of their own families: no `AF_UNSPEC`
/// disconnect). `FDSAFE_KIND_SOCKET` last: only the sockaddr call takes it.
const CONNECTABLE: [Kind; 9] = [
    Kind::Udp,
    Kind::UnixDatagram,
    Kind::TcpStream,
    Kind::UnixStream,
    Kind::UnixSeqpacket,
    Kind::TcpListener,
    Kind::UnixListener,
    Kind::UnixSeqpacketListener,
    Kind::Socket,
];

/// Connects an existing socket to an address given as text: a UDP socket (sets its default
/// destination; an `AF_UNSPEC` address, the kernel's disconnect, is refused, though
/// `"0.0.0.0:0"` is an ordinary IPv4 address to the kernel and, as with `connect(2)`,
/// leaves a UDP socket with no peer), a Unix datagram
/// socket, or a `FDSAFE_KIND_SOCKET` handle (`fdsafe_socket_create`) of an IP or Unix family,
/// as `fdsafe_socket_connect_sockaddr` connects it. Stream sockets are created connected by
/// `fdsafe_tcp_connect` / `fdsafe_unix_connect`; on them, and on listeners, the kernel
/// answers as `connect(2)` does for their state: `-EISCONN` once connected (and on a TCP
/// listener), `-EALREADY` while a non-blocking connect is under way, `-EINVAL` on a Unix
/// listener, a new attempt after a failed one. The handle keeps its kind.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-sockets; `FDSAFE_E_INVALID_ARGUMENT` for a
/// NULL or bad address; the kernel's `-ECONNREFUSED`, `-ENOENT`, `-EAFNOSUPPORT`, `-EINVAL`
/// (an address the socket cannot connect to, such as an unnamed one), `-EISCONN`,
/// `-EALREADY`, `-EINPROGRESS` (a non-blocking stream socket); for a `FDSAFE_KIND_SOCKET`
/// also `-ETIMEDOUT`, `-ENETUNREACH`, `-EADDRNOTAVAIL` and `-EPERM`. Thread safety: any
/// thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_connect(handle: fdsafe_handle, address: *const c_char) -> c_int {
    call("fdsafe_socket_connect", || {
        let to = SockAddr::parse(c_text(address, "address")?)?;
        let s = socket_in(handle, &CONNECTABLE, "a socket")?;
        s.connect_raw(&to).map_err(|e| e.context(format!("connect {to:?}")))?;
        Ok(0)
    })
}

/// Like `fdsafe_socket_connect` with the address as a `struct sockaddr` of `addr_len` bytes.
/// Also connects a `FDSAFE_KIND_SOCKET` handle (`fdsafe_socket_create`) of any family, with
/// the address bytes given to the kernel as they are: blocking, it waits as `connect(2)`
/// does (`SO_SNDTIMEO` bounds the wait: `-EINPROGRESS` when it passes); non-blocking, it
/// returns `-EINPROGRESS` and `fdsafe_socket_connect_finish` completes it.
/// Errors: as `fdsafe_socket_connect`, plus `-EINPROGRESS`, `-EALREADY`, `-ETIMEDOUT`,
/// `-ENETUNREACH`, `-EADDRNOTAVAIL`, `-EPERM` for a `FDSAFE_KIND_SOCKET`. Thread safety: any
/// thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_connect_sockaddr(handle: fdsafe_handle, addr: *const c_void, addr_len: usize) -> c_int {
    call("fdsafe_socket_connect_sockaddr", || {
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        let s = socket_in(handle, &CONNECTABLE, "a socket")?;
        let to = generic::address_for(&s, in_slice(addr.cast::<u8>(), addr_len, "addr")?)?;
        s.connect_raw(&to).map_err(|e| e.context(format!("connect {to:?}")))?;
        Ok(0)
    })
}

/// Finishes a non-blocking connect started by `fdsafe_tcp_connect` or `fdsafe_unix_connect`
/// with their NONBLOCK flag: waits up to `timeout_ms` (0: just check; -1: no limit) until
/// the attempt ends and returns 0 once connected. Also usable from an event loop once the
/// handle is writable.
///
/// Errors: `-EINPROGRESS` if the attempt is still going after a 0 timeout; `-ETIMEDOUT` if a
/// positive timeout passed; the error that ended the attempt (`-ECONNREFUSED`,
/// `-EHOSTUNREACH`, `-ENETUNREACH`, `-ECONNRESET`); `-ENOTCONN` for a socket with no connect
/// started; `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a timeout
/// below -1; `-EINTR` (not retried). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_connect_finish(handle: fdsafe_handle, timeout_ms: c_int) -> c_int {
    call("fdsafe_socket_connect_finish", || {
        if timeout_ms < -1 {
            return Err(Error::invalid(format!("timeout {timeout_ms} ms (use -1 for no limit)")));
        }
        socket_of(handle)?.finish_connect(timeout_ms)?;
        Ok(0)
    })
}

/// Reads a socket option into `*value_out`, named as for `getsockopt(2)` by `level` and
/// `name` in the kernel's values: `FDSAFE_SOL_SOCKET` with `FDSAFE_SO_*`,
/// `FDSAFE_IPPROTO_TCP` with `FDSAFE_TCP_*`, `FDSAFE_IPPROTO_IP` with `FDSAFE_IP_*`,
/// `FDSAFE_IPPROTO_IPV6` with `FDSAFE_IPV6_*` (so `SOL_SOCKET, SO_REUSEADDR` works as is).
/// Every value is an `int`; `SO_LINGER` gives seconds, or -1 when lingering is off.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-sockets and for options that do not apply
/// to the socket's kind (`TCP_NODELAY` on UDP, say); `FDSAFE_E_INVALID_ARGUMENT` for a pair
/// fdsafe does not support (the `FDSAFE_` names above are all it supports) or a NULL
/// `value_out`; `-errno` from `getsockopt`. Thread safety: any.
#[no_mangle]
pub extern "C" fn fdsafe_socket_option_get(handle: fdsafe_handle, level: c_int, name: c_int, value_out: *mut c_int) -> c_int {
    call("fdsafe_socket_option_get", || {
        let opt = SockOpt::from_level_name(level, name)?;
        let out = Out::new(value_out, "value_out")?;
        out.write(options::get(&*socket_of(handle)?, opt)?);
        Ok(0)
    })
}

/// Sets a socket option, named by `level` and `name` as for `fdsafe_socket_option_get`, to
/// `value` (see each constant for units; `SO_LINGER`: seconds, or -1 for off).
///
/// Errors: as `fdsafe_socket_option_get`, plus the kernel's `-EINVAL` for values it refuses
/// and `-EPERM` for privileged values. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_option_set(handle: fdsafe_handle, level: c_int, name: c_int, value: c_int) -> c_int {
    call("fdsafe_socket_option_set", || {
        let opt = SockOpt::from_level_name(level, name)?;
        options::set(&*socket_of(handle)?, opt, value)?;
        Ok(0)
    })
}

/// Reads finished zero-copy sends from the socket's error queue, without waiting, into
/// `completions_out` (room for `cap`). Returns how many ranges were written (0: none yet).
/// A send's buffer may be reused once its number lies in a reported range. The handle polls
/// readable-with-error (`FDSAFE_EVENT_ERR`) when completions are waiting.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` (TCP streams and UDP only);
/// `FDSAFE_E_INVALID_ARGUMENT` for NULL with `cap` > 0; another error waiting on the queue
/// (an ICMP error on UDP) is returned as its `-errno` and consumed. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_zerocopy_completions(handle: fdsafe_handle, completions_out: *mut fdsafe_zerocopy_completion, cap: usize) -> i64 {
    call("fdsafe_socket_zerocopy_completions", || {
        let out = out_slice(completions_out, cap, "completions_out")?;
        let s = socket_in(handle, &[Kind::TcpStream, Kind::Udp], "a TCP stream or UDP socket")?;
        let found = zerocopy::completions(&s, out.len())?;
        for (slot, c) in out.iter_mut().zip(&found) {
            *slot = fdsafe_zerocopy_completion { first: c.first, last: c.last, copied: u32::from(c.copied) };
        }
        Ok(found.len() as i64)
    })
}

pub(crate) use socket::CreateFlags;
