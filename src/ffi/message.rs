//! Whole messages: one send or receive of a message with its address, scattered data,
//! descriptors (as handles), credentials and flags, on a socket of any kind.

use std::ffi::c_void;
use std::os::fd::RawFd;

use super::socket::{recv_flags_with_trunc, send_flags, socket_of};
use super::unix::{fdsafe_credentials, fdsafe_recv_info, register_received};
use super::{call, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::{Error, Result};
use crate::handles::{self, Guard, Handle};
use crate::kinds::socket::{generic, message};
use crate::kinds::socket::scm::{self, Credentials};

/// `fdsafe_recv_message.msg_flags`: the message was longer than the buffers; the rest was
/// discarded (the kernel's `MSG_TRUNC`, datagram and seqpacket sockets). As a receive flag
/// (`fdsafe_socket_recv`, `fdsafe_socket_recv_from`): return the message's real length.
pub const FDSAFE_MSG_TRUNC: u32 = 0x20;
/// `fdsafe_recv_message.msg_flags`: the control data was truncated (the kernel's
/// `MSG_CTRUNC`): more descriptors arrived than `handles_cap` (the kernel closed the rest).
pub const FDSAFE_MSG_CTRUNC: u32 = 0x8;
/// `fdsafe_recv_message.msg_flags`: the end of a record (the kernel's `MSG_EOR`).
pub const FDSAFE_MSG_EOR: u32 = 0x80;
const _: () = assert!(FDSAFE_MSG_TRUNC == libc::MSG_TRUNC as u32 && FDSAFE_MSG_CTRUNC == libc::MSG_CTRUNC as u32);
const _: () = assert!(FDSAFE_MSG_EOR == libc::MSG_EOR as u32);

/// A whole message for `fdsafe_socket_send_message`. Zero it, then fill what the message
/// carries: every pointer may be NULL with its count 0.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_send_message {
    /// The destination as a `struct sockaddr` of `addr_len` bytes (as `fdsafe_address_parse`
    /// writes it, or as any receive returned it), or NULL and 0 for the connected peer.
    pub addr: *const c_void,
    /// Bytes at `addr`.
    pub addr_len: usize,
    /// The data, gathered from `iov_count` buffers.
    pub iov: *const libc::iovec,
    /// Entries in `iov` (at most 1024, the kernel's `UIO_MAXIOV`).
    pub iov_count: usize,
    /// Handles whose descriptors travel with the message (`SCM_RIGHTS`, Unix sockets only;
    /// at most 253). They stay the sender's, open.
    pub handles: *const fdsafe_handle,
    /// Entries in `handles`.
    pub handle_count: usize,
    /// Credentials to attach (`SCM_CREDENTIALS`, Unix sockets only), or NULL for none.
    pub credentials: *const fdsafe_credentials,
}

/// Buffers for `fdsafe_socket_recv_message` and, once it succeeds, what it received.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fdsafe_recv_message {
    /// In: the buffers the data is scattered into.
    pub iov: *const libc::iovec,
    /// In: entries in `iov` (at most 1024).
    pub iov_count: usize,
    /// In: room for the sender's address (`sizeof(struct sockaddr_storage)` at least), or
    /// NULL and 0 when it is not wanted.
    pub addr: *mut c_void,
    /// In: bytes at `addr`.
    pub addr_cap: usize,
    /// In: room for the handles of the descriptors that arrive (Unix sockets; at most 253).
    pub handles: *mut fdsafe_handle,
    /// In: entries in `handles`.
    pub handles_cap: usize,
    /// Out: the length of the address written to `addr`: 0 when the kernel gives none
    /// (connected stream sockets, and an unnamed Unix sender, which cannot be answered).
    pub addr_len: usize,
    /// Out: the kernel's `msg_flags`: `FDSAFE_MSG_TRUNC`, `FDSAFE_MSG_CTRUNC`,
    /// `FDSAFE_MSG_EOR`...
    pub msg_flags: u32,
    /// Out: the handles that arrived, credentials and what fdsafe closed, as for
    /// `fdsafe_socket_recv_handles`.
    pub info: fdsafe_recv_info,
}

