//! TUN/TAP devices: `/dev/net/tun` attached to a network interface by name (`TUNSETIFF`).
//! Each read gives one whole packet (IP for TUN, Ethernet for TAP), each write sends one.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::handles::{fd_object, Kind, WriteGuard};
use crate::sys::{self, cvt};

/// `IFNAMSIZ`: an interface name and its NUL.
pub const NAME_MAX: usize = libc::IFNAMSIZ;
/// The `/dev/net/tun` device numbers (10, 200).
const TUN_MAJOR: u32 = 10;
const TUN_MINOR: u32 = 200;

/// The `TUNSETIFF` flags fdsafe passes on (the kernel's values).
pub const ACCEPTED_FLAGS: i32 = libc::IFF_TUN | libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE | libc::IFF_VNET_HDR;

#[derive(Debug)]
pub struct Tun {
    fd: OwnedFd,
    /// Whether `IFF_NO_PI` is in force, when fdsafe opened the device (`None`: adopted). The
    /// kernel cannot say: `TUNGETIFF` adds `IFF_NOFILTER` when no packet filter is attached,
    /// always for a TUN device, and it is the same bit.
    no_packet_info: Option<bool>,
}

/// An `ifreq` holding `name` (empty: the kernel picks `tunN`/`tapN`) and `flags`.
fn ifreq(name: &[u8], flags: i32) -> Result<libc::ifreq> {
    if name.len() >= NAME_MAX || name.contains(&0) || name.contains(&b'/') {
        return Err(Error::invalid(format!("interface name {:?}: at most {} bytes, no NUL or '/'", String::from_utf8_lossy(name), NAME_MAX - 1)));
    }
    // SAFETY: all-zero bytes are a valid ifreq.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    Ok(req)
}

impl Tun {
    /// Opens `/dev/net/tun` (close-on-exec) and attaches it to the interface `name`, made if
    /// it does not exist, with `flags` (`IFF_TUN` or `IFF_TAP`, plus `IFF_NO_PI`,
    /// `IFF_MULTI_QUEUE`, `IFF_VNET_HDR`).
    pub fn open(name: &[u8], flags: i32, nonblock: bool) -> Result<Tun> {
        if flags & !ACCEPTED_FLAGS != 0 {
            return Err(Error::invalid(format!("unknown TUN flag bits {:#x}", flags & !ACCEPTED_FLAGS)));
        }
        if (flags & libc::IFF_TUN != 0) == (flags & libc::IFF_TAP != 0) {
            return Err(Error::invalid("exactly one of IFF_TUN and IFF_TAP"));
        }
        let mut req = ifreq(name, flags)?;
        let mut oflags = libc::O_RDWR | libc::O_CLOEXEC;
        if nonblock {
            oflags |= libc::O_NONBLOCK;
        }
        // SAFETY: a NUL-terminated path; open returns a new descriptor on success.
        let fd = cvt(unsafe { libc::open(c"/dev/net/tun".as_ptr(), oflags) }).map_err(|e| e.context("open /dev/net/tun"))?;
        // SAFETY: a new descriptor we own.
        let tun = Tun { fd: unsafe { sys::owned(fd) }, no_packet_info: Some(flags & libc::IFF_NO_PI != 0) };
        // SAFETY: TUNSETIFF reads and writes one ifreq.
        cvt(unsafe { libc::ioctl(tun.fd.as_raw_fd(), libc::TUNSETIFF, &mut req as *mut libc::ifreq) })
            .map_err(|e| e.context(format!("TUNSETIFF {:?}", String::from_utf8_lossy(name))))?;
        Ok(tun)
    }

    /// The interface's name and flags (`TUNGETIFF`).
    fn get(fd: BorrowedFd<'_>) -> Result<libc::ifreq> {
        // SAFETY: all-zero bytes are a valid ifreq; TUNGETIFF writes one.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNGETIFF, &mut req as *mut libc::ifreq) })
            .map_err(|e| e.context("TUNGETIFF"))?;
        Ok(req)
    }

    /// The name of the interface (without NUL).
    pub fn name(&self) -> Result<Vec<u8>> {
        let req = Tun::get(std::os::fd::AsFd::as_fd(&self.fd))?;
        Ok(req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect())
    }

    /// The flags the interface was attached with (`IFF_TUN`..., and `IFF_PERSIST` when set).
    /// `IFF_NO_PI` as opened; for an adopted descriptor, the kernel's bit, which it also sets
    /// for "no filter" (see `no_packet_info`).
    pub fn flags(&self) -> Result<i32> {
        // SAFETY: TUNGETIFF filled the flags member.
        let reported = i32::from(unsafe { Tun::get(std::os::fd::AsFd::as_fd(&self.fd))?.ifr_ifru.ifru_flags }) & 0xffff;
        Ok(match self.no_packet_info {
            Some(no_pi) => reported & !libc::IFF_NO_PI | if no_pi { libc::IFF_NO_PI } else { 0 },
            None => reported,
        })
    }

    /// Keeps the interface after the last descriptor closes (`TUNSETPERSIST`), or not.
    pub fn set_persist(&self, persist: bool) -> Result<()> {
        // SAFETY: TUNSETPERSIST takes an integer argument.
        cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNSETPERSIST, libc::c_ulong::from(persist)) })
            .map(drop)
            .map_err(|e| e.context("TUNSETPERSIST"))
    }

    /// Checks with the kernel that `fd` is `/dev/net/tun` attached to an interface.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        if !is_tun_device(fd) {
            return Err(Error::invalid(format!("descriptor {} is not /dev/net/tun", fd.as_raw_fd())));
        }
        Tun::get(fd).map(drop).map_err(|_| Error::invalid(format!("descriptor {} is attached to no interface", fd.as_raw_fd())))
    }

    pub fn from_fd(fd: OwnedFd) -> Tun {
        Tun { fd, no_packet_info: None }
    }
}

/// Whether `fd` is the character device `/dev/net/tun` (10, 200).
pub fn is_tun_device(fd: BorrowedFd<'_>) -> bool {
    sys::fstat(fd).is_ok_and(|st| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR && libc::major(st.st_rdev) == TUN_MAJOR && libc::minor(st.st_rdev) == TUN_MINOR
    })
}

// A write to a TUN/TAP device never raises SIGPIPE.
fd_object!(Tun, Kind::Tun, WriteGuard::None);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_flags_are_refused_before_opening() {
        assert!(ifreq(b"0123456789abcdef", 0).is_err());
        assert!(ifreq(b"a/b", 0).is_err());
        assert!(ifreq(b"a\0b", 0).is_err());
        assert!(Tun::open(b"x", libc::IFF_TUN | libc::IFF_TAP, false).is_err());
        assert!(Tun::open(b"x", libc::IFF_NO_PI, false).is_err());
        assert!(Tun::open(b"x", libc::IFF_TUN | 0x0080_0000, false).is_err());
    }
}
