//! Terminals, serial ports and pseudo-terminals.

use std::ffi::{c_char, c_int};

use super::file::c_path;
use super::{call, fdsafe_handle, out_slice, Out, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, get_as, Handle};
use crate::kinds::terminal::Terminal;

/// `fdsafe_terminal_flush` queue: unread input.
pub const FDSAFE_FLUSH_INPUT: u32 = 0;
/// Unsent output.
pub const FDSAFE_FLUSH_OUTPUT: u32 = 1;
/// Both.
pub const FDSAFE_FLUSH_BOTH: u32 = 2;
const _: () = assert!(FDSAFE_FLUSH_INPUT == libc::TCIFLUSH as u32);
const _: () = assert!(FDSAFE_FLUSH_OUTPUT == libc::TCOFLUSH as u32 && FDSAFE_FLUSH_BOTH == libc::TCIOFLUSH as u32);

/// Modem line: Data Terminal Ready (settable). `FDSAFE_MODEM_*` equal the kernel's `TIOCM_*`.
pub const FDSAFE_MODEM_DTR: u32 = 0x002;
/// Request To Send (settable).
pub const FDSAFE_MODEM_RTS: u32 = 0x004;
/// Clear To Send (read only).
pub const FDSAFE_MODEM_CTS: u32 = 0x020;
/// Data Carrier Detect (read only).
pub const FDSAFE_MODEM_DCD: u32 = 0x040;
/// Ring Indicator (read only).
pub const FDSAFE_MODEM_RI: u32 = 0x080;
/// Data Set Ready (read only).
pub const FDSAFE_MODEM_DSR: u32 = 0x100;

use super::termios::single;

fn term(handle: fdsafe_handle) -> Result<handles::TypedGuard<Terminal>> {
    get_as::<Terminal>(Handle(handle), "a terminal")
}

/// Opens the terminal or serial port at `path` as a handle of kind `FDSAFE_KIND_TERMINAL`,
/// close-on-exec and never becoming the controlling terminal (`O_NOCTTY`). `flags`:
/// `FDSAFE_O_RDONLY`, `FDSAFE_O_WRONLY` or `FDSAFE_O_RDWR`, plus `FDSAFE_NONBLOCK` (which also
/// keeps a serial port's open from waiting for carrier detect). `/dev/ptmx` is refused: opening
/// it makes a new pseudo-terminal master, locked until unlocked; `fdsafe_pty_open` makes both
/// ends, unlocked.
///
/// Ownership: the caller owns `*handle_out`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or empty path, a NULL `handle_out`,
/// unknown flags, access mode 3, a path that is not a terminal (non-devices are not even
/// opened), or `/dev/ptmx`; `-ENOENT`, `-ENAMETOOLONG`, `-EACCES`, `-EBUSY` (exclusive
/// mode), `-EIO`, `-ENXIO`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_open(path: *const c_char, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_terminal_open", || {
        let path = c_path(path, "path")?;
        let flags = super::fifo::end_flags(flags, "terminal open")?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(Terminal::open(path, flags)?))?.0);
        Ok(0)
    })
}

/// Opens a new pseudo-terminal pair: `*master_out` (the controlling side, `/dev/ptmx`) and
/// `*slave_out` (the terminal a program sees, `/dev/pts/N`), both of kind
/// `FDSAFE_KIND_TERMINAL`, close-on-exec, `O_NOCTTY`. `flags`: 0 or `FDSAFE_NONBLOCK`
/// (both ends); `FDSAFE_O_CLOEXEC` and `FDSAFE_O_NOCTTY`, always in force, are accepted.
///
/// Ownership: the caller owns both handles.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL out-pointers or other flags; `-ENOSPC` at the
/// pty limit; `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pty_open(flags: u32, master_out: *mut fdsafe_handle, slave_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_pty_open", || {
        let nonblocking = super::kinds::nonblocking_flag(flags & !super::file::FDSAFE_O_NOCTTY, "pty")?;
        let (mo, so) = (Out::new(master_out, "master_out")?, Out::new(slave_out, "slave_out")?);
        let (master, slave) = Terminal::open_pty(nonblocking)?;
        let m = handles::insert(Box::new(master))?;
        let s = match handles::insert(Box::new(slave)) {
            Ok(s) => s,
            Err(e) => {
                let _ = handles::close(m);
                return Err(e);
            }
        };
        mo.write(m.0);
        so.write(s.0);
        Ok(0)
    })
}