/// Sends one whole message on a socket of any kind, in one `sendmsg`: the data gathered from
/// `msg->iov`, to `msg->addr` (or the connected peer when NULL), with the descriptors of
/// `msg->handles` and `msg->credentials` attached on Unix sockets. This is how descriptors go
/// to an address on an unconnected datagram socket. Datagram and seqpacket sockets carry
/// descriptors and credentials in an empty message; a stream socket needs at least one byte
/// with them (the kernel would drop them otherwise). Each handle is held for the whole send.
/// Never raises `SIGPIPE`. `flags`: as `fdsafe_socket_send` (the kernel's `MSG_*` values).
/// Returns the bytes sent.
///
/// Credentials other than one's own need privileges (as `fdsafe_socket_send_credentials`).
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `msg`, NULL pointers with counts > 0, more
/// than 1024 buffers or lengths adding up to more than `SSIZE_MAX`, an address of a bad length or, on a typed socket, of a family fdsafe
/// does not read (a `FDSAFE_KIND_SOCKET` takes any family: netlink, packet...), unknown
/// flags, descriptors or credentials on a non-Unix socket, an empty message with them on a
/// stream socket, `FDSAFE_MSG_ZEROCOPY` or `FDSAFE_MSG_OOB` with them; `-EBADF` for a stale socket handle or any
/// stale handle in `msg->handles` (nothing sent); `FDSAFE_E_WRONG_KIND` for a handle that is
/// not a socket; the kernel's `-EINVAL` (over 253 descriptors), `-EPERM` (credentials not
/// one's own), `-EDESTADDRREQ`, `-EISCONN`, `-ENOTCONN` (a stream or seqpacket socket not
/// connected), `-ENOENT`, `-ECONNREFUSED`, `-EPIPE`, `-ECONNRESET`, `-EAGAIN`, `-EMSGSIZE`,
/// `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_send_message(handle: fdsafe_handle, msg: *const fdsafe_send_message, flags: u32) -> i64 {
    call("fdsafe_socket_send_message", || {
        let msg = in_slice(msg, 1, "msg")?[0];
        let flags = send_flags(flags)?;
        let iov = super::boundary::iov_slice(msg.iov, msg.iov_count, "iov")?;
        let to_bytes = if msg.addr.is_null() && msg.addr_len == 0 { None } else { Some(in_slice(msg.addr.cast::<u8>(), msg.addr_len, "addr")?) };
        let list = in_slice(msg.handles, msg.handle_count, "handles")?;
        if list.len() > 4096 {
            return Err(Error::invalid(format!("{} handles in one message (the kernel takes at most 253)", list.len())));
        }
        let credentials = in_slice(msg.credentials, usize::from(!msg.credentials.is_null()), "credentials")?
            .first()
            .map(|c| Credentials { pid: c.pid, uid: c.uid, gid: c.gid });
        let carries = !list.is_empty() || credentials.is_some();
        if carries && flags.contains(crate::kinds::socket::SendFlags::ZEROCOPY) {
            return Err(Error::invalid("zero-copy does not carry descriptors or credentials"));
        }
        if carries && flags.contains(crate::kinds::socket::SendFlags::OOB) {
            return Err(Error::invalid("out-of-band data does not carry descriptors or credentials"));
        }
        // Each handle is held until the kernel has its own reference.
        let guards: Vec<Guard> = list.iter().map(|&h| handles::get(Handle(h))).collect::<Result<_>>()?;
        guards.iter().for_each(Guard::mark_shared); // the receiver holds the files too
        let fds: Vec<RawFd> = guards.iter().map(|g| g.raw_fd()).collect();
        let socket = socket_of(handle)?;
        // Any family for a FDSAFE_KIND_SOCKET (netlink, packet...), as send_to_sockaddr.
        let to = to_bytes.map(|bytes| generic::address_for(&socket, bytes)).transpose()?;
        Ok(scm::send_parts(&socket, to.as_ref(), iov, &fds, credentials, flags)? as i64)
    })
}

