//! Control messages on Unix sockets: passing descriptors (`SCM_RIGHTS`) and credentials
//! (`SCM_CREDENTIALS`), and the peer's identity (`SO_PEERCRED`, `SO_PEERGROUPS`,
//! `SO_PEERPIDFD`).
//!
//! Receiving never leaks: every descriptor that arrives is either handed to the caller or
//! closed, and the result says which happened (and whether the kernel truncated the control
//! data, `MSG_CTRUNC`, in which case it already closed the descriptors that did not fit).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::{RecvFlags, SendFlags, Socket};
use crate::error::{Error, Result};
use crate::sys::{self, cvt};

/// The most descriptors one message can carry (the kernel's `SCM_MAX_FD`).
pub const MAX_FDS: usize = 253;

/// `SO_PASSPIDFD` / `SO_PEERPIDFD`: glibc 2.36 lacks them.
pub const SO_PEERPIDFD: i32 = 77;

/// Process credentials (`struct ucred`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// What a receive brought besides data.
#[derive(Debug, Default)]
pub struct Received {
    /// Bytes of data.
    pub bytes: usize,
    /// Descriptors, in order, all close-on-exec.
    pub fds: Vec<OwnedFd>,
    /// `SCM_CREDENTIALS`, if the message carried them.
    pub credentials: Option<Credentials>,
    /// The control data was truncated (`MSG_CTRUNC`): descriptors that did not fit were
    /// closed by the kernel, or (at `RLIMIT_NOFILE`) never installed.
    pub control_truncated: bool,
    /// The data was truncated (`MSG_TRUNC`, datagram and seqpacket).
    pub data_truncated: bool,
    /// Descriptors from unexpected control messages (such as `SCM_PIDFD`), which were closed.
    pub unexpected_closed: usize,
}

fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE(len as u32) as usize }
}

/// A zeroed, `cmsghdr`-aligned control buffer of at least `len` bytes.
fn control_buffer(len: usize) -> Vec<u64> {
    vec![0u64; len.div_ceil(8).max(1)]
}

/// Sends `data` with descriptors and/or credentials in one `sendmsg` (`MSG_NOSIGNAL`).
/// A message carrying descriptors must carry at least one byte of data.
pub fn send(socket: &Socket, data: &[u8], fds: &[BorrowedFd<'_>], credentials: Option<Credentials>, flags: SendFlags) -> Result<usize> {
    if !super::is_unix(socket.kind()) {
        return Err(Error::invalid(format!("{} sockets cannot carry descriptors or credentials", socket.kind().name())));
    }
    if data.is_empty() && (!fds.is_empty() || credentials.is_some()) {
        return Err(Error::invalid("a message with descriptors or credentials needs at least one byte of data"));
    }
    if fds.len() > 4096 {
        return Err(Error::invalid(format!("{} descriptors in one message (the kernel takes at most {MAX_FDS})", fds.len())));
    }
    let fd_bytes = fds.len() * std::mem::size_of::<i32>();
    let cred_bytes = std::mem::size_of::<libc::ucred>();
    let mut space = 0;
    if !fds.is_empty() {
        space += cmsg_space(fd_bytes);
    }
    if credentials.is_some() {
        space += cmsg_space(cred_bytes);
    }
    let mut control = control_buffer(space);
    let iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: data.len() };
    // SAFETY: zeroed msghdr is valid; we fill the fields below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &iov as *const _ as *mut _;
    msg.msg_iovlen = 1;
    if space > 0 {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space;
        // SAFETY: the buffer holds `space` bytes, sized with CMSG_SPACE for each message.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            if !fds.is_empty() {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
                let out = libc::CMSG_DATA(cmsg).cast::<i32>();
                for (i, fd) in fds.iter().enumerate() {
                    out.add(i).write_unaligned(fd.as_raw_fd());
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            if let Some(c) = credentials {
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_CREDENTIALS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(cred_bytes as u32) as _;
                libc::CMSG_DATA(cmsg).cast::<libc::ucred>().write_unaligned(libc::ucred { pid: c.pid, uid: c.uid, gid: c.gid });
            }
        }
    }
    // SAFETY: the message points to live buffers.
    let n = cvt(unsafe { libc::sendmsg(socket.fd().as_raw_fd(), &msg, flags.raw()) }).map_err(|e| e.context("sendmsg"))?;
    Ok(n as usize)
}

