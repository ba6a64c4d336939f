//! Unix domain sockets (stream, datagram, seqpacket), descriptor passing and credentials.

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::{AsFd, RawFd};

use super::kinds::{fdsafe_kind, kind_from_c};
use super::socket::{c_text, socket_in};
use super::{call, call_direct, fdsafe_handle, in_slice, out_slice, Out, FDSAFE_NONBLOCK, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, Guard, Handle, Kind};
use crate::kinds::pidfd::PidFd;
use crate::kinds::socket::scm::{self, Credentials};
use crate::kinds::socket::unix::{self as core_unix, BindFlags};
use crate::kinds::socket::{self, Address, RecvFlags, SendFlags};
use crate::kinds::{self, detect};

/// Socket type: a byte stream (the kernel's `SOCK_STREAM`).
pub const FDSAFE_SOCK_STREAM: u32 = 1;
/// Socket type: datagrams (`SOCK_DGRAM`).
pub const FDSAFE_SOCK_DGRAM: u32 = 2;
/// Socket type: reliable, ordered messages with boundaries (`SOCK_SEQPACKET`).
pub const FDSAFE_SOCK_SEQPACKET: u32 = 5;
const _: () = assert!(FDSAFE_SOCK_STREAM == libc::SOCK_STREAM as u32 && FDSAFE_SOCK_DGRAM == libc::SOCK_DGRAM as u32);
const _: () = assert!(FDSAFE_SOCK_SEQPACKET == libc::SOCK_SEQPACKET as u32);

/// Bind flag (fdsafe-only, see `FDSAFE_OWN_FLAG`): never remove a stale socket file; fail
/// with `-EADDRINUSE` instead.
pub const FDSAFE_UNIX_BIND_KEEP_STALE: u32 = FDSAFE_OWN_FLAG | (1 << 4);
/// Bind flag (fdsafe-only): do not remove the socket file when the handle is closed.
pub const FDSAFE_UNIX_BIND_KEEP_PATH: u32 = FDSAFE_OWN_FLAG | (1 << 5);
/// Bind flag (fdsafe-only): do not create missing parent folders (`-ENOENT` instead).
pub const FDSAFE_UNIX_BIND_NO_MKDIR: u32 = FDSAFE_OWN_FLAG | (1 << 6);
/// Bind flag (fdsafe-only): leave the socket file's mode as the umask made it (ignore
/// `socket_mode`).
pub const FDSAFE_UNIX_BIND_KEEP_MODE: u32 = FDSAFE_OWN_FLAG | (1 << 7);

/// The default mode of parent folders created by a bind.
pub const FDSAFE_UNIX_DEFAULT_DIR_MODE: u32 = 0o700;
/// The default mode of the socket file.
pub const FDSAFE_UNIX_DEFAULT_SOCKET_MODE: u32 = 0o600;

/// `fdsafe_recv_info.flags`: the control data was truncated (`MSG_CTRUNC`): more
/// descriptors were sent than `handles_cap`, or the receiver is at its `RLIMIT_NOFILE`
/// limit; the kernel closed (or never installed) the descriptors that did not fit.
pub const FDSAFE_RECV_INFO_CTRUNC: u32 = 1 << 0;
/// `fdsafe_recv_info.flags`: the message was longer than the buffer (`MSG_TRUNC`; datagram
/// and seqpacket); the rest was discarded.
pub const FDSAFE_RECV_INFO_TRUNC: u32 = 1 << 1;
/// `fdsafe_recv_info.flags`: the message carried the sender's credentials (`pid`, `uid`,
/// `gid` are set). Needs `SO_PASSCRED` on the receiving socket. A message queued before
/// `SO_PASSCRED` was turned on carries the kernel's placeholder instead (pid 0 and the
/// overflow ids, 65534: nobody), which is not reported as credentials; nor is a sender whose
/// pid and ids this process's namespaces cannot see, which reads the same.
pub const FDSAFE_RECV_INFO_CREDENTIALS: u32 = 1 << 2;
/// `fdsafe_recv_info.flags`: descriptors that arrived were closed by fdsafe
/// (`closed_count` says how many): an unexpected control message carried them, or the handle
/// table refused them.
pub const FDSAFE_RECV_INFO_CLOSED: u32 = 1 << 3;

