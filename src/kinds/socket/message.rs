//! Whole messages on a socket of any kind: one `sendmsg` or `recvmsg` with an address,
//! scattered data, descriptors, credentials and flags together.
//!
//! Sending is [`scm::send_parts`] itself. Receiving keeps every guarantee of [`scm::recv`]:
//! descriptors arrive close-on-exec (`MSG_CMSG_CLOEXEC`) and are owned by the returned
//! [`ReceivedFds`] until the caller takes them, so none leaks on truncation or error.

use std::os::fd::AsRawFd;

use super::scm::{self, ControlBuffer, Received, ReceivedFds, MAX_FDS};
use super::{clamp_len, RecvFlags, SockAddr, Socket};
use crate::error::{Error, Result};
use crate::sys;

/// What [`recv`] received: the data count, truncation, credentials, the kernel's flags
/// (in [`Received`]), and the sender's address when the socket reports one.
pub struct Message<'c> {
    pub received: Received,
    /// The sender's address; `None` where the kernel gives none (connected stream sockets).
    pub from: Option<SockAddr>,
    pub fds: ReceivedFds<'c>,
}

/// Receives one message into the buffers of `iov` (scattered), with room for `max_fds`
/// descriptors (at most [`MAX_FDS`]) and the sender's credentials, and the sender's address.
/// The caller keeps every `iov` buffer writable for its length.
#[inline(always)]
pub fn recv<'c>(socket: &Socket, iov: &[libc::iovec], max_fds: usize, flags: RecvFlags, control: &'c mut ControlBuffer) -> Result<Message<'c>> {
    if max_fds > MAX_FDS {
        return Err(Error::invalid(format!("room for {max_fds} descriptors; a message carries at most {MAX_FDS}")));
    }
    let first = iov.first().copied().unwrap_or(libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 });
    let mut msg = scm::recv_header(&first, control, max_fds);
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = iov.len();
    let mut from = SockAddr::empty();
    msg.msg_name = from.as_mut_ptr().cast();
    msg.msg_namelen = from.len;
    // SAFETY: the message points to live buffers of the stated sizes.
    let n = unsafe { scm::recvmsg_raw(socket.fd().as_raw_fd(), &mut msg, flags.raw()) };
    let n = sys::direct::check(n).map_err(|e| e.context("recvmsg"))?;
    from.len = msg.msg_namelen;
    clamp_len(&mut from);
    // SAFETY: the kernel has just written the message.
    let (received, fds) = unsafe { scm::received(&msg, n, control) };
    Ok(Message { received, from: (from.len > 0).then_some(from), fds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handles::Kind;
    use crate::kinds::socket::SendFlags;
    use scm::send_parts as send;
    use std::os::fd::AsFd;

    fn iov(buf: &[u8]) -> libc::iovec {
        libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() }
    }

    #[test]
    fn empty_datagram_carries_descriptors_and_truncation_is_reported() {
        let (a, b) = super::super::pair(Kind::UnixDatagram, false).unwrap();
        let extra = crate::sys::dup_cloexec(a.fd()).unwrap();
        let sent = send(&a, None, &[], &[extra.as_raw_fd(); 32], None, SendFlags::empty()).unwrap();
        assert_eq!(sent, 0);
        let mut control = ControlBuffer::new();
        let m = recv(&b, &[], 1, RecvFlags::empty(), &mut control).unwrap();
        assert_eq!(m.received.bytes, 0);
        assert!(m.received.control_truncated, "32 descriptors in room for one (and credentials and a pidfd)");
        assert!((1..32).contains(&m.fds.len()));
        assert!(m.from.is_none(), "an unnamed sender has no address");
        drop(m);
        let (c, d) = super::super::pair(Kind::UnixStream, false).unwrap();
        assert!(send(&c, None, &[], &[extra.as_fd().as_raw_fd()], None, SendFlags::empty()).is_err());
        drop(d);
    }

    #[test]
    fn gathers_and_scatters() {
        let (a, b) = super::super::pair(Kind::UnixSeqpacket, false).unwrap();
        let parts = [iov(b"whole "), iov(b"message")];
        assert_eq!(send(&a, None, &parts, &[], None, SendFlags::empty()).unwrap(), 13);
        let (x, y) = ([0u8; 5], [0u8; 5]);
        let mut control = ControlBuffer::new();
        let m = recv(&b, &[iov(&x), iov(&y)], 0, RecvFlags::empty(), &mut control).unwrap();
        assert_eq!((m.received.bytes, m.received.data_truncated), (10, true));
        assert_eq!((&x, &y), (b"whole", b" mess"));
    }
}
