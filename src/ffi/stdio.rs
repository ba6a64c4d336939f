//! Standard input, output and error as handles.

use std::ffi::c_int;

use super::kinds::map_flags;
use super::{call, fdsafe_handle, Out, FDSAFE_OWN_FLAG};
use crate::handles;
use crate::kinds::stdio::{self, Stdio, StdioFlags};

/// `fdsafe_stdio_open` stream: standard input (descriptor 0).
pub const FDSAFE_STDIN: c_int = 0;
/// `fdsafe_stdio_open` stream: standard output (descriptor 1).
pub const FDSAFE_STDOUT: c_int = 1;
/// `fdsafe_stdio_open` stream: standard error (descriptor 2).
pub const FDSAFE_STDERR: c_int = 2;
/// `fdsafe_stdio_open` flag: when the handle is closed, also point the standard stream at
/// `/dev/null` (the daemon way to close it: the number stays taken, so no later file can
/// land on descriptor 0, 1 or 2). Only while the number still names the stream's open file
/// and no handle owns it: once the program has closed the stream itself, the number may be
/// another file's, or another handle's (even one sharing the stream's open file, as
/// `fdsafe_pidfd_getfd` or a received descriptor makes), and is left alone. A redirect and an
/// adoption of the number (`fdsafe_fd_adopt`) never interleave; if another thread is adopting
/// descriptor 0, 1 or 2 at that instant, the stream is left as it is. An fdsafe-only flag (see
/// `FDSAFE_OWN_FLAG`).
pub const FDSAFE_STDIO_CLOSE_STREAM: u32 = FDSAFE_OWN_FLAG | (1 << 0);

/// A handle (kind `FDSAFE_KIND_STDIO`) for standard input, output or error, usable with
/// `fdsafe_read`, `fdsafe_write`, `fdsafe_wait` and later event loops.
///
/// The handle owns a close-on-exec duplicate of the stream numbered 3 or above
/// (`FDSAFE_O_CLOEXEC` is accepted and changes nothing); closing it
/// leaves descriptors 0, 1 and 2 alone unless `FDSAFE_STDIO_CLOSE_STREAM` was given. The
/// duplicate shares the open file, so `fdsafe_nonblocking_set` on it changes the stream too.
///
/// Ownership: the caller owns `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a
/// `stream` other than 0, 1, 2, unknown flags or a NULL `handle_out`, or if the number
/// belongs to a live handle (the program closed the stream, and a handle's descriptor took
/// its number); `-EBADF` if the stream is not open; `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_stdio_open(stream: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_stdio_open", || {
        let stream = stdio::stream(stream)?;
        let flags = map_flags(
            flags,
            &[(FDSAFE_STDIO_CLOSE_STREAM, StdioFlags::CLOSE_STREAM), (super::file::FDSAFE_O_CLOEXEC, StdioFlags::empty())],
            "stdio",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        // A duplicate of the standard stream, whose file the stream (and the parent) hold.
        out.write(handles::insert_copy(Box::new(Stdio::open(stream, flags, handles::number_is_held)?).into())?.0);
        Ok(0)
    })
}
