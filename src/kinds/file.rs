//! Regular files and directories opened by path, with positioned I/O, size, truncate and sync.
//! Also the checked-open helper that FIFOs and character devices use: open with `O_PATH`
//! (no side effects), check the file type, then reopen through `/proc/thread-self/fd` with the real
//! flags, so nothing that is not of the expected type is ever really opened.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, Object, WriteGuard, fd_object};
use crate::kinds::memfd::MemFd;
use crate::kinds::mqueue::MessageQueue;
use crate::sys::{self, cvt};

bitflags! {
    /// How [`File::open`] opens a file.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FileFlags: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const APPEND = 1 << 2;
        const CREATE = 1 << 3;
        const EXCLUSIVE = 1 << 4;
        const TRUNCATE = 1 << 5;
        /// `O_TMPFILE`: the path names a directory; the new file has no name.
        const TMPFILE = 1 << 6;
        /// `O_NOFOLLOW`: fail with `ELOOP` if the last component is a symbolic link.
        const NOFOLLOW = 1 << 7;
        const NONBLOCK = 1 << 8;
        /// `O_DIRECTORY`: open a directory (for use as the base of `open_at`).
        const DIRECTORY = 1 << 9;
    }
}

bitflags! {
    /// `openat2` resolution limits (`RESOLVE_*`), same bit values as the kernel.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Resolve: u32 {
        const NO_XDEV = 0x01;
        const NO_MAGICLINKS = 0x02;
        const NO_SYMLINKS = 0x04;
        const BENEATH = 0x08;
        const IN_ROOT = 0x10;
    }
}

/// The kernel's `struct open_how` for `openat2`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// A regular file or a directory.
#[derive(Debug)]
pub struct File {
    fd: OwnedFd,
}

/// Translates [`FileFlags`] into `open(2)` flags, always with `O_CLOEXEC`.
pub fn open_flags(flags: FileFlags) -> Result<i32> {
    let access = match (flags.contains(FileFlags::READ), flags.contains(FileFlags::WRITE) || flags.contains(FileFlags::APPEND)) {
        (true, true) => libc::O_RDWR,
        (false, true) => libc::O_WRONLY,
        (true, false) => libc::O_RDONLY,
        (false, false) if flags.contains(FileFlags::DIRECTORY) => libc::O_RDONLY,
        (false, false) => return Err(Error::invalid("neither READ nor WRITE was asked for")),
    };
    if flags.contains(FileFlags::TMPFILE) && access == libc::O_RDONLY {
        return Err(Error::invalid("TMPFILE needs WRITE (an unnamed read-only file is useless)"));
    }
    if flags.contains(FileFlags::EXCLUSIVE) && !flags.intersects(FileFlags::CREATE | FileFlags::TMPFILE) {
        return Err(Error::invalid("EXCLUSIVE without CREATE or TMPFILE"));
    }
    let mut o = access | libc::O_CLOEXEC;
    for (flag, bits) in [
        (FileFlags::APPEND, libc::O_APPEND),
        (FileFlags::CREATE, libc::O_CREAT),
        (FileFlags::EXCLUSIVE, libc::O_EXCL),
        (FileFlags::TRUNCATE, libc::O_TRUNC),
        (FileFlags::TMPFILE, libc::O_TMPFILE),
        (FileFlags::NOFOLLOW, libc::O_NOFOLLOW),
        (FileFlags::NONBLOCK, libc::O_NONBLOCK),
        (FileFlags::DIRECTORY, libc::O_DIRECTORY),
    ] {
        if flags.contains(flag) {
            o |= bits;
        }
    }
    Ok(o)
}

pub fn check_mode(mode: u32) -> Result<()> {
    if mode & !0o7777 != 0 {
        return Err(Error::invalid(format!("mode {mode:#o} has bits beyond 07777")));
    }
    Ok(())
}

/// A file handle's writes are not guarded against `SIGPIPE` and its opens never wait for a
/// peer, so a path to a FIFO, device or socket is refused before it is opened (opening a FIFO
/// would wait for the other end). A path that does not exist yet is fine.
fn refuse_special_path(base: RawFd, path: &CStr, flags: FileFlags) -> Result<()> {
    if creates_only(flags) {
        return Ok(());
    }
    let follow = if flags.contains(FileFlags::NOFOLLOW) { libc::AT_SYMLINK_NOFOLLOW } else { 0 };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: NUL-terminated path; fstatat fills the struct on success.
    if unsafe { libc::fstatat(base, path.as_ptr(), st.as_mut_ptr(), follow) } != 0 {
        return Ok(()); // missing (or unreadable): the open itself says what is wrong
    }
    match unsafe { st.assume_init() }.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK => Ok(()),
        _ => Err(special(path)),
    }
}

