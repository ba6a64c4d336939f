//! FIFOs (named pipes) and device nodes: create them at a path, open a FIFO's ends.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, fd_object};
use crate::kinds::file::open_checked;
use crate::sys::{self, cvt};

bitflags! {
    /// Options for opening a FIFO or a character device.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EndFlags: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const NONBLOCK = 1 << 2;
    }
}

impl EndFlags {
    /// The `open(2)` flags, with `O_NOCTTY` and (by [`open_checked`]) `O_CLOEXEC`.
    pub fn oflags(self) -> Result<i32> {
        let access = match (self.contains(EndFlags::READ), self.contains(EndFlags::WRITE)) {
            (true, true) => libc::O_RDWR,
            (true, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (false, false) => return Err(Error::invalid("neither READ nor WRITE was asked for")),
        };
        let nonblock = if self.contains(EndFlags::NONBLOCK) { libc::O_NONBLOCK } else { 0 };
        Ok(access | nonblock | libc::O_NOCTTY)
    }
}

/// The type of node [`mknod`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    Fifo,
    Char,
    Block,
}

fn check_mode(mode: u32) -> Result<()> {
    if mode & !0o7777 != 0 {
        return Err(Error::invalid(format!("mode {mode:#o} has bits beyond 07777 (the type is a separate argument)")));
    }
    Ok(())
}

/// Creates a FIFO at `path`. If the path exists and `reuse` is set, an existing FIFO is
/// accepted (returns `false`: not created); anything else there gives `EEXIST`.
pub fn create(path: &CStr, mode: u32, reuse: bool) -> Result<bool> {
    check_mode(mode)?;
    // SAFETY: NUL-terminated path.
    match cvt(unsafe { libc::mkfifo(path.as_ptr(), mode as libc::mode_t) }) {
        Ok(_) => Ok(true),
        Err(Error::Os { errno: libc::EEXIST, .. }) if reuse => {
            let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
            // SAFETY: lstat fills the struct on success.
            cvt(unsafe { libc::lstat(path.as_ptr(), st.as_mut_ptr()) })
                .map_err(|e| e.context(format!("checking {}", path.to_string_lossy())))?;
            if unsafe { st.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFIFO {
                Ok(false)
            } else {
                Err(Error::Os { errno: libc::EEXIST, context: Some(format!("{} exists and is not a FIFO", path.to_string_lossy()).into()) })
            }
        }
        Err(e) => Err(e.context(format!("mkfifo {}", path.to_string_lossy()))),
    }
}

/// `mknod(2)`: a FIFO, or a character or block device node (needs `CAP_MKNOD`).
pub fn mknod(path: &CStr, node: NodeType, mode: u32, major: u32, minor: u32) -> Result<()> {
    check_mode(mode)?;
    let kind = match node {
        NodeType::Fifo if major != 0 || minor != 0 => return Err(Error::invalid("a FIFO has no device numbers")),
        NodeType::Fifo => libc::S_IFIFO,
        NodeType::Char => libc::S_IFCHR,
        NodeType::Block => libc::S_IFBLK,
    };
    let dev = libc::makedev(major, minor);
    // SAFETY: NUL-terminated path.
    cvt(unsafe { libc::mknod(path.as_ptr(), kind | mode as libc::mode_t, dev) })
        .map_err(|e| e.context(format!("mknod {}", path.to_string_lossy())))?;
    Ok(())
}

/// One end of a FIFO opened by path.
#[derive(Debug)]
pub struct Fifo {
    fd: OwnedFd,
}

impl Fifo {
    /// Opens a FIFO's read or write end; refuses (without opening it) anything that is not a
    /// named FIFO (an anonymous pipe reached through `/proc` too, as adoption refuses it). A
    /// blocking open waits for the other side; a non-blocking write open without a reader
    /// gives `ENXIO`.
    pub fn open(path: &CStr, flags: EndFlags) -> Result<Fifo> {
        let what = "a named FIFO (an anonymous pipe is a pipe)";
        Ok(Fifo { fd: open_checked(path, flags.oflags()?, Fifo::verify, what)? })
    }

    /// A named FIFO (an anonymous pipe is adopted as a pipe instead).
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        let named = sys::file_type(fd)? == libc::S_IFIFO && crate::kinds::detect::is_anonymous_pipe(fd) == Some(false);
        if !named {
            return Err(Error::invalid(format!("descriptor {} is not a named FIFO", fd.as_raw_fd())));
        }
        Ok(())
    }

    pub fn from_fd(fd: OwnedFd) -> Fifo {
        Fifo { fd }
    }
}

fd_object!(Fifo, Kind::Fifo);