/// Receives data and up to `max_fds` descriptors (close-on-exec via `MSG_CMSG_CLOEXEC`),
/// plus credentials if `SO_PASSCRED` is on.
pub fn recv(socket: &Socket, buf: &mut [u8], max_fds: usize, flags: RecvFlags) -> Result<Received> {
    if !super::is_unix(socket.kind()) {
        return Err(Error::invalid(format!("{} sockets cannot carry descriptors or credentials", socket.kind().name())));
    }
    if max_fds > MAX_FDS {
        return Err(Error::invalid(format!("room for {max_fds} descriptors; a message carries at most {MAX_FDS}")));
    }
    let mut space = cmsg_space(std::mem::size_of::<libc::ucred>());
    if max_fds > 0 {
        space += cmsg_space(max_fds * std::mem::size_of::<i32>());
    }
    let mut control = control_buffer(space);
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: zeroed msghdr is valid; we fill the fields below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &iov as *const _ as *mut _;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: the message points to live buffers of the stated sizes.
    let n = cvt(unsafe { libc::recvmsg(socket.fd().as_raw_fd(), &mut msg, flags.raw() | libc::MSG_CMSG_CLOEXEC) })
        .map_err(|e| e.context("recvmsg"))?;
    let mut out = Received {
        bytes: n as usize,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
        data_truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        ..Received::default()
    };
    // Take ownership of every descriptor first, so none can leak whatever happens next.
    // SAFETY: walking the control messages the kernel wrote, within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let header = std::mem::size_of::<libc::cmsghdr>();
            let data_len = ((*cmsg).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            let _ = header;
            let data = libc::CMSG_DATA(cmsg);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    for i in 0..data_len / 4 {
                        let fd = data.cast::<i32>().add(i).read_unaligned();
                        if fd >= 0 {
                            out.fds.push(sys::owned(fd));
                        }
                    }
                }
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data_len >= std::mem::size_of::<libc::ucred>() => {
                    let c = data.cast::<libc::ucred>().read_unaligned();
                    out.credentials = Some(Credentials { pid: c.pid, uid: c.uid, gid: c.gid });
                }
                // SCM_PIDFD (0x04) carries one descriptor: close it.
                (libc::SOL_SOCKET, 0x04) if data_len >= 4 => {
                    let fd = data.cast::<i32>().read_unaligned();
                    if fd >= 0 {
                        drop(sys::owned(fd));
                        out.unexpected_closed += 1;
                    }
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(out)
}

/// The peer's credentials at connect time (`SO_PEERCRED`).
pub fn peer_credentials(socket: &Socket) -> Result<Credentials> {
    let mut c = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a ucred-sized buffer.
    cvt(unsafe {
        libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut c as *mut libc::ucred).cast(), &mut len)
    })
    .map_err(|e| e.context("SO_PEERCRED"))?;
    Ok(Credentials { pid: c.pid, uid: c.uid, gid: c.gid })
}

/// The peer's supplementary groups (`SO_PEERGROUPS`).
pub fn peer_groups(socket: &Socket) -> Result<Vec<u32>> {
    let mut groups = vec![0u32; 64];
    loop {
        let mut len = (groups.len() * 4) as libc::socklen_t;
        // SAFETY: a buffer of `len` bytes.
        let r = cvt(unsafe {
            libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERGROUPS, groups.as_mut_ptr().cast(), &mut len)
        });
        match r {
            Ok(_) => {
                groups.truncate(len as usize / 4);
                return Ok(groups);
            }
            Err(Error::Os { errno: libc::ERANGE, .. }) if (len as usize / 4) > groups.len() => {
                groups.resize(len as usize / 4, 0);
            }
            Err(e) => return Err(e.context("SO_PEERGROUPS")),
        }
    }
}

/// The peer's pidfd (`SO_PEERPIDFD`), close-on-exec. Never falls back to `pidfd_open` on the
/// pid, which could name a recycled process.
pub fn peer_pidfd(socket: &Socket) -> Result<OwnedFd> {
    let mut fd: i32 = -1;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int-sized buffer.
    cvt(unsafe { libc::getsockopt(socket.fd().as_raw_fd(), libc::SOL_SOCKET, SO_PEERPIDFD, (&mut fd as *mut i32).cast(), &mut len) })
        .map_err(|e| e.context("SO_PEERPIDFD (needs Linux 6.5)"))?;
    if fd < 0 {
        return Err(Error::Internal("SO_PEERPIDFD returned no descriptor".into()));
    }
    // SAFETY: the kernel installed a new descriptor (close-on-exec) for us.
    Ok(unsafe { sys::owned(fd) })
}
