//! epoll, with registrations by handle that end when the handle is closed.
//!
//! Each registration gets a token that its instance never hands out again (see [`registry`]);
//! the token, not the descriptor, is what the kernel stores in the event data. The kernel keeps one
//! interest list per epoll instance, shared by every descriptor of it (duplicates, copies
//! received over a socket), so fdsafe keeps one record per instance too, [`Shared`], held by
//! every handle of it in this process: a duplicate gets the original's record, and a
//! descriptor adopted or received is matched to a record of the same open file with
//! `kcmp(KCMP_FILE)`. The record keeps the registrations, `token -> (target handle, user
//! value)` ([`registry`], which waits read without a lock), and the descriptors of its live
//! handles; the target keeps, among its close hooks, one hook per
//! instance it is in (owner: the record's address, the hook holding one reference to it;
//! key: the token). So:
//!
//! * add, modify and delete, through any handle of the instance, find the registration
//!   through the target's hooks, under the target's hook lock, so two changes of one
//!   (instance, target) pair never interleave, and a target is in an instance at most once;
//! * closing (or releasing) the target runs the hook: `EPOLL_CTL_DEL` through any live
//!   handle's descriptor of the instance, just before the target's descriptor goes. This
//!   matters when the target's descriptor was duplicated: the kernel keys a registration by
//!   the open file, so without it the set would keep reporting events for the dead handle.
//!   The hook takes only the record's member lock (for reading) and leaves the registrations
//!   alone: the record sweeps those of closed targets when an add finds it has doubled since
//!   the last sweep, and when it is counted;
//! * closing one handle of an instance leaves the others working; closing the last one ends
//!   the registrations (removes the hooks), as closing a set always did;
//! * waiting, through any handle, translates each token through the registrations, without
//!   a lock, and drops events whose registration ended or whose target handle is no longer live (closed by
//!   another thread after the kernel collected the event). So no event is returned for a
//!   handle whose close had begun before the wait looked at the event.
//!
//! After `fork()`, parent and child share each inherited instance (one kernel interest list)
//! and the kernel keys a registration by (open file, descriptor number), both shared too. So
//! each process hands out tokens from a range of its own (the bits above 40: 0 in the
//! original process, the pid in a forked child, set by a `pthread_atfork` child handler), and
//! a close hook deregisters only registrations of its own range: a child closing an inherited
//! target (by name or with `fdsafe_close_all_except`) never removes the parent's
//! registration, and a child's registrations on the inherited instance never carry a token
//! the parent knows (the parent's waits drop their events). The parent's closes and any
//! explicit add, modify or delete act on the shared instance, which the child sees: a child
//! that wants its own event loop makes its own set. The child handler also drops from every
//! record the member descriptors the table's walk closed in the child (objects it forgot
//! rather than dropped), so a hook never deregisters through a number that is not the
//! instance's. (A pid reused by a later child on the same inherited instance would reuse the
//! range; a registration of the dead child whose target file outlived it could then be
//! reported as the new child's.)
//!
//! Lock order: a target's hook lock, then the record's registration lock (taken by writers
//! only; waits read the registrations without it); the member lock is taken alone (nothing
//! else is locked while it is held, only `epoll_ctl` and `kcmp` are called); the list of
//! records (for matching adopted descriptors) is taken alone. Nothing that holds one of
//! these holds a handle or takes a hook lock, so a hook can run in any thread at any time.
//! Every one is taken inside a fork section.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::handles::{self, CloseHook, Closing, Handle, Kind, Table, WriteGuard};
use crate::kinds::sigset::SigSet;
use crate::sys::{self, cvt};

mod registry;
use registry::Registry;

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

/// The thread's signal mask while a wait backs off (see `Epoll::wait_with`): every signal is
/// blocked between the system calls, and each pause and wait opens the wait's own mask (a
/// `pwait`'s, else the thread's) atomically, as `pselect` does. So a signal that comes
/// between them stays pending and ends the next one with `EINTR`, as the kernel's wait would
/// end, and one the wait's mask blocks is delivered only after the wait. The thread's mask is
/// restored when this is dropped.
struct PausingMask {
    saved: SigSet,
    wait_mask: SigSet,
}