/// `O_CREAT | O_EXCL` opens nothing that exists: the kernel makes a new regular file or says
/// `EEXIST` (for a FIFO or device there too, as `open(2)` does, which a lock-file's creator
/// tests for), so there is nothing special to refuse first.
fn creates_only(flags: FileFlags) -> bool {
    flags.contains(FileFlags::CREATE | FileFlags::EXCLUSIVE)
}

fn special(path: &CStr) -> Error {
    Error::invalid(format!(
        "{} is not a regular file or directory (use fdsafe_fifo_open, fdsafe_chardev_open or fdsafe_terminal_open)",
        path.to_string_lossy()
    ))
}

/// `openat2`'s type check: `O_PATH` opens nothing for real (no FIFO rendezvous, no device
/// open), and it resolves the path under the same `RESOLVE_*` limits as the open will, so a
/// path is judged by the file the open would reach, never by one outside the limits.
fn refuse_special_path_resolved(dir: RawFd, path: &CStr, flags: FileFlags, resolve: Resolve) -> Result<()> {
    if creates_only(flags) {
        return Ok(());
    }
    let nofollow = if flags.contains(FileFlags::NOFOLLOW) { libc::O_NOFOLLOW } else { 0 };
    let how = OpenHow { flags: (libc::O_PATH | libc::O_CLOEXEC | nofollow) as u32 as u64, mode: 0, resolve: resolve.bits() as u64 };
    // SAFETY: openat2 reads `how` (its exact size given) and the NUL-terminated path.
    let probe = unsafe { libc::syscall(libc::SYS_openat2, dir, path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>()) };
    if probe < 0 {
        return Ok(()); // missing, or refused by the limits: the open itself says what is wrong
    }
    // SAFETY: a new descriptor of ours.
    let probe = unsafe { sys::owned(probe as RawFd) };
    match sys::file_type(probe.as_fd())? {
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK => Ok(()),
        _ => Err(special(path)),
    }
}

impl File {
    /// Opens `path` (relative to the working directory, or to `dir` if given).
    pub fn open(dir: Option<BorrowedFd<'_>>, path: &CStr, flags: FileFlags, mode: u32) -> Result<File> {
        check_mode(mode)?;
        let oflags = open_flags(flags)?;
        let base = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
        refuse_special_path(base, path, flags)?;
        File::open_checked_type(oflags, path, |oflags| {
            // SAFETY: NUL-terminated path; openat returns a new descriptor on success.
            cvt(unsafe { libc::openat(base, path.as_ptr(), oflags, mode as libc::c_uint) })
                .map(|fd| unsafe { sys::owned(fd) })
                .map_err(|e| e.context(format!("opening {}", path.to_string_lossy())))
        })
    }

    /// Runs `open` with `oflags` plus `O_NOCTTY` (a file handle never takes a controlling
    /// terminal) and, unless the caller asked for it, `O_NONBLOCK`, which is cleared again once
    /// the descriptor is known to be a regular file or directory. The path was checked before,
    /// but it can change between the check and the open: what is opened is checked again, and
    /// without `O_NONBLOCK` a FIFO put there meanwhile would make the open wait for a peer. On
    /// a regular file `O_NONBLOCK` changes one thing at open, a lease another process holds
    /// gives `EAGAIN` instead of waiting for the lease to be broken: that open is made again,
    /// waiting, as asked.
    fn open_checked_type(oflags: i32, path: &CStr, open: impl Fn(i32) -> Result<OwnedFd>) -> Result<File> {
        if oflags & libc::O_NONBLOCK != 0 {
            return File::checked(open(oflags | libc::O_NOCTTY)?, path);
        }
        let fd = match open(oflags | libc::O_NOCTTY | libc::O_NONBLOCK) {
            Err(Error::Os { errno: libc::EAGAIN, .. }) => return File::checked(open(oflags | libc::O_NOCTTY)?, path),
            opened => opened?,
        };
        let file = File::checked(fd, path)?;
        // SAFETY: fcntl on our own descriptor.
        unsafe {
            let status = cvt(libc::fcntl(file.fd.as_raw_fd(), libc::F_GETFL))?;
            cvt(libc::fcntl(file.fd.as_raw_fd(), libc::F_SETFL, status & !libc::O_NONBLOCK))?;
        }
        Ok(file)
    }

    /// Keeps `fd` only if it is a regular file or a directory: a FIFO, device or socket opened
    /// through a path that changed after [`refuse_special_path`] looked is closed and refused.
    fn checked(fd: OwnedFd, path: &CStr) -> Result<File> {
        File::verify(fd.as_fd()).map_err(|_| special(path))?;
        Ok(File { fd })
    }

