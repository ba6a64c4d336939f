//! Socket activation and service notification (the systemd protocols, without libsystemd).

use std::ffi::{c_char, c_int, CStr};
use std::os::fd::BorrowedFd;

use super::{call, fdsafe_handle, in_slice, out_slice, Out, FDSAFE_OWN_FLAG};
use crate::error::{Error, Result};
use crate::handles::{self, Guard, Handle};
use crate::kinds::daemon::{listen, notify};

/// `fdsafe_listen_fds` flag: remove `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` from the
/// environment once the call has succeeded (whatever it found), so children do not inherit
/// them. Modifies the environment: call it before starting threads that read it.
pub const FDSAFE_LISTEN_UNSET_ENV: u32 = FDSAFE_OWN_FLAG | (1 << 10);

/// `fdsafe_listen_fds` result: `LISTEN_FDS` or `LISTEN_PID` is not set; the process was not
/// socket-activated. Nothing was adopted.
pub const FDSAFE_LISTEN_NONE: c_int = 0;
/// `fdsafe_listen_fds` result: `LISTEN_PID` names another process (the variables were
/// inherited from a parent). Nothing was adopted.
pub const FDSAFE_LISTEN_OTHER_PID: c_int = 1;
/// `fdsafe_listen_fds` result: the descriptors were adopted; `*count_out` says how many.
pub const FDSAFE_LISTEN_ADOPTED: c_int = 2;

/// `fdsafe_notify*` flag: remove `NOTIFY_SOCKET` from the environment after the call (also
/// when sending failed, as `sd_notify` does; not when an argument was refused). The
/// `fdsafe_watchdog_interval` flag of the same value removes `WATCHDOG_USEC` and
/// `WATCHDOG_PID`.
pub const FDSAFE_NOTIFY_UNSET_ENV: u32 = FDSAFE_OWN_FLAG | (1 << 12);

/// `fdsafe_notify*` result: `NOTIFY_SOCKET` is not set (or empty); not running under a
/// service manager. Nothing was sent. Not an error.
pub const FDSAFE_NOTIFY_NO_MANAGER: c_int = 0;
/// `fdsafe_notify*` result: the message was sent to the service manager.
pub const FDSAFE_NOTIFY_SENT: c_int = 1;

fn check_flags(flags: u32, known: u32) -> Result<bool> {
    super::kinds::single_flag(flags, known, "daemon")
}

fn c_text<'a>(ptr: *const c_char, name: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL; the caller passes a NUL-terminated string.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

fn entry(index: usize) -> Result<listen::Listened> {
    let all = listen::recorded();
    let count = all.len();
    all.into_iter().nth(index).ok_or_else(|| Error::invalid(format!("index {index} is out of range: {count} activated descriptors")))
}

fn alive(l: &listen::Listened) -> Result<Handle> {
    handles::get(l.handle).map_err(|e| Error::from_errno(libc::EBADF).context(format!("activated descriptor {:?} was closed ({e})", l.name)))?;
    Ok(l.handle)
}

