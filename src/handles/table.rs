//! The table of slots: pages that never move, a lock-free free list (fed a batch at a time by
//! the slots each thread keeps, see `kept`), and the one way to hold a handle ([`Guard`]).
//! See `docs/design.md` for the protocol and why it was chosen.

use std::os::fd::{OwnedFd, RawFd};
use std::ptr;

use super::hooks::{Closing, Hooks};
use super::kept;
use super::owners::{AlreadyOwned, Owners};
use super::slot::{Closed, Refused, Slot, Taken};
use super::sync::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use super::{Handle, Kind, Object, Stored};
use crate::error::{Error, Result, StaleReason};

const PAGE_BITS: u32 = if cfg!(loom) { 4 } else { 10 }; // small pages: loom tracks every slot made
const PAGE_SLOTS: usize = 1 << PAGE_BITS;
/// One more than the largest slot index: every index a handle's 24 bits can hold (fewer
/// under Miri and loom, whose every access to the page array is tracked).
pub(crate) const CAPACITY: u32 = if cfg!(any(miri, loom)) { 1 << 12 } else { 1 << 24 };
const PAGES: usize = (CAPACITY >> PAGE_BITS) as usize;

/// What slot `index` adds to the table's first generation: even, below 2^30, and different
/// for neighbours (a multiplicative hash), so that slots issued one after another do not
/// share a generation, and a handle value off by one in its slot bits (an off-by-one in a
/// caller's array of handles, a flipped bit) names a generation its slot almost never has,
/// rather than the neighbour's live handle. With the first generation, a slot starts below
/// 2^31 and so lives at least 2^30 times before it retires.
fn spread(index: usize) -> u32 {
    (index as u32).wrapping_mul(0x9e37_79b9) & 0x3fff_fffe
}

fn locate(index: u32) -> (usize, usize) {
    ((index >> PAGE_BITS) as usize, index as usize & (PAGE_SLOTS - 1))
}

pub struct Table {
    pages: [AtomicPtr<Slot>; PAGES],
    /// The free list's head: `[ABA count: 32 | index + 1: 32]` (0 in the low half: empty).
    /// The count changes on every push and pop, so a pop that read a stale `next` fails.
    free_head: AtomicU64,
    /// Indices below this have been handed out at least once (their pages exist).
    next_unused: AtomicU32,
    /// `1 << 32 | g` once chosen (0 before): every slot starts free at generation `g` (see
    /// [`Table::first_generation`]).
    first_generation: AtomicU64,
    /// Which live handle owns each descriptor number.
    owners: Owners,
}

/// A reference on a live handle, held for the length of one operation: the descriptor stays
/// open, and its object in place, until every guard is dropped.
pub struct Guard {
    slot: &'static Slot,
    handle: Handle,
    table: &'static Table,
}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

impl Table {
    #[cfg(not(loom))]
    pub const fn new() -> Table {
        Table {
            pages: [const { AtomicPtr::new(ptr::null_mut()) }; PAGES],
            free_head: AtomicU64::new(0),
            next_unused: AtomicU32::new(0),
            first_generation: AtomicU64::new(0),
            owners: Owners::new(),
        }
    }

    #[cfg(loom)]
    pub fn new() -> Table {
        Table {
            pages: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
            free_head: AtomicU64::new(0),
            next_unused: AtomicU32::new(0),
            first_generation: AtomicU64::new(0),
            owners: Owners::new(),
        }
    }

    #[inline]
    fn slot(&self, index: u32) -> Option<&Slot> {
        let (page, offset) = locate(index);
        let base = self.pages.get(page)?.load(Ordering::Acquire);
        // SAFETY: a published page has `PAGE_SLOTS` slots and is never freed.
        (!base.is_null()).then(|| unsafe { &*base.add(offset) })
    }

