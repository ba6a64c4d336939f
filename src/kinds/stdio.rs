//! Standard input, output and error as handles.
//!
//! A stdio handle owns a close-on-exec duplicate of the stream (numbered 3 or above), so
//! closing it never closes descriptors 0, 1 or 2. On request, closing it also points the
//! stream itself at `/dev/null`: the number stays taken, so a later `open` can never land on
//! descriptor 1 and receive the program's `printf` output.

use std::mem::ManuallyDrop;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, Object};
use crate::sys::{self, cvt};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Input = 0,
    Output = 1,
    Error = 2,
}

impl Stream {
    pub fn from_fd_number(n: i32) -> Option<Stream> {
        match n {
            0 => Some(Stream::Input),
            1 => Some(Stream::Output),
            2 => Some(Stream::Error),
            _ => None,
        }
    }
}

bitflags! {
    /// Options for [`Stdio::open`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct StdioFlags: u32 {
        /// When the handle is closed, point the stream itself at `/dev/null`.
        const CLOSE_STREAM = 1 << 0;
    }
}

#[derive(Debug)]
pub struct Stdio {
    /// Our duplicate of the stream; closed when dropped (see `Drop`), or handed over by
    /// `into_fd`.
    fd: ManuallyDrop<OwnedFd>,
    /// With `CLOSE_STREAM`: the stream to point at `/dev/null` when dropped.
    close_stream: Option<Stream>,
    /// Whether a handle owns a descriptor number (the caller's table, asked again at the
    /// redirect).
    number_held: fn(RawFd) -> bool,
}

/// Held while a standard stream's number may change owner through fdsafe: an adoption of 0,
/// 1 or 2 (see [`stream_number_guard`]), and a `CLOSE_STREAM` redirect, which must not point
/// the number at `/dev/null` just as an adoption makes it a handle's.
static STREAM_NUMBERS: Mutex<()> = Mutex::new(());

/// For an adoption of `fd`: holds [`STREAM_NUMBERS`] if `fd` is 0, 1 or 2.
pub fn stream_number_guard(fd: RawFd) -> Option<MutexGuard<'static, ()>> {
    Stream::from_fd_number(fd).map(|_| STREAM_NUMBERS.lock().unwrap_or_else(|p| p.into_inner()))
}

impl Drop for Stdio {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and `self.fd` is never used again.
        let duplicate = unsafe { ManuallyDrop::take(&mut self.fd) };
        let Some(stream) = self.close_stream else { return };
        // Never waits (a drop may run inside any fdsafe call): while an adoption of a stream
        // number is under way, the stream is left as it is.
        let _held = match STREAM_NUMBERS.try_lock() {
            Ok(held) => held,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if !(self.number_held)(stream as i32) {
            redirect_to_null(stream, duplicate);
        }
    }
}

/// Points `stream` at `/dev/null`, if its number still names the open file that `duplicate`
/// (our own duplicate of it) shares, and closes `duplicate`. Once the program has closed the
/// stream (or adopted it into a handle and closed that), the number may be another file's,
/// or another handle's (the caller checks that), even a copy of the stream's own open file
/// (`pidfd_getfd`, a received one): replacing that would redirect a live handle to
/// `/dev/null`, so it is left alone.
fn redirect_to_null(stream: Stream, duplicate: OwnedFd) {
    if !same_open_file(stream as i32, duplicate.as_raw_fd()) {
        return;
    }
    // SAFETY: open returns a new descriptor of ours, or -1.
    let open_null = || cvt(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) }).map(|fd| unsafe { sys::owned(fd) });
    let mut null = open_null();
    if matches!(&null, Err(e) if matches!(e.errno(), Some(libc::EMFILE | libc::ENFILE))) {
        // At the descriptor limit: our duplicate, which nothing else uses, makes the room.
        drop(duplicate);
        null = open_null();
    }
    if let Ok(null) = null {
        // SAFETY: dup2 onto a standard stream number that names the stream's file (above).
        unsafe { libc::dup2(null.as_raw_fd(), stream as i32) };
    }
}

/// Whether two descriptor numbers of this process name one open file: `kcmp(KCMP_FILE)`, or
/// where the kernel lacks it, the same device and inode (which may take two opens of one
/// file for one).
fn same_open_file(a: RawFd, b: RawFd) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp only compares two of this process's descriptors.
    let pid = unsafe { libc::getpid() } as libc::c_long;
    match unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a as libc::c_long, b as libc::c_long) } {
        0 => true,
        r if r > 0 => false,
        _ => {
            let (a, b) = unsafe { (BorrowedFd::borrow_raw(a), BorrowedFd::borrow_raw(b)) };
            match (sys::fstat(a), sys::fstat(b)) {
                (Ok(x), Ok(y)) => (x.st_dev, x.st_ino, x.st_rdev) == (y.st_dev, y.st_ino, y.st_rdev),
                _ => false,
            }
        }
    }
}

impl Stdio {
    /// A handle's object for `stream`. `number_held` says whether a handle owns a descriptor
    /// number: such a number is no standard stream any more (the program closed the stream
    /// and the handle's descriptor took its number), so it is refused here, and left alone
    /// by the redirect.
    pub fn open(stream: Stream, flags: StdioFlags, number_held: fn(RawFd) -> bool) -> Result<Stdio> {
        // SAFETY: the standard stream is borrowed only for the duplication.
        let original = unsafe { BorrowedFd::borrow_raw(stream as i32) };
        sys::check_open(stream as i32)?;
        if number_held(stream as i32) {
            return Err(Error::invalid(format!(
                "descriptor {} belongs to a live handle, not to the standard stream (the stream was closed and the handle's descriptor took its number)",
                stream as i32
            )));
        }
        let fd = sys::dup_cloexec(original).map_err(|e| e.context(format!("duplicating standard stream {}", stream as i32)))?;
        let close_stream = flags.contains(StdioFlags::CLOSE_STREAM).then_some(stream);
        Ok(Stdio { fd: ManuallyDrop::new(fd), close_stream, number_held })
    }

    /// Any open descriptor can be treated as a standard stream.
    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        sys::check_open(fd.as_raw_fd())
    }

    pub fn from_fd(fd: OwnedFd) -> Stdio {
        Stdio { fd: ManuallyDrop::new(fd), close_stream: None, number_held: |_| false }
    }

    /// Whether the stream is a terminal.
    pub fn is_terminal(&self) -> bool {
        // SAFETY: isatty only queries our descriptor.
        unsafe { libc::isatty(self.fd.as_raw_fd()) == 1 }
    }
}

impl AsFd for Stdio {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Object for Stdio {
    fn kind(&self) -> Kind {
        Kind::Stdio
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        // Released: the caller now decides about the stream, so no redirect (no Drop).
        let mut this = ManuallyDrop::new(*self);
        // SAFETY: taken once; `this` is never dropped.
        unsafe { ManuallyDrop::take(&mut this.fd) }
    }
}

/// Returns an error unless `n` names a standard stream.
pub fn stream(n: i32) -> Result<Stream> {
    Stream::from_fd_number(n).ok_or_else(|| Error::invalid(format!("{n} is not a standard stream (0, 1 or 2)")))
}