/// Options for binding a Unix socket to a path (`fdsafe_unix_listen`, `fdsafe_unix_bind`).
/// Passing NULL means all defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_unix_bind_options {
    /// `FDSAFE_NONBLOCK` and `FDSAFE_UNIX_BIND_*` flags, or 0.
    pub flags: u32,
    /// Mode of each missing parent folder created (exactly this, not filtered by the umask);
    /// 0 means `FDSAFE_UNIX_DEFAULT_DIR_MODE` (0700).
    pub dir_mode: u32,
    /// Mode of the socket file, set before the socket accepts connections; 0 means
    /// `FDSAFE_UNIX_DEFAULT_SOCKET_MODE` (0600).
    pub socket_mode: u32,
}

/// Process credentials, as in `struct ucred`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_credentials {
    /// Process id.
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// What `fdsafe_socket_recv_handles` received besides the data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_recv_info {
    /// Handles written to `handles_out`.
    pub handle_count: usize,
    /// `FDSAFE_RECV_INFO_*` bits.
    pub flags: u32,
    /// Descriptors that arrived and fdsafe closed (see `FDSAFE_RECV_INFO_CLOSED`).
    pub closed_count: u32,
    /// The sender's credentials, if `FDSAFE_RECV_INFO_CREDENTIALS` is set; else zero.
    pub credentials: fdsafe_credentials,
}

