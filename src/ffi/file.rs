//! Regular files (and directories as bases for relative opens).

use std::ffi::{c_char, c_int, c_void, CStr};

use super::kinds::{map_flags, parse_flags};
use super::{call, fdsafe_handle, in_slice, out_slice, Out, FDSAFE_NONBLOCK, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Guard, Handle, Kind};
use crate::kinds::file::{self, File, FileFlags, Resolve};

/// Open flag: open for reading only (`O_RDONLY`). The `FDSAFE_O_*` values equal the
/// kernel's; the open functions of files, FIFOs, character devices, terminals and message
/// queues take them, with `FDSAFE_NONBLOCK` (`O_NONBLOCK`).
pub const FDSAFE_O_RDONLY: u32 = 0;
/// Open flag: open for writing only (`O_WRONLY`).
pub const FDSAFE_O_WRONLY: u32 = 0x1;
/// Open flag: open for reading and writing (`O_RDWR`).
pub const FDSAFE_O_RDWR: u32 = 0x2;
/// Create the file if it does not exist (`O_CREAT`), with `mode`.
pub const FDSAFE_O_CREAT: u32 = 0x40;
/// With `FDSAFE_O_CREAT`: fail with `-EEXIST` if the path exists (`O_EXCL`). With
/// `FDSAFE_O_TMPFILE`: the file can never be linked into the file system.
pub const FDSAFE_O_EXCL: u32 = 0x80;
/// Truncate an existing file to length 0 (`O_TRUNC`).
pub const FDSAFE_O_TRUNC: u32 = 0x200;
/// Every write goes to the end of the file (`O_APPEND`).
pub const FDSAFE_O_APPEND: u32 = 0x400;
/// Open a directory (`O_DIRECTORY`, read-only), for use as the base of `fdsafe_file_open_at`.
pub const FDSAFE_O_DIRECTORY: u32 = 0x1_0000;
/// Fail with `-ELOOP` if the last path component is a symbolic link (`O_NOFOLLOW`).
pub const FDSAFE_O_NOFOLLOW: u32 = 0x2_0000;
/// Accepted and always in force: every descriptor fdsafe opens is close-on-exec (`O_CLOEXEC`).
/// Every call that makes a descriptor and takes flags accepts it, under the name the kernel
/// gives it there, all of this value: `EFD_CLOEXEC`, `TFD_CLOEXEC`, `SFD_CLOEXEC`,
/// `IN_CLOEXEC`, `SOCK_CLOEXEC` (in flags, not in a type), `O_CLOEXEC` for pipes and pidfds.
/// (`MFD_CLOEXEC` has another value: it is `FDSAFE_MEMFD_CLOEXEC`.)
pub const FDSAFE_O_CLOEXEC: u32 = 0x8_0000;
/// Accepted and always in force by the opens of terminals, character devices and FIFOs and by
/// `fdsafe_pty_open`: opening never makes a terminal the caller's controlling terminal
/// (`O_NOCTTY`; `fdsafe_terminal_spawn` gives a child its terminal on purpose).
pub const FDSAFE_O_NOCTTY: u32 = 0x100;
/// `O_TMPFILE`: `path` names a directory and the new file has no name; needs
/// `FDSAFE_O_WRONLY` or `FDSAFE_O_RDWR`. It disappears when the last descriptor closes.
pub const FDSAFE_O_TMPFILE: u32 = 0x41_0000;

