//! epoll, with registrations by handle that end when the handle is closed.
//!
//! Each registration gets a token that is never reused (a process-wide counter); the token,
//! not the descriptor, is what the kernel stores in the event data. The set keeps one map,
//! `token -> (target handle, user value)`; the target keeps, among its close hooks, one hook
//! per set it is in (owner: the set's handle, key: the token). So:
//!
//! * add, modify and delete find the registration through the target's hooks, under the
//!   target's hook lock, so two changes of one (set, target) pair never interleave;
//! * closing (or releasing) the target runs the hook: `EPOLL_CTL_DEL` just before its
//!   descriptor goes. This matters when the descriptor was duplicated: the kernel keys a
//!   registration by the open file, so without it the set would keep reporting events for
//!   the dead handle. The hook takes no lock and leaves the set's map alone: the set sweeps
//!   records of closed targets out of its map when an add finds it has doubled since the
//!   last sweep, and when it is counted;
//! * waiting translates each token through the map, under its lock, and drops events whose
//!   record is gone or whose target handle is no longer live (closed by another thread
//!   after the kernel collected the event). So no event is returned for a handle whose
//!   close had begun before the wait looked at the event.
//!
//! Lock order: a target's hook lock, then the set's map lock; nothing that holds the map lock
//! holds a handle or takes a hook lock, so a hook can run in any thread at any time.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::handles::{self, fd_object, CloseHook, Handle, Kind, Table, WriteGuard};
use crate::kinds::sigset::SigSet;
use crate::sys::{self, cvt};

/// Every event bit a registration may ask for.
pub const ALLOWED_EVENTS: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLRDHUP
    | libc::EPOLLPRI
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLET
    | libc::EPOLLONESHOT
    | libc::EPOLLEXCLUSIVE
    | libc::EPOLLWAKEUP) as u32;

/// The most events one wait collects from the kernel.
pub(crate) const MAX_BATCH: usize = 1024;
/// Waits for up to this many events use a buffer on the stack (no allocation).
pub(crate) const STACK_BATCH: usize = 64;

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Copy, Debug)]
struct Registration {
    target: Handle,
    user: u64,
}

/// Hashes the 64-bit keys of the registry (tokens from a counter, handle values) with one
/// multiply: they are fdsafe's own values, not attacker-chosen strings, so SipHash's
/// protection buys nothing and costs ~20 ns per event.
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, value: u64) {
        // Fibonacci hashing: the high bits (which hashbrown uses for its tags) mix every bit.
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeyMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<KeyHasher>>;

#[derive(Default)]
struct Registry {
    /// Records of targets that closed stay until a sweep (see the module comment).
    by_token: KeyMap<u64, Registration>,
    /// The map's size after the last sweep.
    swept_len: usize,
}

/// The smallest map that is swept at an add.
const SWEEP_FROM: usize = 64;

/// The record of registrations, and the handle table its targets live in (given by the first
/// registration: this module knows no table of its own). Dropping it (the set is closed or
/// released) removes the close hooks it left on its targets.
struct Records {
    registry: Mutex<Registry>,
    table: std::sync::OnceLock<&'static Table>,
}

/// The record, locked inside a fork section (so a `fork()` never finds it half changed).
struct Locked<'a> {
    registry: MutexGuard<'a, Registry>,
    _section: handles::ForkSection,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Registry;
    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }
}

impl Records {
    fn lock(&self) -> Locked<'_> {
        let section = handles::fork_section();
        Locked { registry: self.registry.lock().unwrap_or_else(|p| p.into_inner()), _section: section }
    }
}

impl Records {
    /// Removes the records of targets that are no longer live.
    fn sweep(&self, registry: &mut Registry) {
        if let Some(table) = self.table.get() {
            registry.by_token.retain(|_, record| table.is_live(record.target));
        }
        registry.swept_len = registry.by_token.len();
    }

    /// Sweeps when the map has doubled since the last sweep, so a sweep's cost is spread
    /// over the adds that made it due, and the map is at most twice the live registrations
    /// plus those that closed since.
    fn sweep_if_due(&self, registry: &mut Registry) {
        if registry.by_token.len() >= SWEEP_FROM.max(2 * registry.swept_len) {
            self.sweep(registry);
        }
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let registry = std::mem::take(&mut *self.lock());
        let Some(table) = self.table.get() else { return }; // never registered anything
        for (token, record) in registry.by_token {
            // A target that has closed is refused here, its hook already run or running.
            let _ = table.remove_close_hook(record.target, |hook| hook.key == token);
        }
    }
}

