//! How pipe writes keep `SIGPIPE` away.

use std::ffi::c_int;

use super::call;
use crate::error::Error;
use crate::kinds::io;

/// `fdsafe_sigpipe_mode`: the default; touches nothing process-wide. Every write to a pipe,
/// FIFO or other non-socket descriptor is made with `pwritev2(RWF_NOSIGNAL)` (Linux 6.18: the
/// same system call, about 30 ns dearer than `write`), or, where the kernel refuses that flag,
/// is guarded by blocking `SIGPIPE` in the calling thread for its length (two extra system
/// calls per write). A pipe from `fdsafe_pipe_create` whose read end is still a live handle
/// needs neither in either mode (the write holds the read end open; see `fdsafe_write`).
pub const FDSAFE_SIGPIPE_GUARD: u32 = 0;
/// `fdsafe_sigpipe_mode`: set `SIGPIPE` to be ignored process-wide (`SIG_IGN`, as GLib and
/// Python do) and write with a plain `write`, without the per-write guard. Children inherit `SIG_IGN` across
/// `exec`: set it back to `SIG_DFL` in a child before `exec` if the program expects the
/// default. If the application later changes `SIGPIPE`'s disposition itself, it must switch
/// back to `FDSAFE_SIGPIPE_GUARD` first.
pub const FDSAFE_SIGPIPE_IGNORE: u32 = 1;

/// Chooses how writes avoid `SIGPIPE` (`FDSAFE_SIGPIPE_GUARD` or `FDSAFE_SIGPIPE_IGNORE`).
/// Either way no fdsafe write raises `SIGPIPE`: a write to a pipe without readers returns
/// `-EPIPE`. Socket writes use `MSG_NOSIGNAL` in both modes. Switching back to
/// `FDSAFE_SIGPIPE_GUARD` restores the disposition that `FDSAFE_SIGPIPE_IGNORE` replaced.
///
/// A thread that blocks `SIGPIPE` while the process ignores it keeps the ones raised meanwhile
/// pending (by its own raw writes, or fdsafe's in `FDSAFE_SIGPIPE_IGNORE`); switching back to
/// `FDSAFE_SIGPIPE_GUARD` discards them in every thread, as installing `SIG_IGN` does, so the
/// restored disposition never acts on them.
///
/// Returns the previous mode. Errors: `FDSAFE_E_INVALID_ARGUMENT` for another `mode`;
/// `-errno` from `sigaction`. Thread safety: any thread, but like any change of a signal's
/// disposition it affects every thread. Switch back to `FDSAFE_SIGPIPE_GUARD` only while no
/// other thread is inside an fdsafe write (before starting them, or after joining them): a
/// write in flight finishes in the mode it started in, a plain `write` that, should its
/// reader leave after the switch, raises `SIGPIPE` under the restored disposition.
#[no_mangle]
pub extern "C" fn fdsafe_sigpipe_mode(mode: u32) -> c_int {
    call("fdsafe_sigpipe_mode", || {
        let was_ignoring = match mode {
            FDSAFE_SIGPIPE_GUARD => io::guard_sigpipe()?,
            FDSAFE_SIGPIPE_IGNORE => io::ignore_sigpipe()?,
            other => return Err(Error::invalid(format!("{other} is not an FDSAFE_SIGPIPE_* mode"))),
        };
        Ok(if was_ignoring { FDSAFE_SIGPIPE_IGNORE } else { FDSAFE_SIGPIPE_GUARD } as c_int)
    })
}