fn unix_type(ty: u32) -> Result<Kind> {
    Ok(match ty {
        FDSAFE_SOCK_STREAM => Kind::UnixStream,
        FDSAFE_SOCK_DGRAM => Kind::UnixDatagram,
        FDSAFE_SOCK_SEQPACKET => Kind::UnixSeqpacket,
        other if other & (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u32 != 0 => {
            return Err(Error::invalid(format!(
                "type {other:#x} carries SOCK_NONBLOCK or SOCK_CLOEXEC: give the type alone, and \
                 FDSAFE_NONBLOCK in the flags (every descriptor is close-on-exec)"
            )))
        }
        other => return Err(Error::invalid(format!("{other} is not SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET"))),
    })
}

fn unix_address(text: &str) -> Result<Address> {
    let a = Address::parse(text)?;
    if !a.is_unix() {
        return Err(Error::invalid(format!("{text:?} is not a Unix path (containing '/') or @abstract name")));
    }
    Ok(a)
}

/// The address of a text-or-sockaddr pair: text if `address` is given (NULL or "" means
/// autobind), else the `struct sockaddr` bytes (a bare family, length 2, means autobind).
fn unix_address_of(address: Option<*const c_char>, raw: Option<(*const c_void, usize)>) -> Result<Option<Address>> {
    if let Some(text) = address {
        let text = if text.is_null() { "" } else { c_text(text, "address")? };
        return if text.is_empty() { Ok(None) } else { Ok(Some(unix_address(text)?)) };
    }
    let (ptr, len) = raw.ok_or_else(|| Error::invalid("no address"))?;
    if ptr.is_null() {
        return Err(Error::invalid("addr is NULL"));
    }
    match super::socket::sockaddr_in(ptr, len)?.address()? {
        Address::Unnamed => Ok(None),
        a if a.is_unix() => Ok(Some(a)),
        a => Err(Error::invalid(format!("{} is not a Unix address", a.describe()))),
    }
}

fn bind_common(addr: Option<Address>, kind: Kind, backlog: c_int, options: *const fdsafe_unix_bind_options, handle_out: *mut fdsafe_handle) -> Result<c_int> {
    let out = Out::new(handle_out, "handle_out")?;
    let opts = if options.is_null() {
        fdsafe_unix_bind_options { flags: 0, dir_mode: 0, socket_mode: 0 }
    } else {
        // SAFETY: non-NULL; the caller passes a valid struct.
        unsafe { *options }
    };
    let flags = super::kinds::map_flags(
        opts.flags,
        &[
            (FDSAFE_NONBLOCK, BindFlags::NONBLOCK),
            (FDSAFE_UNIX_BIND_KEEP_STALE, BindFlags::KEEP_STALE),
            (FDSAFE_UNIX_BIND_KEEP_PATH, BindFlags::KEEP_PATH),
            (FDSAFE_UNIX_BIND_NO_MKDIR, BindFlags::NO_MKDIR),
            (FDSAFE_UNIX_BIND_KEEP_MODE, BindFlags::KEEP_MODE),
            (super::file::FDSAFE_O_CLOEXEC, BindFlags::empty()),
        ],
        "Unix bind",
    )?;
    let dir_mode = if opts.dir_mode == 0 { core_unix::DEFAULT_DIR_MODE } else { opts.dir_mode };
    let socket_mode = if opts.socket_mode == 0 { core_unix::DEFAULT_SOCKET_MODE } else { opts.socket_mode };
    let socket = core_unix::bind(kind, addr.as_ref(), backlog, flags, dir_mode, socket_mode)?;
    out.write(handles::insert(socket)?.0);
    Ok(0)
}

fn listener_type(ty: u32) -> Result<Kind> {
    match unix_type(ty)? {
        Kind::UnixDatagram => Err(Error::invalid("datagram sockets do not listen: use fdsafe_unix_bind")),
        k => Ok(socket::listener_kind(k)),
    }
}

fn connect_common(addr: Option<Address>, ty: u32, flags: u32, handle_out: *mut fdsafe_handle) -> Result<c_int> {
    let nonblocking = super::kinds::nonblocking_flag(flags, "connect")?;
    let kind = unix_type(ty)?;
    let out = Out::new(handle_out, "handle_out")?;
    // An unnamed address ("" or a bare family) names no socket to connect to.
    let addr = addr.filter(|a| *a != Address::Unnamed).ok_or_else(|| Error::invalid("connect needs a path or @name"))?;
    let addr = socket::SockAddr::from_address(&addr)?;
    let s = socket::Socket::new(kind, libc::AF_UNIX, nonblocking)?;
    s.connect_raw(&addr).map_err(|e| e.context(format!("connect {addr:?}")))?;
    out.write(handles::insert(s)?.0);
    Ok(0)
}

/// Creates a Unix stream or seqpacket listener (`type`: `FDSAFE_SOCK_STREAM` or
/// `FDSAFE_SOCK_SEQPACKET`, the kernel's `SOCK_*` values) bound to `address` and listening with `backlog`.
///
/// `address`: a path (text containing `/`), an abstract name (`"@name"`, exact length, no
/// padding), or NULL / `""` for autobind (the kernel picks an abstract name; read it with
/// `fdsafe_socket_local_address`). For a path, the careful-daemon rules apply: missing parent
/// folders are created with `options->dir_mode`; an existing socket file that nothing accepts
/// on (a stale leftover) is removed; anything else at the path (a live socket, a regular
/// file, a folder, a symlink) is never removed or followed and the call fails; the socket
/// file gets `options->socket_mode` before it accepts connections; closing the handle removes
/// the path only if it is still this socket's file (same device and inode) and no other
/// descriptor of the socket lives (a duplicate, a child's copy, one sent to a worker). Only
/// a close of this handle or of its `fdsafe_dup` copies (or of their copies in a forked
/// child) removes it: when the last descriptor is closed elsewhere (a raw `dup`, a copy
/// another process received, or a handle of this process made from a received or adopted
/// copy, which knows no path), the path stays, a stale file the next `fdsafe_unix_listen`
/// replaces. See
/// `fdsafe_unix_bind_options` for the defaults and flags.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL
/// `handle_out`, bad type, unknown flags, modes above 07777, a TCP/UDP address, text that is
/// neither a path nor `@name`); `-ENAMETOOLONG` for a path over 108 bytes (never
/// truncated); `-EADDRINUSE` for a live socket at the path (or a stale one with
/// `FDSAFE_UNIX_BIND_KEEP_STALE`), or an abstract name in use; `-EEXIST` when the path is not
/// a socket; `-EACCES`, `-ENOENT` (with `FDSAFE_UNIX_BIND_NO_MKDIR`), `-ENOTDIR`; `-EMFILE`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_listen(
    address: *const c_char,
    r#type: u32,
    backlog: c_int,
    options: *const fdsafe_unix_bind_options,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_unix_listen", || {
        let kind = listener_type(r#type)?;
        bind_common(unix_address_of(Some(address), None)?, kind, backlog, options, handle_out)
    })
}

/// Like `fdsafe_unix_listen` with the address as a `struct sockaddr_un` of `addr_len` bytes
/// (a path, an abstract name with its leading NUL and exact length, or just the family for
/// autobind). Errors: as `fdsafe_unix_listen`, plus `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `addr` or a length that does not fit the family. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_listen_sockaddr(
    addr: *const c_void,
    addr_len: usize,
    r#type: u32,
    backlog: c_int,
    options: *const fdsafe_unix_bind_options,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_unix_listen_sockaddr", || {
        let kind = listener_type(r#type)?;
        bind_common(unix_address_of(None, Some((addr, addr_len)))?, kind, backlog, options, handle_out)
    })
}

