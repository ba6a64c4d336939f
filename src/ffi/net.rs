//! TCP and UDP over IPv4 and IPv6.

use std::ffi::{c_char, c_int, c_void};

use super::kinds::map_flags;
use super::socket::{c_text, recv_flags, send_flags, sockaddr_in, socket_in, CreateFlags};
use super::{call, fdsafe_handle, out_slice, Out, FDSAFE_NONBLOCK, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, Kind};
use crate::kinds::socket::udp::{self, Datagram};
use crate::kinds::socket::{self, RecvFlags, SockAddr};

/// Create flag (fdsafe-only, see `FDSAFE_OWN_FLAG`): set `SO_REUSEPORT` before binding.
pub const FDSAFE_SOCKET_REUSEPORT: u32 = FDSAFE_OWN_FLAG | (1 << 1);
/// Create flag (fdsafe-only): an IPv6 socket accepts IPv6 only (`IPV6_V6ONLY`). Without it
/// IPv6 sockets are dual-stack (`IPV6_V6ONLY` is set to 0 explicitly, whatever the system
/// default) where an address allows it: bound to `[::]` or to an IPv4-mapped address. Bound
/// to another IPv6 address (`[::1]`), the kernel makes the socket IPv6-only itself, and
/// `IPV6_V6ONLY` then reads 1.
pub const FDSAFE_SOCKET_V6ONLY: u32 = FDSAFE_OWN_FLAG | (1 << 2);
/// Create flag (fdsafe-only): do not set `SO_REUSEADDR` on a TCP listener (it is on by
/// default).
pub const FDSAFE_SOCKET_NO_REUSEADDR: u32 = FDSAFE_OWN_FLAG | (1 << 3);

/// Socket creation flags: `FDSAFE_NONBLOCK` (`SOCK_NONBLOCK`) and the fdsafe-only ones;
/// `FDSAFE_O_CLOEXEC` (`SOCK_CLOEXEC`) is accepted, always in force.
pub(crate) fn create_flags(bits: u32) -> Result<CreateFlags> {
    map_flags(
        bits,
        &[
            (FDSAFE_NONBLOCK, CreateFlags::NONBLOCK),
            (FDSAFE_SOCKET_REUSEPORT, CreateFlags::REUSEPORT),
            (FDSAFE_SOCKET_V6ONLY, CreateFlags::V6ONLY),
            (FDSAFE_SOCKET_NO_REUSEADDR, CreateFlags::NO_REUSEADDR),
            (super::file::FDSAFE_O_CLOEXEC, CreateFlags::empty()),
        ],
        "socket",
    )
}

fn tcp_listen(addr: &SockAddr, backlog: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> Result<c_int> {
    let flags = create_flags(flags)?;
    let out = Out::new(handle_out, "handle_out")?;
    if addr.address()?.is_unix() {
        return Err(Error::invalid("TCP needs an IPv4 or IPv6 address (use fdsafe_unix_listen for Unix sockets)"));
    }
    let socket = socket::bind_inet(Kind::TcpStream, addr, Some(backlog), flags)?;
    out.write(handles::insert(socket)?.0);
    Ok(0)
}

/// Creates a TCP listener bound to `address` (`"127.0.0.1:8080"`, `"[::]:8080"`; port 0 lets
/// the kernel choose: read it with `fdsafe_socket_local_address`) and listening with
/// `backlog`. `SO_REUSEADDR` is on unless `FDSAFE_SOCKET_NO_REUSEADDR`; flags also
/// `FDSAFE_SOCKET_REUSEPORT`, `FDSAFE_SOCKET_V6ONLY` (IPv6 only; default dual-stack),
/// `FDSAFE_NONBLOCK` (`SOCK_NONBLOCK`). Close-on-exec. Accept with `fdsafe_socket_accept`.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL
/// pointers, unknown flags, bad address text, a Unix address, or V6ONLY with IPv4;
/// `-EINVAL` for a link-local IPv6 address without its scope (`[fe80::1%eth0]:80` names it);
/// `-EADDRINUSE`; `-EACCES` (ports below 1024 without privilege); `-EADDRNOTAVAIL`;
/// `-ENODEV` (an IPv6 scope naming no interface: by name, or by index on a link-local
/// address; the kernel ignores the scope of other addresses); `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tcp_listen(address: *const c_char, backlog: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_tcp_listen", || tcp_listen(&SockAddr::parse(c_text(address, "address")?)?, backlog, flags, handle_out))
}

