//! Small helpers over `libc` shared by the kinds: errno conversion and descriptor flags.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

/// Turns a `-1`-on-failure return into a `Result`, reading errno.
#[inline]
pub fn cvt<T: Copy + PartialOrd + Default + From<i8>>(ret: T) -> Result<T> {
    if ret < T::from(0) {
        Err(Error::last_os())
    } else {
        Ok(ret)
    }
}

/// Wraps a descriptor just returned by a successful system call.
///
/// # Safety
/// `fd` must be a newly created, open descriptor that nothing else owns.
pub unsafe fn owned(fd: RawFd) -> OwnedFd {
    OwnedFd::from_raw_fd(fd)
}

/// Checks that `fd` is an open descriptor of this process.
pub fn check_open(fd: RawFd) -> Result<()> {
    if fd < 0 {
        return Err(Error::bad_descriptor(fd));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags.
    cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }).map(drop).map_err(|e| e.context(format!("descriptor {fd}")))
}

pub fn set_cloexec(fd: BorrowedFd<'_>) -> Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a borrowed, open descriptor.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFD) })?;
    if flags & libc::FD_CLOEXEC == 0 {
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    }
    Ok(())
}

pub fn is_cloexec(fd: BorrowedFd<'_>) -> Result<bool> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) })?;
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// The open file's status flags and access mode (`F_GETFL`).
pub fn status_flags(fd: BorrowedFd<'_>) -> Result<libc::c_int> {
    // SAFETY: F_GETFL only reads the file status flags.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

pub fn nonblocking(fd: BorrowedFd<'_>) -> Result<bool> {
    Ok(status_flags(fd)? & libc::O_NONBLOCK != 0)
}

pub fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl on a borrowed, open descriptor.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) })?;
    let wanted = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
    if wanted != flags {
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, wanted) })?;
    }
    Ok(())
}

/// A new close-on-exec descriptor for the same open file, numbered 3 or above.
pub fn dup_cloexec(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor that we then own.
    let new = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })?;
    Ok(unsafe { owned(new) })
}

/// `fstat` on a descriptor.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the struct on success.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    Ok(unsafe { st.assume_init() })
}

/// The file type bits (`S_IFMT`) of a descriptor.
pub fn file_type(fd: BorrowedFd<'_>) -> Result<libc::mode_t> {
    Ok(fstat(fd)?.st_mode & libc::S_IFMT)
}

/// This thread's descriptors under `/proc`. `/proc/thread-self`, not `/proc/self`: once the
/// main thread has exited (`pthread_exit`, the process living on in its other threads),
/// `/proc/self/fd` and `/proc/self/fdinfo` are gone, while `/proc/thread-self` names the
/// calling thread's descriptor table, the one its system calls use.
pub const PROC_FD_DIR: &std::ffi::CStr = c"/proc/thread-self/fd";

/// `/proc/thread-self/fd/N`: the descriptor's link (see [`PROC_FD_DIR`]).
pub fn proc_fd_path(fd: RawFd) -> String {
    format!("/proc/thread-self/fd/{fd}")
}

/// `/proc/thread-self/fdinfo/N` (see [`PROC_FD_DIR`]).
pub fn proc_fdinfo_path(fd: RawFd) -> String {
    format!("/proc/thread-self/fdinfo/{fd}")
}

/// The signals pending for the calling thread alone, not for the whole process: `SigPnd` of
/// `/proc/thread-self/status`, bit `n - 1` for signal `n` (`sigpending` gives the two
/// merged). `None` where it cannot be read (no `/proc`, no descriptor free).
pub fn thread_pending_signals() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let bits = status.lines().find_map(|line| line.strip_prefix("SigPnd:"))?;
    u64::from_str_radix(bits.trim(), 16).ok()
}

/// The name the kernel gives an anonymous-inode descriptor, such as `eventfd` for
/// `anon_inode:[eventfd]`, read from its `/proc` link. `None` for other descriptors.
pub fn anon_inode_name(fd: BorrowedFd<'_>) -> Result<Option<String>> {
    let link = std::fs::read_link(proc_fd_path(fd.as_raw_fd()))
        .map_err(|e| Error::from(e).context("reading /proc/thread-self/fd to identify the descriptor"))?;
    let text = link.to_string_lossy();
    Ok(text
        .strip_prefix("anon_inode:")
        .map(|name| name.trim_start_matches('[').trim_end_matches(']').to_string()))
}