mod kernel_values {
    use super::*;
    const _: () = assert!(FDSAFE_O_RDONLY == libc::O_RDONLY as u32 && FDSAFE_O_WRONLY == libc::O_WRONLY as u32);
    const _: () = assert!(FDSAFE_O_RDWR == libc::O_RDWR as u32 && FDSAFE_O_CREAT == libc::O_CREAT as u32);
    const _: () = assert!(FDSAFE_O_EXCL == libc::O_EXCL as u32 && FDSAFE_O_TRUNC == libc::O_TRUNC as u32);
    const _: () = assert!(FDSAFE_O_APPEND == libc::O_APPEND as u32 && FDSAFE_O_DIRECTORY == libc::O_DIRECTORY as u32);
    const _: () = assert!(FDSAFE_O_NOFOLLOW == libc::O_NOFOLLOW as u32 && FDSAFE_O_CLOEXEC == libc::O_CLOEXEC as u32);
    const _: () = assert!(FDSAFE_O_TMPFILE == libc::O_TMPFILE as u32 && FDSAFE_O_NOCTTY == libc::O_NOCTTY as u32);
    // The kernel's other CLOEXEC flags that FDSAFE_O_CLOEXEC stands for.
    const _: () = assert!(FDSAFE_O_CLOEXEC == libc::EFD_CLOEXEC as u32 && FDSAFE_O_CLOEXEC == libc::TFD_CLOEXEC as u32);
    const _: () = assert!(FDSAFE_O_CLOEXEC == libc::SFD_CLOEXEC as u32 && FDSAFE_O_CLOEXEC == libc::IN_CLOEXEC as u32);
    const _: () = assert!(FDSAFE_O_CLOEXEC == libc::SOCK_CLOEXEC as u32);
    const _: () = assert!(FDSAFE_RESOLVE_NO_XDEV == 0x01 && FDSAFE_RESOLVE_IN_ROOT == 0x10); // linux/openat2.h
    const _: () = assert!(FDSAFE_SEEK_SET == libc::SEEK_SET && FDSAFE_SEEK_CUR == libc::SEEK_CUR);
    const _: () = assert!(FDSAFE_SEEK_END == libc::SEEK_END && FDSAFE_SEEK_DATA == libc::SEEK_DATA);
    const _: () = assert!(FDSAFE_SEEK_HOLE == libc::SEEK_HOLE);
    const _: () = assert!(FDSAFE_FALLOC_KEEP_SIZE == libc::FALLOC_FL_KEEP_SIZE && FDSAFE_FALLOC_PUNCH_HOLE == libc::FALLOC_FL_PUNCH_HOLE);
    const _: () = assert!(FDSAFE_FALLOC_ZERO_RANGE == libc::FALLOC_FL_ZERO_RANGE);
    const _: () = assert!(FDSAFE_STATX_BTIME == libc::STATX_BTIME);
}

/// The access mode of open flags (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) as (read, write).
pub(crate) fn access_mode(flags: u32) -> Result<(bool, bool)> {
    match flags & 3 {
        FDSAFE_O_RDONLY => Ok((true, false)),
        FDSAFE_O_WRONLY => Ok((false, true)),
        FDSAFE_O_RDWR => Ok((true, true)),
        _ => Err(Error::invalid("access mode 3 is not O_RDONLY, O_WRONLY or O_RDWR")),
    }
}

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

/// `fdsafe_file_sync` flag (fdsafe-only, see `FDSAFE_OWN_FLAG`): flush only the data and
/// the metadata needed to read it back (`fdatasync`).
pub const FDSAFE_FILE_SYNC_DATA: u32 = FDSAFE_OWN_FLAG | (1 << 9);

/// `fdsafe_file_allocate` mode: allocate without changing the file size
/// (`FALLOC_FL_KEEP_SIZE`). The `FDSAFE_FALLOC_*` values are the kernel's.
pub const FDSAFE_FALLOC_KEEP_SIZE: c_int = 0x01;
/// Deallocate the range, which then reads as zeros (`FALLOC_FL_PUNCH_HOLE`); needs
/// `FDSAFE_FALLOC_KEEP_SIZE`.
pub const FDSAFE_FALLOC_PUNCH_HOLE: c_int = 0x02;
/// Make the range read as zeros, allocated (`FALLOC_FL_ZERO_RANGE`).
pub const FDSAFE_FALLOC_ZERO_RANGE: c_int = 0x10;

/// `fdsafe_file_status.mask` bit: the file system filled `btime_sec`/`btime_nsec`
/// (`STATX_BTIME`).
pub const FDSAFE_STATX_BTIME: u32 = 0x800;

/// A file's status (`statx(2)`), filled by `fdsafe_file_stat`. Times are seconds and
/// nanoseconds since the epoch.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_file_status {
    /// The kernel's `STATX_*` bits of the fields filled (`FDSAFE_STATX_BTIME` for the birth
    /// time).
    pub mask: u32,
    /// File type and permission bits, as `st_mode`.
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// The preferred I/O block size.
    pub blksize: u32,
    pub ino: u64,
    /// The size in bytes.
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// Last access, modification, status change and birth, in seconds; `btime_sec` (and
    /// `btime_nsec`) 0 unless `mask` has `FDSAFE_STATX_BTIME`.
    pub atime_sec: i64,
    pub mtime_sec: i64,
    pub ctime_sec: i64,
    pub btime_sec: i64,
    /// The nanoseconds of each time.
    pub atime_nsec: u32,
    pub mtime_nsec: u32,
    pub ctime_nsec: u32,
    pub btime_nsec: u32,
}

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