impl PausingMask {
    fn begin(sigmask: Option<SigSet>) -> Result<PausingMask> {
        // Saved and put back exactly, glibc's own signals included (the raw call).
        let saved = SigSet::swap_thread_mask(SigSet(u64::MAX).for_kernel())?;
        Ok(PausingMask { saved, wait_mask: sigmask.unwrap_or(saved) })
    }
}

impl Drop for PausingMask {
    fn drop(&mut self) {
        let _ = SigSet::swap_thread_mask(self.saved);
    }
}

/// The low bits of a token name a registration of its instance; the bits above name the
/// process that made it.
const RANGE_SHIFT: u32 = 40;
/// This process's token range, `getpid() << 40` (a pid takes at most 22 bits): set when the
/// first set is made, and by [`child_after_fork`] in a forked child. Tokens of any other range
/// were made by another process on an instance both hold: inherited across a fork, or sent.
static MY_RANGE: AtomicU64 = AtomicU64::new(0);

fn set_my_range() {
    // SAFETY: getpid has no preconditions.
    MY_RANGE.store((unsafe { libc::getpid() } as u64) << RANGE_SHIFT, Ordering::Relaxed);
}

/// Whether `token` was handed out by this process (not by a parent, child or other holder).
fn mine(token: u64) -> bool {
    token & !((1u64 << RANGE_SHIFT) - 1) == MY_RANGE.load(Ordering::Relaxed)
}

/// Registers [`child_after_fork`] once, after the table's fork handlers (handlers run in the
/// child in the order they were registered, so the table's walk has closed what it closes
/// before this one looks): when the library is loaded (`lib.rs`), and again, as a fallback,
/// when a set is made.
pub(crate) fn install_fork_handler() {
    #[cfg(not(any(loom, miri)))]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            set_my_range();
            handles::install_fork_handlers();
            // SAFETY: registering a function that takes no arguments and never unwinds.
            unsafe { libc::pthread_atfork(None, None, Some(child_after_fork)) };
        });
    }
}

/// In the child of a fork (the only thread; it may not allocate, block or panic): takes a
/// token range of its own, so its registrations on an inherited instance are never mistaken
/// for the parent's (and the reverse), and drops from every record the member descriptors
/// the table's walk closed (the objects it forgot), so no close hook deregisters through a
/// number that is no longer the instance's. No fdsafe lock is held at a fork (each is taken
/// in a fork section), so the `try_` locks succeed; one that did not is left alone.
#[cfg(not(any(loom, miri)))]
extern "C" fn child_after_fork() {
    set_my_range();
    let _ = std::panic::catch_unwind(|| {
        let records = match RECORDS.try_lock() {
            Ok(records) => records,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        for record in records.iter() {
            // Upgrading and dropping leave the count as it was (it was not 0): nothing is freed.
            let Some(shared) = record.upgrade() else { continue };
            let mut members = match shared.members.try_write() {
                Ok(members) => members,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            };
            // SAFETY: F_GETFD only reads the descriptor's flags.
            members.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
        }
    });
}

/// The record of one kernel epoll instance's registrations, shared by every handle of it in
/// this process, and the handle table its targets live in (given by the first registration:
/// this module knows no table of its own).
struct Shared {
    registry: Registry,
    table: std::sync::OnceLock<&'static Table>,
    /// The descriptors of the live handles of this instance: a close hook deregisters through
    /// any of them. A handle's descriptor leaves the list (under the write lock) before it is
    /// closed, so one read from the list under the read lock is open.
    members: RwLock<Vec<RawFd>>,
}

/// Every record, to match an adopted or received epoll descriptor with the record of its open
/// file. Consulted only when a descriptor of unknown origin is wrapped.
static RECORDS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

/// `kcmp(KCMP_FILE)`: whether two descriptors of this process refer to one open file.
/// `None` where the kernel lacks `kcmp` (no `CONFIG_KCMP`, or a sandbox refusing it).
fn same_open_file(a: RawFd, b: RawFd) -> Option<bool> {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: kcmp only compares kernel objects; both pids are our own.
    let pid = unsafe { libc::getpid() };
    let rc = unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, a, b) };
    (rc >= 0).then_some(rc == 0)
}

