//! One slot of the handle table and its reference protocol (see `docs/design.md`).
//!
//! `state` packs `[generation: 32 | kind: 8 | closing: 1 | references: 23]`. The top 40 bits
//! are the slot's *tag*; a handle names a live object exactly when its own tag (generation
//! and kind from its bits) equals the slot's. Odd generations are live, even ones free, and
//! a free slot's kind is 0, so no handle value can name a free slot.
//!
//! - acquire: compare-and-swap `references + 1`, only while the tag matches and `closing` is
//!   clear;
//! - release: `references - 1`; the thread that takes the last reference of a closing slot
//!   finalizes it;
//! - close: sets `closing` (once, on the matching tag). With no reference held, the closer
//!   owns the slot at once and finalizes it itself;
//! - finalize: takes the object out and stores the next (even, free) generation with kind 0.
//!
//! The object is written only while the slot is free (by the inserter, before it publishes
//! the tag) and read only under a reference; finalizing is exclusive because `closing` with
//! no reference lets nobody else in.

use std::os::fd::RawFd;

use super::hooks::{HookCell, Hooks};
use super::sync::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, ObjectCell, Ordering};
use super::Stored;

const REFS_MASK: u64 = (1 << 23) - 1;
const CLOSING: u64 = 1 << 23;
const TAG_SHIFT: u32 = 24;

/// A slot's or handle's tag: `generation << 8 | kind`.
pub fn tag(generation: u32, kind: u8) -> u64 {
    ((generation as u64) << 8) | kind as u64
}

fn tag_of(state: u64) -> u64 {
    state >> TAG_SHIFT
}

fn generation_of(state: u64) -> u32 {
    (state >> (TAG_SHIFT + 8)) as u32
}

/// What [`Slot::take`] takes out of a slot.
pub struct Taken {
    pub object: Stored,
    pub fd: RawFd,
    pub reusable: bool,
    pub hooks: Hooks,
    /// Whether the descriptor is its open file's only one (see [`Slot::take`]).
    pub sole: bool,
}

/// Why a handle's tag did not get in.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Refused {
    /// The slot's generation is later than the handle's: closed or released.
    Closed,
    /// The same tag, but a close has begun.
    Closing,
    /// Any other tag: a value never issued (a forged kind byte, a future or free generation).
    NeverIssued,
}

/// What [`Slot::close`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// Nobody held a reference: the caller owns the slot and must [`Slot::take`] it.
    Idle,
    /// `n` references are held; the last to be released finalizes the slot.
    Busy(u64),
}

/// Two cache lines at most: threads on different handles share no line of state.
#[repr(C, align(64))]
pub struct Slot {
    state: AtomicU64,
    /// The live object's descriptor, so a call needs no virtual call to find it.
    fd: AtomicI32,
    /// The next index on the table's free list while the slot is free.
    next_free: AtomicU32,
    /// Whether `hooks` may be non-empty (so finalizing does not touch them when not).
    has_hooks: AtomicBool,
    /// Taken off the free list by an insert that has not filled it yet (its descriptor number
    /// is in `fd`): a fork can catch it so, and the child must free it (see `fork`).
    reserved: AtomicBool,
    /// fdsafe made the descriptor and has not duplicated, lent or sent it: no other
    /// descriptor of its open file exists, bar a forked child's (see [`Slot::take`]).
    sole: AtomicBool,
    /// The fork epoch the object was inserted in, read when the slot was reserved, after the
    /// system call that made the descriptor (see `fork`).
    born: AtomicU32,
    object: ObjectCell,
    hooks: HookCell,
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

impl Slot {
    pub fn new() -> Slot {
        Slot::free_at(0)
    }

    /// A free slot whose first object will have generation `generation + 1` (`generation`
    /// even: see `Table::first_generation`).
    pub fn free_at(generation: u32) -> Slot {
        debug_assert!(generation % 2 == 0);
        Slot {
            state: AtomicU64::new(tag(generation, 0) << TAG_SHIFT),
            fd: AtomicI32::new(-1),
            next_free: AtomicU32::new(0),
            has_hooks: AtomicBool::new(false),
            reserved: AtomicBool::new(false),
            sole: AtomicBool::new(false),
            born: AtomicU32::new(0),
            object: ObjectCell::new(),
            hooks: HookCell::new(),
        }
    }