    /// A free index: one this thread freed and keeps, the free list's first, or one never
    /// used.
    pub(super) fn pop_free(&'static self) -> Option<u32> {
        if let Some(index) = kept::take(self) {
            return Some(index);
        }
        let mut head = self.free_head.load(Ordering::Acquire);
        loop {
            let Some(index) = (head as u32).checked_sub(1) else {
                return self.fresh_index();
            };
            let next = self.slot(index).expect("free indices have pages").next_free();
            let new = (((head >> 32) + 1) << 32) | next as u64;
            match self.free_head.compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return Some(index),
                Err(actual) => head = actual,
            }
        }
    }

    /// Frees an index: this thread keeps it, or it goes on the free list.
    fn push_free(&'static self, index: u32) {
        if !kept::keep(self, index) {
            self.push_chain(index, index);
        }
    }

    /// Puts the chain of free indices from `first` to `last` (linked through their slots'
    /// `next_free`, see [`Table::link_free`]) on the free list at once.
    pub(super) fn push_chain(&self, first: u32, last: u32) {
        let tail = self.slot(last).expect("freed indices have pages");
        let mut head = self.free_head.load(Ordering::Relaxed);
        loop {
            tail.set_next_free(head as u32);
            let new = (((head >> 32) + 1) << 32) | (first as u64 + 1);
            match self.free_head.compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Links the free index `index` to `next` (`None`: the end of its chain).
    pub(super) fn link_free(&self, index: u32, next: Option<u32>) {
        let slot = self.slot(index).expect("freed indices have pages");
        slot.set_next_free(next.map_or(0, |next| next + 1));
    }

    /// The index after the free index `index` in its chain.
    pub(super) fn next_free_of(&self, index: u32) -> Option<u32> {
        self.slot(index).expect("freed indices have pages").next_free().checked_sub(1)
    }

    /// An index never handed out before, with its page allocated.
    #[cold]
    fn fresh_index(&self) -> Option<u32> {
        let index = self.next_unused.fetch_add(1, Ordering::Relaxed);
        if index >= CAPACITY {
            self.next_unused.store(CAPACITY, Ordering::Relaxed);
            return None;
        }
        let page = &self.pages[locate(index).0];
        if page.load(Ordering::Acquire).is_null() {
            let (first, page_start) = (self.first_generation(), locate(index).0 << PAGE_BITS);
            let slots: Box<[Slot]> =
                (0..PAGE_SLOTS).map(|offset| Slot::free_at(first + spread(page_start + offset))).collect();
            let new = Box::into_raw(slots) as *mut Slot;
            if page.compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire).is_err() {
                // Another thread published this page first.
                // SAFETY: `new` came from the box above and was never shared.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(new, PAGE_SLOTS)) });
            }
        }
        Some(index)
    }

    /// The generation the slots of this table start free at, before [`spread`]: even, below
    /// 2^30, and random, chosen when the first page is made. Why: the handle values of two copies of fdsafe in one process (a program
    /// linking `libfdsafe.a` that loads a plugin linking `libfdsafe.so`), or of one copy
    /// before and after `dlclose` and a new `dlopen`, would otherwise be the same values for
    /// different files, and one copy would take the other's handle for its own. With a random
    /// start, a value from another table matches a live slot here about once in 2^30.
    #[cold]
    fn first_generation(&self) -> u32 {
        const CHOSEN: u64 = 1 << 32;
        let current = self.first_generation.load(Ordering::Acquire);
        if current != 0 {
            return current as u32;
        }
        // Loom explores every run alike: no randomness there.
        let first = if cfg!(loom) { 0 } else { crate::sys::random_u32(self as *const Table as usize) & 0x3fff_fffe };
        match self.first_generation.compare_exchange(0, CHOSEN | first as u64, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => first,
            Err(theirs) => theirs as u32, // another thread chose first
        }
    }

    /// The error for a refused handle. A generation at or below its slot's start was never
    /// this table's (another copy's handle, or a forged value), though the slot reads it as
    /// older, so closed.
    #[cold]
    fn stale(&self, handle: Handle, refused: Refused) -> Error {
        let start = (self.first_generation.load(Ordering::Relaxed) as u32).wrapping_add(spread(handle.index() as usize));
        match refused {
            Refused::Closed if handle.generation() <= start => stale(Refused::NeverIssued),
            other => stale(other),
        }
    }

    /// Registers an object whose descriptor comes from the caller (adopted); the table owns it
    /// from now on. On failure the object comes back untouched, so the caller decides whether
    /// its descriptor is closed.
    pub fn insert(&'static self, object: impl Into<Stored>) -> std::result::Result<Handle, (Error, Stored)> {
        self.insert_claiming(object.into(), Origin::Adopted)
    }

    /// [`Table::insert`] for a descriptor the kernel has just installed in this process as a
    /// copy of an open file others may hold (one a message brought, a duplicate): its number
    /// was free a moment ago, so no other caller can rightly be adopting it and the owner is
    /// recorded with a plain store.
    pub fn insert_copy(&'static self, object: Stored) -> std::result::Result<Handle, (Error, Stored)> {
        self.insert_claiming(object, Origin::Copied)
    }

    /// [`Table::insert_copy`] for a descriptor fdsafe has just made (a new eventfd, socket,
    /// pipe end...): its open file has no other descriptor, so closing it ends the file.
    pub fn insert_made(&'static self, object: Stored) -> std::result::Result<Handle, (Error, Stored)> {
        self.insert_claiming(object, Origin::Made)
    }

    fn insert_claiming(&'static self, object: Stored, origin: Origin) -> std::result::Result<Handle, (Error, Stored)> {
        #[cfg(not(any(loom, miri)))] // neither models fork
        super::fork::install();
        let Some(index) = self.pop_free() else {
            return Err((Error::from_errno(libc::EMFILE).context("fdsafe handle table full"), object));
        };
        let slot = self.slot(index).expect("pages exist before their indices are handed out");
        let generation = slot.next_generation().expect("free slots are never retired");
        let handle = Handle::new(object.kind(), generation, index);
        // Claimed before the slot is filled: until then the claim counts as live (`held_by`).
        let fd = object.raw_fd();
        // SAFETY: the index came off the free list, so the slot is ours.
        unsafe { slot.reserve(fd) };
        let holds = |owner: Handle| self.slot(owner.index()).is_some_and(|slot| slot.held_by(owner.generation()));
        let claimed = match origin {
            Origin::Adopted => self.owners.claim(fd, handle, holds),
            Origin::Copied | Origin::Made => self.owners.claim_fresh(fd, handle, holds),
        };
        if let Err(AlreadyOwned(owner)) = claimed {
            // SAFETY: as above.
            unsafe { slot.unreserve() };
            self.push_free(index);
            return Err((already_owned(fd, owner), object));
        }
        // SAFETY: the index came off the free list, so the slot is ours until published.
        unsafe { slot.fill(object, generation, origin == Origin::Made) };
        Ok(handle)
    }

    /// The slot a handle names, if its index has one.
    fn named(&'static self, handle: Handle) -> Result<&'static Slot> {
        if handle == Handle::INVALID {
            return Err(Error::Stale(StaleReason::Zero));
        }
        self.slot(handle.index()).ok_or(Error::Stale(StaleReason::NeverIssued))
    }

    /// Holds `handle` for one operation: refused unless its index, generation and kind byte
    /// all name the live object.
    #[inline]
    pub fn get(&'static self, handle: Handle) -> Result<Guard> {
        let slot = self.named(handle)?;
        slot.acquire(handle.tag()).map_err(|refused| self.stale(handle, refused))?;
        Ok(Guard { slot, handle, table: self })
    }

    /// Records that the open file behind descriptor number `fd` may now have other holders,
    /// if a live handle owns that number (a raw number given away, as `fdsafe_socket_send_fds`
    /// sends them, without being borrowed first).
    pub fn mark_number_shared(&'static self, fd: RawFd) {
        if let Some(guard) = self.owners.get(fd).and_then(|handle| self.get(handle).ok()) {
            guard.mark_shared();
        }
    }

    /// Whether `handle` is live and not closing, without holding it (for filters that run
    /// under a lock a close hook may need: holding could finalize, which runs the hooks).
    pub fn is_live(&'static self, handle: Handle) -> bool {
        self.named(handle).is_ok_and(|slot| slot.is_live(handle.tag()))
    }

    /// Closes a handle: no new operation can start on it, and its descriptor is closed once
    /// the operations already running have returned (by whichever thread finishes last).
    /// Returns the number of operations still running when close was called.
    pub fn close(&'static self, handle: Handle) -> Result<u64> {
        let slot = self.named(handle)?;
        match slot.close(handle.tag()).map_err(|refused| self.stale(handle, refused))? {
            Closed::Idle => {
                self.finalize(slot, handle);
                Ok(0)
            }
            Closed::Busy(others) => Ok(others),
        }
    }

    /// [`Table::close`] for many handles. Returns how many were live and are now closed.
    pub fn close_many(&'static self, handles: impl IntoIterator<Item = Handle>) -> usize {
        handles.into_iter().filter(|&handle| self.close(handle).is_ok()).count()
    }

    /// Closes every live handle except those in `keep` (sorted), each as [`Table::close`]
    /// would. Returns how many it closed. A handle inserted by another thread meanwhile may or
    /// may not be closed: this is for a process with one thread, such as a child after fork.
    pub fn close_all_except(&'static self, keep: &[Handle]) -> usize {
        debug_assert!(keep.windows(2).all(|pair| pair[0] <= pair[1]));
        let used = self.next_unused.load(Ordering::Acquire).min(CAPACITY);
        let mut closed = 0;
        for index in 0..used {
            let Some(slot) = self.slot(index) else { continue };
            let handle = Handle::from_tag(slot.current_tag(), index);
            // A free or closing slot, or one reused since the tag was read, is refused by close.
            if slot.is_live(handle.tag()) && keep.binary_search(&handle).is_err() && self.close(handle).is_ok() {
                closed += 1;
            }
        }
        closed
    }

    /// Ends a handle and hands its descriptor to the caller, without the kind's cleanup on
    /// drop. Fails with `EBUSY` while other threads are inside operations on the handle.
    pub fn release(&'static self, handle: Handle) -> Result<OwnedFd> {
        let slot = self.named(handle)?;
        if !slot.close_if_idle(handle.tag()).map_err(|refused| self.stale(handle, refused))? {
            return Err(Error::from_errno(libc::EBUSY).context("release: other threads are using the handle"));
        }
        // SAFETY: closing with no reference: the slot is ours.
        let object = self.finish(unsafe { slot.take() }, handle, Ending::Release);
        Ok(object.into_fd())
    }

    /// Closes the object of a slot whose last reference is gone and frees the slot.
    fn finalize(&'static self, slot: &Slot, handle: Handle) {
        // SAFETY: called only when `close` said idle or `release` said last.
        let object = self.finish(unsafe { slot.take() }, handle, Ending::Close);
        super::discard(object);
    }

    /// The end of a close or release, once the slot is taken: runs the close hooks while the
    /// descriptor is still open, and frees the slot. Closing the descriptor is left to the
    /// caller, as the last step: the number, cleared from the owners while still open, cannot
    /// have been given to anyone else yet.
    fn finish(&'static self, taken: Taken, handle: Handle, ending: Ending) -> super::Stored {
        let Taken { object, fd, reusable, hooks, sole } = taken;
        if !hooks.is_empty() {
            let file_ends = sole && ending == Ending::Close;
            hooks.run(self, Closing { fd: object.object().as_fd(), file_ends });
        }
        self.owners.forget(fd, handle);
        if reusable {
            self.push_free(handle.index());
        }
        object
    }

    /// Removes the close hook of `handle` that `matches` accepts; returns whether there was one.
    pub fn remove_close_hook(&'static self, handle: Handle, matches: impl Fn(&super::CloseHook) -> bool) -> Result<bool> {
        let guard = self.get(handle)?;
        Ok(guard.slot.change_hooks(|hooks| hooks.remove(matches).is_some()))
    }

    /// In the child of a fork (the only thread): forgets the references that other threads
    /// of the parent held, finishes the closes that were waiting for them, so every inherited
    /// handle can be used and closed, and closes the handles inserted while the fork was being
    /// made, which may name another file in the child (see `fork`). The free list is rebuilt
    /// from the slots themselves: the slots other threads kept (see `kept`), or had taken off
    /// the list for an insert, would otherwise be lost to the child.
    pub(super) fn after_fork_in_child(&'static self) {
        let used = self.next_unused.load(Ordering::Relaxed).min(CAPACITY);
        let epoch = super::fork::epoch();
        kept::forget(self);
        let count = self.free_head.load(Ordering::Relaxed) >> 32;
        self.free_head.store((count + 1) << 32, Ordering::Relaxed); // empty
        for index in 0..used {
            let Some(slot) = self.slot(index) else { continue };
            // SAFETY: only this thread runs in the child.
            unsafe {
                // An insert caught between reserving the slot and filling it will never finish:
                // its claim on the number would refuse that number to every later insert. The
                // number is, in the child, either that insert's copy or nobody's: close it.
                if let Some(fd) = slot.abandoned_reservation() {
                    if let Some(generation) = slot.next_generation() {
                        self.owners.clear_reservation(fd, index, generation);
                    }
                    crate::sys::direct::close(std::os::fd::FromRawFd::from_raw_fd(fd));
                }
                let waited = slot.forget_references();
                // A handle inserted while the fork was being made may name a number the
                // child's descriptor table has not got, or has for another file: drop it.
                if (waited || slot.close_if_born_in(epoch)) && slot.holds_object() {
                    // Finish the close. Nothing here may allocate or free (a sanitizer's
                    // allocator may still be locked by a thread that did not come along): the
                    // descriptor is closed by the system call, and the object's memory and
                    // the hooks (not run: they would call into sets under locks) are left.
                    let handle = Handle::from_tag(slot.current_tag(), index);
                    let Taken { object, fd, hooks, .. } = slot.take();
                    std::mem::forget(hooks);
                    self.owners.forget(fd, handle);
                    std::mem::forget(object);
                    crate::sys::direct::close(std::os::fd::FromRawFd::from_raw_fd(fd));
                }
                if slot.is_free() {
                    self.push_chain(index, index);
                }
            }
        }
    }

    /// The number of live handles, closing ones included until their object is gone (for
    /// leak checks in tests: it reads every slot ever used).
    pub fn live_count(&self) -> usize {
        let used = self.next_unused.load(Ordering::Relaxed).min(CAPACITY);
        (0..used).filter_map(|index| self.slot(index)).filter(|slot| slot.occupied()).count()
    }

    /// The live handle that owns a descriptor number (or has claimed it for an insert not
    /// yet filled, or is closing it and has not yet closed it), if any.
    pub fn owner_of(&self, fd: RawFd) -> Option<Handle> {
        let owner = self.owners.get(fd)?;
        self.slot(owner.index()).is_some_and(|slot| slot.held_by(owner.generation())).then_some(owner)
    }

    #[cfg(test)]
    pub(super) fn slot_for_test(&self, index: u32) -> Option<&Slot> {
        self.slot(index)
    }
}

/// Where an inserted descriptor comes from: who else may hold its number or its open file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// From the caller: its number may be claimed by a live handle, its file held elsewhere.
    Adopted,
    /// Just installed by the kernel as a copy of a file others may hold.
    Copied,
    /// Just made by fdsafe: the only descriptor of its open file.
    Made,
}

