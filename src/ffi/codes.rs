//! Return codes: negative errno values from the kernel, and fdsafe's own codes below -4095
//! (Linux errno values stay under 4096). Names and descriptions are static strings.

use std::ffi::{c_char, c_int, CStr};

use super::boundary::{out_slice, with_last_error};
use crate::error::Error;

/// The handle is alive but of another kind than the function needs (a pipe passed to an
/// eventfd function, say). Nothing was done.
pub const FDSAFE_E_WRONG_KIND: c_int = -10001;
/// The library refused an argument before doing anything: a NULL pointer where one is
/// required, unknown flag bits, an out-of-range value or a length that cannot be right.
pub const FDSAFE_E_INVALID_ARGUMENT: c_int = -10002;
/// The caller's buffer is too small for the result; the last error message says how large
/// it must be. Nothing was consumed.
pub const FDSAFE_E_BUFFER_TOO_SMALL: c_int = -10003;
/// A bug in fdsafe (such as a caught panic). The operation may not have completed.
pub const FDSAFE_E_INTERNAL: c_int = -10004;

const LIBRARY_CODES: [(c_int, &CStr, &CStr); 4] = [
    (FDSAFE_E_WRONG_KIND, c"FDSAFE_E_WRONG_KIND", c"Handle of the wrong kind for this operation"),
    (FDSAFE_E_INVALID_ARGUMENT, c"FDSAFE_E_INVALID_ARGUMENT", c"Invalid argument (refused by fdsafe)"),
    (FDSAFE_E_BUFFER_TOO_SMALL, c"FDSAFE_E_BUFFER_TOO_SMALL", c"Buffer too small for the result"),
    (FDSAFE_E_INTERNAL, c"FDSAFE_E_INTERNAL", c"Internal error in fdsafe"),
];

pub fn code_of(error: &Error) -> c_int {
    match error {
        Error::Os { errno, .. } => -errno,
        Error::Stale(_) => -libc::EBADF,
        Error::WrongKind { .. } => FDSAFE_E_WRONG_KIND,
        Error::InvalidArgument(_) => FDSAFE_E_INVALID_ARGUMENT,
        Error::BufferTooSmall { .. } => FDSAFE_E_BUFFER_TOO_SMALL,
        Error::Internal(_) => FDSAFE_E_INTERNAL,
    }
}

extern "C" {
    // glibc >= 2.32: static strings, NULL for numbers that are not errno values.
    fn strerrordesc_np(errnum: c_int) -> *const c_char;
    fn strerrorname_np(errnum: c_int) -> *const c_char;
}

fn errno_string(code: i64, lookup: unsafe extern "C" fn(c_int) -> *const c_char) -> Option<*const c_char> {
    if !(-4095..0).contains(&code) {
        return None;
    }
    // SAFETY: both glibc functions accept any int and return a static string or NULL.
    let text = unsafe { lookup(-code as c_int) };
    (!text.is_null()).then_some(text)
}

/// A static description of any return code: `"Resource temporarily unavailable"` for
/// `-EAGAIN`, fdsafe's own text for `FDSAFE_E_*` codes, `"Success"` for codes >= 0 and
/// `"Unknown error"` otherwise. Never NULL; never to be freed.
///
/// `code` is an `int64_t`, the widest type a function returns, so that the result of any
/// function (an `int` or an `int64_t`) can be passed unchanged.
/// Errors: none. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_strerror(code: i64) -> *const c_char {
    if code >= 0 {
        return c"Success".as_ptr();
    }
    if let Some((_, _, text)) = LIBRARY_CODES.iter().find(|(c, _, _)| i64::from(*c) == code) {
        return text.as_ptr();
    }
    errno_string(code, strerrordesc_np).unwrap_or(c"Unknown error".as_ptr())
}

/// The symbolic name of any return code: `"EAGAIN"` for `-EAGAIN`, `"FDSAFE_E_WRONG_KIND"`,
/// `"OK"` for codes >= 0 and `"UNKNOWN"` otherwise. Never NULL; never to be freed. `code`
/// is an `int64_t`, as for `fdsafe_strerror`.
/// Errors: none. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_error_name(code: i64) -> *const c_char {
    if code >= 0 {
        return c"OK".as_ptr();
    }
    if let Some((_, name, _)) = LIBRARY_CODES.iter().find(|(c, _, _)| i64::from(*c) == code) {
        return name.as_ptr();
    }
    errno_string(code, strerrorname_np).unwrap_or(c"UNKNOWN".as_ptr())
}

/// Copies the calling thread's most recent failure message into `buf`, such as
/// `"fdsafe_eventfd_write: stale handle: it was closed or released"`. The message names the
/// function and, where there is one, the object (a path, a descriptor).
///
/// Returns the size the whole message needs, terminating NUL included (1 if this thread has
/// had no failure). Writes at most `len` bytes, always NUL-terminated when `len > 0`, so a
/// return value greater than `len` means the copy was truncated. Pass `buf = NULL, len = 0` to
/// learn the size. Successful calls leave the message alone.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` if `buf` is NULL and `len > 0`; this failure leaves the
/// message alone, so that a retry can still read it.
/// Thread safety: each thread has its own message.
#[no_mangle]
pub extern "C" fn fdsafe_last_error(buf: *mut c_char, len: usize) -> c_int {
    // Not through `call`: recording its own failure would replace the message asked for.
    let Ok(out) = out_slice(buf.cast::<u8>(), len, "buf") else {
        return FDSAFE_E_INVALID_ARGUMENT;
    };
    with_last_error(|text| {
        let bytes = text.as_bytes();
        if let Some(room) = out.len().checked_sub(1) {
            let n = bytes.len().min(room);
            out[..n].copy_from_slice(&bytes[..n]);
            out[n] = 0;
        }
        c_int::try_from(bytes.len() + 1).unwrap_or(c_int::MAX)
    })
}
