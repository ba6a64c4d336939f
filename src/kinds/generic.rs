//! Descriptors of kinds fdsafe has no type for, held as generic handles.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::Result;
use crate::sys;

/// Any open descriptor: read, write, wait, duplicate, pass, borrow, release and close. The
/// type lives with the handle table, which stores it inline (see [`crate::handles::Stored`]).
pub use crate::handles::PlainFd as Generic;

/// Any open descriptor qualifies.
pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
    sys::check_open(fd.as_raw_fd())
}