/// How a handle ends: closed (its descriptor closed by fdsafe), or released (handed on).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Close,
    Release,
}

#[cold]
fn stale(refused: Refused) -> Error {
    Error::Stale(match refused {
        Refused::Closed | Refused::Closing => StaleReason::Closed,
        Refused::NeverIssued => StaleReason::NeverIssued,
    })
}

#[cold]
fn already_owned(fd: RawFd, owner: Handle) -> Error {
    Error::invalid(format!(
        "descriptor {fd} already belongs to live handle {:#x} (was it closed or adopted behind fdsafe's back?)",
        owner.0
    ))
}

impl Guard {
    pub fn handle(&self) -> Handle {
        self.handle
    }
    #[inline]
    pub fn object(&self) -> &dyn Object {
        self.slot.object().object()
    }
    #[inline]
    pub fn kind(&self) -> Kind {
        self.handle.kind().expect("a held handle's kind byte is its object's")
    }
    #[inline]
    pub fn raw_fd(&self) -> RawFd {
        self.slot.fd()
    }
    /// The descriptor, borrowed for as long as the guard keeps it open.
    #[inline]
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the slot's descriptor is its object's, open while this guard lives.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.slot.fd()) }
    }
    #[inline]
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        self.slot.object().downcast::<T>()
    }
    /// Records that the descriptor's open file may now have other holders: its number was
    /// lent to the caller, or it was duplicated, sent or handed to a child (see
    /// [`Closing::file_ends`]).
    pub fn mark_shared(&self) {
        self.slot.mark_shared();
    }
    /// Changes the close hooks of this object: each runs with the descriptor just before the
    /// object goes away (close or release), even if a close has begun meanwhile (finalizing
    /// waits for this guard). A hook must not call back into the table for this handle.
    pub fn change_close_hooks<R>(&self, change: impl FnOnce(&mut Hooks) -> R) -> R {
        self.slot.change_hooks(change)
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        if self.slot.release() {
            self.table.finalize(self.slot, self.handle);
        }
    }
}
