//! Sockets of any family (`FDSAFE_KIND_SOCKET`), options of any level and name, and client
//! sockets bound before they connect. The other `fdsafe_socket_*` functions (send, receive,
//! addresses, shutdown, accept, connect, descriptor passing) work on these sockets too.

use std::ffi::{c_int, c_void};

use super::socket::{socket_in, socket_of};
use super::kinds::nonblocking_flag;
use super::{call, fdsafe_handle, in_slice, out_slice, Out, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, Kind};
use crate::kinds::socket::generic;

/// Refuses a kernel number (a type, an option level or name) carrying `FDSAFE_OWN_FLAG`: no
/// kernel value has that bit, so it is some fdsafe flag passed by mistake, never misread.
fn kernel_number(value: c_int, what: &str) -> Result<c_int> {
    if value as u32 & FDSAFE_OWN_FLAG != 0 {
        return Err(Error::invalid(format!("{what} {value:#x} carries FDSAFE_OWN_FLAG: an fdsafe flag, no kernel value")));
    }
    Ok(value)
}

fn address<'a>(addr: *const c_void, addr_len: usize) -> Result<&'a [u8]> {
    if addr.is_null() {
        return Err(Error::invalid("addr is NULL"));
    }
    in_slice(addr.cast::<u8>(), addr_len, "addr")
}

/// Creates a socket of any `domain`, `type` and `protocol`, in the kernel's values, as for
/// `socket(2)` (`AF_NETLINK, SOCK_RAW, NETLINK_ROUTE`; `AF_PACKET, SOCK_DGRAM,
/// htons(ETH_P_ALL)`; `AF_VSOCK, SOCK_STREAM, 0`; `AF_INET, SOCK_RAW, IPPROTO_ICMP`...), as a
/// handle of kind `FDSAFE_KIND_SOCKET`, always close-on-exec. `flags`: `FDSAFE_NONBLOCK`
/// (`SOCK_NONBLOCK`) or 0, and `FDSAFE_O_CLOEXEC` (`SOCK_CLOEXEC`) is accepted; `type`
/// carries no flags. Bind it with `fdsafe_socket_bind`,
/// connect it with `fdsafe_socket_connect_sockaddr`, listen with `fdsafe_socket_listen`,
/// accept with `fdsafe_socket_accept` (the accepted socket is `FDSAFE_KIND_SOCKET` too); every
/// other socket function for any kind (send, receive, addresses, shutdown, options) works
/// on it, with addresses as the kernel's sockaddr bytes. The typed calls follow what the
/// socket is (asked of the kernel): TCP's and UDP's options on an IP socket, the peer calls
/// and descriptor passing on a Unix one; batches take the typed UDP and Unix datagram kinds. TCP, UDP and Unix sockets made this
/// way stay `FDSAFE_KIND_SOCKET`: the typed kinds come from `fdsafe_tcp_listen`, `fdsafe_tcp_connect`, `fdsafe_udp_bind`,
/// `fdsafe_unix_listen`, `fdsafe_unix_connect` and `fdsafe_socket_connect_from`.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL
/// `handle_out`, unknown flags, `SOCK_CLOEXEC`, `SOCK_NONBLOCK` or `FDSAFE_OWN_FLAG` inside
/// `type`); `-EAFNOSUPPORT` (a family this kernel lacks, `AF_CAN` here); `-EPROTONOSUPPORT`;
/// `-ESOCKTNOSUPPORT`; `-EINVAL` (a type the family refuses); `-EPERM` and `-EACCES` (raw
/// and packet sockets need `CAP_NET_RAW`); `-EMFILE`; `-ENFILE`; `-ENOBUFS`; `-ENOMEM`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_create(domain: c_int, r#type: c_int, protocol: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_socket_create", || {
        let nonblock = nonblocking_flag(flags, "socket")?;
        let out = Out::new(handle_out, "handle_out")?;
        let socket = generic::create(domain, kernel_number(r#type, "type")?, protocol, nonblock)?;
        out.write(handles::insert(socket)?.0);
        Ok(0)
    })
}