/// Creates a Unix datagram socket bound to `address`, with the same rules as
/// `fdsafe_unix_listen` (path, `@abstract`, or NULL / `""` for autobind). Receive with
/// `fdsafe_socket_recv_from`; send with `fdsafe_socket_send_to`.
///
/// Ownership: as `fdsafe_unix_listen`. Errors: as `fdsafe_unix_listen` (without the type).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_bind(address: *const c_char, options: *const fdsafe_unix_bind_options, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_unix_bind", || bind_common(unix_address_of(Some(address), None)?, Kind::UnixDatagram, 0, options, handle_out))
}

/// Like `fdsafe_unix_bind` with the address as a `struct sockaddr_un` of `addr_len` bytes.
/// Errors: as `fdsafe_unix_listen_sockaddr`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_bind_sockaddr(
    addr: *const c_void,
    addr_len: usize,
    options: *const fdsafe_unix_bind_options,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_unix_bind_sockaddr", || {
        bind_common(unix_address_of(None, Some((addr, addr_len)))?, Kind::UnixDatagram, 0, options, handle_out)
    })
}

/// Creates a Unix socket of `type` connected to `address` (a path or `@name`). `flags`:
/// `FDSAFE_NONBLOCK` (`SOCK_NONBLOCK`) makes the socket non-blocking; a connect that cannot complete at
/// once then fails with `-EAGAIN` (the listener's backlog is full) rather than waiting.
/// Datagram sockets get a default destination. Returns 0.
///
/// Ownership: the caller closes `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL
/// pointers, bad type or flags, non-Unix address); `-ENOENT` (no such path);
/// `-ECONNREFUSED` (nothing listening: a stale file; or an abstract name bound only by a
/// socket of another type, which the kernel looks up by name and type); `-EPROTOTYPE` (a
/// path whose socket is of another type); `-EACCES`; `-EAGAIN`; `-EINTR` (not retried); `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_connect(address: *const c_char, r#type: u32, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_unix_connect", || {
        let addr = unix_address(c_text(address, "address")?)?;
        connect_common(Some(addr), r#type, flags, handle_out)
    })
}

/// Like `fdsafe_unix_connect` with the address as a `struct sockaddr_un` of `addr_len`
/// bytes. Errors: as `fdsafe_unix_connect`, plus `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `addr`, a bad length, or an unnamed address. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_connect_sockaddr(
    addr: *const c_void,
    addr_len: usize,
    r#type: u32,
    flags: u32,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_unix_connect_sockaddr", || connect_common(unix_address_of(None, Some((addr, addr_len)))?, r#type, flags, handle_out))
}

/// Creates a pair of connected, unnamed Unix sockets of `type` (`socketpair`). `flags`:
/// `FDSAFE_NONBLOCK` (`SOCK_NONBLOCK`) or 0. Both are close-on-exec (`FDSAFE_O_CLOEXEC`,
/// `SOCK_CLOEXEC`, is accepted in `flags`). `type`:
/// `FDSAFE_SOCK_STREAM`, `FDSAFE_SOCK_DGRAM` or `FDSAFE_SOCK_SEQPACKET` (the kernel's values).
///
/// Ownership: the caller closes both. Errors: `FDSAFE_E_INVALID_ARGUMENT` (NULL pointers, bad
/// type or flags); `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_unix_pair(r#type: u32, flags: u32, first_out: *mut fdsafe_handle, second_out: *mut fdsafe_handle) -> c_int {
    // No cancellation guard: creating enters no cancellation point (eventfd, pipe2 and
    // socketpair are not; closing on failure guards itself).
    call_direct("fdsafe_unix_pair", || {
        let nonblocking = super::kinds::nonblocking_flag(flags, "Unix pair")?;
        let kind = unix_type(r#type)?;
        let (a_out, b_out) = (Out::new(first_out, "first_out")?, Out::new(second_out, "second_out")?);
        let (a, b) = socket::pair(kind, nonblocking)?;
        let a = handles::insert(a)?;
        let b = match handles::insert(b) {
            Ok(h) => h,
            Err(e) => {
                let _ = handles::close(a);
                return Err(e);
            }
        };
        a_out.write(a.0);
        b_out.write(b.0);
        Ok(0)
    })
}

#[inline(always)]
/// A Unix socket's handle: of a Unix kind, or a socket of any family that is a Unix one.
fn unix_socket(handle: fdsafe_handle) -> Result<handles::TypedGuard<socket::Socket>> {
    const EXPECTED: &str = "a Unix socket";
    let s = socket_in(handle, UNIX_OR_ANY, EXPECTED)?;
    if s.kind() == Kind::Socket && !socket::is_unix(s.typed_kind()?) {
        return Err(Error::WrongKind { actual: Kind::Socket, expected: EXPECTED });
    }
    Ok(s)
}

