//! FIFOs, device nodes and character devices.

use std::ffi::{c_char, c_int};

use super::file::{access_mode, c_path};
use super::kinds::map_flags;
use super::{call, fdsafe_handle, Out, FDSAFE_NONBLOCK, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, Handle, Kind};
use crate::kinds::chardev::{self, CharDevice};
use crate::kinds::fifo::{self, EndFlags, Fifo, NodeType};

/// `fdsafe_fifo_create` flag (fdsafe-only, see `FDSAFE_OWN_FLAG`): if a FIFO already exists
/// at the path, use it (returns 1) instead of failing with `-EEXIST`.
pub const FDSAFE_FIFO_REUSE: u32 = FDSAFE_OWN_FLAG | (1 << 8);

/// Open flags of FIFOs, character devices and terminals: `FDSAFE_O_RDONLY`, `FDSAFE_O_WRONLY`
/// or `FDSAFE_O_RDWR`, plus `FDSAFE_NONBLOCK` (it stays on after the open; turn it off with
/// `fdsafe_nonblocking_set`), `FDSAFE_O_CLOEXEC` and `FDSAFE_O_NOCTTY` (both always in force).
pub(crate) fn end_flags(flags: u32, what: &str) -> Result<EndFlags> {
    let (read, write) = access_mode(flags)?;
    let mut parsed = map_flags(
        flags & !3,
        &[
            (FDSAFE_NONBLOCK, EndFlags::NONBLOCK),
            (super::file::FDSAFE_O_CLOEXEC, EndFlags::empty()),
            (super::file::FDSAFE_O_NOCTTY, EndFlags::empty()),
        ],
        what,
    )?;
    parsed.set(EndFlags::READ, read);
    parsed.set(EndFlags::WRITE, write);
    Ok(parsed)
}

/// `fdsafe_mknod` type: a FIFO (device numbers must be 0).
pub const FDSAFE_NODE_FIFO: u32 = 0o010000;
/// `fdsafe_mknod` type: a character device node.
pub const FDSAFE_NODE_CHAR: u32 = 0o020000;
/// `fdsafe_mknod` type: a block device node.
pub const FDSAFE_NODE_BLOCK: u32 = 0o060000;
const _: () = assert!(FDSAFE_NODE_FIFO == libc::S_IFIFO && FDSAFE_NODE_CHAR == libc::S_IFCHR && FDSAFE_NODE_BLOCK == libc::S_IFBLK);

/// Creates a FIFO at `path` with permission bits `mode` (at most 07777, reduced by the umask).
/// `flags`: 0, or `FDSAFE_FIFO_REUSE` to accept a FIFO that already exists there.
///
/// Returns 0 if the FIFO was created, 1 if an existing FIFO was reused.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty path, unknown flags or mode bits
/// beyond 07777; `-EEXIST` if the path exists (without `FDSAFE_FIFO_REUSE`, or when it is not
/// a FIFO); other `-errno` from `mkfifo(3)` (`-ENOENT`, `-EACCES`...). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fifo_create(path: *const c_char, mode: u32, flags: u32) -> c_int {
    call("fdsafe_fifo_create", || {
        let path = c_path(path, "path")?;
        let reuse = super::kinds::single_flag(flags, FDSAFE_FIFO_REUSE, "fifo")?;
        Ok(if fifo::create(path, mode, reuse)? { 0 } else { 1 })
    })
}

/// Opens the FIFO at `path` as a handle of kind `FDSAFE_KIND_FIFO` (close-on-exec).
/// `flags`: `FDSAFE_O_RDONLY`, `FDSAFE_O_WRONLY` or `FDSAFE_O_RDWR` (a read-write end, which
/// never waits), plus `FDSAFE_NONBLOCK`. A path that is not a FIFO is refused without being
/// opened (it is inspected through an `O_PATH` descriptor first).
///
/// Blocking: a blocking open waits until the other side is opened too; a signal gives
/// `-EINTR` (not retried). Non-blocking: a read end opens at once; a write end with no reader
/// gives the kernel's `-ENXIO`.
/// Ownership: the caller owns `*handle_out`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty path, a NULL `handle_out`,
/// unknown flags, access mode 3, or a path that is not a named FIFO (an anonymous pipe
/// reached through `/proc/PID/fd/N` included, as `fdsafe_fd_adopt` refuses it as a FIFO);
/// `-ENOENT`; `-ENXIO`;
/// `-EINTR`; other `-errno` from `open(2)`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fifo_open(path: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_fifo_open", || {
        let path = c_path(path, "path")?;
        let flags = end_flags(flags, "fifo open")?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(Fifo::open(path, flags)?))?.0);
        Ok(0)
    })
}

