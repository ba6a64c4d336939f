//! Regular files (and directories as bases for relative opens).

use std::ffi::{c_char, c_int, c_void, CStr};

use super::kinds::parse_flags;
use super::{call, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Guard, Handle, Kind};
use crate::kinds::file::{self, File, FileFlags, Resolve};

/// `fdsafe_file_open` flag: open for reading.
pub const FDSAFE_FILE_READ: u32 = 1 << 0;
/// Open for writing.
pub const FDSAFE_FILE_WRITE: u32 = 1 << 1;
/// Every write goes to the end of the file (`O_APPEND`; implies writing).
pub const FDSAFE_FILE_APPEND: u32 = 1 << 2;
/// Create the file if it does not exist (`O_CREAT`), with `mode`.
pub const FDSAFE_FILE_CREATE: u32 = 1 << 3;
/// With `FDSAFE_FILE_CREATE`: fail with `-EEXIST` if the path exists (`O_EXCL`). With
/// `FDSAFE_FILE_TMPFILE`: the file can never be linked into the file system.
pub const FDSAFE_FILE_EXCLUSIVE: u32 = 1 << 4;
/// Truncate an existing file to length 0 (`O_TRUNC`).
pub const FDSAFE_FILE_TRUNCATE: u32 = 1 << 5;
/// `O_TMPFILE`: `path` names a directory and the new file has no name; needs
/// `FDSAFE_FILE_WRITE`. It disappears when the last descriptor closes.
pub const FDSAFE_FILE_TMPFILE: u32 = 1 << 6;
/// Fail with `-ELOOP` if the last path component is a symbolic link (`O_NOFOLLOW`).
pub const FDSAFE_FILE_NOFOLLOW: u32 = 1 << 7;
/// Open in non-blocking mode (`O_NONBLOCK`).
pub const FDSAFE_FILE_NONBLOCK: u32 = 1 << 8;
/// Open a directory (`O_DIRECTORY`, read-only), for use as the base of `fdsafe_file_open_at`.
pub const FDSAFE_FILE_DIRECTORY: u32 = 1 << 9;

/// `fdsafe_file_open_at` resolve flag: refuse to cross mount points (`RESOLVE_NO_XDEV`).
pub const FDSAFE_RESOLVE_NO_XDEV: u32 = 0x01;
/// Refuse `/proc` magic links (`RESOLVE_NO_MAGICLINKS`).
pub const FDSAFE_RESOLVE_NO_MAGICLINKS: u32 = 0x02;
/// Refuse every symbolic link (`RESOLVE_NO_SYMLINKS`).
pub const FDSAFE_RESOLVE_NO_SYMLINKS: u32 = 0x04;
/// The path must stay beneath the directory: absolute paths, `..` above it and symbolic links
/// leading out give `-EXDEV` (`RESOLVE_BENEATH`).
pub const FDSAFE_RESOLVE_BENEATH: u32 = 0x08;
/// Treat the directory as the root: `/` and `..` stop at it (`RESOLVE_IN_ROOT`).
pub const FDSAFE_RESOLVE_IN_ROOT: u32 = 0x10;

/// `fdsafe_file_sync` flag: flush only the data and the metadata needed to read it back
/// (`fdatasync`).
pub const FDSAFE_FILE_SYNC_DATA: u32 = 1 << 0;

/// `fdsafe_file_seek` origin: from the start of the file.
pub const FDSAFE_SEEK_SET: c_int = 0;
/// From the current position.
pub const FDSAFE_SEEK_CUR: c_int = 1;
/// From the end of the file.
pub const FDSAFE_SEEK_END: c_int = 2;
/// To the next data at or after `offset` (`SEEK_DATA`).
pub const FDSAFE_SEEK_DATA: c_int = 3;
/// To the next hole at or after `offset` (`SEEK_HOLE`).
pub const FDSAFE_SEEK_HOLE: c_int = 4;

/// A NUL-terminated string from C; NULL is refused.
pub(crate) fn c_str<'a>(text: *const c_char, name: &str) -> Result<&'a CStr> {
    if text.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL; the caller vouches for a NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(text) })
}

/// A NUL-terminated path from C; NULL and "" are refused.
pub(crate) fn c_path<'a>(path: *const c_char, name: &str) -> Result<&'a CStr> {
    let path = c_str(path, name)?;
    if path.is_empty() {
        return Err(Error::invalid(format!("{name} is empty")));
    }
    Ok(path)
}

