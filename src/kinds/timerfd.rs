//! timerfd: a timer whose expirations are read (and polled) from a descriptor.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use bitflags::bitflags;

use crate::error::{Error, Result};
use crate::handles::{Kind, WriteGuard, fd_object};
use crate::sys::{self, cvt};

bitflags! {
    /// Options for [`TimerFd::new`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerFdFlags: u32 {
        const NONBLOCK = 1 << 0;
    }

    /// Options for [`TimerFd::set`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TimerSetFlags: u32 {
        /// The first expiration is an absolute time on the timer's clock.
        const ABSTIME = 1 << 0;
        /// Realtime clocks with `ABSTIME`: a change of the clock cancels the timer, and the
        /// next read reports the cancellation.
        const CANCEL_ON_SET = 1 << 1;
    }
}

/// The clocks a timerfd may use.
pub const CLOCKS: [libc::clockid_t; 5] = [
    libc::CLOCK_REALTIME,
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_BOOTTIME,
    libc::CLOCK_REALTIME_ALARM,
    libc::CLOCK_BOOTTIME_ALARM,
];

/// A timer setting in nanoseconds: time to the next expiration (0: disarmed) and interval
/// (0: one-shot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerValue {
    pub value_ns: i64,
    pub interval_ns: i64,
}

/// What a read of the timer gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expirations {
    Count(u64),
    /// The realtime clock was set and the timer had `CANCEL_ON_SET`.
    Canceled,
}

#[derive(Debug)]
pub struct TimerFd {
    fd: OwnedFd,
    /// The clock, when known (created here, or read from `/proc/thread-self/fdinfo` on adoption).
    clock: Option<libc::clockid_t>,
}

fn to_timespec(ns: i64) -> Result<libc::timespec> {
    if ns < 0 {
        return Err(Error::invalid(format!("negative time {ns} ns")));
    }
    Ok(libc::timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 })
}

fn from_timespec(ts: &libc::timespec) -> i64 {
    ts.tv_sec.saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec)
}

fn from_itimerspec(its: &libc::itimerspec) -> TimerValue {
    TimerValue { value_ns: from_timespec(&its.it_value), interval_ns: from_timespec(&its.it_interval) }
}

impl TimerFd {
    pub fn new(clock: i32, flags: TimerFdFlags) -> Result<TimerFd> {
        if !CLOCKS.contains(&clock) {
            return Err(Error::invalid(format!("clock {clock} is not one timerfd takes")));
        }
        let mut raw = libc::TFD_CLOEXEC;
        if flags.contains(TimerFdFlags::NONBLOCK) {
            raw |= libc::TFD_NONBLOCK;
        }
        // SAFETY: timerfd_create returns a new descriptor on success.
        let fd = cvt(unsafe { libc::timerfd_create(clock, raw) }).map_err(|e| e.context("timerfd_create"))?;
        Ok(TimerFd { fd: unsafe { sys::owned(fd) }, clock: Some(clock) })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("timerfd") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not a timerfd", fd.as_raw_fd()))),
        }
    }

    pub fn from_fd(fd: OwnedFd) -> TimerFd {
        let clock = std::fs::read_to_string(sys::proc_fdinfo_path(fd.as_raw_fd())).ok().and_then(|info| {
            info.lines().find_map(|line| line.strip_prefix("clockid:").and_then(|v| v.trim().parse().ok()))
        });
        TimerFd { fd, clock }
    }

    pub fn clock(&self) -> Option<libc::clockid_t> {
        self.clock
    }

    /// Arms (or, with `value_ns == 0`, disarms) the timer; returns the previous setting.
    pub fn set(&self, flags: TimerSetFlags, new: TimerValue) -> Result<TimerValue> {
        if flags.contains(TimerSetFlags::CANCEL_ON_SET) && !flags.contains(TimerSetFlags::ABSTIME) {
            // The kernel would accept it and silently never cancel.
            return Err(Error::invalid("cancel-on-set works only with an absolute time (ABSTIME)"));
        }
        if flags.contains(TimerSetFlags::CANCEL_ON_SET)
            && !matches!(self.clock, Some(libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_ALARM))
        {
            return Err(Error::invalid("cancel-on-set works only on the realtime clocks"));
        }
        let its = libc::itimerspec { it_value: to_timespec(new.value_ns)?, it_interval: to_timespec(new.interval_ns)? };
        let mut raw = 0;
        if flags.contains(TimerSetFlags::ABSTIME) {
            raw |= libc::TFD_TIMER_ABSTIME;
        }
        if flags.contains(TimerSetFlags::CANCEL_ON_SET) {
            raw |= libc::TFD_TIMER_CANCEL_ON_SET;
        }
        // SAFETY: zeroed plain struct filled by the kernel.
        let mut old: libc::itimerspec = unsafe { std::mem::zeroed() };
        cvt(unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), raw, &its, &mut old) })
            .map_err(|e| e.context("timerfd_settime"))?;
        Ok(from_itimerspec(&old))
    }

    /// The time left to the next expiration and the interval.
    pub fn get(&self) -> Result<TimerValue> {
        // SAFETY: zeroed plain struct filled by the kernel.
        let mut cur: libc::itimerspec = unsafe { std::mem::zeroed() };
        cvt(unsafe { libc::timerfd_gettime(self.fd.as_raw_fd(), &mut cur) }).map_err(|e| e.context("timerfd_gettime"))?;
        Ok(from_itimerspec(&cur))
    }

    /// The number of expirations since the last read (resetting it); waits for one unless
    /// non-blocking (`EAGAIN`).
    pub fn read(&self) -> Result<Expirations> {
        let mut count = 0u64;
        // SAFETY: reads exactly 8 bytes into `count`.
        match cvt(unsafe { libc::read(self.fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) }) {
            Ok(_) => Ok(Expirations::Count(count)),
            Err(Error::Os { errno: libc::ECANCELED, .. }) => Ok(Expirations::Canceled),
            Err(e) => Err(e),
        }
    }
}

fd_object!(TimerFd, Kind::TimerFd, WriteGuard::None);