    pub fn next_free(&self) -> u32 {
        self.next_free.load(Ordering::Relaxed)
    }

    pub fn set_next_free(&self, next: u32) {
        self.next_free.store(next, Ordering::Relaxed);
    }

    /// The generation that the next object put in this free slot will have, or `None` if the
    /// slot is retired.
    pub fn next_generation(&self) -> Option<u32> {
        let state = self.state.load(Ordering::Acquire);
        generation_of(state).checked_add(1).filter(|_| state & CLOSING == 0)
    }

    /// Marks a free slot just taken off the free list as reserved for descriptor `fd`, and
    /// records the fork epoch (the caller made the descriptor before).
    ///
    /// # Safety
    /// The caller owns the free slot exclusively (it took it off the free list).
    pub unsafe fn reserve(&self, fd: RawFd) {
        self.born.store(super::fork::epoch(), Ordering::Relaxed);
        self.fd.store(fd, Ordering::Relaxed);
        self.reserved.store(true, Ordering::Relaxed);
    }

    /// Undoes [`Slot::reserve`] (the insert failed; the slot goes back on the free list).
    ///
    /// # Safety
    /// As [`Slot::reserve`].
    pub unsafe fn unreserve(&self) {
        self.reserved.store(false, Ordering::Relaxed);
        self.fd.store(-1, Ordering::Relaxed);
    }

    /// In the child of a fork: the descriptor number of a reservation whose insert did not
    /// come along (the slot stays off the free list until the caller puts it back).
    ///
    /// # Safety
    /// Only the calling thread runs in the process.
    pub unsafe fn abandoned_reservation(&self) -> Option<RawFd> {
        if !self.reserved.swap(false, Ordering::Relaxed) {
            return None;
        }
        Some(self.fd.swap(-1, Ordering::Relaxed))
    }

    /// Puts an object into a free slot and publishes it under `tag(generation, kind)`.
    /// `sole`: fdsafe has just made the descriptor, so no other descriptor of its open file
    /// exists.
    ///
    /// # Safety
    /// The caller owns the free slot exclusively (it took it off the free list), and
    /// `generation` is [`Slot::next_generation`].
    pub unsafe fn fill(&self, object: Stored, generation: u32, sole: bool) {
        debug_assert!(generation % 2 == 1);
        let kind = object.kind() as u8;
        self.sole.store(sole, Ordering::Relaxed);
        self.fd.store(object.raw_fd(), Ordering::Relaxed);
        self.object.put(object);
        self.reserved.store(false, Ordering::Relaxed);
        self.state.store(tag(generation, kind) << TAG_SHIFT, Ordering::Release);
    }

    /// Whether `generation` holds this slot's descriptor number: live, or closing (a close
    /// waiting for the calls in progress leaves the descriptor open, and closes it when the
    /// last one returns, so the number is still fdsafe's: adopting it then would give it two
    /// owners), or reserved and not published yet (the descriptor owners record claims
    /// before filling). It stops holding when the slot is taken, just before the close (a
    /// retired slot, whose generation cannot move on, keeps its closing state but gives up
    /// its number then: `take` sets `fd` to -1).
    pub fn held_by(&self, generation: u32) -> bool {
        let state = self.state.load(Ordering::Acquire);
        let current = generation_of(state);
        current < generation
            || (current == generation && (state & CLOSING == 0 || self.fd.load(Ordering::Relaxed) != -1))
    }

    /// Whether the slot holds an object (live or closing). For counts taken while the table
    /// is quiet.
    pub fn occupied(&self) -> bool {
        generation_of(self.state.load(Ordering::Acquire)) % 2 == 1
    }

    /// Whether the slot is free and not reserved by an insert: for the child of a fork, which
    /// rebuilds the free list from the slots.
    ///
    /// # Safety
    /// Only the calling thread runs in the process.
    pub unsafe fn is_free(&self) -> bool {
        generation_of(self.state.load(Ordering::Relaxed)) % 2 == 0 && !self.reserved.load(Ordering::Relaxed)
    }