/// Socket activation (`sd_listen_fds` without libsystemd): if `LISTEN_PID` is this process,
/// takes the `LISTEN_FDS` descriptors 3, 4, ... as handles of their kernel-checked kinds
/// (TCP/Unix listeners and streams, UDP, Unix datagram/seqpacket, FIFOs, message queues...;
/// sockets of other families become `FDSAFE_KIND_SOCKET`, other kinds fdsafe has no type
/// for `FDSAFE_KIND_OTHER` handles), makes each
/// close-on-exec and records them with their names from `LISTEN_FDNAMES` (colon-separated;
/// `"unknown"` when the variable is unset; empty: one empty name for one descriptor, no names
/// for none). Look them up with `fdsafe_listen_fd_handle`,
/// `fdsafe_listen_fd_name` and `fdsafe_listen_fd_find`.
///
/// Returns `FDSAFE_LISTEN_ADOPTED` (with `*count_out` = how many, possibly 0),
/// `FDSAFE_LISTEN_NONE` (not activated; `*count_out` = 0) or `FDSAFE_LISTEN_OTHER_PID`
/// (the variables belong to another process; `*count_out` = 0). Adoption happens once per
/// process: later calls return `FDSAFE_LISTEN_ADOPTED` and the same count without reading
/// the environment again. `flags`: 0 or `FDSAFE_LISTEN_UNSET_ENV`.
///
/// All or nothing: every descriptor must be open and identifiable, the names must match the
/// count, and none may already belong to a live handle; on any failure no descriptor is
/// adopted or changed and the environment is left alone.
///
/// Ownership: the caller owns the adopted handles and closes each once; fdsafe keeps only
/// their values for the lookups. Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `count_out`,
/// unknown flags, a malformed `LISTEN_FDS` / `LISTEN_PID` (anything but plain decimal digits
/// with no leading zero: `010` is 10 to some parsers and 8 to others)
/// or `LISTEN_FDNAMES` (name count differing from `LISTEN_FDS`, a name with a control or
/// non-ASCII byte, longer than 255), a count above the open-descriptor limit, a descriptor in
/// the range that is not open, or one already owned by a handle; `-EMFILE` when the handle
/// table is full. Thread safety: any thread, but `FDSAFE_LISTEN_UNSET_ENV` changes the
/// environment, which is not safe while other threads read it (as with `sd_listen_fds`).
#[no_mangle]
pub extern "C" fn fdsafe_listen_fds(flags: u32, count_out: *mut usize) -> c_int {
    call("fdsafe_listen_fds", || {
        let unset = check_flags(flags, FDSAFE_LISTEN_UNSET_ENV)?;
        let out = Out::new(count_out, "count_out")?;
        let registry = listen::Registry {
            register: &|object| handles::TABLE.insert(object),
            unregister: &|handle| handles::release(handle).ok(),
        };
        Ok(match listen::listen_fds(unset, &registry)? {
            listen::Status::NotActivated => {
                out.write(0);
                FDSAFE_LISTEN_NONE
            }
            listen::Status::OtherProcess => {
                out.write(0);
                FDSAFE_LISTEN_OTHER_PID
            }
            listen::Status::Adopted(n) => {
                out.write(n);
                FDSAFE_LISTEN_ADOPTED
            }
        })
    })
}

/// The handle of activated descriptor `index` (0 for descriptor 3, in `LISTEN_FDS` order).
/// The handle is the one `fdsafe_listen_fds` adopted, not a new one: the caller already owns
/// it and must not close it twice.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `handle_out` or an index at or beyond the
/// count (0 before a successful `fdsafe_listen_fds`); `-EBADF` if the caller has closed that
/// handle. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_listen_fd_handle(index: usize, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_listen_fd_handle", || {
        let out = Out::new(handle_out, "handle_out")?;
        let h = alive(&entry(index)?)?;
        out.write(h.0);
        Ok(0)
    })
}

/// Copies the name of activated descriptor `index` (from `LISTEN_FDNAMES`, or `"unknown"`)
/// into `buf`, NUL-terminated. Returns the name's length without the NUL (at most 255; a
/// buffer of 256 bytes always suffices). The name stays readable after the handle is closed.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `buf` with `len` > 0, an absurd `len` or an
/// index out of range; `FDSAFE_E_BUFFER_TOO_SMALL` when `len` cannot hold the name and its
/// NUL (nothing written). Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_listen_fd_name(index: usize, buf: *mut c_char, len: usize) -> c_int {
    call("fdsafe_listen_fd_name", || {
        let out = out_slice(buf.cast::<u8>(), len, "buf")?;
        let l = entry(index)?;
        let name = l.name.as_bytes();
        if out.len() < name.len() + 1 {
            return Err(Error::BufferTooSmall { needed: name.len() + 1 });
        }
        out[..name.len()].copy_from_slice(name);
        out[name.len()] = 0;
        Ok(name.len() as c_int)
    })
}

