//! `MSG_ZEROCOPY` completions. After opting in (`SO_ZEROCOPY`), each send with
//! `MSG_ZEROCOPY` that returns success is numbered, from 0 per socket, in order. The kernel
//! reports finished sends on the socket's error queue as ranges of those numbers; until a
//! send's number is reported, its buffer must not be changed or freed.

use std::os::fd::AsRawFd;

use super::Socket;
use crate::error::{Error, Result};
use crate::sys::cvt;

const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// A range of completed zero-copy sends, `first..=last`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    pub first: u32,
    pub last: u32,
    /// The kernel copied the data instead (always so on loopback).
    pub copied: bool,
}

/// Reads completions from the error queue without waiting; stops at `max` or when the queue
/// is empty. An error-queue message that is not a zero-copy notification (an ICMP error on
/// UDP, say) ends the batch with that error's errno.
pub fn completions(socket: &Socket, max: usize) -> Result<Vec<Completion>> {
    let mut out = Vec::new();
    while out.len() < max {
        let mut control = [0u64; 16];
        // SAFETY: zeroed msghdr; no data buffer; a 128-byte aligned control buffer.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let r = cvt(unsafe {
            libc::recvmsg(socket.fd().as_raw_fd(), &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC)
        });
        match r {
            Ok(_) => {}
            Err(Error::Os { errno: libc::EAGAIN, .. }) => break,
            Err(e) => return Err(e.context("recvmsg MSG_ERRQUEUE")),
        }
        // SAFETY: walking control messages the kernel wrote.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let level = (*cmsg).cmsg_level;
                let ty = (*cmsg).cmsg_type;
                let is_recverr = (level == libc::SOL_IP && ty == libc::IP_RECVERR)
                    || (level == libc::SOL_IPV6 && ty == libc::IPV6_RECVERR);
                if is_recverr {
                    let ee = libc::CMSG_DATA(cmsg).cast::<libc::sock_extended_err>().read_unaligned();
                    if ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY {
                        out.push(Completion { first: ee.ee_info, last: ee.ee_data, copied: ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED != 0 });
                    } else if ee.ee_errno != 0 {
                        return if out.is_empty() { Err(Error::from_errno(ee.ee_errno as i32).context("error queue")) } else { Ok(out) };
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
    }
    Ok(out)
}
