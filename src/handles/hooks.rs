//! Close hooks: what runs with a handle's descriptor just before its object goes (epoll uses
//! them to take a closing handle out of the sets it is in).
//!
//! A hook is plain data, a function and two numbers, so the first hook of a handle lives in
//! its slot: adding it allocates nothing and running it frees nothing. The list is changed
//! only under its lock, by a thread that holds a reference on the slot. The slot's exclusive
//! owner takes the list when it finalizes, without the lock: nobody else can hold a
//! reference then, so nobody can be changing the list (and no lock can be left held by a
//! fork there).

use std::os::fd::BorrowedFd;

use super::sync::{AtomicBool, Mutex, Ordering, UnsafeCell};
use super::Table;

/// Runs with the table, the closing descriptor, and the hook's `owner` and `key`.
pub type HookFn = fn(&'static Table, Closing<'_>, u64, u64);

/// The descriptor a hook runs for.
#[derive(Clone, Copy)]
pub struct Closing<'a> {
    /// Still open while the hooks run.
    pub fd: BorrowedFd<'a>,
    /// Whether closing this descriptor ends its open file: fdsafe made it, and no duplicate,
    /// lent number, sent copy or forked child can hold the file (see `Slot::take`). False for a
    /// release, which hands the descriptor on.
    pub file_ends: bool,
}

#[derive(Clone, Copy)]
pub struct CloseHook {
    pub run: HookFn,
    /// Who added the hook (epoll: the address of a set's shared record): at most one hook per owner.
    pub owner: u64,
    /// The owner's own number for it (a registration token).
    pub key: u64,
}

/// The hooks of one slot: the first inline, the rest (a handle in several sets) on the heap.
#[derive(Default)]
pub struct Hooks {
    first: Option<CloseHook>,
    more: Vec<CloseHook>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub fn of_owner(&self, owner: u64) -> Option<CloseHook> {
        self.first.iter().chain(&self.more).find(|hook| hook.owner == owner).copied()
    }

    pub fn push(&mut self, hook: CloseHook) {
        match self.first {
            None => self.first = Some(hook),
            Some(_) => self.more.push(hook),
        }
    }

    /// Removes and returns the first hook `matches` accepts.
    pub fn remove(&mut self, matches: impl Fn(&CloseHook) -> bool) -> Option<CloseHook> {
        if self.first.as_ref().is_some_and(&matches) {
            let removed = self.first.take();
            self.first = self.more.pop();
            return removed;
        }
        let at = self.more.iter().position(matches)?;
        Some(self.more.swap_remove(at))
    }

    /// Runs every hook, once.
    pub fn run(self, table: &'static Table, closing: Closing<'_>) {
        for hook in self.first.into_iter().chain(self.more) {
            (hook.run)(table, closing, hook.owner, hook.key);
        }
    }
}

/// A slot's hooks and the lock their changes take.
pub struct HookCell {
    lock: Mutex<()>,
    hooks: UnsafeCell<Hooks>,
}

// SAFETY: changes hold `lock`; the lock-free take is exclusive (see the module comment).
unsafe impl Sync for HookCell {}

impl HookCell {
    pub fn new() -> HookCell {
        HookCell { lock: Mutex::new(()), hooks: UnsafeCell::new(Hooks::default()) }
    }

    /// Runs `change` on the hooks under the lock, inside a fork section (so a fork never finds
    /// the lock held), and sets `present` to whether any hook is left, under the lock too (so
    /// two changes cannot leave it out of step).
    ///
    /// # Safety
    /// The caller holds a reference on the slot.
    pub unsafe fn change<R>(&self, present: &AtomicBool, change: impl FnOnce(&mut Hooks) -> R) -> R {
        let _section = super::fork::section();
        let _locked = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.with_mut(|hooks| {
            let result = change(hooks);
            // Read by the slot's exclusive owner after the last release, which orders it.
            present.store(!hooks.is_empty(), Ordering::Relaxed);
            result
        })
    }

    /// Takes every hook out.
    ///
    /// # Safety
    /// The caller owns the slot exclusively.
    pub unsafe fn take(&self) -> Hooks {
        self.with_mut(std::mem::take)
    }

    unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut Hooks) -> R) -> R {
        #[cfg(loom)]
        return self.hooks.with_mut(|hooks| f(&mut *hooks));
        #[cfg(not(loom))]
        return f(&mut *self.hooks.get());
    }
}