impl Shared {
    fn new(fd: RawFd) -> Arc<Shared> {
        install_fork_handler();
        Arc::new(Shared {
            registry: Registry::new(),
            table: std::sync::OnceLock::new(),
            members: RwLock::new(vec![fd]),
        })
    }

    /// A new record for the freshly created instance `fd`, listed for later matches.
    fn create(fd: RawFd) -> Arc<Shared> {
        let shared = Shared::new(fd);
        let _section = handles::fork_section();
        let mut records = RECORDS.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= 16 && records.len().is_power_of_two() {
            records.retain(|r| r.strong_count() > 0); // amortised: dropped records go
        }
        records.push(Arc::downgrade(&shared));
        shared
    }

    /// The record of the open file `fd` refers to if a handle of it is live here (matched
    /// with `kcmp`), joined as a member; else a new record.
    fn find_or_create(fd: RawFd) -> Arc<Shared> {
        let candidates: Vec<Arc<Shared>> = {
            let _section = handles::fork_section();
            // Bound to locals (not a temporary of the tail expression, which would outlive
            // `_section`), so the guard is dropped inside the section.
            let records = RECORDS.lock().unwrap_or_else(|p| p.into_inner());
            let candidates = records.iter().filter_map(Weak::upgrade).collect();
            drop(records);
            candidates
        };
        for shared in candidates {
            if shared.join_if_same(fd) {
                return shared;
            }
        }
        Shared::create(fd)
    }

    /// Joins `fd` as a member if it refers to this instance's open file.
    fn join_if_same(&self, fd: RawFd) -> bool {
        let _section = handles::fork_section();
        // Compared and joined under the write lock: the member compared with cannot leave
        // (and its number be reused) meanwhile, and an instance whose last handle has gone
        // (an empty list: its registrations ended) is not joined.
        let mut members = self.members.write().unwrap_or_else(|p| p.into_inner());
        let Some(&member) = members.first() else { return false };
        if same_open_file(fd, member) != Some(true) {
            return false;
        }
        members.push(fd);
        true
    }

    /// Adds `fd`, a duplicate of a member's descriptor, as a member. False if the last
    /// handle has gone meanwhile (then the duplicate starts a record of its own).
    fn join_duplicate(&self, fd: RawFd) -> bool {
        let _section = handles::fork_section();
        let mut members = self.members.write().unwrap_or_else(|p| p.into_inner());
        if members.is_empty() {
            return false;
        }
        members.push(fd);
        true
    }

    /// The close hooks' owner value for this record: its address, unique while it lives.
    fn owner(self: &Arc<Self>) -> u64 {
        Arc::as_ptr(self) as u64
    }

    /// The table the targets live in, once something was registered.
    fn table(&self) -> Option<&'static Table> {
        self.table.get().copied()
    }
}

/// One handle's membership of its instance's record: leaves the member list when the handle
/// closes or is released (before its descriptor closes: declared before the descriptor in
/// [`Epoll`], so dropped first), and the last one ends the registrations.
struct Member {
    shared: Arc<Shared>,
    fd: RawFd,
}

impl Drop for Member {
    fn drop(&mut self) {
        let last = {
            let _section = handles::fork_section();
            let mut members = self.shared.members.write().unwrap_or_else(|p| p.into_inner());
            if let Some(at) = members.iter().position(|&fd| fd == self.fd) {
                members.swap_remove(at);
            }
            members.is_empty()
        };
        if last {
            end_registrations(&self.shared);
        }
    }
}

impl Member {
    /// If this is the instance's last handle, takes out of the kernel set (`set`, this
    /// member's descriptor) every registration this process made whose target is still
    /// live. A target closing meanwhile deregisters itself through this member first.
    fn deregister_if_last(&self, set: BorrowedFd<'_>) {
        let Some(table) = self.shared.table() else { return }; // never registered anything
        let last = {
            let _section = handles::fork_section();
            self.shared.members.read().unwrap_or_else(|p| p.into_inner()).as_slice() == [self.fd]
        };
        if !last {
            return; // another handle of the set carries on with the registrations
        }
        let registrations = self.shared.registry.write().live();
        for (token, record) in registrations {
            if let (true, Ok(target)) = (mine(token), table.get(record.target)) {
                let _ = ctl(set, libc::EPOLL_CTL_DEL, target.fd(), 0, 0);
            }
        }
    }
}

