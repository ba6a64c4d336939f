//! timerfd.

use std::ffi::c_int;

use super::kinds::{map_flags, parse_flags};
use super::{call, fdsafe_handle, Out, FDSAFE_NONBLOCK};
use crate::handles::{self, get_as, Handle};
use crate::kinds::timerfd::{Expirations, TimerFd, TimerFdFlags, TimerSetFlags, TimerValue};

/// Timer clock: wall-clock time (`CLOCK_REALTIME`); follows changes of the system time.
pub const FDSAFE_CLOCK_REALTIME: c_int = 0;
/// Timer clock: time since an unspecified start, never set, stopped while suspended
/// (`CLOCK_MONOTONIC`).
pub const FDSAFE_CLOCK_MONOTONIC: c_int = 1;
/// Timer clock: like monotonic, but counting time suspended (`CLOCK_BOOTTIME`).
pub const FDSAFE_CLOCK_BOOTTIME: c_int = 7;
/// Timer clock: realtime, and the expiration wakes a suspended system
/// (`CLOCK_REALTIME_ALARM`; needs `CAP_WAKE_ALARM`, else `-EPERM`).
pub const FDSAFE_CLOCK_REALTIME_ALARM: c_int = 8;
/// Timer clock: boottime, and the expiration wakes a suspended system
/// (`CLOCK_BOOTTIME_ALARM`; needs `CAP_WAKE_ALARM`, else `-EPERM`).
pub const FDSAFE_CLOCK_BOOTTIME_ALARM: c_int = 9;

/// `fdsafe_timerfd_set` flag: `value_ns` is an absolute time on the timer's clock (the
/// kernel's `TFD_TIMER_ABSTIME`).
pub const FDSAFE_TIMERFD_ABSTIME: u32 = 1;
/// `fdsafe_timerfd_set` flag (realtime clocks, with `FDSAFE_TIMERFD_ABSTIME`): if the system
/// time is set while the timer is armed, the timer is canceled and the next
/// `fdsafe_timerfd_read` returns `FDSAFE_TIMERFD_CANCELED` (`TFD_TIMER_CANCEL_ON_SET`).
pub const FDSAFE_TIMERFD_CANCEL_ON_SET: u32 = 2;

const _: () = assert!(FDSAFE_CLOCK_REALTIME == libc::CLOCK_REALTIME && FDSAFE_CLOCK_MONOTONIC == libc::CLOCK_MONOTONIC);
const _: () = assert!(FDSAFE_CLOCK_BOOTTIME == libc::CLOCK_BOOTTIME && FDSAFE_CLOCK_REALTIME_ALARM == libc::CLOCK_REALTIME_ALARM);
const _: () = assert!(FDSAFE_CLOCK_BOOTTIME_ALARM == libc::CLOCK_BOOTTIME_ALARM);
const _: () = assert!(FDSAFE_TIMERFD_ABSTIME == libc::TFD_TIMER_ABSTIME as u32);
const _: () = assert!(FDSAFE_TIMERFD_CANCEL_ON_SET == libc::TFD_TIMER_CANCEL_ON_SET as u32);
/// `fdsafe_timerfd_read` result: the timer was canceled by a change of the system time.
pub const FDSAFE_TIMERFD_CANCELED: c_int = 1;

/// A timer setting, in nanoseconds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct fdsafe_timer_value {
    /// Time to the next expiration (`fdsafe_timerfd_get`: the time left), or with
    /// `FDSAFE_TIMERFD_ABSTIME` the absolute time; 0 means disarmed.
    pub value_ns: i64,
    /// Period of an interval timer; 0 for a one-shot timer.
    pub interval_ns: i64,
}

impl From<TimerValue> for fdsafe_timer_value {
    fn from(v: TimerValue) -> Self {
        fdsafe_timer_value { value_ns: v.value_ns, interval_ns: v.interval_ns }
    }
}