/// A handle whose descriptor is a seekable file: `FDSAFE_KIND_FILE` or `FDSAFE_KIND_MEMFD`.
pub(crate) fn file_like(handle: fdsafe_handle) -> Result<Guard> {
    let guard = handles::get(Handle(handle))?;
    match guard.kind() {
        Kind::File | Kind::MemFd => Ok(guard),
        actual => Err(Error::WrongKind { actual, expected: "a file or memfd" }),
    }
}

fn parse(flags: u32) -> Result<FileFlags> {
    parse_flags::<FileFlags>(flags, "file")
}

/// Opens (or creates) the file at `path` (relative paths start at the working directory) as a
/// handle of kind `FDSAFE_KIND_FILE`, close-on-exec. `flags`: at least one of
/// `FDSAFE_FILE_READ` / `FDSAFE_FILE_WRITE` / `FDSAFE_FILE_APPEND` (or `FDSAFE_FILE_DIRECTORY`
/// alone), plus any of the other `FDSAFE_FILE_*` flags. `mode` (permission bits, at most
/// 07777, reduced by the umask) is used only when a file is created.
///
/// Ownership: the caller owns `*handle_out` and closes it with `fdsafe_close`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty `path`, a NULL `handle_out`,
/// unknown flags, no access mode, `FDSAFE_FILE_EXCLUSIVE` without `FDSAFE_FILE_CREATE` or
/// `FDSAFE_FILE_TMPFILE`, `FDSAFE_FILE_TMPFILE` without writing, mode bits beyond 07777, or
/// a path that is not a regular file or directory (a FIFO, device or socket has its own kind,
/// `fdsafe_fifo_open`, `fdsafe_chardev_open`, `fdsafe_terminal_open`: it is refused before
/// being opened, so a FIFO never blocks here); `-errno` from `open(2)` (`-ENOENT`, `-EEXIST`, `-EACCES`, `-ELOOP` for a symbolic link with
/// `FDSAFE_FILE_NOFOLLOW`, `-EISDIR`, `-ENOTDIR` for a path through a non-directory or
/// `FDSAFE_FILE_DIRECTORY` on a file, `-EOPNOTSUPP` if the file system lacks `O_TMPFILE`...).
/// Opening a regular file does not block. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_open(path: *const c_char, flags: u32, mode: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_file_open", || {
        let (path, flags, out) = (c_path(path, "path")?, parse(flags)?, Out::new(handle_out, "handle_out")?);
        out.write(handles::insert(Box::new(File::open(None, path, flags, mode)?))?.0);
        Ok(0)
    })
}

/// Opens `path` relative to the directory handle `dir` (a file handle opened with
/// `FDSAFE_FILE_DIRECTORY`), like `fdsafe_file_open`. With `resolve` 0 this is `openat(2)`;
/// otherwise `openat2(2)` with the `FDSAFE_RESOLVE_*` limits, e.g. `FDSAFE_RESOLVE_BENEATH`
/// to keep the lookup inside `dir`.
///
/// Ownership: the caller owns `*handle_out`; `dir` stays the caller's.
/// Errors: those of `fdsafe_file_open`; `-EBADF` for a dead `dir`; `FDSAFE_E_WRONG_KIND` if
/// `dir` is not a file handle; `FDSAFE_E_INVALID_ARGUMENT` for unknown resolve bits;
/// `-ENOTDIR` if `dir` is not a directory; `-EXDEV` when the path would leave `dir` under
/// `FDSAFE_RESOLVE_BENEATH`; `-ELOOP` for a symbolic link under
/// `FDSAFE_RESOLVE_NO_SYMLINKS`; `-EAGAIN` from `openat2` if a concurrent rename raced the
/// lookup (retry). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_open_at(
    dir: fdsafe_handle,
    path: *const c_char,
    flags: u32,
    mode: u32,
    resolve: u32,
    handle_out: *mut fdsafe_handle,
) -> c_int {
    call("fdsafe_file_open_at", || {
        let (path, flags, out) = (c_path(path, "path")?, parse(flags)?, Out::new(handle_out, "handle_out")?);
        let resolve = parse_flags::<Resolve>(resolve, "resolve")?;
        let dir = get_as::<File>(Handle(dir), "a file handle for a directory")?;
        let file = if resolve.is_empty() {
            File::open(Some(handles::Object::as_fd(&*dir)), path, flags, mode)?
        } else {
            File::open2(handles::Object::as_fd(&*dir), path, flags, mode, resolve)?
        };
        out.write(handles::insert(Box::new(file))?.0);
        Ok(0)
    })
}