/// Binds a `FDSAFE_KIND_SOCKET` handle to the address `addr` of `addr_len` bytes, as
/// `bind(2)` (a `struct sockaddr_nl` with `nl_groups` to join netlink multicast groups, a
/// `struct sockaddr_ll` for a packet socket...). The bytes go to the kernel as they are. A
/// Unix path bound this way is not removed when the handle closes (the typed
/// `fdsafe_unix_listen` and `fdsafe_unix_bind` do that).
///
/// Errors: `FDSAFE_E_WRONG_KIND` (typed sockets are bound when created, or with
/// `fdsafe_socket_connect_from`); `FDSAFE_E_INVALID_ARGUMENT` (NULL `addr`, a length below 2
/// or above `sizeof(struct sockaddr_storage)`); the kernel's `-EINVAL` (already bound, or a
/// bad address), `-EADDRINUSE`, `-EADDRNOTAVAIL`, `-EAFNOSUPPORT`, `-EACCES`, `-EPERM`,
/// `-ENOENT`, `-ENODEV`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_bind(handle: fdsafe_handle, addr: *const c_void, addr_len: usize) -> c_int {
    call("fdsafe_socket_bind", || {
        let addr = generic::raw_address(address(addr, addr_len)?)?;
        socket_in(handle, &[Kind::Socket], "a socket of kind FDSAFE_KIND_SOCKET")?.bind(&addr)?;
        Ok(0)
    })
}

/// Makes a bound (or, for some families, unbound) `FDSAFE_KIND_SOCKET` handle listen for
/// connections with `backlog`, as `listen(2)`; accept them with `fdsafe_socket_accept`. On a
/// listener (`fdsafe_tcp_listen`, `fdsafe_unix_listen`) it listens again, as `listen(2)` on a
/// listening socket: the kernel takes `backlog` as the new length of the queue of
/// connections not yet accepted. The handle keeps its kind.
///
/// Errors: `FDSAFE_E_WRONG_KIND` for other kinds (a typed stream or datagram socket never
/// becomes a listener: its kind would be wrong); the kernel's `-EOPNOTSUPP` (a datagram or
/// raw socket), `-EINVAL` (a connected socket), `-EADDRINUSE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_listen(handle: fdsafe_handle, backlog: c_int) -> c_int {
    call("fdsafe_socket_listen", || {
        let kinds = [Kind::Socket, Kind::TcpListener, Kind::UnixListener, Kind::UnixSeqpacketListener];
        socket_in(handle, &kinds, "a listener or a socket of kind FDSAFE_KIND_SOCKET")?.listen_keeping_kind(backlog)?;
        Ok(0)
    })
}

/// Reads any socket option, named by `level` and `name` in the kernel's values as for
/// `getsockopt(2)` (`SOL_SOCKET, SO_RCVTIMEO` into a `struct timeval`; `IPPROTO_TCP,
/// TCP_INFO` into a `struct tcp_info`; `SOL_SOCKET, SO_PEERSEC` into a text buffer...), into
/// `value_out` (capacity `value_cap`). Works on every socket kind. Returns the length the
/// kernel wrote (a longer value is cut to `value_cap`, as the kernel cuts it).
///
/// `SOL_SOCKET, SO_PEERPIDFD` (77) is refused: the kernel would make a new descriptor
/// outside the handle table; `fdsafe_socket_peer_pidfd` returns it as a handle.
///
/// Errors: `FDSAFE_E_WRONG_KIND` for non-sockets; `FDSAFE_E_INVALID_ARGUMENT` for NULL with
/// `value_cap` > 0, a `level` or `name` carrying `FDSAFE_OWN_FLAG` (no kernel value
/// does), or `SOL_SOCKET, SO_PEERPIDFD`; the kernel's `-ENOPROTOOPT` (an option the level does not have), `-EINVAL` (a
/// buffer too small for the option), `-EOPNOTSUPP`, `-ENOTCONN`, `-ERANGE`
/// (`SO_PEERSEC`, `SO_PEERGROUPS`: too small; the kernel does not say the size here).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_getsockopt(handle: fdsafe_handle, level: c_int, name: c_int, value_out: *mut c_void, value_cap: usize) -> c_int {
    call("fdsafe_socket_getsockopt", || {
        let buf = out_slice(value_out.cast::<u8>(), value_cap, "value_out")?;
        let (level, name) = (kernel_number(level, "level")?, kernel_number(name, "name")?);
        let n = socket_of(handle)?.option_bytes(level, name, buf)?;
        c_int::try_from(n).map_err(|_| Error::Internal("option length".into()))
    })
}