/// The last handle of an instance has gone: removes the close hooks its registrations left
/// on their targets (each held a reference to the record).
fn end_registrations(shared: &Arc<Shared>) {
    let ended = shared.registry.write().drain();
    let Some(table) = shared.table() else { return }; // never registered anything
    let owner = shared.owner();
    for (token, record) in ended {
        // A target that has closed is refused here, its hook already run or running.
        if let Ok(true) = table.remove_close_hook(record.target, |hook| hook.owner == owner && hook.key == token) {
            // SAFETY: the removed hook's reference (see `Epoll::add`); `shared` holds another.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(shared)) };
        }
    }
}

/// The close hook a registration leaves on its target: deregisters the closing descriptor
/// from the instance through a live handle of it, if there is one left, when this process
/// made the registration. One inherited across a fork (another process's token range) is the
/// parent's too (the kernel keys it by open file and number, both shared): it is left alone,
/// so closing in a child never removes the parent's registration. When closing the descriptor
/// ends its open file (fdsafe made it and never duplicated, lent, sent or forked it), the
/// kernel drops the registration itself as the file goes, as it does for a raw program that
/// just closes: no `EPOLL_CTL_DEL` is needed, and none is made.
fn target_closing(_table: &'static Table, closing: Closing<'_>, owner: u64, token: u64) {
    // SAFETY: `owner` came from `Arc::into_raw` in `Epoll::add`; the hook held that
    // reference, and a hook runs once, so it is given back here.
    let shared = unsafe { Arc::from_raw(owner as *const Shared) };
    if !mine(token) || closing.file_ends {
        return;
    }
    let fd = closing.fd;
    let _section = handles::fork_section();
    let members = shared.members.read().unwrap_or_else(|p| p.into_inner());
    if let Some(&epfd) = members.first() {
        // SAFETY: listed members are open while the read lock is held (see `Shared`).
        let _ = ctl(unsafe { BorrowedFd::borrow_raw(epfd) }, libc::EPOLL_CTL_DEL, fd, 0, 0);
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
    // Dropped before the descriptor (see `Member`).
    member: Member,
    fd: OwnedFd,
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
        let fd = unsafe { sys::owned(fd) };
        Ok(Epoll { member: Member { shared: Shared::create(fd.as_raw_fd()), fd: fd.as_raw_fd() }, fd })
    }

    pub fn verify(fd: BorrowedFd<'_>) -> Result<()> {
        match sys::anon_inode_name(fd)?.as_deref() {
            Some("eventpoll") => Ok(()),
            _ => Err(Error::invalid(format!("descriptor {} is not an epoll instance", fd.as_raw_fd()))),
        }
    }

    /// Wraps an epoll descriptor. If it refers to the open file of a live epoll handle of
    /// this process (received, adopted or copied with `pidfd_getfd`), it shares that handle's
    /// registrations; otherwise registrations it already has (made outside fdsafe) are not
    /// known to the set, and their events are never reported.
    pub fn from_fd(fd: OwnedFd) -> Epoll {
        let raw = fd.as_raw_fd();
        Epoll { member: Member { shared: Shared::find_or_create(raw), fd: raw }, fd }
    }

    /// Wraps `fd`, a duplicate of this set's descriptor: the two share the registrations.
    pub fn duplicate(&self, fd: OwnedFd) -> Epoll {
        let raw = fd.as_raw_fd();
        let shared = if self.member.shared.join_duplicate(raw) { self.member.shared.clone() } else { Shared::create(raw) };
        Epoll { member: Member { shared, fd: raw }, fd }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.member.shared
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
        let shared = self.shared();
        let _ = shared.table.set(table); // one table per process
        let handle = target.handle();
        if handle == me {
            return Err(Error::from_errno(libc::EINVAL).context("an epoll set cannot watch itself"));
        }
        let owner = shared.owner();
        target.change_close_hooks(|hooks| {
            if hooks.of_owner(owner).is_some() {
                return Err(Error::from_errno(libc::EEXIST).context("the handle is already in this epoll set"));
            }
            let token = {
                let mut registry = shared.registry.write();
                registry.sweep_if_due(table);
                registry.insert(handle, user, MY_RANGE.load(Ordering::Relaxed))?
            };
            if let Err(err) = ctl(self.fd.as_fd(), libc::EPOLL_CTL_ADD, target.object().as_fd(), events, token) {
                shared.registry.write().remove(token);
                return Err(err.context("epoll_ctl(EPOLL_CTL_ADD)"));
            }
            // Through the caller's guard: a close that began meanwhile finishes only after the
            // guard is dropped, and runs the hook then. The hook holds a reference to the
            // record, given back when it runs or is removed.
            let owner = Arc::into_raw(shared.clone()) as u64;
            hooks.push(CloseHook { run: target_closing, owner, key: token });
            Ok(())
        })
    }

    /// Changes the events and user value of `target`'s registration in this set (made
    /// through any handle of it) and re-arms a one-shot one. `ENOENT` if it is not in this set.
    pub fn modify(&self, target: &handles::Guard, events: u32, user: u64) -> Result<()> {
        Self::check_events(events)?;
        let shared = self.shared();
        target.change_close_hooks(|hooks| {
            let token = hooks.of_owner(shared.owner()).ok_or_else(not_in_set)?.key;
            // No registration: the target is closing and a sweep has ended it (its hook has
            // not run yet); for the caller it has left the set.
            let old_user = shared.registry.write().set_user(token, user).ok_or_else(not_in_set)?;
            if let Err(err) = ctl(self.fd.as_fd(), libc::EPOLL_CTL_MOD, target.object().as_fd(), events, token) {
                shared.registry.write().set_user(token, old_user);
                return Err(err.context("epoll_ctl(EPOLL_CTL_MOD)"));
            }
            Ok(())
        })
    }

    /// Removes `target` from this set (whichever handle of it registered it). `ENOENT` if it
    /// is not in it.
    pub fn delete(&self, target: &handles::Guard) -> Result<()> {
        let shared = self.shared();
        let owner = shared.owner();
        target.change_close_hooks(|hooks| {
            let hook = hooks.remove(|hook| hook.owner == owner).ok_or_else(not_in_set)?;
            // SAFETY: the removed hook's reference (see `add`); `shared` holds another.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(shared)) };
            shared.registry.write().remove(hook.key);
            ctl(self.fd.as_fd(), libc::EPOLL_CTL_DEL, target.object().as_fd(), 0, 0)
                .map_err(|e| e.context("epoll_ctl(EPOLL_CTL_DEL)"))
        })
    }

    /// The number of registrations in the set (of targets not closed).
    pub fn len(&self) -> usize {
        let shared = self.shared();
        let mut registry = shared.registry.write();
        if let Some(table) = shared.table() {
            registry.sweep(table);
        }
        registry.len()
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
        // A mask given for the wait leaves glibc's own signals alone, as pthread_sigmask does.
        let sigmask = sigmask.map(SigSet::for_kernel);
        let table = self.shared().table.get().copied();
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
        // Set at the first pause (see below); then every wait uses its mask.
        let mut pausing: Option<PausingMask> = None;
        loop {
            let mask = pausing.as_ref().map_or(sigmask, |p| Some(p.wait_mask));
            let n = self.wait_raw(raw, remaining, precise, mask)?;
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
            if pausing.is_none() {
                pausing = Some(PausingMask::begin(sigmask)?);
            }
            let wait_mask = pausing.as_ref().map(|p| &p.wait_mask.0);
            let interrupted = |e: Error| e.context("epoll_wait");
            match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    crate::sys::direct::pause(left.min(pause), wait_mask).map_err(interrupted)?;
                    remaining = Some(d.saturating_duration_since(Instant::now()));
                }
                None => crate::sys::direct::pause(pause, wait_mask).map_err(interrupted)?,
            }
        }
    }

    fn translate(&self, table: Option<&'static Table>, raw: &[libc::epoll_event], sink: &mut impl FnMut(usize, Ready)) -> usize {
        let Some(table) = table else { return 0 }; // nothing was ever registered
        let registry = &self.shared().registry;
        let mut reported = 0;
        for event in raw {
            let token = event.u64;
            let Some(record) = registry.get(token) else { continue };
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

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl handles::Object for Epoll {
    fn kind(&self) -> Kind {
        Kind::Epoll
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    /// Released: the caller gets the bare set. If this was the set's last handle, this
    /// process's registrations are taken out of the kernel set first: their data words are
    /// fdsafe's tokens, meaningless outside it, and once the set has no handle their targets'
    /// closes can no longer deregister them (fdsafe never touches a released number), so a
    /// target whose file outlived its handle (a duplicate elsewhere) would stay registered
    /// with nobody able to remove it.
    fn into_fd(self: Box<Self>) -> OwnedFd {
        let Epoll { member, fd } = *self;
        member.deregister_if_last(fd.as_fd());
        drop(member);
        fd
    }
    fn write_guard(&self) -> WriteGuard {
        WriteGuard::None
    }
}

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
            largest = largest.max(guard.shared().registry.write().len());
        }
        assert!(largest <= 2 * registry::SWEEP_FROM, "the map grew to {largest} records for 10 live registrations");
        assert_eq!(handles::get_as::<Epoll>(set, "an epoll set").unwrap().len(), 10);
        handles::close_many(live.into_iter().chain([set]));
    }

    /// A modify on a target whose close has begun (another reference still holds it, so its
    /// hook has not run) after a sweep removed its record: `ENOENT`, as for a target not in
    /// the set, not an internal error.
    #[test]
    fn modify_of_a_closing_target_after_a_sweep_is_enoent() {
        let set = handles::insert(Box::new(Epoll::new().unwrap())).unwrap();
        let target = eventfd();
        let guard = handles::get_as::<Epoll>(set, "an epoll set").unwrap();
        guard.add(&handles::TABLE, set, &handles::get(target).unwrap(), libc::EPOLLIN as u32, 7).unwrap();
        let held = handles::get(target).unwrap();
        handles::close(target).unwrap(); // closing: `held` keeps the object and its hook
        assert_eq!(guard.len(), 0); // the count sweeps the record
        let err = guard.modify(&held, libc::EPOLLIN as u32, 8).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENOENT), "{err:?}");
        drop(held);
        drop(guard);
        handles::close(set).unwrap();
    }

    /// Each hook holds a reference to its instance's record, given back when the hook runs
    /// (the target closes), is removed (delete), or the last handle of the set goes: then
    /// nothing keeps the record alive.
    #[test]
    fn the_record_goes_with_the_last_handle_and_hook() {
        let set = handles::insert(Box::new(Epoll::new().unwrap())).unwrap();
        let (weak, copy) = {
            let guard = handles::get_as::<Epoll>(set, "an epoll set").unwrap();
            let fd = sys::dup_cloexec(guard.fd.as_fd()).unwrap();
            (Arc::downgrade(guard.shared()), handles::insert(Box::new(guard.duplicate(fd))).unwrap())
        };
        let targets: Vec<Handle> = (0..3).map(|_| eventfd()).collect();
        for (i, &target) in targets.iter().enumerate() {
            let through = if i % 2 == 0 { set } else { copy };
            let guard = handles::get_as::<Epoll>(through, "an epoll set").unwrap();
            guard.add(&handles::TABLE, through, &handles::get(target).unwrap(), libc::EPOLLIN as u32, i as u64).unwrap();
        }
        assert_eq!(weak.strong_count(), 2 + 3, "two handles and three hooks");
        handles::close(targets[0]).unwrap(); // the hook runs
        handles::get_as::<Epoll>(set, "an epoll set").unwrap().delete(&handles::get(targets[1]).unwrap()).unwrap();
        assert_eq!(weak.strong_count(), 2 + 1);
        handles::close(set).unwrap();
        assert_eq!(handles::get_as::<Epoll>(copy, "an epoll set").unwrap().len(), 1);
        handles::close(copy).unwrap(); // the last handle: the hook on targets[2] is removed
        assert!(weak.upgrade().is_none(), "the record outlived its handles");
        handles::close_many(targets[1..].iter().copied());
    }
}
