//! Operations every readable or writable descriptor shares: read, write, vectored I/O and
//! waiting for readiness. Writes never raise `SIGPIPE` (see [`WriteGuard`]).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::handles::{Guard, Handle, Held, OwnerCall, WriteGuard, TABLE};
use crate::sys::{cvt, direct};

#[inline]
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: the buffer is valid for `buf.len()` bytes.
    unsafe { direct::read(fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) }
}

#[inline]
pub fn readv(fd: BorrowedFd<'_>, iov: &[libc::iovec]) -> Result<usize> {
    let count = iov_count(iov)?;
    // SAFETY: the caller vouches for each iovec (the C layer documents it).
    unsafe { direct::readv(fd.as_raw_fd(), iov.as_ptr(), count) }
}

#[inline(always)]
pub fn write(guard: &Guard, buf: &[u8]) -> Result<usize> {
    let iov = [libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() }];
    writev(guard, &iov)
}

/// Inlined into each exported write, so the writes that need no guard (a pipe whose read end
/// the write holds, an eventfd, a file) make their system call from the exported function
/// itself (see [`direct`]) on a path that falls straight through (see `Table::try_get`); the
/// others are out of line.
#[inline(always)]
pub fn writev(guard: &Guard, iov: &[libc::iovec]) -> Result<usize> {
    let count = iov_count(iov)?;
    let raw = guard.raw_fd();
    let partner = guard.write_partner();
    if partner != 0 {
        // A pipe made with its read end: hold the read end (the pipe then has a reader, so the
        // write raises no SIGPIPE) for a write that cannot wait (see `PipeEnd`).
        if let Some(reader_held) = crate::handles::try_get(Handle(partner)) {
            // SAFETY: the iovecs describe readable memory (the C layer documents it); the twin
            // descriptor stays open while the write end's guard lives.
            let ret = unsafe { direct::writev_raw(guard.write_twin(), iov.as_ptr(), count) };
            drop(reader_held);
            let total = if count == 1 { iov[0].iov_len } else { iov_total(iov) };
            // A negative `ret` (an error) is above any total as a usize.
            if ret as usize != total {
                crate::sys::cold_path();
                return finish_pipe_write(raw, ret, iov);
            }
            return Ok(total);
        }
    } else if guard.writes_unguarded() {
        return plain_writev(raw, iov, count);
    }
    crate::sys::cold_path();
    guarded_writev(raw, guard.write_guard(), iov, count)
}

/// What [`owner_write`] returns when it did not write: the caller takes the full path.
pub(crate) const NOT_WRITTEN: isize = isize::MIN;

/// [`write`] on [`crate::handles::Table::owner_call`]'s path (`len` at most `isize::MAX`):
/// the writes that need no guard, with the raw result. [`NOT_WRITTEN`] for a write that needs
/// the full path; then, for a pipe made with its read end, `reader` holds the owner call that
/// held the read end (for the caller to settle, then pass to [`finish_write`]).
///
/// # Safety
/// `buf` is valid for reading `len` bytes.
#[inline(always)]
pub unsafe fn owner_write(held: Held<'_>, buf: *const u8, len: usize, reader: &mut Option<OwnerCall>) -> isize {
    let partner = held.write_partner();
    if partner == 0 {
        // Not rare: the hint only lays the pipe write out to fall straight through after its
        // system call, where a taken branch costs most (see `Table::try_get`). These writes
        // (files, eventfds) jump out and back instead, and measured no slower for it.
        crate::sys::cold_path();
        if held.writes_unguarded() {
            return direct::write_raw(held.fd(), buf, len);
        }
        crate::sys::cold_path();
        return NOT_WRITTEN;
    }
    // A pipe made with its read end: as in `writev`, holding the read end (on the owner's
    // path too), through the non-blocking twin.
    let twin = held.write_twin();
    match TABLE.owner_call(Handle(partner), None, |_| direct::write_raw(twin, buf, len)) {
        Ok(ret) if ret as usize == len => ret,
        other => {
            crate::sys::cold_path();
            *reader = Some(other);
            NOT_WRITTEN
        }
    }
}

