//! UDP extras: multicast membership and batch send/receive (`sendmmsg` / `recvmmsg`).

use std::ffi::CString;
use std::os::fd::AsRawFd;

use super::{Address, RecvFlags, SendFlags, SockAddr, Socket};
use crate::error::{Error, Result};
use crate::sys::cvt;

fn interface_index(name: Option<&str>) -> Result<u32> {
    let Some(name) = name.filter(|n| !n.is_empty()) else { return Ok(0) };
    let c = CString::new(name).map_err(|_| Error::invalid("NUL in interface name"))?;
    // SAFETY: NUL-terminated name.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(Error::last_os().context(format!("interface {name:?}")));
    }
    Ok(index)
}

/// Joins (`join`) or leaves a multicast group on an interface (by name; `None` lets the
/// kernel choose). The group is an IPv4 or IPv6 address without a port, e.g. `239.1.2.3`.
pub fn membership(socket: &Socket, group: &str, interface: Option<&str>, join: bool) -> Result<()> {
    let index = interface_index(interface)?;
    let fd = socket.fd().as_raw_fd();
    if let Ok(ip) = group.parse::<std::net::Ipv4Addr>() {
        if !ip.is_multicast() {
            return Err(Error::invalid(format!("{group} is not a multicast address")));
        }
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: u32::from(ip).to_be() },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: index as i32,
        };
        let name = if join { libc::IP_ADD_MEMBERSHIP } else { libc::IP_DROP_MEMBERSHIP };
        // SAFETY: an ip_mreqn.
        cvt(unsafe { libc::setsockopt(fd, libc::IPPROTO_IP, name, (&mreq as *const libc::ip_mreqn).cast(), std::mem::size_of::<libc::ip_mreqn>() as _) })
            .map_err(|e| e.context(format!("{} {group}", if join { "joining" } else { "leaving" })))?;
        return Ok(());
    }
    if let Ok(ip) = group.parse::<std::net::Ipv6Addr>() {
        if !ip.is_multicast() {
            return Err(Error::invalid(format!("{group} is not a multicast address")));
        }
        let mreq = libc::ipv6_mreq { ipv6mr_multiaddr: libc::in6_addr { s6_addr: ip.octets() }, ipv6mr_interface: index };
        let name = if join { libc::IPV6_ADD_MEMBERSHIP } else { libc::IPV6_DROP_MEMBERSHIP };
        // SAFETY: an ipv6_mreq.
        cvt(unsafe { libc::setsockopt(fd, libc::IPPROTO_IPV6, name, (&mreq as *const libc::ipv6_mreq).cast(), std::mem::size_of::<libc::ipv6_mreq>() as _) })
            .map_err(|e| e.context(format!("{} {group}", if join { "joining" } else { "leaving" })))?;
        return Ok(());
    }
    Err(Error::invalid(format!("group {group:?} is not an IPv4 or IPv6 address (no port)")))
}

/// One datagram of a batch.
pub struct Datagram<'a> {
    pub data: &'a mut [u8],
    /// Send: the destination (`None`: the connected peer). Receive: filled with the source.
    pub addr: Option<SockAddr>,
    /// Receive: bytes received, and whether the datagram was truncated.
    pub received: usize,
    pub truncated: bool,
}

fn headers(batch: &mut [Datagram<'_>], iovs: &mut Vec<libc::iovec>, addrs: &mut [SockAddr]) -> Vec<libc::mmsghdr> {
    iovs.clear();
    for d in batch.iter_mut() {
        iovs.push(libc::iovec { iov_base: d.data.as_mut_ptr().cast(), iov_len: d.data.len() });
    }
    let mut hdrs = Vec::with_capacity(batch.len());
    for (i, d) in batch.iter().enumerate() {
        // SAFETY: zeroed mmsghdr is valid.
        let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
        h.msg_hdr.msg_iov = &mut iovs[i];
        h.msg_hdr.msg_iovlen = 1;
        if let Some(a) = d.addr {
            addrs[i] = a;
            h.msg_hdr.msg_name = addrs[i].as_mut_ptr().cast();
            h.msg_hdr.msg_namelen = a.len;
        }
        hdrs.push(h);
    }
    hdrs
}

/// The most datagrams one `sendmmsg` or `recvmmsg` takes here (the kernel's `UIO_MAXIOV`);
/// callers pass at most this many, and more are neither read nor sent.
pub(crate) const BATCH_MAX: usize = 1024;

/// Sends the datagrams with one `sendmmsg`; returns how many were sent.
pub fn send_batch(socket: &Socket, batch: &mut [Datagram<'_>], flags: SendFlags) -> Result<usize> {
    let taken = batch.len().min(BATCH_MAX);
    let batch = &mut batch[..taken];
    let count = taken as u32;
    let mut iovs = Vec::new();
    let mut addrs = vec![SockAddr::empty(); batch.len()];
    let mut hdrs = headers(batch, &mut iovs, &mut addrs);
    // SAFETY: headers point into live buffers.
    let n = cvt(unsafe { libc::sendmmsg(socket.fd().as_raw_fd(), hdrs.as_mut_ptr(), count, flags.raw()) })
        .map_err(|e| e.context("sendmmsg"))?;
    Ok(n as usize)
}

/// Receives up to `batch.len()` datagrams with one `recvmmsg`; returns how many arrived.
/// Waits for the first unless `DONTWAIT`; never waits for more.
pub fn recv_batch(socket: &Socket, batch: &mut [Datagram<'_>], flags: RecvFlags) -> Result<usize> {
    let taken = batch.len().min(BATCH_MAX);
    let batch = &mut batch[..taken];
    let count = taken as u32;
    for d in batch.iter_mut() {
        d.addr = Some(SockAddr::empty());
    }
    let mut iovs = Vec::new();
    let mut addrs = vec![SockAddr::empty(); batch.len()];
    let mut hdrs = headers(batch, &mut iovs, &mut addrs);
    // SAFETY: headers point into live buffers.
    let n = cvt(unsafe {
        libc::recvmmsg(socket.fd().as_raw_fd(), hdrs.as_mut_ptr(), count, flags.raw() | libc::MSG_WAITFORONE, std::ptr::null_mut())
    })
    .map_err(|e| e.context("recvmmsg"))? as usize;
    for (i, d) in batch.iter_mut().enumerate() {
        if i < n {
            let mut a = addrs[i];
            a.len = hdrs[i].msg_hdr.msg_namelen.min(std::mem::size_of::<libc::sockaddr_storage>() as u32);
            d.addr = Some(a);
            d.received = hdrs[i].msg_len as usize;
            d.truncated = hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        } else {
            d.addr = None;
            d.received = 0;
            d.truncated = false;
        }
    }
    Ok(n)
}

/// Creates a UDP socket bound to `addr`.
pub fn bind(addr: &SockAddr, flags: super::CreateFlags) -> Result<Socket> {
    if matches!(addr.address()?, Address::Path(_) | Address::Abstract(_) | Address::Unnamed) {
        return Err(Error::invalid("UDP needs an IPv4 or IPv6 address"));
    }
    super::bind_inet(crate::handles::Kind::Udp, addr, None, flags)
}