/// Opens the slave of the pseudo-terminal master `master` (`TIOCGPTPEER`: no path lookup, so
/// no race with a replaced `/dev/pts` entry) as a new terminal handle. `flags`: 0 or
/// `FDSAFE_NONBLOCK`; `FDSAFE_O_CLOEXEC` and `FDSAFE_O_NOCTTY`, always in force, are accepted.
///
/// Ownership: the caller owns `*slave_out`. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for a NULL out-pointer or unknown flags; from the kernel
/// `-EIO` if `master` is a pseudo-terminal slave or a master still locked (one adopted from
/// `posix_openpt` before `unlockpt`), `-ENOTTY` for other terminals; `-EMFILE`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_pty_peer(master: fdsafe_handle, flags: u32, slave_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_pty_peer", || {
        let nonblocking = super::kinds::nonblocking_flag(flags & !super::file::FDSAFE_O_NOCTTY, "pty")?;
        let out = Out::new(slave_out, "slave_out")?;
        let slave = term(master)?.peer(nonblocking)?;
        out.write(handles::insert(Box::new(slave))?.0);
        Ok(0)
    })
}

fn copy_string(text: &str, buf: *mut c_char, len: usize) -> Result<c_int> {
    let needed = text.len() + 1;
    let out = out_slice(buf.cast::<u8>(), len, "buf")?;
    if out.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    Ok(needed as c_int)
}

/// Writes the terminal's device path into `buf` (`/dev/pts/3`, `/dev/ttyS0`; `/dev/ptmx` for
/// a pseudo-terminal master), NUL-terminated. With `FDSAFE_TERMINAL_PATH_PEER` in `flags`,
/// the path of a master's slave instead (`TIOCGPTN`), e.g. for `stty -F`.
///
/// Returns the bytes written, NUL included. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for a NULL `buf` with `len > 0` or unknown flags;
/// `FDSAFE_E_BUFFER_TOO_SMALL` if `len` is less than needed (nothing written; 64 bytes always
/// suffice for ptys); `-ENOTTY` for `FDSAFE_TERMINAL_PATH_PEER` on a non-master.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_path(handle: fdsafe_handle, flags: u32, buf: *mut c_char, len: usize) -> c_int {
    call("fdsafe_terminal_path", || {
        let peer = super::kinds::single_flag(flags, FDSAFE_TERMINAL_PATH_PEER, "terminal path")?;
        let t = term(handle)?;
        let path = if peer { t.peer_path()? } else { t.path()? };
        copy_string(&path, buf, len)
    })
}

/// `fdsafe_terminal_path` flag (fdsafe-only, see `FDSAFE_OWN_FLAG`): the path of a
/// pseudo-terminal master's slave.
pub const FDSAFE_TERMINAL_PATH_PEER: u32 = FDSAFE_OWN_FLAG | (1 << 13);

/// A terminal's window size, in characters and pixels.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct fdsafe_window_size {
    pub rows: u16,
    pub cols: u16,
    /// Width in pixels (0 if unknown).
    pub xpixel: u16,
    /// Height in pixels (0 if unknown).
    pub ypixel: u16,
}

/// Reads the window size (`TIOCGWINSZ`). Returns 0. Errors: `-EBADF`;
/// `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `size_out`; `-EIO` for a pty
/// slave whose master was closed.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_get_window_size(handle: fdsafe_handle, size_out: *mut fdsafe_window_size) -> c_int {
    call("fdsafe_terminal_get_window_size", || {
        let out = Out::new(size_out, "size_out")?;
        let w = term(handle)?.window_size()?;
        out.write(fdsafe_window_size { rows: w.ws_row, cols: w.ws_col, xpixel: w.ws_xpixel, ypixel: w.ws_ypixel });
        Ok(0)
    })
}