/// 32 random bits from the kernel (`getrandom(2)`, never waiting for the entropy pool); if it
/// fails, bits mixed from the clock, the process ID and `salt`, which is enough for what
/// fdsafe uses them for (telling its table's handle values from another table's).
pub fn random_u32(salt: usize) -> u32 {
    let mut bits = [0u8; 4];
    // SAFETY: `bits` is writable for its length.
    let got = unsafe { libc::getrandom(bits.as_mut_ptr().cast(), bits.len(), libc::GRND_NONBLOCK) };
    if got == bits.len() as isize {
        return u32::from_ne_bytes(bits);
    }
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    let mixed = (now.tv_nsec as u64 ^ (now.tv_sec as u64).rotate_left(32) ^ pid.rotate_left(16) ^ salt as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 32) as u32
}

/// Retries a call while it fails with `EINTR`. Used only where one fdsafe call is made of
/// several system calls and returning half-way would break its contract.
pub fn retry_eintr<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(Error::Os { errno: libc::EINTR, .. }) => continue,
            other => return other,
        }
    }
}

/// Disables thread cancellation until dropped (then restores the previous state). libc's
/// wrappers of blocking calls (`recvmsg`, `accept`, `poll`, `close`...) are cancellation
/// points, and a cancellation acted on inside fdsafe would unwind through Rust frames, which
/// aborts the process; with it disabled, a pending cancellation acts at the thread's next
/// cancellation point outside fdsafe.
pub struct NoCancellation(libc::c_int);

extern "C" {
    fn pthread_setcancelstate(state: libc::c_int, oldstate: *mut libc::c_int) -> libc::c_int;
}

const PTHREAD_CANCEL_DISABLE: libc::c_int = 1; // glibc and musl

impl NoCancellation {
    #[inline]
    pub fn begin() -> NoCancellation {
        let mut previous = 0;
        // SAFETY: sets the calling thread's state and writes the old one to a local. (Miri
        // runs no foreign code, and has no cancellation to guard against.)
        #[cfg(not(miri))]
        unsafe {
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &mut previous)
        };
        NoCancellation(previous)
    }
}

impl Drop for NoCancellation {
    #[inline]
    fn drop(&mut self) {
        let mut _ignored = 0;
        // SAFETY: as above.
        #[cfg(not(miri))]
        unsafe {
            pthread_setcancelstate(self.0, &mut _ignored)
        };
    }
}

/// System calls made from the calling function itself rather than through libc's wrappers:
/// the hot paths then return to C through one frame fewer (each frame a system call returns
/// through costs measurably more than its instructions here), and they enter no libc
/// cancellation point, so they need no cancellation guard (see `ffi::boundary::call_direct`).
/// Sanitizer builds pass `--cfg fdsafe_libc_syscalls` so their interceptors still see every
/// call.
pub mod direct {
    use crate::error::{Error, Result};