/// The kernel's `O_LARGEFILE`, which `fcntl(F_GETFL)` reports on every open of a 64-bit
/// process (where glibc defines `O_LARGEFILE` as 0, as it is always in force): accepted and
/// ignored, so that flags read back from a descriptor can be passed again.
#[cfg(target_arch = "x86_64")]
const KERNEL_O_LARGEFILE: u32 = 0o100000;
#[cfg(target_arch = "aarch64")]
const KERNEL_O_LARGEFILE: u32 = 0o400000;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const KERNEL_O_LARGEFILE: u32 = libc::O_LARGEFILE as u32;

fn parse(flags: u32) -> Result<FileFlags> {
    let (read, write) = access_mode(flags)?;
    let mut parsed = map_flags(
        flags & !3,
        &[
            // First: O_TMPFILE includes O_DIRECTORY's bit.
            (FDSAFE_O_TMPFILE, FileFlags::TMPFILE),
            (FDSAFE_O_CREAT, FileFlags::CREATE),
            (FDSAFE_O_EXCL, FileFlags::EXCLUSIVE),
            (FDSAFE_O_TRUNC, FileFlags::TRUNCATE),
            (FDSAFE_O_APPEND, FileFlags::APPEND),
            (FDSAFE_O_DIRECTORY, FileFlags::DIRECTORY),
            (FDSAFE_O_NOFOLLOW, FileFlags::NOFOLLOW),
            (FDSAFE_NONBLOCK, FileFlags::NONBLOCK),
            (FDSAFE_O_CLOEXEC, FileFlags::empty()),
            (FDSAFE_O_NOCTTY, FileFlags::empty()),
            (KERNEL_O_LARGEFILE, FileFlags::empty()),
        ],
        "file open",
    )?;
    if parsed.contains(FileFlags::APPEND) && !write {
        // The core reads APPEND as a write mode; the kernel would open read-only.
        return Err(Error::invalid("O_APPEND needs O_WRONLY or O_RDWR"));
    }
    if parsed.contains(FileFlags::TRUNCATE) && !write {
        // Linux empties the file all the same (POSIX leaves it undefined): a read-only open
        // that destroys what it was meant to read is refused, as Python's keyword form is.
        return Err(Error::invalid("O_TRUNC needs O_WRONLY or O_RDWR"));
    }
    parsed.set(FileFlags::READ, read);
    parsed.set(FileFlags::WRITE, write);
    Ok(parsed)
}

