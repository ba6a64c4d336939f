//! Operations every readable or writable descriptor shares: read, write, vectored I/O and
//! waiting for readiness. Writes never raise `SIGPIPE` (see [`WriteGuard`]). This module
//! knows descriptors only; the C layer holds the handles.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::handles::WriteGuard;
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

/// Writes `iov` to `fd` without raising `SIGPIPE`, protected as `guard` says (the caller
/// has already taken care of [`WriteGuard::PipeWithReader`], see [`write_holding_reader`]).
pub fn writev(fd: BorrowedFd<'_>, guard: WriteGuard, iov: &[libc::iovec]) -> Result<usize> {
    let count = iov_count(iov)?;
    let raw = fd.as_raw_fd();
    match guard {
        WriteGuard::None => plain_writev(raw, iov, count),
        WriteGuard::Socket => send_nosignal(raw, iov),
        WriteGuard::BlockSigpipe | WriteGuard::PipeWithReader { .. } => match writev_nosignal(raw, iov, count) {
            Some(written) => written,
            None => SigpipeBlock::run(iov_total(iov), || plain_writev(raw, iov, count)),
        },
    }
}

/// `RWF_NOSIGNAL` (Linux 6.18), not yet in the libc crate: a write to a pipe that has no
/// reader returns `EPIPE` and raises no `SIGPIPE`.
const RWF_NOSIGNAL: libc::c_int = 0x100;

/// Whether the kernel refused `RWF_NOSIGNAL` on a pipe once (it is older than 6.18): writes
/// that could raise `SIGPIPE` then take the per-thread guard, or hold a pipe's read end.
static NOSIGNAL_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether writes to pipes are made with `RWF_NOSIGNAL`, which makes any other guard
/// needless (true until a kernel without it refuses the flag).
#[inline]
pub fn nosignal_writes() -> bool {
    !NOSIGNAL_REFUSED.load(Ordering::Relaxed)
}

/// Writes `iov` with `pwritev2(RWF_NOSIGNAL)`, one system call that can return `EPIPE` but
/// never raise `SIGPIPE`. `None` when the flag was refused, by this kernel or by this file
/// (one whose driver has no vectored write, such as some character devices): the caller
/// then guards the write another way. A pipe takes every flag its kernel knows, so a pipe
/// refusing it marks the kernel as without it.
#[inline]
fn writev_nosignal(raw: libc::c_int, iov: &[libc::iovec], count: i32) -> Option<Result<usize>> {
    if !nosignal_writes() {
        return None;
    }
    // SAFETY: the iovecs describe readable memory (the C layer documents it).
    let ret = unsafe { direct::pwritev2_raw(raw, iov.as_ptr(), count, RWF_NOSIGNAL) };
    if ret != -(libc::EOPNOTSUPP as isize) {
        return Some(direct::check(ret));
    }
    // SAFETY: `raw` is open for the length of this call (the caller holds it).
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    if crate::sys::file_type(fd).is_ok_and(|kind| kind == libc::S_IFIFO) {
        NOSIGNAL_REFUSED.store(true, Ordering::Relaxed);
    }
    None
}

/// Makes writes behave as on a kernel without `RWF_NOSIGNAL` (`refused`), or as on this one,
/// so tests can reach the guards that older kernels use.
#[cfg(test)]
pub(crate) fn pretend_nosignal_refused(refused: bool) {
    NOSIGNAL_REFUSED.store(refused, Ordering::Relaxed);
}

/// Whether the kernel refused `RWF_NOWAIT` on a pipe once (before Linux 5.9 pipes did not
/// take it): every pipe write then takes the `SIGPIPE` guard.
static PIPE_NOWAIT_REFUSED: AtomicBool = AtomicBool::new(false);