/// Finds the first activated descriptor named `name` (exact match): writes its handle to
/// `*handle_out` and returns its index. Several descriptors may share a name (systemd allows
/// it); use `fdsafe_listen_fd_name` over the indexes to see them all. The handle is the
/// caller's already (see `fdsafe_listen_fd_handle`).
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for NULL pointers; `-ENOENT` when no activated
/// descriptor has that name; `-EBADF` if the caller closed the handle of that name.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_listen_fd_find(name: *const c_char, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_listen_fd_find", || {
        let name = c_text(name, "name")?;
        let out = Out::new(handle_out, "handle_out")?;
        let all = listen::recorded();
        let (index, l) = all
            .iter()
            .enumerate()
            .find(|(_, l)| l.name.as_bytes() == name)
            .ok_or_else(|| Error::from_errno(libc::ENOENT).context(format!("no activated descriptor named {:?}", String::from_utf8_lossy(name))))?;
        let h = alive(l)?;
        out.write(h.0);
        Ok(index as c_int)
    })
}

fn notify_with(flags: u32, state: &[u8], handle_list: &[fdsafe_handle]) -> Result<c_int> {
    let unset = check_flags(flags, FDSAFE_NOTIFY_UNSET_ENV)?;
    if handle_list.len() > 4096 {
        return Err(Error::invalid(format!("{} handles in one notification (at most 253)", handle_list.len())));
    }
    let guards: Vec<Guard> = handle_list.iter().map(|&h| handles::get(Handle(h))).collect::<Result<_>>()?;
    guards.iter().for_each(Guard::mark_shared); // the service manager keeps the files
    let fds: Vec<BorrowedFd<'_>> = guards.iter().map(|g| g.object().as_fd()).collect();
    Ok(if notify::send(state, &fds, unset)? { FDSAFE_NOTIFY_SENT } else { FDSAFE_NOTIFY_NO_MANAGER })
}

/// Sends `state` to the service manager (`sd_notify`): one or more `KEY=value` lines such as
/// `"READY=1"`, `"STOPPING=1"`, `"WATCHDOG=1"`, `"STATUS=Serving"`, `"ERRNO=2"`,
/// `"EXTEND_TIMEOUT_USEC=..."`, separated by newlines (one trailing newline allowed). Keys must be
/// made of `A-Z`, `0-9` and `_`. The datagram goes to `NOTIFY_SOCKET` (an absolute path, or
/// `@name` for an abstract socket) from a fresh close-on-exec socket, with the caller's pid,
/// uid and gid attached (`SCM_CREDENTIALS`). Like `sd_notify`, it waits while the manager's
/// queue is full, for as long as the manager does not read (a loop that must never wait
/// notifies from another thread).
///
/// Returns `FDSAFE_NOTIFY_SENT`, or `FDSAFE_NOTIFY_NO_MANAGER` (0) when `NOTIFY_SOCKET` is
/// unset or empty. `flags`: 0 or `FDSAFE_NOTIFY_UNSET_ENV`.
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL or malformed `state`, unknown flags, or a
/// `NOTIFY_SOCKET` that is neither a path nor `@name` (`vsock:` is not supported);
/// `-ENAMETOOLONG` for a path of 108 bytes or more (as `sd_notify`, which wants room for the
/// path's NUL); the kernel's `-ENOENT`, `-ENOTDIR`,
/// `-ECONNREFUSED` (nothing bound there; at an abstract name, also a socket of another
/// type), `-EPROTOTYPE` (at a path, a socket that is not a datagram socket), `-EACCES`, `-EMSGSIZE`, `-EMFILE` (at the descriptor limit: the send needs a
/// socket of its own), `-EINTR` (not retried). Thread safety: any thread (it only reads the environment, unless
/// `FDSAFE_NOTIFY_UNSET_ENV`).
#[no_mangle]
pub extern "C" fn fdsafe_notify(flags: u32, state: *const c_char) -> c_int {
    call("fdsafe_notify", || notify_with(flags, c_text(state, "state")?, &[]))
}