/// Like `fdsafe_tcp_listen` with the address as a `struct sockaddr` of `addr_len` bytes
/// (`sockaddr_in` or `sockaddr_in6`). Errors: as `fdsafe_tcp_listen`. Thread safety: any.
#[no_mangle]
pub extern "C" fn fdsafe_tcp_listen_sockaddr(
    addr: *const c_void,
    addr_len: usize,
    backlog: c_int,
    flags: u32,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_tcp_listen_sockaddr", || {
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        tcp_listen(&sockaddr_in(addr, addr_len)?, backlog, flags, handle_out)
    })
}

fn tcp_connect(addr: &SockAddr, timeout_ms: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> Result<c_int> {
    let nonblocking = super::kinds::nonblocking_flag(flags, "connect")?;
    if timeout_ms < -1 {
        return Err(Error::invalid(format!("timeout {timeout_ms} ms (use -1 for no limit)")));
    }
    let out = Out::new(handle_out, "handle_out")?;
    if addr.address()?.is_unix() {
        return Err(Error::invalid("TCP needs an IPv4 or IPv6 address (use fdsafe_unix_connect)"));
    }
    let (socket, connected) = socket::connect(Kind::TcpStream, addr, timeout_ms, nonblocking)?;
    out.write(handles::insert(socket)?.0);
    Ok(c_int::from(!connected))
}

/// Creates a TCP socket connected to `address` (`"127.0.0.1:80"`, `"[::1]:80"`).
///
/// Blocking (flags 0): waits until connected, at most `timeout_ms` (-1: as long as the kernel
/// tries), and returns 0; the socket is then blocking. With `FDSAFE_NONBLOCK` (`SOCK_NONBLOCK`)
/// the socket is non-blocking and the call does not wait (`timeout_ms` is ignored): it returns 0
/// if already connected, or 1 if the connection is in progress: finish it with
/// `fdsafe_socket_connect_finish` (or wait for `FDSAFE_EVENT_OUT`, then call it).
///
/// Ownership: on success the caller closes `*handle_out`; on failure nothing is created.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL pointers, bad address, unknown flags, timeout
/// below -1); `-ENODEV` (an IPv6 scope naming no interface by name);
/// `-ECONNREFUSED`; `-ETIMEDOUT` when `timeout_ms` passed; `-ENETUNREACH` (also for a scope
/// index naming no interface, as the kernel says); `-EINVAL` (from the kernel: a link-local
/// IPv6 address with no scope, `[fe80::1]:80`);
/// `-EINTR` if a signal handler ran while waiting (not retried: the attempt is over and its
/// socket closed, so calling again starts another; to wait through signals for one attempt,
/// as `connect(2)` callers do, connect with `FDSAFE_NONBLOCK` and call
/// `fdsafe_socket_connect_finish` until it no longer says `-EINTR`); `-EMFILE`. Thread safety:
/// any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tcp_connect(address: *const c_char, timeout_ms: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_tcp_connect", || tcp_connect(&SockAddr::parse(c_text(address, "address")?)?, timeout_ms, flags, handle_out))
}

/// Like `fdsafe_tcp_connect` with the address as a `struct sockaddr` of `addr_len` bytes.
/// Errors: as `fdsafe_tcp_connect`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_tcp_connect_sockaddr(
    addr: *const c_void,
    addr_len: usize,
    timeout_ms: c_int,
    flags: u32,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_tcp_connect_sockaddr", || {
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        tcp_connect(&sockaddr_in(addr, addr_len)?, timeout_ms, flags, handle_out)
    })
}

/// Creates a UDP socket bound to `address` (`"0.0.0.0:0"` for any port, `"[::]:5353"`...).
/// Flags: `FDSAFE_NONBLOCK`, `FDSAFE_SOCKET_REUSEPORT`, `FDSAFE_SOCKET_V6ONLY`
/// (`SO_REUSEADDR` is not set; turn it on with `SO_REUSEADDR` only before binding
/// another socket). Set a default peer with `fdsafe_socket_connect`; send with
/// `fdsafe_socket_send_to` or `fdsafe_socket_send_batch`.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL
/// pointers, bad or Unix address, unknown flags including `FDSAFE_SOCKET_NO_REUSEADDR`);
/// `-EADDRINUSE`; `-EADDRNOTAVAIL`; `-ENODEV` (an IPv6 scope naming no interface: by name, or by index on a link-local
/// address; the kernel ignores the scope of other addresses);
/// `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_udp_bind(address: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_udp_bind", || udp_bind(&SockAddr::parse(c_text(address, "address")?)?, flags, handle_out))
}