    /// Opens `path` relative to `dir` with `openat2`, limited by `resolve`.
    pub fn open2(dir: BorrowedFd<'_>, path: &CStr, flags: FileFlags, mode: u32, resolve: Resolve) -> Result<File> {
        check_mode(mode)?;
        let oflags = open_flags(flags)?;
        refuse_special_path_resolved(dir.as_raw_fd(), path, flags, resolve)?;
        let creating = flags.intersects(FileFlags::CREATE | FileFlags::TMPFILE);
        File::open_checked_type(oflags, path, |oflags| {
            let how = OpenHow { flags: oflags as u32 as u64, mode: if creating { mode as u64 } else { 0 }, resolve: resolve.bits() as u64 };
            // SAFETY: openat2 reads `how` (its exact size given) and the NUL-terminated path.
            cvt(unsafe {
                libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>())
            })
            .map(|fd| unsafe { sys::owned(fd as RawFd) })
            .map_err(|e| e.context(format!("openat2 {}", path.to_string_lossy())))
        })
    }

    /// Regular files and directories.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::file_type(fd)? {
            libc::S_IFREG | libc::S_IFDIR => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not a regular file or directory", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> File {
        File { fd }
    }

    /// The object a handle should hold for this open file: a memfd reached by path (e.g.
    /// `/proc/self/fd/N` of a memfd) keeps its memfd kind, so its seal calls work, and a
    /// message queue reached through a mounted mqueue filesystem (whose queues `fstat` calls
    /// regular files) is a message queue; anything else stays a file. Costs one `fstatfs`
    /// per open (and a `readlink` on tmpfs).
    pub fn into_object(self) -> Box<dyn Object> {
        match crate::kinds::detect::kind_reached_by_path(self.fd.as_fd()) {
            Some(Kind::MemFd) => Box::new(MemFd::from_fd(self.fd)),
            Some(Kind::MessageQueue) => Box::new(MessageQueue::from_fd(self.fd)),
            _ => Box::new(self),
        }
    }
}

/// Positioned read (`pread`): does not move the file position.
pub fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], offset: i64) -> Result<usize> {
    check_offset(offset)?;
    // SAFETY: the buffer is valid for its length.
    let n = cvt(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), offset) })?;
    Ok(n as usize)
}

/// Positioned write (`pwrite`): does not move the file position. (With `O_APPEND` the kernel
/// appends regardless of `offset`.)
pub fn pwrite(fd: BorrowedFd<'_>, buf: &[u8], offset: i64) -> Result<usize> {
    check_offset(offset)?;
    // SAFETY: the buffer is valid for its length.
    let n = cvt(unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), offset) })?;
    Ok(n as usize)
}

fn check_offset(offset: i64) -> Result<()> {
    if offset < 0 {
        return Err(Error::invalid(format!("offset {offset} is negative")));
    }
    Ok(())
}

/// `lseek`; returns the new position.
pub fn seek(fd: BorrowedFd<'_>, offset: i64, whence: i32) -> Result<i64> {
    // SAFETY: lseek on a borrowed descriptor.
    cvt(unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) })
}

pub fn size(fd: BorrowedFd<'_>) -> Result<u64> {
    Ok(sys::fstat(fd)?.st_size as u64)
}

pub fn truncate(fd: BorrowedFd<'_>, len: i64) -> Result<()> {
    check_offset(len)?;
    // SAFETY: ftruncate on a borrowed descriptor.
    cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) })?;
    Ok(())
}

/// `fsync`, or `fdatasync` when `data_only`.
pub fn sync(fd: BorrowedFd<'_>, data_only: bool) -> Result<()> {
    // SAFETY: plain calls on a borrowed descriptor.
    cvt(unsafe { if data_only { libc::fdatasync(fd.as_raw_fd()) } else { libc::fsync(fd.as_raw_fd()) } })?;
    Ok(())
}

/// The `fallocate` modes [`allocate`] passes on (the kernel's `FALLOC_FL_*` values).
pub const ALLOCATE_MODES: i32 = libc::FALLOC_FL_KEEP_SIZE | libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_ZERO_RANGE;

/// Refuses what [`allocate`] does not take: other modes, a negative offset, a length that
/// is not positive.
pub fn check_allocate(mode: i32, offset: i64, len: i64) -> Result<()> {
    if mode & !ALLOCATE_MODES != 0 {
        return Err(Error::invalid(format!("unknown fallocate mode bits {:#x}", mode & !ALLOCATE_MODES)));
    }
    check_offset(offset)?;
    if len <= 0 {
        return Err(Error::invalid(format!("length {len}: fallocate needs a positive length")));
    }
    Ok(())
}