/// The close hook a registration leaves on its target: deregisters the closing descriptor
/// from the set, if the set is still open.
fn target_closing(table: &'static Table, fd: BorrowedFd<'_>, set: u64, _token: u64) {
    let Ok(guard) = table.get(Handle(set)) else { return };
    if let Some(set) = guard.downcast::<Epoll>() {
        let _ = ctl(set.fd.as_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }
}

/// One ready registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub handle: Handle,
    pub user: u64,
    pub events: u32,
}

/// How long a wait may block.
#[derive(Clone, Copy, Debug)]
pub enum Timeout {
    Forever,
    Millis(u32),
    /// Nanosecond precision (`epoll_pwait2`).
    Precise(Duration),
}

pub struct Epoll {
    fd: OwnedFd,
    records: Records,
}

fn ctl(epfd: BorrowedFd<'_>, op: i32, target: BorrowedFd<'_>, events: u32, token: u64) -> Result<()> {
    let mut event = libc::epoll_event { events, u64: token };
    // SAFETY: a valid event struct; the kernel reads it (ignored for DEL).
    cvt(unsafe { libc::epoll_ctl(epfd.as_raw_fd(), op, target.as_raw_fd(), &mut event) })?;
    Ok(())
}

impl Epoll {
    pub fn new() -> Result<Epoll> {
        // SAFETY: epoll_create1 returns a new descriptor on success.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).map_err(|e| e.context("epoll_create1"))?;
        Ok(Epoll::from_fd(unsafe { sys::owned(fd) }))
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("eventpoll") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not an epoll instance", fd.as_raw_fd()))),
        }
    }

    /// Wraps an epoll descriptor. Registrations it already has (made outside fdsafe) are not
    /// known to the set, and their events are never reported.
    pub fn from_fd(fd: OwnedFd) -> Epoll {
        Epoll {
            fd,
            records: Records {
                registry: Mutex::new(Registry::default()),
                table: std::sync::OnceLock::new(),
            },
        }
    }

    fn check_events(events: u32) -> Result<()> {
        if events & !ALLOWED_EVENTS != 0 {
            return Err(Error::invalid(format!("unknown epoll event bits {:#x}", events & !ALLOWED_EVENTS)));
        }
        Ok(())
    }

    /// Registers `target` (held by the caller for the whole call) for `events`, reported with
    /// `user`. `me` is this set's own handle in `table`, which the close hook looks up later.
    pub fn add(&self, table: &'static Table, me: Handle, target: &handles::Guard, events: u32, user: u64) -> Result<()> {
        Self::check_events(events)?;
        let _ = self.records.table.set(table); // one table per process
        let handle = target.handle();
        if handle == me {
            return Err(Error::from_errno(libc::EINVAL).context("an epoll set cannot watch itself"));
        }
        target.change_close_hooks(|hooks| {
            if hooks.of_owner(me.0).is_some() {
                return Err(Error::from_errno(libc::EEXIST).context("the handle is already in this epoll set"));
            }
            let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
            {
                let mut registry = self.records.lock();
                self.records.sweep_if_due(&mut registry);
                registry.by_token.insert(token, Registration { target: handle, user });
            }
            if let Err(err) = ctl(self.fd.as_fd(), libc::EPOLL_CTL_ADD, target.object().as_fd(), events, token) {
                self.records.lock().by_token.remove(&token);
                return Err(err.context("epoll_ctl(EPOLL_CTL_ADD)"));
            }
            // Through the caller's guard: a close that began meanwhile finishes only after the
            // guard is dropped, and runs the hook then.
            hooks.push(CloseHook { run: target_closing, owner: me.0, key: token });
            Ok(())
        })
    }

    /// Changes the events and user value of `target`'s registration in this set (`me`) and
    /// re-arms a one-shot one. `ENOENT` if it is not in this set.
    pub fn modify(&self, me: Handle, target: &handles::Guard, events: u32, user: u64) -> Result<()> {
        Self::check_events(events)?;
        target.change_close_hooks(|hooks| {
            let token = hooks.of_owner(me.0).ok_or_else(not_in_set)?.key;
            let old_user = {
                let mut registry = self.records.lock();
                let record =
                    registry.by_token.get_mut(&token).ok_or_else(|| Error::Internal("epoll record out of step".into()))?;
                std::mem::replace(&mut record.user, user)
            };
            if let Err(err) = ctl(self.fd.as_fd(), libc::EPOLL_CTL_MOD, target.object().as_fd(), events, token) {
                if let Some(record) = self.records.lock().by_token.get_mut(&token) {
                    record.user = old_user;
                }
                return Err(err.context("epoll_ctl(EPOLL_CTL_MOD)"));
            }
            Ok(())
        })
    }

    /// Removes `target` from this set (`me`). `ENOENT` if it is not in it.
    pub fn delete(&self, me: Handle, target: &handles::Guard) -> Result<()> {
        target.change_close_hooks(|hooks| {
            let hook = hooks.remove(|hook| hook.owner == me.0).ok_or_else(not_in_set)?;
            self.records.lock().by_token.remove(&hook.key);
            ctl(self.fd.as_fd(), libc::EPOLL_CTL_DEL, target.object().as_fd(), 0, 0)
                .map_err(|e| e.context("epoll_ctl(EPOLL_CTL_DEL)"))
        })
    }

    /// The number of registrations in the set (of targets not closed).
    pub fn len(&self) -> usize {
        let mut registry = self.records.lock();
        self.records.sweep(&mut registry);
        registry.by_token.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for events and hands each to `sink` with its position (0, 1...), up to `max`.
    /// Events of registrations that ended (or whose handle is closing) are dropped; if that
    /// leaves none, the wait goes on for the rest of the timeout. `sigmask` replaces the
    /// thread's signal mask for the length of the wait. Returns the number reported; 0 on
    /// timeout. Registrations live in the set's table (see [`Epoll::add`]).
    ///
    /// The fast path allocates nothing (the kernel's events land in a stack buffer for up to
    /// [`STACK_BATCH`] events), and a wait of 0 or without limit reads no clock. Inlined, so
    /// the wait's system call returns straight into the exported function (see `sys::direct`).
    #[inline(always)]
    pub fn wait_with(
        &self,
        max: usize,
        timeout: Timeout,
        sigmask: Option<SigSet>,
        mut sink: impl FnMut(usize, Ready),
    ) -> Result<usize> {
        let table = self.records.table.get().copied();
        if max == 0 {
            return Err(Error::invalid("room for at least one event is needed"));
        }
        let batch = max.min(MAX_BATCH);
        // The kernel writes the events; nothing is read beyond the count it returns, so the
        // buffer needs no zeroing.
        let mut stack = [std::mem::MaybeUninit::<libc::epoll_event>::uninit(); STACK_BATCH];
        let mut heap: Vec<std::mem::MaybeUninit<libc::epoll_event>> = Vec::new();
        let raw: &mut [std::mem::MaybeUninit<libc::epoll_event>] = if batch <= STACK_BATCH {
            &mut stack[..batch]
        } else {
            heap.resize(batch, std::mem::MaybeUninit::uninit());
            &mut heap[..]
        };
        let precise = matches!(timeout, Timeout::Precise(_));
        let total = match timeout {
            Timeout::Forever => None,
            Timeout::Millis(ms) => Some(Duration::from_millis(ms as u64)),
            Timeout::Precise(d) => Some(d),
        };
        // The clock is read only for a finite, non-zero timeout: 0 just looks (no retry) and
        // "forever" has no deadline.
        let deadline = match total {
            Some(t) if !t.is_zero() => Some(Instant::now().checked_add(t).unwrap_or_else(Instant::now)),
            _ => None,
        };
        let mut remaining = total;
        loop {
            let n = self.wait_raw(raw, remaining, precise, sigmask)?;
            if n == 0 {
                return Ok(0);
            }
            // SAFETY: the kernel initialized the first `n` events (n <= raw.len()).
            let collected = unsafe { std::slice::from_raw_parts(raw.as_ptr().cast::<libc::epoll_event>(), n.min(raw.len())) };
            let reported = self.translate(table, collected, &mut sink);
            if reported > 0 || remaining == Some(Duration::ZERO) {
                return Ok(reported);
            }
            // Everything collected was dropped. Level-triggered events of a handle that is
            // still closing (another thread inside an operation on it) come back at once
            // until its close completes, so back off a little instead of spinning.
            let pause = Duration::from_millis(1);
            match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    crate::sys::direct::sleep(left.min(pause));
                    remaining = Some(d.saturating_duration_since(Instant::now()));
                }
                None => crate::sys::direct::sleep(pause),
            }
        }
    }

    fn translate(&self, table: Option<&'static Table>, raw: &[libc::epoll_event], sink: &mut impl FnMut(usize, Ready)) -> usize {
        let Some(table) = table else { return 0 }; // nothing was ever registered
        let reg = self.records.lock();
        let mut reported = 0;
        for event in raw {
            let token = event.u64;
            let Some(record) = reg.by_token.get(&token) else { continue };
            // A handle whose close has begun no longer resolves: its event is not reported.
            if !table.is_live(record.target) {
                continue;
            }
            sink(reported, Ready { handle: record.target, user: record.user, events: event.events });
            reported += 1;
        }
        reported
    }

    #[inline(always)]
    fn wait_raw(
        &self,
        raw: &mut [std::mem::MaybeUninit<libc::epoll_event>],
        timeout: Option<Duration>,
        precise: bool,
        sigmask: Option<SigSet>,
    ) -> Result<usize> {
        let epfd = self.fd.as_raw_fd();
        let len = raw.len() as i32;
        let events = raw.as_mut_ptr().cast::<libc::epoll_event>();
        let n = if precise {
            let ts = timeout.map(|d| libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as _ });
            let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
            let mask = sigmask.map(|s| s.0);
            let mask_ptr = mask.as_ref().map_or(std::ptr::null(), |m| m as *const u64);
            // SAFETY: `events` has room for `len` events; the timespec and 8-byte mask are
            // valid or NULL.
            let rc = unsafe { libc::syscall(libc::SYS_epoll_pwait2, epfd, events, len, ts_ptr, mask_ptr, 8usize) };
            if rc < 0 {
                return Err(Error::last_os().context("epoll_pwait2"));
            }
            rc as usize
        } else {
            let ms = match timeout {
                None => -1,
                Some(d) if d.is_zero() => 0,
                // Round up, so a wait never ends before its time (64-bit arithmetic: a
                // Duration from an i32 of milliseconds cannot overflow it).
                Some(d) => {
                    let ms = d.as_secs().saturating_mul(1000).saturating_add((d.subsec_nanos() as u64).div_ceil(1_000_000));
                    ms.min(i32::MAX as u64) as i32
                }
            };
            match sigmask {
                // SAFETY: `events` has room for `len` events.
                None => unsafe { crate::sys::direct::epoll_wait(epfd, events, len, ms) }.map_err(|e| e.context("epoll_wait"))?,
                Some(set) => {
                    // SAFETY: as above; the mask is the kernel's 8-byte signal set.
                    unsafe { crate::sys::direct::epoll_pwait(epfd, events, len, ms, &set.0) }
                        .map_err(|e| e.context("epoll_pwait"))?
                }
            }
        };
        Ok(n)
    }
}