/// The full path's end of a pipe write that [`owner_write`] began: `short` is what the
/// non-blocking attempt returned (its settled owner call). A write that wrote everything
/// after all (the read end was being closed meanwhile) is done; otherwise it finishes as
/// `writev` does.
pub fn finish_write(guard: &Guard, short: isize, buf: &[u8]) -> Result<usize> {
    if short as usize == buf.len() {
        return Ok(buf.len());
    }
    let iov = [libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() }];
    finish_pipe_write(guard.raw_fd(), short, &iov)
}

fn iov_total(iov: &[libc::iovec]) -> usize {
    iov.iter().map(|v| v.iov_len).sum()
}

/// The rest of a pipe write whose non-blocking attempt found too little room (`ret` is what it
/// wrote, or `-EAGAIN`; any other error is the answer): as a write of the end itself, in the
/// end's own mode, guarded against `SIGPIPE`, since the read end is no longer held.
#[cold]
#[inline(never)]
fn finish_pipe_write(raw: libc::c_int, ret: isize, iov: &[libc::iovec]) -> Result<usize> {
    let done = match ret {
        n if n >= 0 => n as usize,
        n if n == -(libc::EAGAIN as isize) => 0,
        n => return direct::check(n),
    };
    let rest = skip_bytes(iov, done);
    match SigpipeBlock::run(|| plain_writev(raw, &rest, rest.len() as i32)) {
        Ok(more) => Ok(done + more),
        Err(_) if done > 0 => Ok(done), // what was written counts; the error comes next time
        Err(err) => Err(err),
    }
}

/// `iov` without its first `skip` bytes.
fn skip_bytes(iov: &[libc::iovec], mut skip: usize) -> Vec<libc::iovec> {
    let mut rest = Vec::with_capacity(iov.len());
    for v in iov {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        // SAFETY: `skip` < `iov_len`, so the new start is inside the caller's buffer.
        rest.push(libc::iovec { iov_base: unsafe { v.iov_base.cast::<u8>().add(skip) }.cast(), iov_len: v.iov_len - skip });
        skip = 0;
    }
    rest
}

/// A write that needs a guard: a socket's, or a pipe's whose read end is unknown or closed.
#[cold]
#[inline(never)]
fn guarded_writev(raw: libc::c_int, guard: WriteGuard, iov: &[libc::iovec], count: i32) -> Result<usize> {
    match guard {
        WriteGuard::Socket => send_nosignal(raw, iov),
        _ => SigpipeBlock::run(|| plain_writev(raw, iov, count)),
    }
}

#[inline(always)]
fn plain_writev(raw: libc::c_int, iov: &[libc::iovec], count: i32) -> Result<usize> {
    // SAFETY: the iovecs describe readable memory (the C layer documents it).
    direct::check(unsafe { direct::writev_raw(raw, iov.as_ptr(), count) })
}

#[inline]
fn send_nosignal(raw: libc::c_int, iov: &[libc::iovec]) -> Result<usize> {
    // SAFETY: a zeroed msghdr is valid; the iovecs describe readable memory.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = iov.len();
    // SAFETY: as above.
    unsafe { direct::sendmsg(raw, &msg, libc::MSG_NOSIGNAL) }
}

#[inline]
fn iov_count(iov: &[libc::iovec]) -> Result<i32> {
    if iov.len() > libc::UIO_MAXIOV as usize {
        return Err(Error::invalid(format!("{} buffers; the kernel takes at most {}", iov.len(), libc::UIO_MAXIOV)));
    }
    Ok(iov.len() as i32)
}

/// Waits until the descriptor is ready for `events` (`POLLIN`, `POLLOUT`...) or `timeout_ms`
/// passes (negative: no limit). Returns the ready events, 0 on timeout.
pub fn wait(fd: BorrowedFd<'_>, events: i16, timeout_ms: i32) -> Result<i16> {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = cvt(unsafe { libc::poll(&mut pfd, 1, timeout_ms) })?;
    Ok(if n == 0 { 0 } else { pfd.revents })
}