const UNIX_OR_ANY: &[Kind] =
    &[Kind::UnixListener, Kind::UnixStream, Kind::UnixDatagram, Kind::UnixSeqpacketListener, Kind::UnixSeqpacket, Kind::Socket];

/// `fds` must stay open for the call (the caller holds their handles, or the C caller keeps
/// its own descriptors open, as documented).
#[inline(always)] // the system call returns through the exported function's frame only
fn send_with(handle: fdsafe_handle, buf: *const c_void, len: usize, fds: &[RawFd], creds: Option<Credentials>, flags: u32) -> Result<i64> {
    let flags = super::socket::send_flags(flags)?;
    if flags.contains(SendFlags::ZEROCOPY) {
        return Err(Error::invalid("zero-copy is not available on Unix sockets"));
    }
    if flags.contains(SendFlags::OOB) {
        return Err(Error::invalid("out-of-band data does not carry descriptors or credentials"));
    }
    let data = in_slice(buf.cast::<u8>(), len, "buf")?;
    let s = unix_socket(handle)?;
    Ok(scm::send_raw(&s, data, fds, creds, flags)? as i64)
}

/// Sends `len` bytes (at least 1 on a stream socket; datagram and seqpacket sockets carry
/// descriptors in an empty message) with `count` handles' descriptors attached (`SCM_RIGHTS`)
/// on a connected Unix socket of any type, in one message. Up to 253 descriptors (the
/// kernel's limit; 254 gives `-EINVAL`). Each handle is held for the whole send, so another
/// thread closing one of them waits until the kernel has its own reference; the sender's
/// handles stay open and owned by the sender. Never raises `SIGPIPE`. Returns the bytes sent:
/// on a stream socket the descriptors travel with the first byte, so send the rest (if any)
/// with `fdsafe_socket_send`.
///
/// Errors: `-EBADF` for a stale socket handle or any stale handle in `handles` (nothing
/// sent); `FDSAFE_E_WRONG_KIND` for a non-Unix socket; `FDSAFE_E_INVALID_ARGUMENT` for NULL
/// pointers with lengths > 0, `len` 0 with handles on a stream socket, unknown flags or
/// `FDSAFE_MSG_ZEROCOPY` or `FDSAFE_MSG_OOB`;
/// the kernel's `-EINVAL` (over 253), `-EPIPE`, `-ECONNRESET` (a seqpacket peer that closed
/// with data unread), `-ECONNREFUSED` (a datagram peer that is gone), `-ENOTCONN`,
/// `-EAGAIN`, `-ETOOMANYREFS`, `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_handles(handle: fdsafe_handle, buf: *const c_void, len: usize, handles: *const fdsafe_handle, count: usize, flags: u32) -> i64 {
    call("fdsafe_socket_send_handles", || {
        let list = in_slice(handles, count, "handles")?;
        if list.len() > 4096 {
            return Err(Error::invalid(format!("{} handles in one message (the kernel takes at most 253)", list.len())));
        }
        // Each handle is held until the kernel has its own reference.
        let guards: Vec<Guard> = list.iter().map(|&h| handles::get(Handle(h))).collect::<Result<_>>()?;
        guards.iter().for_each(Guard::mark_shared); // the receiver holds the files too
        let fds: Vec<RawFd> = guards.iter().map(|g| g.raw_fd()).collect();
        send_with(handle, buf, len, &fds, None, flags)
    })
}

/// Like `fdsafe_socket_send_handles` with raw descriptors (borrowed: they stay the caller's
/// and open). Errors: as `fdsafe_socket_send_handles`, with `-EBADF` from the kernel for a
/// descriptor that is not open. Thread safety: any thread; the caller must not close the
/// descriptors during the call.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_fds(handle: fdsafe_handle, buf: *const c_void, len: usize, fds: *const c_int, count: usize, flags: u32) -> i64 {
    call("fdsafe_socket_send_fds", || {
        let list = in_slice(fds, count, "fds")?;
        if let Some(&fd) = list.iter().find(|&&fd| fd < 0) {
            return Err(Error::bad_descriptor(fd));
        }
        // The caller keeps the descriptors open during the call (documented). A number a
        // handle owns, sent raw, gives its file a holder fdsafe must know of (see
        // `fdsafe_epoll_add`: its close then deregisters explicitly).
        list.iter().for_each(|&fd| handles::mark_number_shared(fd));
        send_with(handle, buf, len, list, None, flags)
    })
}