/// Like `fdsafe_notify`, with `count` handles' descriptors attached to the same datagram
/// (`SCM_RIGHTS`, up to 253), as `sd_pid_notify_with_fds` does. Each handle is held for the
/// whole send; the caller keeps owning them (the manager receives its own copies).
/// `count` 0 with NULL `handles` is `fdsafe_notify`.
///
/// Errors: as `fdsafe_notify`, plus `FDSAFE_E_INVALID_ARGUMENT` for NULL `handles` with
/// `count` > 0 or more than 253 handles, and `-EBADF` for a stale handle (nothing sent).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_notify_handles(flags: u32, state: *const c_char, handles: *const fdsafe_handle, count: usize) -> c_int {
    call("fdsafe_notify_handles", || {
        let list = in_slice(handles, count, "handles")?;
        notify_with(flags, c_text(state, "state")?, list)
    })
}

/// Sends `"RELOADING=1\nMONOTONIC_USEC=<now>"` (`CLOCK_MONOTONIC` in microseconds), the
/// message systemd requires before a reload; send `"READY=1"` when the reload is done.
/// Returns as `fdsafe_notify`. Errors: as `fdsafe_notify`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_notify_reloading(flags: u32) -> c_int {
    call("fdsafe_notify_reloading", || notify_with(flags, &notify::reloading_message()?, &[]))
}

/// Sends `"STATUS=<text>"`; `text` must be one line (no newline). Returns as `fdsafe_notify`.
/// Errors: as `fdsafe_notify`; `FDSAFE_E_INVALID_ARGUMENT` also for NULL or a multi-line text.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_notify_status(flags: u32, text: *const c_char) -> c_int {
    call("fdsafe_notify_status", || notify_with(flags, &notify::status_message(c_text(text, "text")?)?, &[]))
}

/// Hands descriptors to the manager's store: sends `"FDSTORE=1\nFDNAME=<name>"` with the
/// `count` handles' descriptors (1 to 253) and the caller's credentials in one datagram.
/// `name`: 1 to 255 printable ASCII bytes without `:` (it will come back in
/// `LISTEN_FDNAMES`). The caller keeps owning the handles.
///
/// Errors: as `fdsafe_notify_handles`, plus `FDSAFE_E_INVALID_ARGUMENT` for a NULL or bad
/// name, or `count` 0. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_notify_fdstore(flags: u32, name: *const c_char, handles: *const fdsafe_handle, count: usize) -> c_int {
    call("fdsafe_notify_fdstore", || {
        let list = in_slice(handles, count, "handles")?;
        if list.is_empty() {
            return Err(Error::invalid("FDSTORE needs at least one handle"));
        }
        notify_with(flags, &notify::fdstore_message(c_text(name, "name")?)?, list)
    })
}

/// The watchdog interval (`sd_watchdog_enabled`): returns 1 and writes `WATCHDOG_USEC` to
/// `*usec_out` when the manager expects `"WATCHDOG=1"` from this process (send it at about
/// half that interval); returns 0 (and writes nothing) when `WATCHDOG_USEC` is unset or
/// `WATCHDOG_PID` names another process. `flags`: 0 or `FDSAFE_NOTIFY_UNSET_ENV` (removes
/// both variables after a successful call).
///
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `usec_out`, unknown flags, a malformed or
/// zero `WATCHDOG_USEC` or 18446744073709551615 (systemd's "infinity", no interval), or a
/// malformed `WATCHDOG_PID`. Thread safety: any thread (see
/// `fdsafe_listen_fds` about changing the environment).
#[no_mangle]
pub extern "C" fn fdsafe_watchdog_interval(flags: u32, usec_out: *mut u64) -> c_int {
    call("fdsafe_watchdog_interval", || {
        let unset = check_flags(flags, FDSAFE_NOTIFY_UNSET_ENV)?;
        let out = Out::new(usec_out, "usec_out")?;
        Ok(match notify::watchdog_usec(unset)? {
            Some(usec) => {
                out.write(usec);
                1
            }
            None => 0,
        })
    })
}