/// Reads up to `len` bytes at `offset` (`pread(2)`), leaving the file position alone.
/// Works on file and memfd handles. Returns the bytes read (0 at or beyond the end).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for other kinds; `FDSAFE_E_INVALID_ARGUMENT` for
/// a NULL `buf` with `len > 0`, a `len` above `SSIZE_MAX` or a negative `offset`; `-EISDIR`
/// for a directory; `-EINTR`. Thread safety: any thread (positioned I/O shares no position).
#[no_mangle]
pub extern "C" fn fdsafe_file_pread(handle: fdsafe_handle, buf: *mut c_void, len: usize, offset: i64) -> i64 {
    call("fdsafe_file_pread", || {
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let guard = file_like(handle)?;
        Ok(file::pread(guard.object().as_fd(), buf, offset)? as i64)
    })
}

/// Writes up to `len` bytes at `offset` (`pwrite(2)`), leaving the file position alone (on a
/// file opened with `FDSAFE_FILE_APPEND` the kernel appends instead). Works on file and memfd
/// handles. Returns the bytes written.
///
/// Errors: as `fdsafe_file_pread`, plus `-EBADF` (from the kernel) if the file is not open
/// for writing, `-EPERM` for a memfd sealed against writing or growing, `-EFBIG`, `-ENOSPC`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_pwrite(handle: fdsafe_handle, buf: *const c_void, len: usize, offset: i64) -> i64 {
    call("fdsafe_file_pwrite", || {
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        let guard = file_like(handle)?;
        Ok(file::pwrite(guard.object().as_fd(), buf, offset)? as i64)
    })
}

/// Moves the file position (`lseek(2)`): `whence` is one of `FDSAFE_SEEK_*`. Returns the new
/// position. Works on file and memfd handles; the position is shared with duplicates.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for an unknown
/// `whence`; `-EINVAL` (from the kernel) for a resulting negative position; `-ENXIO` for
/// `FDSAFE_SEEK_DATA`/`FDSAFE_SEEK_HOLE` beyond the end. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_seek(handle: fdsafe_handle, offset: i64, whence: c_int) -> i64 {
    call("fdsafe_file_seek", || {
        if !(FDSAFE_SEEK_SET..=FDSAFE_SEEK_HOLE).contains(&whence) {
            return Err(Error::invalid(format!("whence {whence} is not an FDSAFE_SEEK_* value")));
        }
        file::seek(file_like(handle)?.object().as_fd(), offset, whence)
    })
}

/// The size of the file in bytes (`fstat(2)` `st_size`). Works on file and memfd handles.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_size(handle: fdsafe_handle) -> i64 {
    call("fdsafe_file_size", || Ok(file::size(file_like(handle)?.object().as_fd())? as i64))
}

/// Sets the file's length (`ftruncate(2)`): cuts it, or extends it with zeros. Returns 0.
/// Works on file and memfd handles.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a negative
/// `length`; `-EINVAL` (from the kernel) if the file is not open for writing; `-EPERM` for a
/// memfd sealed against shrinking or growing. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_truncate(handle: fdsafe_handle, length: i64) -> c_int {
    call("fdsafe_file_truncate", || {
        file::truncate(file_like(handle)?.object().as_fd(), length)?;
        Ok(0)
    })
}

/// Flushes the file to stable storage: `fsync(2)`, or `fdatasync(2)` with
/// `FDSAFE_FILE_SYNC_DATA`. Returns 0. Blocks until the device confirms; not interrupted by
/// signals.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags;
/// `-EIO` and other write-back errors from the kernel. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_sync(handle: fdsafe_handle, flags: u32) -> c_int {
    call("fdsafe_file_sync", || {
        if flags & !FDSAFE_FILE_SYNC_DATA != 0 {
            return Err(Error::invalid(format!("unknown sync flag bits {:#x}", flags & !FDSAFE_FILE_SYNC_DATA)));
        }
        file::sync(file_like(handle)?.object().as_fd(), flags & FDSAFE_FILE_SYNC_DATA != 0)?;
        Ok(0)
    })
}