/// Sends `len` bytes (at least 1 on a stream socket) with credentials attached
/// (`SCM_CREDENTIALS`): `creds`, or
/// the caller's own pid, uid and gid when `creds` is NULL. The kernel checks them: other
/// values than one's own need `CAP_SYS_ADMIN` (pid) or `CAP_SETUID`/`CAP_SETGID`, else
/// `-EPERM`. The receiver sees them with `SO_PASSCRED` on.
///
/// Errors: as `fdsafe_socket_send_handles`, plus `-EPERM`, and `-ESRCH` for a pid no process
/// has (a privileged sender naming one). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_credentials(handle: fdsafe_handle, buf: *const c_void, len: usize, creds: *const fdsafe_credentials, flags: u32) -> i64 {
    call("fdsafe_socket_send_credentials", || {
        let c = if creds.is_null() {
            // SAFETY: plain id queries.
            unsafe { Credentials { pid: libc::getpid(), uid: libc::getuid(), gid: libc::getgid() } }
        } else {
            let c = in_slice(creds, 1, "creds")?[0];
            Credentials { pid: c.pid, uid: c.uid, gid: c.gid }
        };
        send_with(handle, buf, len, &[], Some(c), flags)
    })
}

/// Receives a message (up to `len` bytes) and the descriptors it carries, each wrapped in a
/// new handle of its detected kind (sockets by family and type, pipes, eventfds...;
/// sockets of other families become `FDSAFE_KIND_SOCKET`, other descriptors fdsafe has no
/// handle type for `FDSAFE_KIND_OTHER` handles, and so do `O_PATH` descriptors, which open
/// nothing, of files, directories, pipes, FIFOs, devices and sockets; one reopened from an
/// eventfd's, timerfd's... `/proc/thread-self/fd` link gets that kind, and its calls fail with
/// `-EBADF` from the kernel). Every descriptor is close-on-exec from the moment it arrives
/// (`MSG_CMSG_CLOEXEC`). Room for `handles_cap` handles (at most 253); `*info_out` says how
/// many arrived, whether anything was truncated, closed, and the sender's credentials if the
/// message carried them.
///
/// Nothing leaks: descriptors beyond `handles_cap` are closed, by the kernel or, when the room
/// kept for credentials let a few more in, by fdsafe (then also reported with
/// `FDSAFE_RECV_INFO_CLOSED` and counted in `closed_count`); either way
/// `FDSAFE_RECV_INFO_CTRUNC` says some were sent that did not fit; a receiver
/// at its `RLIMIT_NOFILE` limit gets the data with `FDSAFE_RECV_INFO_CTRUNC` and no
/// descriptors; descriptors of unexpected control messages
/// are closed (`FDSAFE_RECV_INFO_CLOSED`). Returns the bytes received (0 at end-of-stream).
///
/// Ownership: the caller closes each handle in `handles_out[0 .. info_out->handle_count]`.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-Unix sockets; `FDSAFE_E_INVALID_ARGUMENT`
/// for NULL pointers with lengths > 0, a NULL `info_out`, `handles_cap` above 253, flags
/// other than `FDSAFE_MSG_DONTWAIT`, `FDSAFE_MSG_PEEK`, `FDSAFE_MSG_WAITALL` and
/// `FDSAFE_MSG_CMSG_CLOEXEC` (always in force) (`FDSAFE_MSG_OOB` too: the out-of-band byte
/// carries no descriptors); `-EAGAIN`; `-ENOTCONN`; `-ECONNRESET` (the peer closed with a
/// message of this socket's unread: on a stream pair once, then end of stream);
/// `-EINVAL` from the kernel (a listener); `-EINTR` (nothing was received).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_recv_handles(
    handle: fdsafe_handle,
    buf: *mut c_void,
    len: usize,
    flags: u32,
    handles_out: *mut fdsafe_handle,
    handles_cap: usize,
    info_out: *mut fdsafe_recv_info,
) -> i64 {
    call("fdsafe_socket_recv_handles", || recv_handles(handle, buf, len, flags, None, handles_out, handles_cap, info_out))
}