    fn refusal(state: u64, wanted: u64) -> Refused {
        if tag_of(state) == wanted {
            Refused::Closing
        } else if generation_of(state) > (wanted >> 8) as u32 {
            Refused::Closed
        } else {
            Refused::NeverIssued
        }
    }

    /// Whether `wanted` can name a live object at all: an odd generation and a kind.
    fn plausible(wanted: u64) -> bool {
        wanted & 0xff != 0 && (wanted >> 8) % 2 == 1
    }

    /// Takes a reference on the object tagged `wanted`.
    #[inline]
    pub fn acquire(&self, wanted: u64) -> Result<(), Refused> {
        if !Self::plausible(wanted) {
            return Err(Refused::NeverIssued); // it could match a free slot's tag
        }
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            if tag_of(current) != wanted || current & CLOSING != 0 {
                return Err(Self::refusal(current, wanted));
            }
            debug_assert!(current & REFS_MASK < REFS_MASK);
            match self.state.compare_exchange_weak(current, current + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Whether the object tagged `wanted` is live and not closing, without taking a
    /// reference (the answer may be out of date at once).
    pub fn is_live(&self, wanted: u64) -> bool {
        let state = self.state.load(Ordering::Acquire);
        Self::plausible(wanted) && tag_of(state) == wanted && state & CLOSING == 0
    }

    /// Drops one reference. Returns `true` when the caller took the last reference of a closing
    /// slot and must now [`Slot::take`] it.
    #[must_use]
    #[inline]
    pub fn release(&self) -> bool {
        // AcqRel: the last releaser sees every other holder's use of the object.
        let previous = self.state.fetch_sub(1, Ordering::AcqRel);
        previous & CLOSING != 0 && previous & REFS_MASK == 1
    }

    /// Begins closing the object tagged `wanted`: no new reference can be taken.
    pub fn close(&self, wanted: u64) -> Result<Closed, Refused> {
        if !Self::plausible(wanted) {
            return Err(Refused::NeverIssued); // it could match a free slot's tag
        }
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            if tag_of(current) != wanted || current & CLOSING != 0 {
                return Err(Self::refusal(current, wanted));
            }
            match self.state.compare_exchange_weak(current, current | CLOSING, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) if current & REFS_MASK == 0 => return Ok(Closed::Idle),
                Ok(_) => return Ok(Closed::Busy(current & REFS_MASK)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Begins closing the object tagged `wanted` only if nobody holds a reference (for
    /// release, which hands the descriptor out and so must be alone). `Ok(false)`: busy, the
    /// slot is left as it was.
    pub fn close_if_idle(&self, wanted: u64) -> Result<bool, Refused> {
        if !Self::plausible(wanted) {
            return Err(Refused::NeverIssued);
        }
        let idle = wanted << TAG_SHIFT;
        match self.state.compare_exchange(idle, idle | CLOSING, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => Ok(true),
            Err(current) if tag_of(current) == wanted && current & CLOSING == 0 => Ok(false),
            Err(current) => Err(Self::refusal(current, wanted)),
        }
    }

    /// The live object. The caller must hold a reference.
    #[inline]
    pub fn object(&self) -> &Stored {
        // SAFETY: under a reference the object is present and nobody writes it.
        unsafe { self.object.get() }
    }

    #[inline]
    pub fn fd(&self) -> RawFd {
        self.fd.load(Ordering::Relaxed)
    }

    /// Records that the descriptor's open file may now have other holders (its number was
    /// lent, or it was duplicated or sent). The caller holds a reference; the last release
    /// orders this before [`Slot::take`].
    pub fn mark_shared(&self) {
        self.sole.store(false, Ordering::Relaxed);
    }

    /// The slot's tag now (its generation and kind).
    pub fn current_tag(&self) -> u64 {
        tag_of(self.state.load(Ordering::Acquire))
    }

    /// Changes the close hooks (see `hooks`). The caller holds a reference.
    pub fn change_hooks<R>(&self, change: impl FnOnce(&mut Hooks) -> R) -> R {
        // SAFETY: the caller holds a reference, as `HookCell::change` needs.
        unsafe { self.hooks.change(&self.has_hooks, change) }
    }

    /// Takes the object and the close hooks out of a closing slot with no references left,
    /// and frees the slot. The caller runs the hooks (with the object's descriptor, still
    /// open) before dropping or handing out the object.
    ///
    /// `sole` in what it returns: the descriptor is its open file's only one, as far as fdsafe
    /// can know: the insert said fdsafe had just made it, nobody marked it shared since, and
    /// no fork has happened since the insert (the fork epoch is the one the insert recorded).
    /// A child made with `clone(2)` directly runs no fork handler, and holds copies until it
    /// execs (every fdsafe descriptor is close-on-exec). A slot whose generation would wrap is
    /// retired: it stays closing and `reusable` is false.
    ///
    /// # Safety
    /// The caller owns the slot exclusively: [`Slot::close`] said idle, [`Slot::release`]
    /// said last, or [`Slot::close_if_idle`] succeeded.
    pub unsafe fn take(&self) -> Taken {
        let object = self.object.take();
        let hooks = if self.has_hooks.load(Ordering::Relaxed) {
            self.has_hooks.store(false, Ordering::Relaxed);
            self.hooks.take()
        } else {
            Hooks::default()
        };
        // Only the slot's exclusive owner writes the number: a load and a store.
        let fd = self.fd.load(Ordering::Relaxed);
        self.fd.store(-1, Ordering::Relaxed);
        // A fork since the insert (the epoch moved) gave the child a copy of the file.
        let sole = self.sole.load(Ordering::Relaxed) && self.born.load(Ordering::Relaxed) == super::fork::epoch();
        let generation = generation_of(self.state.load(Ordering::Relaxed));
        let (state, reusable) = match generation.checked_add(1) {
            Some(next) => (tag(next, 0) << TAG_SHIFT, true),
            None => (self.state.load(Ordering::Relaxed), false),
        };
        self.state.store(state, Ordering::Release);
        Taken { object, fd, reusable, hooks, sole }
    }

    /// In the child of a fork: forgets the references of the threads that did not come along
    /// (only the forking thread did, and it held none, being in `fork`). Returns `true` if the
    /// slot is closing and so must now be finalized by the caller.
    ///
    /// # Safety
    /// Only the calling thread runs in the process.
    pub unsafe fn forget_references(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if generation_of(state) % 2 == 0 {
            return false;
        }
        self.state.store(state & !REFS_MASK, Ordering::Relaxed);
        state & CLOSING != 0
    }

    /// In the child of a fork: whether the live object was inserted in fork epoch `epoch`
    /// (while the fork was being made), and if so begins closing it, so that the caller
    /// finalizes it (see `fork`).
    ///
    /// # Safety
    /// As [`Slot::forget_references`], after it.
    pub unsafe fn close_if_born_in(&self, epoch: u32) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if generation_of(state) % 2 == 0 || state & CLOSING != 0 || self.born.load(Ordering::Relaxed) != epoch {
            return false;
        }
        self.state.store(state | CLOSING, Ordering::Relaxed);
        true
    }

    /// Whether a live slot's object is actually present (a closing one's finalizer, gone in
    /// the fork, may have taken it already).
    ///
    /// # Safety
    /// As [`Slot::forget_references`].
    pub unsafe fn holds_object(&self) -> bool {
        self.object.is_some()
    }

    #[cfg(test)]
    pub fn force_generation(&self, generation: u32) {
        self.state.store(tag(generation, 0) << TAG_SHIFT, Ordering::Release);
    }
}

// Two cache lines at most, so threads on different handles share no line of state (loom's
// instrumented types are larger).
#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Slot>() <= 128, "a slot is at most two cache lines");
// Everything a call or a close touches (the state, the descriptor, the object) is in the
// first line; the close hooks, touched only for handles that have some, are in the second.
#[cfg(not(loom))]
const _: () = assert!(std::mem::offset_of!(Slot, object) + std::mem::size_of::<ObjectCell>() <= 64);
