//! Operations on any handle: close, kind, raw-descriptor interop, duplication, non-blocking
//! mode, readiness and plain I/O.

use std::ffi::{c_int, c_void};
use std::os::fd::IntoRawFd;

use super::kinds::{fdsafe_kind, kind_code, kind_from_c};
use super::{call, call_direct, fdsafe_handle, in_slice, out_slice, Out};
use crate::error::Error;
use crate::handles::{self, Guard, Handle, Kind, WriteGuard};
use crate::kinds::{self, io};
use crate::sys;

/// Readable (`POLLIN`). The `FDSAFE_EVENT_*` values equal the kernel's `POLL*`/`EPOLL*` bits.
pub const FDSAFE_EVENT_IN: u32 = 0x001;
/// Urgent or priority data (`POLLPRI`).
pub const FDSAFE_EVENT_PRI: u32 = 0x002;
/// Writable (`POLLOUT`).
pub const FDSAFE_EVENT_OUT: u32 = 0x004;
/// Error condition (`POLLERR`); always reported, need not be asked for.
pub const FDSAFE_EVENT_ERR: u32 = 0x008;
/// Hang-up (`POLLHUP`); always reported, need not be asked for.
pub const FDSAFE_EVENT_HUP: u32 = 0x010;
/// The peer shut down its writing side (`POLLRDHUP`, sockets).
pub const FDSAFE_EVENT_RDHUP: u32 = 0x2000;
const WAIT_EVENTS: u32 =
    FDSAFE_EVENT_IN | FDSAFE_EVENT_PRI | FDSAFE_EVENT_OUT | FDSAFE_EVENT_ERR | FDSAFE_EVENT_HUP | FDSAFE_EVENT_RDHUP;

/// Closes a handle of any kind.
///
/// The handle stops working at once: every later call with it returns `-EBADF`, even after
/// its slot and descriptor number are reused. The kernel descriptor is closed when the last
/// operation that was already running on the handle (in other threads) returns, so those
/// operations never touch another file.
///
/// Closing affects this process's descriptor only: fdsafe never shuts a socket down on close,
/// since `shutdown(2)` acts on the socket itself, which a child, a peer that received it or a
/// duplicate may share. A thread blocked inside a call on the handle therefore stays blocked
/// until the call returns by itself (data, a peer's close, a timeout, a signal); the
/// descriptor closes then. To wake it, make it return: include an eventfd in the epoll set
/// it waits on and write to it, or, when this process holds the only copy of a socket, call
/// `fdsafe_socket_shutdown` first. A call already blocked is not woken by switching the
/// handle to non-blocking mode (the kernel checks the mode when a call begins): to be able to
/// close at any time, make the calls non-blocking from the start or wait with
/// `fdsafe_wait` and a timeout.
///
/// Returns 0.
/// Errors: `-EBADF` if the handle is 0, already closed (a second close closes nothing), or was
/// never issued.
/// Thread safety: any thread; of two racing closes, one returns 0 and the other `-EBADF`. No
/// close costs more with more threads in the process.
#[no_mangle]
pub extern "C" fn fdsafe_close(handle: fdsafe_handle) -> c_int {
    // No cancellation guard: finalizing an object with cleanup guards itself.
    call_direct("fdsafe_close", || handles::close(Handle(handle)).map(|_| 0))
}

/// The kind of a live handle: an `FDSAFE_KIND_*` value (> 0).
///
/// Errors: `-EBADF` for 0, closed or never-issued handles. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_handle_kind(handle: fdsafe_handle) -> fdsafe_kind {
    call_direct("fdsafe_handle_kind", || Ok(kind_code(handles::get(Handle(handle))?.kind())))
}

/// Lends the raw descriptor of a handle, for `poll()` or another library. fdsafe keeps
/// ownership: do not close it, and stop using it before the handle is closed (once it is, the
/// number may belong to another file).
///
/// Returns the descriptor (>= 0).
/// Errors: `-EBADF` for 0, closed or never-issued handles (any bit of the value changed, the
/// kind byte included, makes it a value never issued: neighbouring slots start at unrelated
/// generations, so a changed slot bit names another live handle only by a chance of about
/// one in 2^29).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fd_borrow(handle: fdsafe_handle) -> c_int {
    call_direct("fdsafe_fd_borrow", || {
        let guard = handles::get(Handle(handle))?;
        guard.mark_shared(); // the caller may duplicate the number, or send it
        Ok(guard.raw_fd())
    })
}