/// Creates a file-system node (`mknod(2)`): `type` is `FDSAFE_NODE_FIFO`,
/// `FDSAFE_NODE_CHAR` or `FDSAFE_NODE_BLOCK` (the kernel's `S_IFIFO`, `S_IFCHR`, `S_IFBLK`); `mode` the permission bits (at most 07777);
/// `major`/`minor` the device numbers (0 for a FIFO). Device nodes need `CAP_MKNOD` (root).
///
/// Returns 0. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty path, an unknown
/// type, mode bits beyond 07777, or device numbers for a FIFO; `-EEXIST`; `-EPERM` without
/// `CAP_MKNOD` (or on a `nodev` mount when opened later); other `-errno` from `mknod(2)`
/// (`-ENOENT` for a missing folder, `-EACCES`...).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_mknod(path: *const c_char, r#type: u32, mode: u32, major: u32, minor: u32) -> c_int {
    call("fdsafe_mknod", || {
        let path = c_path(path, "path")?;
        let node = match r#type {
            FDSAFE_NODE_FIFO => NodeType::Fifo,
            FDSAFE_NODE_CHAR => NodeType::Char,
            FDSAFE_NODE_BLOCK => NodeType::Block,
            other => return Err(Error::invalid(format!("{other} is not an FDSAFE_NODE_* type"))),
        };
        fifo::mknod(path, node, mode, major, minor)?;
        Ok(0)
    })
}

/// Opens the character device at `path` as a handle of kind `FDSAFE_KIND_CHARDEV`
/// (close-on-exec, and never becoming the controlling terminal). `flags`: `FDSAFE_O_RDONLY`,
/// `FDSAFE_O_WRONLY` or `FDSAFE_O_RDWR`, plus `FDSAFE_NONBLOCK`. Anything that is not a character
/// device (a file, a FIFO, a block device) is refused without being opened; a terminal (use
/// `fdsafe_terminal_open`) or an attached TUN device is closed again and refused. Read and
/// write with `fdsafe_read` / `fdsafe_write`.
///
/// Ownership: the caller owns `*handle_out`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty path, a NULL `handle_out`,
/// unknown flags, access mode 3, or a path that is not a character device or is a terminal;
/// `-ENOENT`, `-EACCES`, `-ENXIO` (no such device), other `-errno` from `open(2)`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_chardev_open(path: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_chardev_open", || {
        let path = c_path(path, "path")?;
        let flags = end_flags(flags, "chardev open")?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(CharDevice::open(path, flags)?))?.0);
        Ok(0)
    })
}

/// The device numbers of a character device or terminal handle (`st_rdev`), e.g. 1 and 3
/// for `/dev/null`.
///
/// Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for other kinds;
/// `FDSAFE_E_INVALID_ARGUMENT` for NULL out-pointers. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_chardev_numbers(handle: fdsafe_handle, major_out: *mut u32, minor_out: *mut u32) -> c_int {
    call("fdsafe_chardev_numbers", || {
        let (major_out, minor_out) = (Out::new(major_out, "major_out")?, Out::new(minor_out, "minor_out")?);
        let guard = handles::get(Handle(handle))?;
        if !matches!(guard.kind(), Kind::CharDevice | Kind::Terminal) {
            return Err(Error::WrongKind { actual: guard.kind(), expected: "a character device or terminal" });
        }
        let (major, minor) = chardev::numbers(guard.object().as_fd())?;
        major_out.write(major);
        minor_out.write(minor);
        Ok(0)
    })
}
