//! memfd: an anonymous file in memory, with seals that freeze its size or contents.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt};

bitflags! {
    /// Options for [`MemFd::create`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MemFdFlags: u32 {
        /// Seals can be added (`MFD_ALLOW_SEALING`).
        const ALLOW_SEALING = 1 << 0;
        /// Not executable, sealed so (`MFD_NOEXEC_SEAL`; implies sealing is allowed).
        const NOEXEC_SEAL = 1 << 1;
        /// Executable (`MFD_EXEC`).
        const EXEC = 1 << 2;
        /// Backed by huge pages (`MFD_HUGETLB`).
        const HUGETLB = 1 << 3;
    }
}

bitflags! {
    /// `F_SEAL_*`, same bit values as the kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Seals: u32 {
        const SEAL = 0x01;
        const SHRINK = 0x02;
        const GROW = 0x04;
        const WRITE = 0x08;
        const FUTURE_WRITE = 0x10;
        const EXEC = 0x20;
    }
}

/// The longest name the kernel takes (`NAME_MAX` minus the `memfd:` prefix).
pub(crate) const NAME_MAX: usize = 249;

#[derive(Debug)]
pub struct MemFd {
    fd: OwnedFd,
}

impl MemFd {
    /// Creates a memfd. `huge_page_log2`: with [`MemFdFlags::HUGETLB`], the huge page size as
    /// its base-2 logarithm (21 for 2 MiB), or 0 for the default; the kernel refuses a size
    /// the machine does not have.
    pub fn create(name: &CStr, flags: MemFdFlags, huge_page_log2: u32) -> Result<MemFd> {
        if name.to_bytes().len() > NAME_MAX {
            return Err(Error::invalid(format!("memfd name of {} bytes; at most {NAME_MAX}", name.to_bytes().len())));
        }
        if flags.contains(MemFdFlags::EXEC | MemFdFlags::NOEXEC_SEAL) {
            return Err(Error::invalid("EXEC and NOEXEC_SEAL contradict each other"));
        }
        // memfd_create(2) reads the size's logarithm from the bits MFD_HUGE_MASK << MFD_HUGE_SHIFT.
        if huge_page_log2 > libc::MFD_HUGE_MASK {
            return Err(Error::invalid(format!("huge page size 2^{huge_page_log2} is beyond what memfd_create can name")));
        }
        if huge_page_log2 != 0 && !flags.contains(MemFdFlags::HUGETLB) {
            return Err(Error::invalid("a huge page size needs HUGETLB"));
        }
        let mut raw = libc::MFD_CLOEXEC | huge_page_log2 << libc::MFD_HUGE_SHIFT;
        for (flag, bits) in [
            (MemFdFlags::ALLOW_SEALING, libc::MFD_ALLOW_SEALING),
            (MemFdFlags::NOEXEC_SEAL, 0x0008),
            (MemFdFlags::EXEC, 0x0010),
            (MemFdFlags::HUGETLB, libc::MFD_HUGETLB),
        ] {
            if flags.contains(flag) {
                raw |= bits;
            }
        }
        // SAFETY: NUL-terminated name; new descriptor on success.
        let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), raw) }).map_err(|e| e.context("memfd_create"))?;
        Ok(MemFd { fd: unsafe { sys::owned(fd) } })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        let link = std::fs::read_link(sys::proc_fd_path(fd.as_raw_fd()))
            .map_err(|e| Error::from(e).context("reading /proc/thread-self/fd"))?;
        if !link.to_string_lossy().starts_with("/memfd:") || sys::file_type(fd)? != libc::S_IFREG {
            return Err(Error::invalid(format!("descriptor {} is not a memfd", fd.as_raw_fd())));
        }
        Ok(())
    }

    pub fn from_fd(fd: OwnedFd) -> MemFd {
        MemFd { fd }
    }

    pub fn add_seals(&self, seals: Seals) -> Result<()> {
        // SAFETY: fcntl on our descriptor.
        cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_ADD_SEALS, seals.bits() as i32) })
            .map_err(|e| e.context("F_ADD_SEALS"))?;
        Ok(())
    }

    pub fn seals(&self) -> Result<Seals> {
        // SAFETY: fcntl query on our descriptor.
        let bits = cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GET_SEALS) })?;
        Ok(Seals::from_bits_retain(bits as u32))
    }
}

fd_object!(MemFd, Kind::MemFd, WriteGuard::None);