/// Like `fdsafe_udp_bind` with the address as a `struct sockaddr` of `addr_len` bytes
/// (`sockaddr_in` or `sockaddr_in6`). Errors: as `fdsafe_udp_bind`. Thread safety: any.
#[no_mangle]
pub extern "C" fn fdsafe_udp_bind_sockaddr(addr: *const c_void, addr_len: usize, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_udp_bind_sockaddr", || {
        if addr.is_null() {
            return Err(Error::invalid("addr is NULL"));
        }
        udp_bind(&sockaddr_in(addr, addr_len)?, flags, handle_out)
    })
}

fn udp_bind(addr: &SockAddr, flags: u32, handle_out: *mut fdsafe_handle) -> Result<c_int> {
    if flags & FDSAFE_SOCKET_NO_REUSEADDR == FDSAFE_SOCKET_NO_REUSEADDR {
        return Err(Error::invalid("FDSAFE_SOCKET_NO_REUSEADDR is for TCP listeners"));
    }
    let flags = create_flags(flags)?;
    let out = Out::new(handle_out, "handle_out")?;
    let socket = udp::bind(addr, flags)?;
    out.write(handles::insert(socket)?.0);
    Ok(0)
}

fn membership(handle: fdsafe_handle, group: *const c_char, interface: *const c_char, join: bool) -> Result<c_int> {
    let group = c_text(group, "group")?;
    let interface = if interface.is_null() { None } else { Some(c_text(interface, "interface")?) };
    let s = socket_in(handle, &[Kind::Udp], "a UDP socket")?;
    udp::membership(&s, group, interface, join)?;
    Ok(0)
}

/// Joins the multicast group `group` (an address without port: `"239.1.2.3"`, `"ff02::1:3"`)
/// on the interface named `interface` (`"lo"`, `"eth0"`; NULL or "" lets the kernel choose
/// by route). The group's family must match the socket's, but for an IPv4 group on a
/// dual-stack IPv6 socket, which the kernel takes (its IPv4-mapped datagrams arrive).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` (UDP only); `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// group or a group that is not a multicast address; `-ENODEV` for an unknown interface;
/// `-EADDRINUSE` when already joined; `-ENODEV`/`-EINVAL` from the kernel; `-ENOPROTOOPT`
/// for a group of the other family than the socket. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_udp_multicast_join(handle: fdsafe_handle, group: *const c_char, interface: *const c_char) -> c_int {
    call("fdsafe_udp_multicast_join", || membership(handle, group, interface, true))
}

/// Leaves a multicast group joined with `fdsafe_udp_multicast_join` (same arguments).
/// Errors: as `fdsafe_udp_multicast_join`, plus `-EADDRNOTAVAIL` if not joined.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_udp_multicast_leave(handle: fdsafe_handle, group: *const c_char, interface: *const c_char) -> c_int {
    call("fdsafe_udp_multicast_leave", || membership(handle, group, interface, false))
}

/// One datagram of a batch (`fdsafe_socket_send_batch`, `fdsafe_socket_recv_batch`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_datagram {
    /// The payload (send) or the buffer to fill (receive).
    pub data: *mut c_void,
    /// Bytes in `data`: the payload length (send) or the buffer's capacity (receive).
    pub len: usize,
    /// Send: the destination `struct sockaddr`, or NULL for the connected peer.
    /// Receive: a buffer for the source address, or NULL to skip it.
    pub addr: *mut c_void,
    /// Send: the destination's length. Receive: in, the capacity of `addr` (at least
    /// `sizeof(struct sockaddr_storage)` if `addr` is not NULL); out, the address length.
    pub addr_len: usize,
    /// Receive, out: the bytes received.
    pub received: usize,
    /// Receive, out: 1 if the datagram was longer than `len` and truncated, else 0.
    pub truncated: u32,
}