/// Creates a disarmed timer on `clock` (`FDSAFE_CLOCK_*`). `flags`:
/// `FDSAFE_NONBLOCK` (`TFD_NONBLOCK`) or 0. The descriptor is close-on-exec (`FDSAFE_O_CLOEXEC`,
/// `TFD_CLOEXEC`, is accepted) and pollable (readable when it has expired).
///
/// Ownership: the caller owns `*handle_out`. Errors: `FDSAFE_E_INVALID_ARGUMENT` for an
/// unknown clock or flags or a NULL `handle_out`; `-EPERM` for an alarm clock without
/// `CAP_WAKE_ALARM`; `-EMFILE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_timerfd_create(clock: c_int, flags: u32, handle_out: *mut fdsafe_handle) -> c_int {
    call("fdsafe_timerfd_create", || {
        let flags = map_flags(
            flags,
            &[(FDSAFE_NONBLOCK, TimerFdFlags::NONBLOCK), (super::file::FDSAFE_O_CLOEXEC, TimerFdFlags::empty())],
            "timerfd",
        )?;
        let out = Out::new(handle_out, "handle_out")?;
        out.write(handles::insert(Box::new(TimerFd::new(clock, flags)?))?.0);
        Ok(0)
    })
}

/// Arms the timer: first expiration after `value_ns` nanoseconds (or at `value_ns` on the
/// clock with `FDSAFE_TIMERFD_ABSTIME`), then every `interval_ns` (0: once). `value_ns == 0`
/// disarms it. Writes the previous setting to `*old_out` unless it is NULL. Setting the timer
/// resets its expiration count.
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for unknown flags,
/// negative times, or `FDSAFE_TIMERFD_CANCEL_ON_SET` without `FDSAFE_TIMERFD_ABSTIME` or on
/// a clock other than the two realtime ones (the kernel would accept both and never cancel).
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_timerfd_set(
    handle: fdsafe_handle,
    flags: u32,
    value_ns: i64,
    interval_ns: i64,
    old_out: *mut fdsafe_timer_value,
) -> c_int {
    call("fdsafe_timerfd_set", || {
        let flags = parse_flags::<TimerSetFlags>(flags, "timerfd_set")?;
        let out = if old_out.is_null() { None } else { Some(Out::new(old_out, "old_out")?) };
        let timer = get_as::<TimerFd>(Handle(handle), "a timerfd")?;
        let old = timer.set(flags, TimerValue { value_ns, interval_ns })?;
        if let Some(out) = out {
            out.write(old.into());
        }
        Ok(0)
    })
}

/// Writes the time left to the next expiration (0: disarmed) and the interval to `*value_out`.
/// (On `FDSAFE_CLOCK_REALTIME_ALARM` and `_BOOTTIME_ALARM` the kernel goes on reporting the
/// time that was left when the timer was disarmed, here and in `fdsafe_timerfd_set`'s
/// `old_out` (measured here): keep your own record of whether such a timer is armed.)
///
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `value_out`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_timerfd_get(handle: fdsafe_handle, value_out: *mut fdsafe_timer_value) -> c_int {
    call("fdsafe_timerfd_get", || {
        let out = Out::new(value_out, "value_out")?;
        out.write(get_as::<TimerFd>(Handle(handle), "a timerfd")?.get()?.into());
        Ok(0)
    })
}

/// Reads the number of expirations since the last read (or since it was set) into
/// `*count_out`, resetting it; waits for the first one unless non-blocking.
///
/// Returns 0, or `FDSAFE_TIMERFD_CANCELED` (1) if the timer was canceled by a change of the
/// system time (`FDSAFE_TIMERFD_CANCEL_ON_SET`); `*count_out` is then 0.
/// Errors: `-EBADF`; `FDSAFE_E_WRONG_KIND`; `FDSAFE_E_INVALID_ARGUMENT` for a NULL
/// `count_out`; `-EAGAIN` (non-blocking, not expired); `-EINTR`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn fdsafe_timerfd_read(handle: fdsafe_handle, count_out: *mut u64) -> c_int {
    call("fdsafe_timerfd_read", || {
        let out = Out::new(count_out, "count_out")?;
        match get_as::<TimerFd>(Handle(handle), "a timerfd")?.read()? {
            Expirations::Count(n) => {
                out.write(n);
                Ok(0)
            }
            Expirations::Canceled => {
                out.write(0);
                Ok(FDSAFE_TIMERFD_CANCELED)
            }
        }
    })
}