/// Sets the window size (`TIOCSWINSZ`); the foreground process group gets `SIGWINCH` if it
/// changed. Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT`
/// for a NULL `size`; `-EIO` for a pty slave whose master was closed. Thread safety: any
/// thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_set_window_size(handle: fdsafe_handle, size: *const fdsafe_window_size) -> c_int {
    call("fdsafe_terminal_set_window_size", || {
        let s = *single(size, "size")?;
        term(handle)?.set_window_size(libc::winsize { ws_row: s.rows, ws_col: s.cols, ws_xpixel: s.xpixel, ws_ypixel: s.ypixel })?;
        Ok(0)
    })
}

/// Reads the modem lines into `*lines_out` (`FDSAFE_MODEM_*` bits, `TIOCMGET`).
///
/// Returns 0. Errors: `-ENOTTY` from the kernel for a device without modem lines, which
/// includes every pseudo-terminal (a clear "no modem lines here", not a failure of fdsafe);
/// `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL `lines_out`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_modem_get(handle: fdsafe_handle, lines_out: *mut u32) -> c_int {
    call("fdsafe_terminal_modem_get", || {
        let out = Out::new(lines_out, "lines_out")?;
        out.write(term(handle)?.modem_lines()?);
        Ok(0)
    })
}

/// Raises the lines in `set` and lowers those in `clear` (`TIOCMBIS`/`TIOCMBIC`); only
/// `FDSAFE_MODEM_DTR` and `FDSAFE_MODEM_RTS` can be changed.
///
/// Returns 0. Errors: `-ENOTTY` on pseudo-terminals and other devices without modem lines;
/// `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for other bits or a line in
/// both sets. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_modem_set(handle: fdsafe_handle, set: u32, clear: u32) -> c_int {
    call("fdsafe_terminal_modem_set", || {
        let settable = FDSAFE_MODEM_DTR | FDSAFE_MODEM_RTS;
        if (set | clear) & !settable != 0 || set & clear != 0 {
            return Err(Error::invalid("only DTR and RTS can be set or cleared, each in one set"));
        }
        term(handle)?.modem_change(set, clear)?;
        Ok(0)
    })
}

/// Waits until all output written to the terminal has been sent (`tcdrain`). Returns 0.
/// A signal gives `-EINTR`. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_drain(handle: fdsafe_handle) -> c_int {
    call("fdsafe_terminal_drain", || {
        term(handle)?.drain()?;
        Ok(0)
    })
}

/// Discards unread input, unsent output or both (`tcflush`): `queue` is
/// `FDSAFE_FLUSH_INPUT`, `FDSAFE_FLUSH_OUTPUT` or `FDSAFE_FLUSH_BOTH`. Returns 0.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for another `queue`;
/// `-EIO` for a pty slave whose master was closed. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_flush(handle: fdsafe_handle, queue: u32) -> c_int {
    call("fdsafe_terminal_flush", || {
        let q = match queue {
            FDSAFE_FLUSH_INPUT => libc::TCIFLUSH,
            FDSAFE_FLUSH_OUTPUT => libc::TCOFLUSH,
            FDSAFE_FLUSH_BOTH => libc::TCIOFLUSH,
            other => return Err(Error::invalid(format!("queue {other} is not an FDSAFE_FLUSH_* value"))),
        };
        term(handle)?.flush(q)?;
        Ok(0)
    })
}

/// `fdsafe_terminal_flow` action: suspend output (`TCOOFF`).
pub const FDSAFE_TERM_OUTPUT_OFF: u32 = 0;
/// Resume suspended output (`TCOON`).
pub const FDSAFE_TERM_OUTPUT_ON: u32 = 1;
/// Send the STOP character (`VSTOP`, Ctrl-S), asking the other end to stop sending (`TCIOFF`).
pub const FDSAFE_TERM_INPUT_OFF: u32 = 2;
/// Send the START character (`VSTART`, Ctrl-Q), asking the other end to resume (`TCION`).
pub const FDSAFE_TERM_INPUT_ON: u32 = 3;
const _: () = assert!(FDSAFE_TERM_OUTPUT_OFF == libc::TCOOFF as u32 && FDSAFE_TERM_OUTPUT_ON == libc::TCOON as u32);
const _: () = assert!(FDSAFE_TERM_INPUT_OFF == libc::TCIOFF as u32 && FDSAFE_TERM_INPUT_ON == libc::TCION as u32);