/// `fdsafe_socket_recv_handles` for a caller who knows what the sender passes, replacing the
/// kernel queries that detect each descriptor's kind (one to several microseconds per
/// descriptor) with fewer:
///
/// - `kind` = `FDSAFE_KIND_OTHER`: no query at all; every descriptor becomes a generic
///   `FDSAFE_KIND_OTHER` handle (`fdsafe_read`/`_write`/`_wait`/`fdsafe_fd_borrow` and the
///   other generic calls work; kind-specific calls refuse it with `FDSAFE_E_WRONG_KIND`).
///   Writes through it block `SIGPIPE` like pipe writes, so they are safe whatever it is.
/// - any other kind: each descriptor is checked to be of that kind with the fewest queries
///   that tell it apart (connected Unix stream and seqpacket sockets: `getpeername` and
///   `SO_TYPE`; TCP: `TCP_INFO` and `SO_PROTOCOL`; other sockets: `SO_DOMAIN`, `SO_TYPE`
///   and one more; pidfds: `fstatfs`; eventfd, timerfd, signalfd, inotify, fanotify and
///   epoll: the `/proc/thread-self/fd` link, which is what costs most; the remaining kinds: full
///   detection). A descriptor that fails the check is detected in full as by
///   `fdsafe_socket_recv_handles`, so every handle has its true kind: check
///   `fdsafe_handle_kind` if the sender is not trusted.
///
/// Everything else (close-on-exec on arrival, truncation, credentials, `*info_out`,
/// ownership) is as `fdsafe_socket_recv_handles`.
///
/// Errors: as `fdsafe_socket_recv_handles`, plus `FDSAFE_E_INVALID_ARGUMENT` for an unknown
/// `kind` or `FDSAFE_KIND_STDIO` (checked before anything is received). Thread safety: any
/// thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn fdsafe_socket_recv_handles_as(
    handle: fdsafe_handle,
    buf: *mut c_void,
    len: usize,
    flags: u32,
    kind: fdsafe_kind,
    handles_out: *mut fdsafe_handle,
    handles_cap: usize,
    info_out: *mut fdsafe_recv_info,
) -> i64 {
    call("fdsafe_socket_recv_handles_as", || {
        let expected = match kind_from_c(kind)? {
            Kind::Stdio => return Err(Error::invalid("received descriptors cannot be stdio handles")),
            k => k,
        };
        recv_handles(handle, buf, len, flags, Some(expected), handles_out, handles_cap, info_out)
    })
}

#[allow(clippy::too_many_arguments)]
fn recv_handles(
    handle: fdsafe_handle,
    buf: *mut c_void,
    len: usize,
    flags: u32,
    expected: Option<Kind>,
    handles_out: *mut fdsafe_handle,
    handles_cap: usize,
    info_out: *mut fdsafe_recv_info,
) -> Result<i64> {
    let flags = super::socket::recv_flags(flags)?;
    if flags.contains(RecvFlags::OOB) {
        return Err(Error::invalid("the out-of-band byte carries no descriptors: receive it with fdsafe_socket_recv"));
    }
    let data = out_slice(buf.cast::<u8>(), len, "buf")?;
    let slots = out_slice(handles_out, handles_cap, "handles_out")?;
    let info_out = Out::new(info_out, "info_out")?;
    let s = unix_socket(handle)?;
    let mut control = scm::ControlBuffer::new();
    let (received, fds) = scm::recv(&s, data, slots.len(), flags, &mut control)?;
    drop(s);
    Ok(register_received(received, fds, expected, slots, info_out))
}

/// The end of every receive of handles: registers what `received` brought (each descriptor
/// a handle in `slots`, or closed and counted), fills `*info_out` and returns the bytes.
pub(crate) fn register_received(
    received: scm::Received,
    mut fds: scm::ReceivedFds<'_>,
    expected: Option<Kind>,
    slots: &mut [fdsafe_handle],
    info_out: Out<fdsafe_recv_info>,
) -> i64 {
    let mut info = fdsafe_recv_info::default();
    if received.control_truncated {
        info.flags |= FDSAFE_RECV_INFO_CTRUNC;
    }
    if received.data_truncated {
        info.flags |= FDSAFE_RECV_INFO_TRUNC;
    }
    if let Some(c) = received.credentials {
        info.flags |= FDSAFE_RECV_INFO_CREDENTIALS;
        info.credentials = fdsafe_credentials { pid: c.pid, uid: c.uid, gid: c.gid };
    }
    // Descriptors beyond handles_cap (the room kept for credentials can let a few more in)
    // stay in `fds` and are closed when it is dropped.
    let wanted = fds.len().min(slots.len());
    info.closed_count = (received.unexpected_closed + fds.len() - wanted) as u32;
    if fds.len() > wanted {
        info.flags |= FDSAFE_RECV_INFO_CTRUNC; // more were sent than handles_cap, whoever closes them
    }
    // Detecting kinds and making their objects call into libc, some of whose calls are
    // cancellation points.
    let _no_cancel = crate::sys::NoCancellation::begin();
    let mut detector = detect::Detector::for_count(wanted);
    let mut made = 0;
    while made < wanted {
        let Some(fd) = fds.take_next() else { break };
        let kind = match expected {
            Some(Kind::Other) => Kind::Other,
            Some(k) => detector.detect_expecting(k, fd.as_fd()).unwrap_or(Kind::Other),
            None => detector.detect(fd.as_fd()).unwrap_or(Kind::Other),
        };
        // A number the kernel has just installed: nobody else can rightly own it.
        match handles::insert_copy(kinds::wrap_owned(fd, kind)) {
            Ok(h) => {
                slots[made] = h.0;
                made += 1;
            }
            Err(_) => info.closed_count += 1, // the descriptor was closed
        }
    }
    drop(fds); // closes the ones beyond handles_cap
    if info.closed_count > 0 {
        info.flags |= FDSAFE_RECV_INFO_CLOSED;
    }
    info.handle_count = made;
    info_out.write(info);
    received.bytes as i64
}