/// Whether the process ignores `SIGPIPE` because fdsafe was asked to set it so
/// ([`ignore_sigpipe`]); pipe writes then need no guard.
static SIGPIPE_IGNORED: AtomicBool = AtomicBool::new(false);
/// The disposition [`ignore_sigpipe`] replaced, for [`guard_sigpipe`] to restore.
static REPLACED_SIGPIPE: Mutex<Option<libc::sigaction>> = Mutex::new(None);

/// Sets `SIGPIPE` to be ignored process-wide and lets pipe writes skip their per-write guard.
/// Returns whether it was already in this mode.
pub fn ignore_sigpipe() -> Result<bool> {
    let mut replaced = REPLACED_SIGPIPE.lock().unwrap_or_else(|p| p.into_inner());
    if SIGPIPE_IGNORED.load(Ordering::Acquire) {
        return Ok(true);
    }
    // SAFETY: installing SIG_IGN and reading back the previous action.
    let previous = unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        let mut previous: libc::sigaction = std::mem::zeroed();
        cvt(libc::sigaction(libc::SIGPIPE, &ignore, &mut previous))?;
        previous
    };
    *replaced = Some(previous);
    SIGPIPE_IGNORED.store(true, Ordering::Release);
    Ok(false)
}

/// Back to guarding each pipe write, restoring the disposition [`ignore_sigpipe`] replaced.
/// Returns whether the process was in the ignoring mode.
pub fn guard_sigpipe() -> Result<bool> {
    let mut replaced = REPLACED_SIGPIPE.lock().unwrap_or_else(|p| p.into_inner());
    // Guard first, so no write runs unguarded once the old disposition is back.
    let was = SIGPIPE_IGNORED.swap(false, Ordering::AcqRel);
    if let Some(previous) = replaced.take() {
        // SAFETY: reinstalling an action the kernel gave us.
        cvt(unsafe { libc::sigaction(libc::SIGPIPE, &previous, std::ptr::null_mut()) })?;
    }
    Ok(was)
}

/// Blocks `SIGPIPE` in the calling thread around a write, and discards the `SIGPIPE` that a
/// write to a pipe without readers raised, so the write returns `EPIPE` and nothing else
/// happens. A thread that already blocks `SIGPIPE` is left exactly as it was.
struct SigpipeBlock;

impl SigpipeBlock {
    #[inline(always)]
    fn run<T>(write: impl FnOnce() -> Result<T>) -> Result<T> {
        if SIGPIPE_IGNORED.load(Ordering::Acquire) {
            return write();
        }
        Self::blocked(write)
    }

    #[inline(never)]
    fn blocked<T>(write: impl FnOnce() -> Result<T>) -> Result<T> {
        // SAFETY: plain signal-set manipulation on local sets.
        unsafe {
            let mut pipe_only: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe_only);
            libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut previous) != 0 {
                return Err(Error::Internal("pthread_sigmask failed".into()));
            }
            if libc::sigismember(&previous, libc::SIGPIPE) == 1 {
                // Already blocked by the caller: a raised SIGPIPE stays pending for them.
                return write();
            }
            let result = write();
            if matches!(result, Err(Error::Os { errno: libc::EPIPE, .. })) {
                // SIGPIPE was unblocked until just now, so a pending one is the write's own.
                let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                while matches!(direct::sigtimedwait(&pipe_only, &zero), Err(Error::Os { errno: libc::EINTR, .. })) {}
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            result
        }
    }
}

/// Runs a system call that may write to a pipe or socket (splice, sendfile...) so that it
/// returns `EPIPE` instead of raising `SIGPIPE`, exactly as [`write`] does for pipes.
pub fn without_sigpipe<T>(call: impl FnOnce() -> Result<T>) -> Result<T> {
    SigpipeBlock::run(call)
}