/// Ends a handle and gives its descriptor to the caller, who must close it. The handle dies
/// (later calls return `-EBADF`); the descriptor stays open and close-on-exec, and the kind's
/// cleanup (such as unlinking a socket path) does not run. Releasing an epoll set's last
/// handle gives a bare set: the registrations made through fdsafe (their data words are
/// fdsafe's) are taken out of it first, since no close could take them out later; while
/// another handle of the set lives, they stay, and are that handle's. A registered handle
/// whose close is still waiting for another thread's call at that moment is the exception:
/// it is left in the set (its number may be another file's by the time the call returns),
/// so release a set once the closes of its targets have finished.
///
/// Returns the descriptor (>= 0). Errors: `-EBADF` for a dead handle; `-EBUSY` while another
/// thread is inside an operation on the handle, which for a pipe's read end includes, on a
/// kernel without `RWF_NOSIGNAL` (before 6.18), a write to its write end (the handle is then
/// left as it was).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fd_release(handle: fdsafe_handle) -> c_int {
    call("fdsafe_fd_release", || Ok(handles::release(Handle(handle))?.into_raw_fd()))
}

/// Adopts an open descriptor as a handle of `kind`, after checking with the kernel that it
/// really is one (`fstat` file type, the anonymous-inode name in `/proc/thread-self/fd`, a socket's
/// peer and options). The descriptor is made close-on-exec.
///
/// Ownership: on success fdsafe owns `fd` (close it only through the handle); on failure the
/// caller still owns it and nothing was changed.
/// The kind must be the descriptor's own: a memfd or message queue is refused as
/// `FDSAFE_KIND_FILE`, a terminal or attached TUN device as `FDSAFE_KIND_CHARDEV` (the message names
/// the kind to use), and an `O_PATH` descriptor as anything but `FDSAFE_KIND_OTHER`.
/// Adopting 0, 1 or 2 (a socket an inetd-style manager passed there, say) makes that number
/// close-on-exec, so programs started with `exec` no longer inherit it as a standard stream,
/// and closing the handle frees the number for the next file opened; a standard stream is
/// better taken with `fdsafe_stdio_open`.
///
/// Errors: `-EBADF` if `fd` is not open; `FDSAFE_E_INVALID_ARGUMENT` if `handle_out` is NULL,
/// `kind` is not an `FDSAFE_KIND_*` value or is `FDSAFE_KIND_STDIO` (stdio handles come only
/// from `fdsafe_stdio_open`, which keeps the process's stream open when the handle closes),
/// `fd` is not of that kind, or `fd` already belongs to a live handle; other `-errno` from the
/// checks.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_fd_adopt(fd: c_int, kind: fdsafe_kind, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_fd_adopt", || {
        let out = Out::new(handle_out, "handle_out")?;
        let handle = adopt(fd, kind_from_c(kind)?)?;
        out.write(handle.0);
        Ok(0)
    })
}

/// Takes ownership of the open descriptor `fd` as a handle of `kind` once the kernel confirms
/// the kind, making it close-on-exec. On failure the caller still owns `fd`, unchanged.
pub(crate) fn adopt(fd: c_int, kind: Kind) -> crate::Result<Handle> {
    // A standard stream's number is not redirected while it becomes a handle's.
    let _stream = kinds::stdio::stream_number_guard(fd);
    kinds::check_adoptable(fd, kind)?;
    // SAFETY: open (checked); borrowed for the flag.
    sys::set_cloexec(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })?;
    // SAFETY: from here the table owns the descriptor, or gives it back below.
    let object = kinds::wrap_owned(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }, kind);
    handles::TABLE.insert(object).map_err(|(err, object)| {
        let _ = object.into_fd().into_raw_fd(); // still the caller's
        err
    })
}