/// The credentials of the peer of a connected Unix socket (or socket pair) as of connect time
/// (`SO_PEERCRED`). A listener answers, as the kernel does, with its own process's
/// credentials as of its `listen()`; so do `fdsafe_socket_peer_groups` and
/// `fdsafe_socket_peer_pidfd`.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for non-Unix sockets; `FDSAFE_E_INVALID_ARGUMENT`
/// for a NULL `creds_out`; `-ENODATA` where there is no peer to describe: an unconnected
/// socket that is not a listener, or a datagram socket connected with `connect()` (the kernel's placeholder, pid 0
/// and ids -1, is never returned as an identity; a datagram socket pair has real ones), as
/// `fdsafe_socket_peer_groups` and `fdsafe_socket_peer_pidfd` answer. Thread safety: any
/// thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_credentials(handle: fdsafe_handle, creds_out: *mut fdsafe_credentials) -> c_int {
    call("fdsafe_socket_peer_credentials", || {
        let out = Out::new(creds_out, "creds_out")?;
        let c = scm::peer_credentials(&*unix_socket(handle)?)?;
        out.write(fdsafe_credentials { pid: c.pid, uid: c.uid, gid: c.gid });
        Ok(0)
    })
}

/// The peer's supplementary group ids (`SO_PEERGROUPS`) into `groups_out` (room for `cap`).
/// Returns how many; with `cap` 0 (and `groups_out` NULL), how many there are, writing
/// nothing.
///
/// Errors: `FDSAFE_E_BUFFER_TOO_SMALL` if `cap` is too small (the last error says how many
/// are needed; nothing written); `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT`
/// (NULL with `cap` > 0); `-ENODATA` where there is no peer to describe (unconnected and not
/// a listener, or a datagram socket connected with `connect()`). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_groups(handle: fdsafe_handle, groups_out: *mut u32, cap: usize) -> c_int {
    call("fdsafe_socket_peer_groups", || {
        let out = out_slice(groups_out, cap, "groups_out")?;
        let groups = scm::peer_groups(&*unix_socket(handle)?)?;
        if out.is_empty() {
            return Ok(groups.len() as c_int);
        }
        if groups.len() > out.len() {
            return Err(Error::BufferTooSmall { needed: groups.len() });
        }
        out[..groups.len()].copy_from_slice(&groups);
        Ok(groups.len() as c_int)
    })
}

/// A pidfd for the peer process of a connected Unix socket (`SO_PEERPIDFD`, Linux 6.5 and
/// later) as a new `FDSAFE_KIND_PIDFD` handle (close-on-exec). It names the very process
/// that connected, even if it has exited since: fdsafe never falls back to `pidfd_open` on
/// the pid, which could name a recycled process. Wait for the peer's exit with `fdsafe_wait`
/// (`FDSAFE_EVENT_IN`).
///
/// Ownership: the caller closes `*handle_out`. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT`; `-ENOPROTOOPT` on kernels before 6.5; `-ENODATA` when there
/// is no peer (unconnected and not a listener, which gives its own process, or a datagram
/// socket connected with `connect()`); `-ESRCH`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_peer_pidfd(handle: fdsafe_handle, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_socket_peer_pidfd", || {
        let out = Out::new(handle_out, "handle_out")?;
        let fd = scm::peer_pidfd(&*unix_socket(handle)?)?;
        out.write(handles::insert(Box::new(PidFd::from_fd(fd)))?.0);
        Ok(0)
    })
}