/// `fallocate(2)`: reserves (mode 0, or `FALLOC_FL_KEEP_SIZE` without growing the file),
/// punches a hole (`FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`) or zeroes
/// (`FALLOC_FL_ZERO_RANGE`) `len` bytes at `offset`. A file system without the mode answers
/// `EOPNOTSUPP`.
pub fn allocate(fd: BorrowedFd<'_>, mode: i32, offset: i64, len: i64) -> Result<()> {
    check_allocate(mode, offset, len)?;
    // SAFETY: fallocate on a borrowed descriptor.
    cvt(unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset, len) }).map_err(|e| e.context(format!("fallocate mode {mode:#x}")))?;
    Ok(())
}

/// `fchmod(2)`: sets the permission bits (at most 07777).
pub fn chmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    check_mode(mode)?;
    // SAFETY: fchmod on a borrowed descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) })?;
    Ok(())
}

/// `fchown(2)`: sets the owner and group; `u32::MAX` (`(uid_t)-1`) leaves one unchanged.
pub fn chown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<()> {
    // SAFETY: fchown on a borrowed descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })?;
    Ok(())
}

/// A file's status from `statx(2)` (`AT_EMPTY_PATH`, the basic fields and the birth time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The `STATX_*` bits of the fields the file system filled.
    pub mask: u32,
    /// File type and permission bits (`st_mode`).
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub blksize: u32,
    pub ino: u64,
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// (seconds, nanoseconds) since the epoch.
    pub atime: (i64, u32),
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    /// (0, 0) unless `mask` has `STATX_BTIME`.
    pub btime: (i64, u32),
}

/// `statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME)`.
pub fn status(fd: BorrowedFd<'_>) -> Result<Status> {
    let mut sx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: empty NUL-terminated path with AT_EMPTY_PATH; statx fills the struct on success.
    cvt(unsafe {
        libc::statx(fd.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_BASIC_STATS | libc::STATX_BTIME, sx.as_mut_ptr())
    })
    .map_err(|e| e.context("statx"))?;
    // SAFETY: zero-initialised, then filled by statx.
    let sx = unsafe { sx.assume_init() };
    let time = |t: libc::statx_timestamp| (t.tv_sec, t.tv_nsec);
    let btime = if sx.stx_mask & libc::STATX_BTIME != 0 { time(sx.stx_btime) } else { (0, 0) };
    Ok(Status {
        mask: sx.stx_mask,
        mode: sx.stx_mode as u32,
        nlink: sx.stx_nlink,
        uid: sx.stx_uid,
        gid: sx.stx_gid,
        blksize: sx.stx_blksize,
        ino: sx.stx_ino,
        size: sx.stx_size,
        blocks: sx.stx_blocks,
        dev_major: sx.stx_dev_major,
        dev_minor: sx.stx_dev_minor,
        rdev_major: sx.stx_rdev_major,
        rdev_minor: sx.stx_rdev_minor,
        atime: time(sx.stx_atime),
        mtime: time(sx.stx_mtime),
        ctime: time(sx.stx_ctime),
        btime,
    })
}

/// Opens `path` only if `verify` accepts it (a FIFO, a character device...): first with
/// `O_PATH` (which opens nothing for real: no FIFO rendezvous, no device open), then, once
/// `verify` agrees, again through `/proc/thread-self/fd/N` with `oflags` (plus `O_CLOEXEC`).
/// `what` names the expected type in the error.
pub fn open_checked(path: &CStr, oflags: i32, verify: fn(BorrowedFd<'_>) -> Result<()>, what: &str) -> Result<OwnedFd> {
    // SAFETY: NUL-terminated path; new descriptor on success.
    let probe = cvt(unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) })
        .map_err(|e| e.context(format!("opening {}", path.to_string_lossy())))?;
    let probe = unsafe { sys::owned(probe) };
    if verify(probe.as_fd()).is_err() {
        return Err(Error::invalid(format!("{} is not {what}", path.to_string_lossy())));
    }
    let reopen = std::ffi::CString::new(sys::proc_fd_path(probe.as_raw_fd()))
        .map_err(|_| Error::Internal("descriptor path with NUL".into()))?;
    // SAFETY: as above.
    let fd = cvt(unsafe { libc::open(reopen.as_ptr(), oflags | libc::O_CLOEXEC) })
        .map_err(|e| e.context(format!("opening {}", path.to_string_lossy())))?;
    Ok(unsafe { sys::owned(fd) })
}

fd_object!(File, Kind::File, WriteGuard::None);