/// Receives one whole message on a socket of any kind, in one `recvmsg`: the data scattered
/// into `msg->iov`, the sender's address into `msg->addr` (datagram sockets; connected stream
/// sockets and unnamed senders give none; every address given is accepted back by
/// `fdsafe_socket_send_message`, `fdsafe_socket_send_to_sockaddr` and, formatted,
/// `fdsafe_socket_send_to`), the descriptors it carries as new handles of their detected kind in
/// `msg->handles` (close-on-exec from the moment they arrive), and the sender's credentials
/// (with `SO_PASSCRED` on). A message longer than the buffers sets `FDSAFE_MSG_TRUNC` in
/// `msg->msg_flags`; more descriptors than `handles_cap` set `FDSAFE_MSG_CTRUNC`: those that
/// did not fit are closed, never leaked (by the kernel, `FDSAFE_RECV_INFO_CTRUNC` in
/// `msg->info.flags`, or by fdsafe, counted in `msg->info.closed_count`).
/// `flags`: `FDSAFE_MSG_DONTWAIT`, `FDSAFE_MSG_PEEK`, `FDSAFE_MSG_WAITALL`, `FDSAFE_MSG_OOB`,
/// `FDSAFE_MSG_TRUNC` (return the message's real length; refused on stream sockets, where
/// Linux would discard the bytes instead of copying them), or 0.
///
/// The out-fields of `*msg` (`addr_len`, `msg_flags`, `info`) are written only on success.
/// Returns the bytes received (0: an empty message, or the end of a stream).
///
/// Ownership: the caller closes each handle in `msg->handles[0 .. msg->info.handle_count]`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `msg`, NULL pointers with counts > 0, more
/// than 1024 buffers or lengths adding up to more than `SSIZE_MAX`, `handles_cap` above 253, unknown flags, `FDSAFE_MSG_TRUNC` on a stream
/// socket (TCP, Unix stream, a `FDSAFE_KIND_SOCKET` of type `SOCK_STREAM`; nothing is
/// received); `-EOPNOTSUPP` for `FDSAFE_MSG_OOB` on a datagram socket;
/// `FDSAFE_E_BUFFER_TOO_SMALL` when `addr_cap` is below `sizeof(struct sockaddr_storage)`
/// (checked first: nothing is consumed); `-EBADF`; `FDSAFE_E_WRONG_KIND` for a handle that is not a socket; the kernel's
/// `-EAGAIN`, `-ENOTCONN`, `-EINVAL` (a listener), `-ECONNREFUSED`, `-ECONNRESET` (the peer
/// closed with data of this socket's unread), `-EINTR` (nothing was received). Thread
/// safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_socket_recv_message(handle: fdsafe_handle, msg: *mut fdsafe_recv_message, flags: u32) -> i64 {
    call("fdsafe_socket_recv_message", || {
        let msg_out = Out::new(msg, "msg")?;
        let mut m = in_slice(msg.cast_const(), 1, "msg")?[0];
        let flags = recv_flags_with_trunc(flags)?;
        let iov = super::boundary::iov_slice(m.iov, m.iov_count, "iov")?;
        let addr_out = out_slice(m.addr.cast::<u8>(), m.addr_cap, "addr")?;
        if !m.addr.is_null() && addr_out.len() < std::mem::size_of::<libc::sockaddr_storage>() {
            return Err(Error::BufferTooSmall { needed: std::mem::size_of::<libc::sockaddr_storage>() });
        }
        let slots = out_slice(m.handles, m.handles_cap, "handles")?;
        let socket = socket_of(handle)?;
        socket.check_recv_flags(flags)?;
        let mut control = scm::ControlBuffer::new();
        let received = message::recv(&socket, iov, slots.len(), flags, &mut control)?;
        drop(socket);
        m.addr_len = 0;
        if let (Some(from), false) = (&received.from, addr_out.is_empty()) {
            let bytes = from.bytes();
            addr_out[..bytes.len()].copy_from_slice(bytes);
            m.addr_len = bytes.len();
        }
        m.msg_flags = received.received.msg_flags as u32;
        if received.fds.len() > slots.len() {
            // The room kept for credentials let more in than asked: fdsafe closes those, and
            // reports them as the kernel reports the ones it closed.
            m.msg_flags |= FDSAFE_MSG_CTRUNC;
        }
        let mut info = fdsafe_recv_info::default();
        let n = register_received(received.received, received.fds, None, slots, Out::new(&mut info, "info")?);
        m.info = info;
        msg_out.write(m);
        Ok(n)
    })
}