/// The first part of a write to a pipe's write end while the caller holds its read end
/// (so the pipe has a reader and the write cannot raise `SIGPIPE`): as much as fits now,
/// without waiting (`pwritev2` with `RWF_NOWAIT`), since a writer that waited for room while
/// holding the read end would keep it from closing. Returns the bytes written, 0 if none fit
/// (or the kernel refuses `RWF_NOWAIT`); the caller lets the read end go and writes the rest
/// with [`writev`] (which may wait, guarded), unless the end is non-blocking and nothing fit.
pub fn write_holding_reader(fd: BorrowedFd<'_>, iov: &[libc::iovec]) -> Result<usize> {
    let count = iov_count(iov)?;
    if PIPE_NOWAIT_REFUSED.load(Ordering::Relaxed) {
        return Ok(0);
    }
    // SAFETY: the iovecs describe readable memory (the C layer documents it).
    let ret = unsafe { direct::pwritev2_raw(fd.as_raw_fd(), iov.as_ptr(), count, libc::RWF_NOWAIT) };
    if ret >= 0 {
        return Ok(ret as usize);
    }
    match -ret as i32 {
        libc::EAGAIN => Ok(0),
        libc::EOPNOTSUPP | libc::EINVAL => {
            PIPE_NOWAIT_REFUSED.store(true, Ordering::Relaxed);
            Ok(0)
        }
        _ => direct::check(ret),
    }
}

/// `iov` without its first `skip` bytes.
pub fn skip_bytes(iov: &[libc::iovec], mut skip: usize) -> Vec<libc::iovec> {
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

/// The total length of `iov`.
pub fn iov_total(iov: &[libc::iovec]) -> usize {
    iov.iter().map(|v| v.iov_len).sum()
}

#[inline(always)]
fn plain_writev(raw: libc::c_int, iov: &[libc::iovec], count: i32) -> Result<usize> {
    // SAFETY: the iovecs describe readable memory (the C layer documents it).
    direct::check(unsafe { direct::writev_raw(raw, iov.as_ptr(), count) })
}

#[inline]
fn send_nosignal(raw: libc::c_int, iov: &[libc::iovec]) -> Result<usize> {
    // One buffer goes by `send`: the kernel then copies no message header and imports no
    // vector, which saved 50-70 ns of a 760 ns one-byte socket round trip here.
    if let [one] = iov {
        // SAFETY: the buffer is readable for its length (the C layer documents it).
        return unsafe { direct::send(raw, one.iov_base.cast(), one.iov_len, libc::MSG_NOSIGNAL) };
    }
    // SAFETY: a zeroed msghdr is valid; the iovecs describe readable memory.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = iov.len();
    // SAFETY: as above.
    unsafe { direct::sendmsg(raw, &msg, libc::MSG_NOSIGNAL) }
}

/// The number of buffers, checked against the kernel's limit.
#[inline]
pub fn iov_count(iov: &[libc::iovec]) -> Result<i32> {
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

/// Whether fdsafe set `SIGPIPE` to be ignored process-wide ([`ignore_sigpipe`]).
pub fn sigpipe_ignored() -> bool {
    SIGPIPE_IGNORED.load(Ordering::Acquire)
}

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
        // SAFETY: installing SIG_IGN, then an action the kernel gave us.
        unsafe {
            // A thread that blocks SIGPIPE keeps those raised while ignored pending, and the
            // restored disposition would act on them. Installing SIG_IGN (again) discards
            // every pending SIGPIPE, in every thread.
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            cvt(libc::sigaction(libc::SIGPIPE, &ignore, std::ptr::null_mut()))?;
            cvt(libc::sigaction(libc::SIGPIPE, &previous, std::ptr::null_mut()))?;
        }
    }
    Ok(was)
}

/// Blocks `SIGPIPE` in the calling thread around a write, and discards the `SIGPIPE` that a
/// write to a pipe without readers raised, so the write returns `EPIPE` (or the bytes it
/// moved) and nothing else happens. The thread's mask comes back as it was. The kernel queues
/// the write's `SIGPIPE` for the thread alone; one another process or thread sends with
/// `kill` is the process's, and stays, as does one pending for the thread before the write.
struct SigpipeBlock;

impl SigpipeBlock {
    /// `requested`: the bytes `write` was asked to move.
    #[inline(always)]
    fn run(requested: usize, write: impl FnOnce() -> Result<usize>) -> Result<usize> {
        if SIGPIPE_IGNORED.load(Ordering::Acquire) {
            return write();
        }
        Self::blocked(requested, write)
    }