/// Sets any socket option from the `value_len` bytes at `value`, named by `level` and `name`
/// in the kernel's values as for `setsockopt(2)`. Works on every socket kind.
///
/// `SO_RCVTIMEO` and `SO_SNDTIMEO` (a `struct timeval`) are honoured by fdsafe's blocking
/// calls on the handle, which are the kernel's own: a receive (`fdsafe_socket_recv`,
/// `fdsafe_socket_recv_from`, `fdsafe_read`, the descriptor-passing receives) or an
/// `fdsafe_socket_accept` that waited longer than `SO_RCVTIMEO` returns `-EAGAIN`, as the
/// kernel does; a send that waited longer than `SO_SNDTIMEO` returns the bytes it sent, or
/// `-EAGAIN` if none. (`fdsafe_tcp_connect` waits with its own `timeout_ms` instead.)
///
/// Errors: `FDSAFE_E_WRONG_KIND` for non-sockets; `FDSAFE_E_INVALID_ARGUMENT` for NULL with
/// `value_len` > 0, or a `level` or `name` carrying `FDSAFE_OWN_FLAG`; the kernel's
/// `-ENOPROTOOPT`, `-EINVAL` (a value of the wrong size or out of range), `-EPERM` (a privileged option), `-EOPNOTSUPP`, `-EDOM` (a timeout out of
/// range), `-ENODEV` (`SO_BINDTODEVICE` to a missing device), `-EFAULT`, `-ENOMEM`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_setsockopt(handle: fdsafe_handle, level: c_int, name: c_int, value: *const c_void, value_len: usize) -> c_int {
    call("fdsafe_socket_setsockopt", || {
        let value = in_slice(value.cast::<u8>(), value_len, "value")?;
        let (level, name) = (kernel_number(level, "level")?, kernel_number(name, "name")?);
        socket_of(handle)?.set_option_bytes(level, name, value)?;
        Ok(0)
    })
}

/// Creates a client socket of `type` (`FDSAFE_SOCK_STREAM`, `FDSAFE_SOCK_DGRAM`, or for Unix
/// `FDSAFE_SOCK_SEQPACKET`) bound to the local address `local` (`local_len` bytes) and
/// connected to `remote` (`remote_len` bytes), both of one family: a TCP stream, a UDP socket
/// or a Unix stream, datagram or seqpacket socket, of the typed kind. So a client picks its
/// source address and port (TCP, UDP; port 0: the kernel picks), a Unix path or abstract
/// name, or an autobound abstract name (a Unix `local` of just the family: `local_len` 2).
/// A Unix path bound this way is not removed when the handle closes; if the connect fails,
/// the socket file the bind made is removed (when the path still names it).
///
/// `flags`: `FDSAFE_NONBLOCK` or 0 (`FDSAFE_O_CLOEXEC`, always in force, is accepted).
/// TCP waits at most `timeout_ms` (-1: as long as the kernel tries), and so do Unix stream
/// and seqpacket sockets for room in a full listener's queue (`-ETIMEDOUT` when it passes;
/// datagram connects never wait); with `FDSAFE_NONBLOCK`
/// it returns 1 while the connection is in progress (finish it with
/// `fdsafe_socket_connect_finish`). Otherwise returns 0, connected.
///
/// Ownership: on success the caller closes `*handle_out`; on failure nothing is created.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL pointers, bad addresses, families that differ,
/// a family and type with no typed kind, unknown flags, timeout below -1); the kernel's
/// `-EADDRINUSE` (the local address is taken), `-EADDRNOTAVAIL`, `-EINVAL`,
/// `-ECONNREFUSED`, `-ETIMEDOUT`, `-ENETUNREACH`, `-ENOENT`, `-EACCES`, `-EPROTOTYPE`,
/// `-EAFNOSUPPORT` (an IPv6 socket bound to an IPv4-mapped address, `::ffff:0.0.0.0`, cannot
/// reach an IPv6 one), `-EAGAIN`, `-EINTR` (not retried). Thread safety: any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn fdsafe_socket_connect_from(
    r#type: c_int,
    local: *const c_void,
    local_len: usize,
    remote: *const c_void,
    remote_len: usize,
    timeout_ms: c_int,
    flags: u32,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_socket_connect_from", || {
        let nonblock = nonblocking_flag(flags, "connect")?;
        if timeout_ms < -1 {
            return Err(Error::invalid(format!("timeout {timeout_ms} ms (use -1 for no limit)")));
        }
        let out = Out::new(handle_out, "handle_out")?;
        let local = crate::kinds::socket::SockAddr::from_bytes(address(local, local_len)?)?;
        let remote = crate::kinds::socket::SockAddr::from_bytes(address(remote, remote_len)?)?;
        let (socket, connected) = generic::connect_from(r#type, &local, &remote, timeout_ms, nonblock)?;
        out.write(handles::insert(socket)?.0);
        Ok(c_int::from(!connected))
    })
}
