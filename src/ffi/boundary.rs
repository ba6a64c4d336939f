//! The one path every exported function takes: catch panics, turn errors into return codes,
//! record the thread's last error message, and leave `errno` as the caller had it. Also the
//! checked conversions of C pointers.

use std::cell::RefCell;
use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::codes;
use crate::error::{Error, Result};

thread_local! {
    /// The thread's last failure: the function and its error, made into text only when asked
    /// for. A nonblocking program meets `EAGAIN` all the time, and formatting the errno's text
    /// at every failure cost 186 ns more than the failing system call (an empty nonblocking
    /// eventfd read: 300 ns against 113 ns raw; with the error kept as it is: 148 ns).
    static LAST_ERROR: RefCell<Option<(&'static str, Error)>> = const { RefCell::new(None) };
}

/// Return types of exported functions: a value >= 0, or a negative code.
pub trait ReturnCode: Copy {
    fn from_code(code: c_int) -> Self;
}
impl ReturnCode for c_int {
    fn from_code(code: c_int) -> Self {
        code
    }
}
impl ReturnCode for i64 {
    fn from_code(code: c_int) -> Self {
        code as i64
    }
}

/// Runs the body of the exported function `op`: its error becomes a negative return code and
/// the thread's last error message; a panic becomes `FDSAFE_E_INTERNAL` and never unwinds
/// into C. Thread cancellation is disabled for the length of the call: libc's wrappers of
/// blocking calls (`recvmsg`, `accept`, `poll`, `close`...) are cancellation points, and a
/// cancellation would unwind through Rust frames, which aborts the process. A pending
/// cancellation acts at the thread's next cancellation point outside fdsafe.
#[inline(always)] // one instance per exported function: it belongs inside it
pub fn call<R: ReturnCode>(op: &'static str, body: impl FnOnce() -> Result<R>) -> R {
    let _no_cancel = crate::sys::NoCancellation::begin();
    call_direct(op, body)
}

/// [`call`] without the cancellation guard (two libc calls, ~12 ns), for the hot paths whose
/// every system call is made directly (`sys::direct`), so that they enter no cancellation
/// point; finalizing a handle, which closes through libc, guards itself.
///
/// `errno` is saved on entry and restored on exit: the return value is the whole answer, and
/// the system calls fdsafe makes (a failed `fcntl` in `fdsafe_fd_adopt`, a retried `EINTR`...)
/// never leave their `errno` behind for the caller. Two thread-local accesses: no difference
/// measured (`fdsafe_handle_kind` 12.2-12.4 ns, an eventfd round trip 272-277 ns, with and
/// without).
#[inline(always)]
pub fn call_direct<R: ReturnCode>(op: &'static str, body: impl FnOnce() -> Result<R>) -> R {
    let _errno = SavedErrno::begin();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => fail(op, err),
        Err(payload) => fail(op, panic_error(payload)),
    }
}

/// The caller's `errno`, put back when the call ends (on every path, panics included).
struct SavedErrno(c_int);

impl SavedErrno {
    #[inline(always)]
    fn begin() -> SavedErrno {
        // SAFETY: glibc's errno location is valid for the calling thread's whole life.
        SavedErrno(unsafe { *libc::__errno_location() })
    }
}

impl Drop for SavedErrno {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe {
            let location = libc::__errno_location();
            if *location != self.0 {
                *location = self.0;
            }
        }
    }
}

#[cold]
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    Error::Internal(what)
}

#[cold]
fn fail<R: ReturnCode>(op: &'static str, error: Error) -> R {
    let code = codes::code_of(&error);
    #[cfg(fdsafe_error_log)]
    error_log::record(op, code);
    set_last_error(op, error);
    R::from_code(code)
}

/// Test builds only (`--cfg fdsafe_error_log`, `make errors-test`): every failure appends
/// `function code` to the file named by `FDSAFE_ERROR_LOG`, so that a script can compare the
/// codes the tests saw each function return with the codes its header comment documents.
#[cfg(fdsafe_error_log)]
mod error_log {
    use std::ffi::c_int;
    use std::io::Write;

    /// The log, opened once and kept open: a descriptor opened and closed per line could be
    /// the number that a stale handle names in a child forked while another thread was
    /// creating that handle (README, "fork and exec"), and the child's write would land in
    /// the log.
    static LOG: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();

    fn log() -> &'static Option<std::fs::File> {
        LOG.get_or_init(|| {
            let path = std::env::var_os("FDSAFE_ERROR_LOG")?;
            std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
        })
    }

    /// Opened when the library loads, before a test takes its snapshot of open descriptors.
    #[used]
    #[link_section = ".init_array"]
    static OPEN_AT_LOAD: extern "C" fn() = {
        extern "C" fn open() {
            let _ = log();
        }
        open
    };

    pub fn record(op: &str, code: c_int) {
        let log = log();
        // One write(2) per line on an O_APPEND file: lines from threads and forked children
        // never interleave.
        if let Some(mut file) = log.as_ref() {
            let _ = file.write_all(format!("{op} {code}\n").as_bytes());
        }
    }
}