fn batch<'a>(msgs: &'a mut [fdsafe_datagram], receiving: bool) -> Result<Vec<Datagram<'a>>> {
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let data = out_slice(m.data.cast::<u8>(), m.len, "datagram data")?;
        let addr = if m.addr.is_null() {
            if m.addr_len != 0 && !receiving {
                return Err(Error::invalid(format!("datagram {i}: addr is NULL with addr_len {}", m.addr_len)));
            }
            None
        } else if receiving {
            if m.addr_len < std::mem::size_of::<libc::sockaddr_storage>() {
                return Err(Error::BufferTooSmall { needed: std::mem::size_of::<libc::sockaddr_storage>() });
            }
            None
        } else {
            Some(super::socket::sockaddr_in(m.addr, m.addr_len)?)
        };
        out.push(Datagram { data, addr, received: 0, truncated: false });
    }
    Ok(out)
}

/// Sends `count` datagrams with one `sendmmsg` (UDP or Unix datagram sockets); returns how
/// many were sent (fewer than `count` when the kernel stopped early, e.g. a full buffer with
/// `FDSAFE_MSG_DONTWAIT`). Each entry's `addr`/`addr_len` is its destination, or NULL/0 for
/// the connected peer. Never raises `SIGPIPE`. At most 1024 per call (more are not sent).
///
/// Errors: (when the first datagram fails) `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for NULL with `count` > 0, a NULL `data` with `len` > 0, bad
/// addresses, unknown flags; the kernel's `-EAGAIN`, `-EDESTADDRREQ` (no address and no
/// peer), `-ENOTCONN`, `-EMSGSIZE`, `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_batch(handle: fdsafe_handle, msgs: *mut fdsafe_datagram, count: usize, flags: u32) -> i64 {
    call("fdsafe_socket_send_batch", || {
        let flags = send_flags(flags)?;
        // Only what one call sends is looked at (and allocated for).
        let msgs = super::boundary::out_slice_first(msgs, count, udp::BATCH_MAX, "msgs")?;
        let s = socket_in(handle, &[Kind::Udp, Kind::UnixDatagram], "a UDP or Unix datagram socket")?;
        let mut b = batch(msgs, false)?;
        Ok(udp::send_batch(&s, &mut b, flags)? as i64)
    })
}

/// Receives up to `count` datagrams with one `recvmmsg`: waits for the first (unless
/// `FDSAFE_MSG_DONTWAIT` or a non-blocking socket), then takes only what is already queued.
/// Fills `received`, `truncated` and the source address (`addr`, `addr_len`) of each entry
/// received; returns how many. At most 1024 per call.
///
/// Errors: as `fdsafe_socket_send_batch`; `-EOPNOTSUPP` for `FDSAFE_MSG_OOB`;
/// `FDSAFE_E_BUFFER_TOO_SMALL` for an `addr` whose
/// capacity is below `sizeof(struct sockaddr_storage)`; `FDSAFE_MSG_WAITALL` is refused.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_recv_batch(handle: fdsafe_handle, msgs: *mut fdsafe_datagram, count: usize, flags: u32) -> i64 {
    call("fdsafe_socket_recv_batch", || {
        let flags = recv_flags(flags)?;
        if flags.contains(RecvFlags::WAITALL) {
            return Err(Error::invalid("WAITALL is for stream sockets"));
        }
        let msgs = super::boundary::out_slice_first(msgs, count, udp::BATCH_MAX, "msgs")?;
        let s = socket_in(handle, &[Kind::Udp, Kind::UnixDatagram], "a UDP or Unix datagram socket")?;
        s.check_recv_flags(flags)?;
        let targets: Vec<(*mut c_void, usize)> = msgs.iter().map(|m| (m.addr, m.addr_len)).collect();
        let results = {
            let mut b = batch(msgs, true)?;
            let n = udp::recv_batch(&s, &mut b, flags)?;
            b.into_iter().take(n).map(|d| (d.received, d.truncated, d.addr)).collect::<Vec<_>>()
        };
        for (i, (received, truncated, addr)) in results.iter().enumerate() {
            msgs[i].received = *received;
            msgs[i].truncated = u32::from(*truncated);
            let (ptr, _cap) = targets[i];
            if !ptr.is_null() {
                let bytes = addr.as_ref().map(|a| a.bytes().to_vec()).unwrap_or_default();
                // SAFETY: the capacity was checked to be at least sockaddr_storage.
                unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.cast::<u8>(), bytes.len()) };
                msgs[i].addr_len = bytes.len();
            }
        }
        Ok(results.len() as i64)
    })
}