/// Duplicates a handle: a new handle of the same kind for a new close-on-exec descriptor that
/// shares the open file (offset, status flags) with the original. Each must be closed.
/// A duplicate of a Unix socket bound to a path shares the path's cleanup: the path is
/// removed when the last of the original and its duplicates closes (see
/// `fdsafe_unix_listen`), not when the first does. A duplicate of an epoll set shares its
/// registrations, as the kernel shares its interest list (see `fdsafe_epoll_create`); one of
/// an inotify instance or fanotify group shares the events read and not handed out, and a
/// group's unanswered permission events (see `fdsafe_fanotify_init`).
///
/// Errors: `-EBADF` for a dead handle; `FDSAFE_E_INVALID_ARGUMENT` if `handle_out` is NULL;
/// `-EMFILE` at the descriptor limit. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_dup(handle: fdsafe_handle, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_dup", || {
        let out = Out::new(handle_out, "handle_out")?;
        let guard = handles::get(Handle(handle))?;
        let fd = sys::dup_cloexec(guard.object().as_fd())?;
        guard.mark_shared();
        out.write(handles::insert_copy(kinds::wrap_duplicate(guard.object(), fd))?.0);
        Ok(0)
    })
}

/// Whether the handle is in non-blocking mode: 1 yes, 0 no.
///
/// The mode belongs to the open file, so it is shared with duplicates (for a stdio handle,
/// with the process's standard stream). Errors: `-EBADF`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_nonblocking_get(handle: fdsafe_handle) -> c_int {
    call("fdsafe_nonblocking_get", || Ok(sys::nonblocking(handles::get(Handle(handle))?.object().as_fd())? as c_int))
}

/// Turns non-blocking mode on or off. In non-blocking mode an operation that would wait
/// returns `-EAGAIN` instead. Shared with duplicates, as for `fdsafe_nonblocking_get`.
///
/// Returns 0. Errors: `-EBADF`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_nonblocking_set(handle: fdsafe_handle, nonblocking: bool) -> c_int {
    call("fdsafe_nonblocking_set", || {
        sys::set_nonblocking(handles::get(Handle(handle))?.object().as_fd(), nonblocking)?;
        Ok(0)
    })
}

/// Waits until the handle is ready for `events` (`FDSAFE_EVENT_IN`, `FDSAFE_EVENT_OUT`...)
/// or `timeout_ms` milliseconds pass (-1: no limit, 0: just check).
///
/// Returns the ready events (> 0; `FDSAFE_EVENT_ERR` and `FDSAFE_EVENT_HUP` may appear
/// unasked), or 0 on timeout. Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for unknown
/// event bits or a timeout below -1; `-EINTR` if a signal handler ran (not retried, so that
/// a daemon can check its flags). Thread safety: any thread; closing the handle meanwhile
/// does not wake the wait (see `fdsafe_close`); its descriptor stays open until it returns.
#[no_mangle]
pub extern "C" fn fdsafe_wait(handle: fdsafe_handle, events: u32, timeout_ms: c_int) -> c_int {
    call("fdsafe_wait", || {
        if events & !WAIT_EVENTS != 0 {
            return Err(Error::invalid(format!("unknown event bits {:#x}", events & !WAIT_EVENTS)));
        }
        if timeout_ms < -1 {
            return Err(Error::invalid(format!("timeout {timeout_ms} ms (use -1 for no limit)")));
        }
        let guard = handles::get(Handle(handle))?;
        Ok(io::wait(guard.fd(), events as i16, timeout_ms)? as u16 as c_int)
    })
}