#[cold]
fn not_in_set() -> Error {
    Error::from_errno(libc::ENOENT).context("the handle is not in this epoll set")
}

fd_object!(Epoll, Kind::Epoll, WriteGuard::None);

#[cfg(all(test, not(miri), not(loom)))]
mod tests {
    use super::*;

    fn eventfd() -> Handle {
        // SAFETY: eventfd returns a new descriptor.
        let fd = unsafe { sys::owned(libc::eventfd(0, libc::EFD_CLOEXEC)) };
        handles::insert(crate::kinds::wrap_owned(fd, Kind::EventFd)).unwrap()
    }

    /// The records of closed targets, which the close hook leaves behind, are swept: the map
    /// stays within twice the live registrations plus a sweep's worth, however many close.
    #[test]
    fn records_of_closed_targets_do_not_accumulate() {
        let set = handles::insert(Box::new(Epoll::new().unwrap())).unwrap();
        let live: Vec<Handle> = (0..10).map(|_| eventfd()).collect();
        let add = |target: Handle| {
            let guard = handles::get_as::<Epoll>(set, "an epoll set").unwrap();
            guard.add(&handles::TABLE, set, &handles::get(target).unwrap(), libc::EPOLLIN as u32, 7).unwrap();
        };
        live.iter().for_each(|&h| add(h));
        let mut largest = 0;
        for _ in 0..5000 {
            let h = eventfd();
            add(h);
            handles::close(h).unwrap();
            let guard = handles::get_as::<Epoll>(set, "an epoll set").unwrap();
            largest = largest.max(guard.records.lock().by_token.len());
        }
        assert!(largest <= 2 * SWEEP_FROM, "the map grew to {largest} records for 10 live registrations");
        assert_eq!(handles::get_as::<Epoll>(set, "an epoll set").unwrap().len(), 10);
        handles::close_many(live.into_iter().chain([set]));
    }
}
