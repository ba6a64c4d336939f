//! Descriptors of kinds fdsafe has no type for, held as generic handles.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::error::Result;
use crate::handles::{Kind, fd_object};
use crate::sys;

/// Any open descriptor: read, write, wait, duplicate, pass, borrow, release and close.
#[derive(Debug)]
pub struct Generic {
    fd: OwnedFd,
}

impl Generic {
    /// Any open descriptor qualifies.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        sys::check_open(fd.as_raw_fd())
    }

    pub fn from_fd(fd: OwnedFd) -> Generic {
        Generic { fd }
    }
}

fd_object!(Generic, Kind::Other);