/// Reads up to `len` bytes into `buf` from a handle of any readable kind.
///
/// Returns the number of bytes read (0 at end of file). A `len` of 0 is the kernel's to
/// answer, as with `read(2)`: 0 for most kinds, `-EINVAL` for those that need room for a
/// whole record (below), `-EAGAIN` on a non-blocking one with nothing to read.
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` if `buf` is NULL with `len > 0` or `len`
/// exceeds `SSIZE_MAX`; `FDSAFE_E_WRONG_KIND` for a fanotify or inotify handle (their events
/// are read with `fdsafe_fanotify_read` and `fdsafe_inotify_read`, which close the
/// descriptors fanotify events bring, answer permission events and track watch ids);
/// `-EAGAIN` in non-blocking mode; `-EINTR` if a signal handler ran
/// before any data arrived; from `read(2)`: `-EISDIR` for a directory, `-EINVAL` for a length
/// the kind refuses (an eventfd or timerfd wants 8 bytes, a signalfd or inotify room for one
/// record), `-ECANCELED` for a timerfd armed with `FDSAFE_TIMERFD_CANCEL_ON_SET` whose clock
/// was set (`fdsafe_timerfd_read` reports it as `FDSAFE_TIMERFD_CANCELED`), `-ENOTCONN`,
/// `-ECONNRESET` and `-ECONNREFUSED` (a datagram peer that is gone) for sockets, `-EIO`.
/// Thread safety: any thread; see `fdsafe_close` for closing during a read.
#[no_mangle]
pub extern "C" fn fdsafe_read(handle: fdsafe_handle, buf: *mut c_void, len: usize) -> i64 {
    call_direct("fdsafe_read", || {
        let buf = out_slice(buf.cast::<u8>(), len, "buf")?;
        let guard = handles::get(Handle(handle))?;
        plain_io(guard.handle())?;
        Ok(io::read(guard.fd(), buf)? as i64)
    })
}

/// Writes up to `len` bytes from `buf` to a handle of any writable kind.
///
/// Never raises `SIGPIPE`: writing to a pipe or socket whose reading side is gone returns
/// `-EPIPE`, or the bytes already written when the last reader left while the write waited
/// for room. (Sockets are written with `MSG_NOSIGNAL`; pipes, FIFOs and every other kind with
/// `pwritev2(RWF_NOSIGNAL)` (Linux 6.18), which changes nothing in the thread or the process.
/// Where the kernel or a device driver refuses that flag, a pipe from `fdsafe_pipe_create`
/// whose read end handle is still open writes what fits while holding the read end, so the
/// pipe has a reader; any rest, and other writes, block `SIGPIPE` in the calling thread for
/// the length of the write and discard the one the write raised. A thread that blocks
/// `SIGPIPE` itself keeps its mask and its pending signals. See `fdsafe_sigpipe_mode`.)
/// Returns the number of bytes written (possibly fewer than `len`).
/// Errors: `-EBADF`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `buf` with `len > 0` or a `len`
/// above `SSIZE_MAX`; `FDSAFE_E_WRONG_KIND` for a fanotify handle (a raw write would answer a
/// permission event behind `fdsafe_fanotify_respond`) or an inotify one; `-EPIPE` (no reader,
/// or a socket shut down); `-EAGAIN`; `-EINTR`; from
/// `write(2)`: `-EINVAL` for a length or value the kind refuses (an eventfd wants 8 bytes),
/// `-EPERM` for a sealed memfd, `-ENOTCONN` and `-EDESTADDRREQ` for unconnected sockets,
/// `-ECONNRESET`, `-ECONNREFUSED` (a datagram peer that is gone), `-EMSGSIZE` (a datagram or
/// seqpacket message too large), `-ENOSPC`, `-EFBIG`, `-EDQUOT`, `-EIO`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_write(handle: fdsafe_handle, buf: *const c_void, len: usize) -> i64 {
    call_direct("fdsafe_write", || {
        let buf = in_slice(buf.cast::<u8>(), len, "buf")?;
        let guard = handles::get(Handle(handle))?;
        let iov = [libc::iovec { iov_base: buf.as_ptr() as *mut c_void, iov_len: buf.len() }];
        Ok(write_iov(&guard, &iov)? as i64)
    })
}

/// Writes `iov` to a held handle without raising `SIGPIPE`: with `RWF_NOSIGNAL` where the
/// kernel has it. Where it has not, a pipe write end that knows its read end holds it for the
/// part that fits at once (see `io::write_holding_reader`); the rest waits, if it must, with
/// the read end let go, so closing the read end wakes it with `-EPIPE` as with raw
/// descriptors.
pub(crate) fn write_iov(guard: &Guard, iov: &[libc::iovec]) -> crate::Result<usize> {
    plain_io(guard.handle())?;
    io::iov_count(iov)?; // before any entry is read
    let guard_kind = guard.object().write_guard();
    if handles::forked_child() && guard_kind != WriteGuard::Socket {
        // The kind and the read end's handle prove nothing here: the number may be a pipe
        // now (see `handles::forked_child`). Socket sends cannot reach a pipe.
        return io::writev(guard.fd(), WriteGuard::BlockSigpipe, iov);
    }
    let WriteGuard::PipeWithReader { reader } = guard_kind else {
        return io::writev(guard.fd(), guard_kind, iov);
    };
    if io::sigpipe_ignored() {
        return io::writev(guard.fd(), WriteGuard::None, iov); // nothing to guard against
    }
    if io::nosignal_writes() {
        return io::writev(guard.fd(), WriteGuard::BlockSigpipe, iov); // one call, no reader needed
    }
    let total = io::iov_total(iov);
    let done = match handles::get(reader) {
        Ok(_reader_held) => io::write_holding_reader(guard.fd(), iov)?,
        Err(_) => 0,
    };
    if done == total && total > 0 {
        return Ok(done);
    }
    match io::writev(guard.fd(), guard_kind, &io::skip_bytes(iov, done)) {
        Ok(more) => Ok(done + more),
        Err(_) if done > 0 => Ok(done), // what was written counts; the error comes next time
        Err(err) => Err(err),
    }
}

/// Scatter read (`readv(2)`) into `iovcnt` buffers. Returns as `fdsafe_read`.
/// Errors: as `fdsafe_read`; `FDSAFE_E_INVALID_ARGUMENT` also if `iov` is NULL with
/// `iovcnt > 0`, `iovcnt` is negative or above `IOV_MAX` (1024), a buffer is NULL with a
/// length, or the lengths add up to more than `SSIZE_MAX`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_readv(handle: fdsafe_handle, iov: *const libc::iovec, iovcnt: c_int) -> i64 {
    call_direct("fdsafe_readv", || {
        let iov = super::boundary::iov_slice(iov, iov_len(iovcnt)?, "iov")?;
        let guard = handles::get(Handle(handle))?;
        plain_io(guard.handle())?;
        Ok(io::readv(guard.fd(), iov)? as i64)
    })
}

/// Gather write (`writev(2)`) from `iovcnt` buffers. Never raises `SIGPIPE`, like
/// `fdsafe_write`, and returns as it does.
/// Errors: as `fdsafe_write`; `FDSAFE_E_INVALID_ARGUMENT` also for the `iov` checks of
/// `fdsafe_readv`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_writev(handle: fdsafe_handle, iov: *const libc::iovec, iovcnt: c_int) -> i64 {
    call_direct("fdsafe_writev", || {
        let iov = super::boundary::iov_slice(iov, iov_len(iovcnt)?, "iov")?;
        let guard = handles::get(Handle(handle))?;
        Ok(write_iov(&guard, iov)? as i64)
    })
}

/// Refuses the generic reads and writes on the kinds whose records fdsafe takes care of: a
/// fanotify event brings a descriptor (and a permission event an answer owed), which only
/// `fdsafe_fanotify_read` closes and `fdsafe_fanotify_respond` answers (a raw write would
/// answer behind its back); an inotify event may retire a watch id, and fdsafe may hold
/// events already read. The kind is the handle's own bits: no call.
#[inline(always)]
pub(crate) fn plain_io(handle: Handle) -> crate::Result<()> {
    match handle.kind() {
        Some(kind @ Kind::Fanotify) => {
            Err(Error::WrongKind { actual: kind, expected: "a kind read and written as bytes (use fdsafe_fanotify_read and _respond)" })
        }
        Some(kind @ Kind::Inotify) => Err(Error::WrongKind { actual: kind, expected: "a kind read as bytes (use fdsafe_inotify_read)" }),
        _ => Ok(()),
    }
}

fn iov_len(iovcnt: c_int) -> crate::Result<usize> {
    usize::try_from(iovcnt).map_err(|_| Error::invalid(format!("iovcnt {iovcnt} is negative")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::kinds::FDSAFE_KIND_PIPE;
    use crate::ffi::pipe::fdsafe_pipe_create;
    use crate::ffi::FDSAFE_NONBLOCK;

    /// Writes that could raise `SIGPIPE`, each checked to return what `write(2)` returns and
    /// leave no `SIGPIPE` pending and the thread's mask as it was. Returns the first broken
    /// check (0: none). Runs in a forked child whose `SIGPIPE` kills, so a raised one shows.
    fn sigpipe_cases() -> i32 {
        // SAFETY: plain signal-set queries on local sets.
        let no_sigpipe = || unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut set);
            let pending = libc::sigismember(&set, libc::SIGPIPE) == 1;
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set);
            !pending && libc::sigismember(&set, libc::SIGPIPE) == 0
        };
        let (mut r, mut w) = (0, 0);
        let byte = b"x".as_ptr().cast::<c_void>();
        // A pipe made by fdsafe, its read end closed.
        if fdsafe_pipe_create(0, &mut r, &mut w) != 0 || fdsafe_close(r) != 0 {
            return 1;
        }
        if fdsafe_write(w, byte, 1) != -(libc::EPIPE as i64) || !no_sigpipe() || fdsafe_close(w) != 0 {
            return 2;
        }
        // A non-blocking one with its reader: filled, then full, then its reader gone.
        let big = vec![7u8; 1 << 20];
        if fdsafe_pipe_create(FDSAFE_NONBLOCK, &mut r, &mut w) != 0 {
            return 3;
        }
        let filled = fdsafe_write(w, big.as_ptr().cast(), big.len());
        if filled <= 0 || fdsafe_write(w, byte, 1) != -(libc::EAGAIN as i64) || fdsafe_close(r) != 0 {
            return 4;
        }
        if fdsafe_write(w, byte, 1) != -(libc::EPIPE as i64) || !no_sigpipe() || fdsafe_close(w) != 0 {
            return 5;
        }
        // A write end adopted from a raw pipe (no read end known), its reader gone.
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 || unsafe { libc::close(fds[0]) } != 0 {
            return 6;
        }
        if fdsafe_fd_adopt(fds[1], FDSAFE_KIND_PIPE, &mut w) != 0 {
            return 7;
        }
        let iov = [libc::iovec { iov_base: byte as *mut c_void, iov_len: 1 }; 2];
        if fdsafe_writev(w, iov.as_ptr(), 2) != -(libc::EPIPE as i64) || !no_sigpipe() {
            return 8;
        }
        // The same from a thread that blocks SIGPIPE itself: the write's own is discarded all
        // the same (unblocking would deliver it), and the thread's mask stays as it was.
        // SAFETY: plain signal-set calls on local sets.
        let blocked_and_none_pending = unsafe {
            let mut pipe_only: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe_only);
            libc::sigaddset(&mut pipe_only, libc::SIGPIPE);
            libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, std::ptr::null_mut());
            let epipe = fdsafe_write(w, byte, 1) == -(libc::EPIPE as i64);
            let (mut pending, mut mask): (libc::sigset_t, libc::sigset_t) = (std::mem::zeroed(), std::mem::zeroed());
            libc::sigpending(&mut pending);
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &pipe_only, std::ptr::null_mut());
            epipe && libc::sigismember(&pending, libc::SIGPIPE) == 0 && libc::sigismember(&mask, libc::SIGPIPE) == 1
        };
        if !blocked_and_none_pending || fdsafe_close(w) != 0 {
            return 9;
        }
        0
    }

    /// Runs [`sigpipe_cases`] in a child, with `RWF_NOSIGNAL` (this kernel's way, where it has
    /// it) or as on a kernel without it (the read-end hold and the per-thread guard).
    fn sigpipe_cases_in_child(without_nosignal: bool) -> i32 {
        // SAFETY: the child runs the cases and exits without returning to the test harness.
        match unsafe { libc::fork() } {
            0 => unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL); // Rust's runtime ignores it
                crate::kinds::io::pretend_nosignal_refused(without_nosignal);
                libc::_exit(sigpipe_cases())
            },
            child => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
                assert!(libc::WIFEXITED(status), "the child was killed by signal {}", libc::WTERMSIG(status));
                libc::WEXITSTATUS(status)
            }
        }
    }

    #[test]
    fn pipe_writes_never_raise_sigpipe_with_or_without_rwf_nosignal() {
        assert_eq!(sigpipe_cases_in_child(false), 0, "with RWF_NOSIGNAL where the kernel has it");
        assert_eq!(sigpipe_cases_in_child(true), 0, "as on a kernel without RWF_NOSIGNAL");
    }
}