/// Opens (or creates) the file at `path` (relative paths start at the working directory) as a
/// handle of kind `FDSAFE_KIND_FILE`, close-on-exec; a memfd reached by path (its
/// `/proc/self/fd/N` or `/proc/PID/fd/N`) gives a handle of kind `FDSAFE_KIND_MEMFD`, on
/// which the seal calls work, and a message queue reached through a mounted mqueue file
/// system (`mount -t mqueue`) one of kind `FDSAFE_KIND_MQUEUE`. `flags`, as for `open(2)` (the kernel's
/// values): `FDSAFE_O_RDONLY`, `FDSAFE_O_WRONLY` or `FDSAFE_O_RDWR`, plus any of
/// `FDSAFE_O_CREAT`, `FDSAFE_O_EXCL`, `FDSAFE_O_TRUNC`, `FDSAFE_O_APPEND`, `FDSAFE_O_TMPFILE`,
/// `FDSAFE_O_NOFOLLOW`, `FDSAFE_O_DIRECTORY`, `FDSAFE_NONBLOCK`, `FDSAFE_O_CLOEXEC` and
/// `FDSAFE_O_NOCTTY` (both always in force), and the kernel's `O_LARGEFILE` bit that
/// `fcntl(F_GETFL)` reports (always in force too). `mode` (permission bits, at most
/// 07777, reduced by the umask) is used only when a file is created. With `FDSAFE_O_CREAT |
/// FDSAFE_O_EXCL` an existing path of any type gives `-EEXIST`, as `open(2)` says.
///
/// Ownership: the caller owns `*handle_out` and closes it with `fdsafe_close`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty `path`, a NULL `handle_out`,
/// other flags (`O_SYNC`, `O_PATH`...), access mode 3, `FDSAFE_O_EXCL` without
/// `FDSAFE_O_CREAT` or `FDSAFE_O_TMPFILE`, `FDSAFE_O_TMPFILE`, `FDSAFE_O_APPEND` or
/// `FDSAFE_O_TRUNC` without writing, mode bits beyond 07777, or
/// a path that is not a regular file or directory (a FIFO, device or socket has its own kind,
/// `fdsafe_fifo_open`, `fdsafe_chardev_open`, `fdsafe_terminal_open`: it is refused before
/// being opened; should the path change between that check and the open, the open is made
/// with `O_NONBLOCK` and `O_NOCTTY`, so a FIFO never blocks here and a terminal never becomes
/// the controlling one, and what was opened is checked and refused alike); `-errno` from `open(2)` (`-ENOENT`, `-EEXIST`, `-EACCES`, `-ELOOP` for a symbolic link with
/// `FDSAFE_O_NOFOLLOW`, `-EISDIR`, `-ENOTDIR` for a path through a non-directory or
/// `FDSAFE_O_DIRECTORY` on a file, `-EOPNOTSUPP` if the file system lacks `O_TMPFILE`,
/// `-EMFILE`...).
/// Opening a regular file does not block, but waits, as `open(2)` does, for a lease another
/// process holds on it to be broken. Without `FDSAFE_NONBLOCK` the handle is in blocking mode.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_open(path: *const c_char, flags: u32, mode: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_file_open", || {
        let (path, flags, out) = (c_path(path, "path")?, parse(flags)?, Out::new(handle_out, "handle_out")?);
        out.write(handles::insert(File::open(None, path, flags, mode)?.into_object())?.0);
        Ok(0)
    })
}

/// Opens `path` relative to the directory handle `dir` (a file handle opened with
/// `FDSAFE_O_DIRECTORY`), like `fdsafe_file_open`. With `resolve` 0 this is `openat(2)`;
/// otherwise `openat2(2)` with the `FDSAFE_RESOLVE_*` limits, e.g. `FDSAFE_RESOLVE_BENEATH`
/// to keep the lookup inside `dir`. The type check looks up the path under the same limits
/// (with `O_PATH`, which opens nothing), so it judges the file the open reaches: under
/// `FDSAFE_RESOLVE_IN_ROOT`, `"/dev/null"` is the root's own file, and a path that leaves
/// `dir` under `FDSAFE_RESOLVE_BENEATH` is `-EXDEV` whatever lies outside.
///
/// Ownership: the caller owns `*handle_out`; `dir` stays the caller's.
/// Errors: those of `fdsafe_file_open`; `-EBADF` for a dead `dir`; `FDSAFE_E_WRONG_KIND` if
/// `dir` is not a file handle; `FDSAFE_E_INVALID_ARGUMENT` for unknown resolve bits;
/// `-ENOTDIR` if `dir` is not a directory and `path` is relative (an absolute path does not
/// look at `dir`, as for `openat(2)`); `-EXDEV` when the path would leave `dir` under
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
        out.write(handles::insert(file.into_object())?.0);
        Ok(0)
    })
}

/// Reads up to `len` bytes at `offset` (`pread(2)`), leaving the file position alone.
/// Works on file and memfd handles. Returns the bytes read (0 at or beyond the end).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for other kinds; `FDSAFE_E_INVALID_ARGUMENT` for
/// a NULL `buf` with `len > 0`, a `len` above `SSIZE_MAX` or a negative `offset`; `-EISDIR`
/// for a directory; `-EINVAL` (from the kernel) when `offset + len` passes the largest file
/// offset; `-EINTR`. Thread safety: any thread (positioned I/O shares no position).
#[no_mangle]
pub extern "C" fn fdsafe_file_pread(handle: fdsafe_handle, buf: *mut c_void, len: usize, offset: i64) -> i64 {
    call("fdsafe_file_pread", || {
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let guard = file_like(handle)?;
        Ok(file::pread(guard.object().as_fd(), buf, offset)? as i64)
    })
}

