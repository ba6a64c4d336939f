//! Character devices opened by path (`/dev/null`, `/dev/zero`, `/dev/urandom`...).

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::handles::{Kind, fd_object};
use crate::kinds::fifo::EndFlags;
use crate::kinds::file::open_checked;
use crate::sys;

#[derive(Debug)]
pub struct CharDevice {
    fd: OwnedFd,
}

impl CharDevice {
    /// Opens a character device; anything else is refused without being opened. Never makes
    /// a terminal the controlling terminal (`O_NOCTTY`).
    /// A terminal or an attached TUN device is refused (and closed again): each has a kind
    /// of its own, opened by `fdsafe_terminal_open` or `fdsafe_tun_open`.
    pub fn open(path: &CStr, flags: EndFlags) -> Result<CharDevice> {
        let fd = open_checked(path, flags.oflags()?, CharDevice::verify, "a character device")?;
        let kind = crate::kinds::detect::detect(fd.as_fd())?;
        if kind != Kind::CharDevice {
            return Err(Error::invalid(format!("{} is a {}, which has a kind of its own", path.to_string_lossy(), kind.name())));
        }
        Ok(CharDevice { fd })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        if sys::file_type(fd)? != libc::S_IFCHR {
            return Err(Error::invalid(format!("descriptor {} is not a character device", fd.as_raw_fd())));
        }
        Ok(())
    }

    pub fn from_fd(fd: OwnedFd) -> CharDevice {
        CharDevice { fd }
    }
}

/// The major and minor device numbers of a device descriptor (`st_rdev`).
pub fn numbers(fd: BorrowedFd<'_>) -> Result<(u32, u32)> {
    let rdev = sys::fstat(fd)?.st_rdev;
    Ok((libc::major(rdev), libc::minor(rdev)))
}

fd_object!(CharDevice, Kind::CharDevice);