    #[inline(always)]
    unsafe fn syscall3(number: libc::c_long, a: usize, b: usize, c: usize) -> isize {
        #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri), not(fdsafe_libc_syscalls)))]
        {
            let ret: isize;
            std::arch::asm!(
                "syscall",
                inlateout("rax") number as isize => ret,
                in("rdi") a, in("rsi") b, in("rdx") c,
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
            ret
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux", not(miri), not(fdsafe_libc_syscalls))))]
        {
            let ret = libc::syscall(number, a, b, c);
            if ret < 0 {
                -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as isize)
            } else {
                ret as isize
            }
        }
    }

    #[inline(always)]
    unsafe fn syscall6(number: libc::c_long, args: [usize; 6]) -> isize {
        #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri), not(fdsafe_libc_syscalls)))]
        {
            let ret: isize;
            std::arch::asm!(
                "syscall",
                inlateout("rax") number as isize => ret,
                in("rdi") args[0], in("rsi") args[1], in("rdx") args[2],
                in("r10") args[3], in("r8") args[4], in("r9") args[5],
                lateout("rcx") _, lateout("r11") _,
                options(nostack),
            );
            ret
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux", not(miri), not(fdsafe_libc_syscalls))))]
        {
            let ret = libc::syscall(number, args[0], args[1], args[2], args[3], args[4], args[5]);
            if ret < 0 {
                -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as isize)
            } else {
                ret as isize
            }
        }
    }

    /// Closes `fd` with the system call itself, which unlike libc's `close` is no cancellation
    /// point. (Linux frees the number even when it reports an error, so there is nothing to
    /// retry or report.)
    #[inline(always)]
    pub fn close(fd: std::os::fd::OwnedFd) {
        use std::os::fd::IntoRawFd;
        let fd = fd.into_raw_fd();
        // SAFETY: the descriptor is ours, and given up here. (Sanitizer builds and Miri close
        // through libc, whose close they track.)
        #[cfg(not(any(miri, fdsafe_libc_syscalls)))]
        unsafe {
            syscall3(libc::SYS_close, fd as usize, 0, 0)
        };
        #[cfg(any(miri, fdsafe_libc_syscalls))]
        unsafe {
            libc::close(fd)
        };
    }

    /// A raw system call's return: the count, or the error its negative value encodes.
    #[inline(always)]
    pub fn check(ret: isize) -> Result<usize> {
        if ret < 0 {
            return Err(failure(ret));
        }
        Ok(ret as usize)
    }

    #[cold]
    fn failure(ret: isize) -> Error {
        Error::from_errno(-ret as i32)
    }

    /// `read` returning the raw result for [`check`] (see [`writev_raw`]).
    ///
    /// # Safety
    /// `buf` is valid for writing `len` bytes.
    #[inline(always)]
    pub unsafe fn read_raw(fd: libc::c_int, buf: *mut u8, len: usize) -> isize {
        syscall3(libc::SYS_read, fd as usize, buf as usize, len)
    }

    /// `write` returning the raw result for [`check`] (see [`writev_raw`]).
    ///
    /// # Safety
    /// `buf` is valid for reading `len` bytes.
    #[inline(always)]
    pub unsafe fn write_raw(fd: libc::c_int, buf: *const u8, len: usize) -> isize {
        syscall3(libc::SYS_write, fd as usize, buf as usize, len)
    }

    /// # Safety
    /// `buf` is valid for writing `len` bytes.
    #[inline(always)]
    pub unsafe fn read(fd: libc::c_int, buf: *mut u8, len: usize) -> Result<usize> {
        check(syscall3(libc::SYS_read, fd as usize, buf as usize, len))
    }

    /// # Safety
    /// `buf` is valid for reading `len` bytes.
    #[inline(always)]
    pub unsafe fn write(fd: libc::c_int, buf: *const u8, len: usize) -> Result<usize> {
        check(syscall3(libc::SYS_write, fd as usize, buf as usize, len))
    }

    /// # Safety
    /// Each of the `count` iovecs describes writable memory.
    #[inline(always)]
    pub unsafe fn readv(fd: libc::c_int, iov: *const libc::iovec, count: i32) -> Result<usize> {
        check(syscall3(libc::SYS_readv, fd as usize, iov as usize, count as usize))
    }

    /// `writev` (a `write` for one iovec) returning the raw result for [`check`]: nothing
    /// between it and the caller's next step can unwind, so guards held around it stay in
    /// registers.
    ///
    /// # Safety
    /// Each of the `count` iovecs describes readable memory.
    #[inline(always)]
    pub unsafe fn writev_raw(fd: libc::c_int, iov: *const libc::iovec, count: i32) -> isize {
        if count == 1 {
            syscall3(libc::SYS_write, fd as usize, (*iov).iov_base as usize, (*iov).iov_len)
        } else {
            syscall3(libc::SYS_writev, fd as usize, iov as usize, count as usize)
        }
    }

    /// `pwritev2(fd, iov, count, -1, flags)`: a write at the current position with per-call
    /// flags (`RWF_NOWAIT`). Returns the raw result (`-errno` on failure).
    ///
    /// # Safety
    /// Each of the `count` iovecs describes readable memory.
    #[inline(always)]
    pub unsafe fn pwritev2_raw(fd: libc::c_int, iov: *const libc::iovec, count: i32, flags: libc::c_int) -> isize {
        // The offset is passed as two halves (low, high); -1 means the current position.
        syscall6(libc::SYS_pwritev2, [fd as usize, iov as usize, count as usize, usize::MAX, usize::MAX, flags as usize])
    }

    /// `epoll_wait` (as `epoll_pwait` without a mask, which every architecture has).
    ///
    /// # Safety
    /// `events` has room for `max` events.
    #[inline(always)]
    pub unsafe fn epoll_wait(epfd: libc::c_int, events: *mut libc::epoll_event, max: i32, timeout_ms: i32) -> Result<usize> {
        let args = [epfd as usize, events as usize, max as usize, timeout_ms as isize as usize, 0, 8];
        check(syscall6(libc::SYS_epoll_pwait, args))
    }

    /// `epoll_pwait` with a signal mask (`mask` points to 8 bytes of signal set).
    ///
    /// # Safety
    /// `events` has room for `max` events; `mask` is valid.
    #[inline(always)]
    pub unsafe fn epoll_pwait(epfd: libc::c_int, events: *mut libc::epoll_event, max: i32, timeout_ms: i32, mask: *const u64) -> Result<usize> {
        let args = [epfd as usize, events as usize, max as usize, timeout_ms as isize as usize, mask as usize, 8];
        check(syscall6(libc::SYS_epoll_pwait, args))
    }

    /// `sendmsg`.
    ///
    /// # Safety
    /// `msg` describes valid buffers.
    #[inline(always)]
    pub unsafe fn sendmsg(fd: libc::c_int, msg: *const libc::msghdr, flags: libc::c_int) -> Result<usize> {
        check(sendmsg_raw(fd, msg, flags))
    }

    /// `sendmsg` returning the raw result for [`check`] (see [`writev_raw`]).
    ///
    /// # Safety
    /// `msg` describes valid buffers.
    #[inline(always)]
    pub unsafe fn sendmsg_raw(fd: libc::c_int, msg: *const libc::msghdr, flags: libc::c_int) -> isize {
        syscall3(libc::SYS_sendmsg, fd as usize, msg as usize, flags as usize)
    }

    /// `recvmsg`, returning the raw result for [`check`] (see [`writev_raw`]).
    ///
    /// # Safety
    /// `msg` describes valid buffers.
    #[inline(always)]
    pub unsafe fn recvmsg_raw(fd: libc::c_int, msg: *mut libc::msghdr, flags: libc::c_int) -> isize {
        syscall3(libc::SYS_recvmsg, fd as usize, msg as usize, flags as usize)
    }

    /// `send(2)` (the kernel's `sendto` without an address).
    ///
    /// # Safety
    /// `buf` is readable for `len` bytes.
    #[inline(always)]
    pub unsafe fn send(fd: libc::c_int, buf: *const u8, len: usize, flags: libc::c_int) -> Result<usize> {
        check(syscall6(libc::SYS_sendto, [fd as usize, buf as usize, len, flags as usize, 0, 0]))
    }

    /// `accept4(2)`; the new descriptor's number, or the error.
    ///
    /// # Safety
    /// `addr` is writable for `*len` bytes (or NULL with `len` NULL).
    #[inline(always)]
    pub unsafe fn accept4(fd: libc::c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: libc::c_int) -> Result<usize> {
        check(syscall6(libc::SYS_accept4, [fd as usize, addr as usize, len as usize, flags as usize, 0, 0]))
    }

    /// `recv(2)` (the kernel's `recvfrom` without an address).
    ///
    /// # Safety
    /// `buf` is writable for `len` bytes.
    #[inline(always)]
    pub unsafe fn recv(fd: libc::c_int, buf: *mut u8, len: usize, flags: libc::c_int) -> Result<usize> {
        check(syscall6(libc::SYS_recvfrom, [fd as usize, buf as usize, len, flags as usize, 0, 0]))
    }

    /// `sigtimedwait` (the kernel's `rt_sigtimedwait`, 8-byte signal sets); returns the signal
    /// and fills `info`.
    ///
    /// # Safety
    /// `set`, `info` and `timeout` are valid.
    pub unsafe fn sigtimedwait(set: *const libc::sigset_t, info: *mut libc::siginfo_t, timeout: *const libc::timespec) -> Result<usize> {
        check(syscall6(libc::SYS_rt_sigtimedwait, [set as usize, info as usize, timeout as usize, 8, 0, 0]))
    }

    /// Sleeps for `duration` with the signal mask `mask` in force (the kernel's 8-byte set;
    /// `None`: the thread's own), as `ppoll` with no descriptors does. `EINTR` if a signal
    /// handler ran meanwhile: a wait that sleeps reports it, as the wait itself would.
    pub fn pause(duration: std::time::Duration, mask: Option<&u64>) -> Result<()> {
        let ts = libc::timespec { tv_sec: duration.as_secs() as libc::time_t, tv_nsec: duration.subsec_nanos() as _ };
        let mask_ptr = mask.map_or(std::ptr::null(), |m| m as *const u64);
        // SAFETY: no descriptors; a valid timespec and 8-byte mask (or NULL).
        check(unsafe { syscall6(libc::SYS_ppoll, [0, 0, &ts as *const libc::timespec as usize, mask_ptr as usize, 8, 0]) }).map(|_| ())
    }
}