fn set_last_error(op: &'static str, error: Error) {
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some((op, error));
        }
    });
}

/// Runs `f` on the thread's last error message (empty before the thread's first failure, and
/// while the thread is exiting and its message is gone): never panics, so it needs no
/// [`call`] around it.
pub fn with_last_error<T>(f: impl FnOnce(&str) -> T) -> T {
    let text = LAST_ERROR.try_with(|last| {
        let last = last.try_borrow().ok()?;
        last.as_ref().map(|(op, error)| format!("{op}: {error}"))
    });
    f(&text.ok().flatten().unwrap_or_default())
}

/// An out-parameter: checked for NULL up front, written only once the call has succeeded.
pub struct Out<T> {
    ptr: *mut T,
}

impl<T> Out<T> {
    pub fn new(ptr: *mut T, name: &str) -> Result<Out<T>> {
        if ptr.is_null() {
            return Err(Error::invalid(format!("{name} is NULL")));
        }
        if !ptr.is_aligned() {
            return Err(Error::invalid(format!("{name} is misaligned")));
        }
        Ok(Out { ptr })
    }

    #[inline(always)]
    pub fn write(self, value: T) {
        // SAFETY: non-NULL and aligned (checked); the caller vouches that it points to a `T`.
        unsafe { self.ptr.write(value) }
    }
}

/// The checked buffer's start: `ptr`, or a dangling (never read) one for length 0, as a
/// slice must not start at NULL.
#[inline(always)]
fn check_buffer<T>(ptr: *const T, len: usize, name: &str) -> Result<*const T> {
    let too_long = len > isize::MAX as usize / std::mem::size_of::<T>().max(1);
    if too_long | ((len > 0) & (ptr.is_null() | !ptr.is_aligned())) {
        return Err(bad_buffer(ptr.is_null(), too_long, len, name));
    }
    Ok(if len == 0 { std::ptr::NonNull::dangling().as_ptr() } else { ptr })
}

/// Out of line, so that the checks' failures (and their formatting) stay off the hot path.
#[cold]
#[inline(never)]
fn bad_buffer(null: bool, too_long: bool, len: usize, name: &str) -> Error {
    Error::invalid(if too_long {
        format!("{name} length {len} is impossibly large")
    } else if null {
        format!("{name} is NULL with length {len}")
    } else {
        format!("{name} is misaligned")
    })
}

/// A caller's input buffer. NULL is accepted only with length 0.
#[inline(always)]
pub fn in_slice<'a, T>(ptr: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    let start = check_buffer(ptr, len, name)?;
    // SAFETY: checked above; the caller vouches that `len` elements are readable.
    Ok(unsafe { std::slice::from_raw_parts(start, len) })
}

/// The kernel refuses more buffers than this in one call (`IOV_MAX`); fdsafe says so first.
pub(crate) const IOV_MAX: usize = 1024;

/// A caller's array of `count` buffers (`readv`, `writev`, `vmsplice`, whole messages),
/// checked as each single buffer is: at most [`IOV_MAX`] of them, none NULL with a length,
/// and their total at most `SSIZE_MAX`, so none of these reaches the kernel as `EFAULT` or
/// `EINVAL`. (Whether the memory is the caller's, no C function can tell.)
pub fn iov_slice<'a>(iov: *const libc::iovec, count: usize, name: &str) -> Result<&'a [libc::iovec]> {
    if count > IOV_MAX {
        return Err(Error::invalid(format!("{count} buffers in {name} (at most {IOV_MAX})")));
    }
    let list = in_slice(iov, count, name)?;
    let mut total: usize = 0;
    for (i, buffer) in list.iter().enumerate() {
        if buffer.iov_base.is_null() && buffer.iov_len > 0 {
            return Err(Error::invalid(format!("{name}[{i}] is NULL with length {}", buffer.iov_len)));
        }
        total = total.saturating_add(buffer.iov_len);
    }
    if total > isize::MAX as usize {
        return Err(Error::invalid(format!("{name} lengths add up to {total}, above SSIZE_MAX")));
    }
    Ok(list)
}

/// A caller's output buffer. NULL is accepted only with length 0.
#[inline(always)]
pub fn out_slice<'a, T>(ptr: *mut T, len: usize, name: &str) -> Result<&'a mut [T]> {
    out_slice_first(ptr, len, len, name)
}

/// The first `most` elements (or all, if fewer) of a caller's `len`-element output buffer,
/// for a call that takes no more: `len` itself is checked as for [`out_slice`] (an absurd one
/// is refused before any memory is touched), and the rest is never looked at.
#[inline(always)]
pub fn out_slice_first<'a, T>(ptr: *mut T, len: usize, most: usize, name: &str) -> Result<&'a mut [T]> {
    let start = check_buffer(ptr, len, name)?;
    // SAFETY: checked above; the caller vouches that `len` elements are writable.
    Ok(unsafe { std::slice::from_raw_parts_mut(start as *mut T, len.min(most)) })
}