/// Writes up to `len` bytes at `offset` (`pwrite(2)`), leaving the file position alone (on a
/// file opened with `FDSAFE_O_APPEND` the kernel appends instead). Works on file and memfd
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
/// `length`; `-EINVAL` (from the kernel) if the file is not open for writing; `-EFBIG` beyond
/// the largest size the file system or `RLIMIT_FSIZE` allows; `-EPERM` for a
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
        let data_only = super::kinds::single_flag(flags, FDSAFE_FILE_SYNC_DATA, "sync")?;
        file::sync(file_like(handle)?.object().as_fd(), data_only)?;
        Ok(0)
    })
}

/// Allocates or frees the `len` bytes at `offset` (`fallocate(2)`): `mode` 0 reserves the
/// blocks (growing the file if the range ends beyond it); `FDSAFE_FALLOC_KEEP_SIZE` reserves
/// without changing the size; `FDSAFE_FALLOC_PUNCH_HOLE | FDSAFE_FALLOC_KEEP_SIZE` frees them
/// (they read as zeros); `FDSAFE_FALLOC_ZERO_RANGE` (optionally with
/// `FDSAFE_FALLOC_KEEP_SIZE`) makes them read as zeros. Works on file and memfd handles.
/// Returns 0.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown mode
/// bits, a negative `offset` or a `len` that is not positive; `-EOPNOTSUPP` if the file
/// system lacks the mode (tmpfs has no zero range) or for a hole without keep-size;
/// `-EBADF` (from the kernel) if the file is not open for writing; `-EISDIR` for a
/// directory; `-EPERM` for a memfd sealed against writing or growing; `-ENOSPC`; `-EFBIG`;
/// `-EINTR`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_allocate(handle: fdsafe_handle, mode: c_int, offset: i64, len: i64) -> c_int {
    call("fdsafe_file_allocate", || {
        file::check_allocate(mode, offset, len)?; // bad arguments first, as every function
        file::allocate(file_like(handle)?.object().as_fd(), mode, offset, len)?;
        Ok(0)
    })
}

/// Sets the file's permission bits (`fchmod(2)`): `mode` at most 07777. Works on file and
/// memfd handles. Returns 0.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for bits beyond
/// 07777; `-EPERM` if the caller does not own the file; `-EROFS`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_chmod(handle: fdsafe_handle, mode: u32) -> c_int {
    call("fdsafe_file_chmod", || {
        file::check_mode(mode)?; // bad arguments first, as every function
        file::chmod(file_like(handle)?.object().as_fd(), mode)?;
        Ok(0)
    })
}

/// Sets the file's owner and group (`fchown(2)`); `UINT32_MAX` (`(uid_t)-1`) leaves that one
/// unchanged. Works on file and memfd handles. Returns 0.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-EPERM` without the right to give the file
/// away; `-EINVAL` (from the kernel) for an id with no mapping in the user namespace;
/// `-EROFS`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_chown(handle: fdsafe_handle, uid: u32, gid: u32) -> c_int {
    call("fdsafe_file_chown", || {
        file::chown(file_like(handle)?.object().as_fd(), uid, gid)?;
        Ok(0)
    })
}

/// Fills `*stat_out` with the file's status (`statx(2)` on the descriptor: type and mode,
/// links, owner, size, blocks, device numbers, times, and the birth time where the file
/// system keeps one). Works on file and memfd handles. Returns 0.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `stat_out`; `-ENOSYS` or `-EPERM` where `statx(2)` is missing or filtered (seccomp).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_file_stat(handle: fdsafe_handle, stat_out: *mut fdsafe_file_status) -> c_int {
    call("fdsafe_file_stat", || {
        let out = Out::new(stat_out, "stat_out")?;
        let st = file::status(file_like(handle)?.object().as_fd())?;
        out.write(fdsafe_file_status {
            mask: st.mask,
            mode: st.mode,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            blksize: st.blksize,
            ino: st.ino,
            size: st.size,
            blocks: st.blocks,
            dev_major: st.dev_major,
            dev_minor: st.dev_minor,
            rdev_major: st.rdev_major,
            rdev_minor: st.rdev_minor,
            atime_sec: st.atime.0,
            atime_nsec: st.atime.1,
            mtime_sec: st.mtime.0,
            mtime_nsec: st.mtime.1,
            ctime_sec: st.ctime.0,
            ctime_nsec: st.ctime.1,
            btime_sec: st.btime.0,
            btime_nsec: st.btime.1,
        });
        Ok(0)
    })
}