    #[inline(never)]
    fn blocked(requested: usize, write: impl FnOnce() -> Result<usize>) -> Result<usize> {
        // SAFETY: plain signal-set manipulation on local sets.
        unsafe {
            let mut pipe_only: libc::sigset_t = std::mem::zeroed();
            let mut previous: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe_only);
            libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, &mut previous) != 0 {
                return Err(Error::Internal("pthread_sigmask failed".into()));
            }
            let before = SigpipePending::now();
            let result = write();
            // The kernel raises SIGPIPE when it finds no reader: with EPIPE, and also after
            // part of a write was done (the last reader left while it waited for room), when
            // it returns the count. A full write or another error raised none.
            match &result {
                Err(Error::Os { errno: libc::EPIPE, .. }) => discard_raised_sigpipe(&pipe_only, before),
                Ok(moved) if *moved < requested => discard_sigpipe_if_raised(&pipe_only, before),
                _ => {}
            }
            if libc::sigismember(&previous, libc::SIGPIPE) != 1 {
                libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            }
            result
        }
    }
}

/// Where a `SIGPIPE` is pending: for the calling thread, for the process, or neither.
/// `sigpending` merges the two; only when it says one is pending (rarely) is the thread's
/// own set read, from `/proc` (`None` there: unknown).
#[derive(Clone, Copy)]
struct SigpipePending {
    any: bool,
    for_thread: Option<bool>,
}

impl SigpipePending {
    fn now() -> SigpipePending {
        // SAFETY: sigpending fills a local set.
        let any = unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1
        };
        let bit = 1u64 << (libc::SIGPIPE - 1);
        let for_thread = if any { crate::sys::thread_pending_signals().map(|set| set & bit != 0) } else { Some(false) };
        SigpipePending { any, for_thread }
    }
}

/// After `EPIPE`: the kernel raised `SIGPIPE` for this thread with it. Takes it at once (a
/// signal another thread sends this thread meanwhile would merge with it), unless one was
/// pending for the thread before, which it merged with: that one is the caller's, and stays.
/// Where `/proc` could not say, it is taken: no library write may raise `SIGPIPE`.
unsafe fn discard_raised_sigpipe(pipe_only: &libc::sigset_t, before: SigpipePending) {
    if before.for_thread != Some(true) {
        take_own_sigpipe(pipe_only);
    }
}

/// After a short count: the kernel raised `SIGPIPE` only if the last reader left during the
/// write. Takes one that is new to this thread's own queue, asking `/proc` only when one is
/// pending (where it cannot say: one pending now and none before).
unsafe fn discard_sigpipe_if_raised(pipe_only: &libc::sigset_t, before: SigpipePending) {
    let after = SigpipePending::now();
    if !after.any {
        return;
    }
    let new_for_thread = match (before.for_thread, after.for_thread) {
        (Some(was), Some(is)) => is && !was,
        _ => !before.any,
    };
    if new_for_thread {
        take_own_sigpipe(pipe_only);
    }
}

/// Takes the first pending `SIGPIPE` (the thread's own queue comes before the process's)
/// while `SIGPIPE` is blocked, and puts it back, to this thread, unless the kernel sent it
/// for this process (`SI_USER` from this pid, or pid 0 where it could not allocate the
/// record): another thread's `pthread_kill`, or where `/proc` could not say whose, another
/// process's `kill`.
unsafe fn take_own_sigpipe(pipe_only: &libc::sigset_t) {
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    let mut info: libc::siginfo_t = std::mem::zeroed();
    loop {
        match direct::sigtimedwait(pipe_only, &mut info, &zero) {
            Err(Error::Os { errno: libc::EINTR, .. }) => continue,
            Err(_) => return,
            Ok(_) => break,
        }
    }
    let sender = info.si_pid();
    if info.si_code == libc::SI_USER && (sender == 0 || sender == libc::getpid()) {
        return; // the kernel's, for this thread's write
    }
    libc::syscall(libc::SYS_rt_tgsigqueueinfo, libc::getpid(), libc::gettid(), libc::SIGPIPE, &info as *const libc::siginfo_t);
}

/// Runs a system call that may write to a pipe or socket (splice, sendfile...) and returns
/// the bytes it moved, so that it returns `EPIPE` (or the count) instead of raising
/// `SIGPIPE`, exactly as [`writev`] does for pipes. `requested`: the bytes it was asked to
/// move.
pub fn without_sigpipe(requested: usize, call: impl FnOnce() -> Result<usize>) -> Result<usize> {
    SigpipeBlock::run(requested, call)
}
