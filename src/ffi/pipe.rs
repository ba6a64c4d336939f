//! Pipes.

use std::ffi::c_int;

use super::kinds::map_flags;
use super::{call, call_direct, fdsafe_handle, Out, FDSAFE_NONBLOCK};
use crate::error::{Error, Result};
use crate::handles::{self, Handle, Kind};
use crate::kinds::pipe::{self, PipeFlags};

/// `fdsafe_pipe_create` flag: packet mode, the kernel's `O_DIRECT`: each write of up to
/// `PIPE_BUF` bytes is one packet and each read returns at most one packet.
pub const FDSAFE_PIPE_PACKET: u32 = 0x4000;
const _: () = assert!(FDSAFE_PIPE_PACKET == libc::O_DIRECT as u32);

/// Creates a pipe. `*read_out` receives the read end and `*write_out` the write end, two
/// handles of kind `FDSAFE_KIND_PIPE`, both close-on-exec. `flags` (as `pipe2`): `FDSAFE_NONBLOCK`
/// (`O_NONBLOCK`), `FDSAFE_PIPE_PACKET` (`O_DIRECT`), or 0; `FDSAFE_O_CLOEXEC` is accepted.
///
/// A pipe is two descriptors and nothing else. Its writes never raise `SIGPIPE` (see
/// `fdsafe_write`); for kernels without `RWF_NOSIGNAL` (before 6.18) the write end remembers
/// its read end's handle: a write that holds the read end cannot raise `SIGPIPE`, so it needs
/// no guard for what fits at once.
///
/// Ownership: the caller owns both handles and closes each with `fdsafe_close`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL out-pointers or unknown flags; `-EMFILE` /
/// `-ENFILE` at the descriptor limits. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pipe_create(flags: u32, read_out: *mut fdsafe_handle, write_out: *mut fdsafe_handle) -> c_int {
    // No cancellation guard: creating enters no cancellation point (eventfd, pipe2 and
    // socketpair are not; closing on failure guards itself).
    call_direct("fdsafe_pipe_create", || {
        let flags = map_flags(
            flags,
            &[
                (FDSAFE_NONBLOCK, PipeFlags::NONBLOCK),
                (FDSAFE_PIPE_PACKET, PipeFlags::PACKET),
                (super::file::FDSAFE_O_CLOEXEC, PipeFlags::empty()),
            ],
            "pipe",
        )?;
        let (read_out, write_out) = (Out::new(read_out, "read_out")?, Out::new(write_out, "write_out")?);
        let (reader, writer) = pipe::pipe(flags)?;
        let reader = handles::insert(reader)?;
        // Before the write end is handed out, so every write sees it.
        writer.set_reader(reader);
        let writer = match handles::insert(writer) {
            Ok(h) => h,
            Err(err) => {
                let _ = handles::close(reader);
                return Err(err);
            }
        };
        read_out.write(reader.0);
        write_out.write(writer.0);
        Ok(0)
    })
}

/// The capacity in bytes of the pipe `handle` is an end of (`F_GETPIPE_SZ`; 65536 by
/// default); a FIFO end's too, as a FIFO is a pipe with a name.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND` for handles that are not pipe or FIFO ends.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pipe_get_capacity(handle: fdsafe_handle) -> i64 {
    call("fdsafe_pipe_get_capacity", || Ok(pipe::capacity(pipe_or_fifo(handle)?.fd())? as i64))
}

/// Sets the capacity of the pipe (or FIFO) `handle` is an end of to at least `bytes`
/// (`F_SETPIPE_SZ`); the kernel rounds up to a power-of-two number of pages (0 gives one
/// page). Returns the capacity now in force.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` if `bytes` exceeds
/// `INT_MAX`; `-EPERM` above `/proc/sys/fs/pipe-max-size` without `CAP_SYS_RESOURCE`; `-EBUSY`
/// if the pipe holds more data than the new size. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pipe_set_capacity(handle: fdsafe_handle, bytes: usize) -> i64 {
    call("fdsafe_pipe_set_capacity", || Ok(pipe::set_capacity(pipe_or_fifo(handle)?.fd(), bytes)? as i64))
}

/// Holds a pipe or FIFO end.
fn pipe_or_fifo(handle: fdsafe_handle) -> Result<handles::Guard> {
    let guard = handles::get(Handle(handle))?;
    match guard.kind() {
        Kind::Pipe | Kind::Fifo => Ok(guard),
        actual => Err(Error::WrongKind { actual, expected: "a pipe or FIFO end" }),
    }
}