/// Suspends or resumes output or input (`tcflow`): `action` is `FDSAFE_TERM_OUTPUT_OFF`,
/// `FDSAFE_TERM_OUTPUT_ON`, `FDSAFE_TERM_INPUT_OFF` or `FDSAFE_TERM_INPUT_ON`. While output
/// is suspended, writes block (or give `-EAGAIN`) once the driver's output buffer is full; a
/// pseudo-terminal buffers nothing while suspended, so there the first write blocks and the
/// other end reads nothing until output resumes.
///
/// Returns 0. Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for
/// another `action`; `-EINTR` while sending the STOP or START character. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_flow(handle: fdsafe_handle, action: u32) -> c_int {
    call("fdsafe_terminal_flow", || {
        if action > FDSAFE_TERM_INPUT_ON {
            return Err(Error::invalid(format!("action {action} is not an FDSAFE_TERM_OUTPUT_*/INPUT_* value")));
        }
        term(handle)?.flow(action as i32)?;
        Ok(0)
    })
}

/// The number of bytes waiting in one queue: `FDSAFE_FLUSH_INPUT`, received and not yet
/// read (`FIONREAD`; in canonical mode only complete lines count), or
/// `FDSAFE_FLUSH_OUTPUT`, written and not yet sent (`TIOCOUTQ`).
///
/// Returns the count (>= 0). Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`;
/// `FDSAFE_E_INVALID_ARGUMENT` for another `queue`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_queue_size(handle: fdsafe_handle, queue: u32) -> c_int {
    call("fdsafe_terminal_queue_size", || {
        let output = match queue {
            FDSAFE_FLUSH_INPUT => false,
            FDSAFE_FLUSH_OUTPUT => true,
            q => return Err(Error::invalid(format!("queue {q}: FDSAFE_FLUSH_INPUT or FDSAFE_FLUSH_OUTPUT"))),
        };
        Ok(term(handle)?.queue_size(output)?.min(c_int::MAX as usize) as c_int)
    })
}

/// Sends a break (a stream of zero bits): `duration_ms` 0 for the standard length (0.25 to
/// 0.5 s), else that long rounded up to tenths of a second. Blocks for the duration; devices
/// without break support (pseudo-terminals) return at once. Returns 0.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-EINTR`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_send_break(handle: fdsafe_handle, duration_ms: u32) -> c_int {
    call("fdsafe_terminal_send_break", || {
        term(handle)?.send_break(duration_ms)?;
        Ok(0)
    })
}

/// Turns exclusive mode on or off (`TIOCEXCL`/`TIOCNXCL`): while on, further opens of the
/// device fail with `-EBUSY` (except for processes with `CAP_SYS_ADMIN`). Returns 0.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_set_exclusive(handle: fdsafe_handle, exclusive: bool) -> c_int {
    call("fdsafe_terminal_set_exclusive", || {
        term(handle)?.set_exclusive(exclusive)?;
        Ok(0)
    })
}

/// Whether exclusive mode is on (`TIOCGEXCL`): 1 or 0. Errors: `-EBADF`;
/// `FDSAFE_E_WRONG_KIND`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_terminal_get_exclusive(handle: fdsafe_handle) -> c_int {
    call("fdsafe_terminal_get_exclusive", || Ok(term(handle)?.exclusive()? as c_int))
}

/// Whether a handle of any kind refers to a terminal (`isatty`): 1 or 0. A stdio handle on a
/// terminal gives 1. Errors: `-EBADF` for a dead handle. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_is_terminal(handle: fdsafe_handle) -> c_int {
    call("fdsafe_is_terminal", || {
        let guard = handles::get(Handle(handle))?;
        // SAFETY: isatty only queries.
        Ok((unsafe { libc::isatty(guard.raw_fd()) } == 1) as c_int)
    })
}
