//! eventfd.

use std::ffi::c_int;

use super::kinds::map_flags;
use super::{call_direct, fdsafe_handle, Out, FDSAFE_NONBLOCK};
use crate::handles::{self, get_kind, Handle, Kind};
use crate::kinds::eventfd::{self, EventFd, EventFdFlags};

/// `fdsafe_eventfd_create` flag: each read takes 1 from the counter instead of all of it
/// (the kernel's `EFD_SEMAPHORE`).
pub const FDSAFE_EVENTFD_SEMAPHORE: u32 = 1;
const _: () = assert!(FDSAFE_EVENTFD_SEMAPHORE == libc::EFD_SEMAPHORE as u32);

/// Creates an eventfd (a kernel 64-bit counter for waking event loops) with the counter at
/// `initial`. `flags` (as `eventfd(2)`): `FDSAFE_EVENTFD_SEMAPHORE`
/// (`EFD_SEMAPHORE`), `FDSAFE_NONBLOCK` (`EFD_NONBLOCK`), or 0. The
/// descriptor is close-on-exec (`FDSAFE_O_CLOEXEC`, `EFD_CLOEXEC`, is accepted).
///
/// Ownership: the caller owns `*handle_out` and closes it with `fdsafe_close`.
/// Errors: `FDSAFE_E_INVALID_ARGUMENT` for a NULL `handle_out` or unknown flags; `-EMFILE`.
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_eventfd_create(initial: u32, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    // No cancellation guard: creating enters no cancellation point (eventfd, pipe2 and
    // socketpair are not; closing on failure guards itself).
    call_direct("fdsafe_eventfd_create", || {
        let flags = map_flags(
            flags,
            &[
                (FDSAFE_EVENTFD_SEMAPHORE, EventFdFlags::SEMAPHORE),
                (FDSAFE_NONBLOCK, EventFdFlags::NONBLOCK),
                (super::file::FDSAFE_O_CLOEXEC, EventFdFlags::empty()),
            ],
            "eventfd",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        let fd = EventFd::new(initial, flags)?.into_inner();
        out.write(handles::insert(crate::kinds::wrap_owned(fd, Kind::EventFd))?.0);
        Ok(0)
    })
}

/// Reads the counter into `*value_out`: its whole value, resetting it to 0, or 1 in semaphore
/// mode. Waits while the counter is 0 (non-blocking mode: `-EAGAIN`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `value_out`; `-EAGAIN`; `-EINTR` if a signal handler ran while waiting (one installed
/// with `SA_RESTART` lets the kernel restart the read instead).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_eventfd_read(handle: fdsafe_handle, value_out: *mut u64) -> c_int {
    call_direct("fdsafe_eventfd_read", || {
        let out = Out::new(value_out, "value_out")?;
        out.write(eventfd::read(get_kind(Handle(handle), Kind::EventFd, "an eventfd")?.fd())?);
        Ok(0)
    })
}

/// Adds `value` to the counter, waking readers. Waits if the sum would exceed
/// `UINT64_MAX - 1` (non-blocking mode: `-EAGAIN`).
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `-EINVAL` (from the kernel) for `UINT64_MAX`;
/// `-EAGAIN`; `-EINTR`. Thread safety: any thread. Async-signal-safe, the one fdsafe function
/// that is: a signal handler may call it to wake an event loop (it takes no lock and allocates
/// nothing), as long as no other thread closes the handle meanwhile (the call would then
/// finish that close) and, if it fails, the interrupted code was not inside `malloc` (a
/// failure records the thread's error message, which may free the previous one).
#[no_mangle]
pub extern "C" fn fdsafe_eventfd_write(handle: fdsafe_handle, value: u64) -> c_int {
    call_direct("fdsafe_eventfd_write", || {
        let guard = get_kind(Handle(handle), Kind::EventFd, "an eventfd")?;
        if handles::forked_child() {
            // The number may be a pipe now (see `handles::forked_child`).
            crate::kinds::io::without_sigpipe(8, || eventfd::write(guard.fd(), value).map(|()| 8))?;
        } else {
            eventfd::write(guard.fd(), value)?;
        }
        Ok(0)
    })
}
