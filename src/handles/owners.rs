//! Which handle owns each descriptor number, so that one descriptor is never adopted twice
//! (two owners would mean a double close), without a lock.
//!
//! An entry is a handle value (0: none), in pages of 4,096 numbers allocated the first time
//! one of them is needed (descriptors are small and dense: the kernel hands out the lowest free
//! one). A claim is a compare-and-swap, so of two threads adopting the same number at once
//! only one succeeds. An entry names the last handle that claimed the number, which may have
//! ended since: a claim asks the table whether the recorded owner still holds the number (its
//! slot still at that generation and not closing, or reserved for it), and takes the number
//! if not. So a close leaves the entry as it is: clearing it would move the entry's cache
//! line to the closing thread and back to the creating thread for every handle one thread
//! creates and another closes (measured with the thread-pool lifecycle, see `kept`).
//! Numbers beyond the pages (possible only with a raised `fs.nr_open`) are kept in a list
//! under a lock, and removed at close.

use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

use super::Handle;

const PAGE_BITS: u32 = 12;
const PAGE_ENTRIES: usize = 1 << PAGE_BITS;
/// Numbers below `PAGES * PAGE_ENTRIES` (16 Mi; 64 Ki under Miri, see `table::CAPACITY`).
const PAGES: usize = if cfg!(miri) { 16 } else { 1 << 12 };

pub struct Owners {
    pages: [AtomicPtr<AtomicU64>; PAGES],
    /// (number, owner) pairs for numbers beyond the pages: rare enough for a list.
    beyond: Mutex<Vec<(RawFd, u64)>>,
}

/// Why a claim failed: the live handle that owns the number.
pub struct AlreadyOwned(pub Handle);

impl Owners {
    pub const fn new() -> Owners {
        Owners { pages: [const { AtomicPtr::new(ptr::null_mut()) }; PAGES], beyond: Mutex::new(Vec::new()) }
    }

    /// The entry of `fd` if its page exists (or is created now, when `create`); `None` for
    /// numbers beyond the pages.
    #[inline]
    fn entry(&self, fd: RawFd, create: bool) -> Option<&AtomicU64> {
        let fd = usize::try_from(fd).ok()?;
        let page = self.pages.get(fd >> PAGE_BITS)?;
        let mut base = page.load(Ordering::Acquire);
        if base.is_null() {
            if !create {
                return None;
            }
            base = publish_page(page);
        }
        // SAFETY: a published page has `PAGE_ENTRIES` entries and is never freed.
        Some(unsafe { &*base.add(fd & (PAGE_ENTRIES - 1)) })
    }

    fn beyond(&self) -> std::sync::MutexGuard<'_, Vec<(RawFd, u64)>> {
        self.beyond.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `handle` as the owner of `fd`, unless a handle that `holds` says still holds
    /// it owns it already.
    #[inline]
    pub fn claim(&self, fd: RawFd, handle: Handle, holds: impl Fn(Handle) -> bool) -> Result<(), AlreadyOwned> {
        let Some(entry) = self.entry(fd, true) else {
            return self.claim_beyond(fd, handle, holds);
        };
        let mut current = entry.load(Ordering::Acquire);
        loop {
            // Usually free, or naming an owner that has ended.
            if current != 0 && holds(Handle(current)) {
                return Err(AlreadyOwned(Handle(current)));
            }
            match entry.compare_exchange(current, handle.0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => {
                    current = actual;
                }
            }
        }
    }

    /// [`Owners::claim`] for a number the kernel has just given out, with a plain store: it
    /// was free a moment ago, so a thread adopting it at the same instant would be adopting a
    /// descriptor it does not own, which a compare-and-swap could not make right either (one
    /// of the two would be left with a number closed by the other). Non-simultaneous mistakes
    /// are caught as by `claim`: a live owner recorded for the number (its descriptor closed
    /// behind fdsafe's back) refuses the claim.
    #[inline]
    pub fn claim_fresh(&self, fd: RawFd, handle: Handle, holds: impl Fn(Handle) -> bool) -> Result<(), AlreadyOwned> {
        let Some(entry) = self.entry(fd, true) else {
            return self.claim_beyond(fd, handle, holds);
        };
        let current = entry.load(Ordering::Acquire);
        if current != 0 && holds(Handle(current)) {
            return Err(AlreadyOwned(Handle(current)));
        }
        entry.store(handle.0, Ordering::Release);
        Ok(())
    }

    #[cold]
    fn claim_beyond(&self, fd: RawFd, handle: Handle, holds: impl Fn(Handle) -> bool) -> Result<(), AlreadyOwned> {
        let _section = super::fork::section();
        let mut list = self.beyond();
        match list.iter_mut().find(|(number, _)| *number == fd) {
            Some((_, owner)) if holds(Handle(*owner)) => return Err(AlreadyOwned(Handle(*owner))),
            Some((_, owner)) => *owner = handle.0,
            None => list.push((fd, handle.0)),
        }
        Ok(())
    }

    /// Called when `handle`, the owner of `fd`, ends (its slot already freed, the number still
    /// open): a paged entry is left naming it, since a claim sees that it holds nothing now;
    /// a number beyond the pages leaves the list.
    #[inline]
    pub fn forget(&self, fd: RawFd, handle: Handle) {
        if self.entry(fd, false).is_none() {
            let _section = super::fork::section();
            self.beyond().retain(|&(number, owner)| (number, owner) != (fd, handle.0));
        }
    }

    /// Clears the claim on `fd` of a reservation (slot `index`, `generation`) that will never be
    /// filled, whatever its kind (the child of a fork; see `Table::after_fork_in_child`).
    pub fn clear_reservation(&self, fd: RawFd, index: u32, generation: u32) {
        let ours = |owner: u64| Handle(owner).index() == index && Handle(owner).generation() == generation;
        match self.entry(fd, false) {
            Some(entry) => {
                if ours(entry.load(Ordering::Relaxed)) {
                    entry.store(0, Ordering::Release);
                }
            }
            None => {
                let _section = super::fork::section();
                self.beyond().retain(|&(number, owner)| number != fd || !ours(owner));
            }
        }
    }

    /// The recorded owner of `fd`, live or not.
    pub fn get(&self, fd: RawFd) -> Option<Handle> {
        let owner = match self.entry(fd, false) {
            Some(entry) => entry.load(Ordering::Acquire),
            None => self.beyond().iter().find(|(number, _)| *number == fd).map_or(0, |&(_, owner)| owner),
        };
        (owner != 0).then_some(Handle(owner))
    }
}

/// Allocates a zeroed page and publishes it in `page`, unless another thread got there first
/// (then its page is used and ours freed).
#[cold]
fn publish_page(page: &AtomicPtr<AtomicU64>) -> *mut AtomicU64 {
    let fresh: Box<[AtomicU64]> = (0..PAGE_ENTRIES).map(|_| AtomicU64::new(0)).collect();
    let fresh = Box::into_raw(fresh).cast::<AtomicU64>();
    match page.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => fresh,
        Err(theirs) => {
            // SAFETY: `fresh` came from the box above and was never published.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, PAGE_ENTRIES)) });
            theirs
        }
    }
}
