//! One slot of the handle table and its lock-free state machine.
//!
//! `state` packs `[generation: 32 | closing | wait | done | releasing | references: 28]`. Odd
//! generations are live.
//! - acquire: CAS `refs + 1`, only while the generation matches and `closing` is clear;
//! - release: `refs - 1`; the thread that takes the last reference of a closing slot
//!   finalizes it (drops the object, so the descriptor closes, then frees the slot);
//! - close: sets `closing` (once), so no new reference can be taken.
//!
//! The owner thread does not count references: it sets the slot's `owner_inside` word to the
//! generation it is inside (see [`super::threads`]). A close that finds the owner inside the
//! generation it closes sets `wait`; the owner sets `done` when it leaves a closing slot, and
//! finalization needs `refs == 0 && !(wait && !done)`: whichever of the two makes that true
//! finalizes. An idle close (no reference, the owner not inside) moves the state straight to
//! the next free generation with one compare-and-swap ([`Slot::end_if_idle`]).
//! The object is written only while the slot is free and read only under a reference or by
//! the owner inside.

use std::any::TypeId;
use std::cell::UnsafeCell;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::threads;
use super::{Handle, Object, Stored, WriteGuard};

const REFS_MASK: u64 = (1 << 28) - 1;
/// A release is checking whether it is alone: lookups wait until it has decided.
const RELEASING: u64 = 1 << 28;
/// The owner left (its `owner_inside` is clear) after close began.
const DONE: u64 = 1 << 29;
/// Close found the owner inside an operation: finalization waits for `DONE`.
const WAIT: u64 = 1 << 30;
const CLOSING: u64 = 1 << 31;
const GEN_SHIFT: u32 = 32;

fn generation_of(state: u64) -> u32 {
    (state >> GEN_SHIFT) as u32
}

fn owner_pending(state: u64) -> bool {
    state & WAIT != 0 && state & DONE == 0
}

/// Whether `state` is the live generation `generation` (odd: even ones are free slots) with no
/// close or release begun.
fn usable(state: u64, generation: u32) -> bool {
    generation % 2 == 1 && generation_of(state) == generation && state & (CLOSING | RELEASING) == 0
}

/// A function run with the descriptor just before a slot's object is dropped or released
/// (epoll uses this to deregister a closing handle from every set it is in).
pub type CloseHook = Box<dyn FnOnce(std::os::fd::BorrowedFd<'_>) + Send>;

/// Why an acquire failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// The generation differs: closed (older) or never issued (newer or free).
    Generation(u32),
    /// Same generation, but close has begun.
    Closing,
}

/// 128 bytes, aligned to a cache line: threads on different handles never share a line, and
/// in this order (`repr(C)`) every field a call reads, from the state to the pipe write's
/// partner, is in the first line; typed calls also read the type in the second, and closing
/// the hooks.
#[repr(C, align(64))]
pub struct Slot {
    state: AtomicU64,
    fd: AtomicI32,
    /// The generation the owner is inside an operation on, or 0. Only the owner writes it. A
    /// generation rather than a flag: the owner of the live object may set it briefly while
    /// looking up an older handle of the same slot, and a closer of the live generation must
    /// not take that for the owner being inside (it would wait for a leave that never says so).
    owner_inside: AtomicU32,
    kind: AtomicU8,
    /// The object's [`WriteGuard`], as [`Slot::write_guard`] encodes it (so a write needs no
    /// virtual call); its handle and descriptor, if any, are `write_partner` and `write_twin`.
    write_guard: AtomicU8,
    /// Whether `close_hooks` may be non-empty (so finalizing skips its lock when not).
    has_hooks: AtomicBool,
    /// The non-blocking descriptor of [`WriteGuard::PipeWithReader`].
    write_twin: AtomicI32,
    /// The thread pointer of the thread that created the live object (0: none).
    owner: AtomicUsize,
    object: UnsafeCell<Option<Stored>>,
    /// The handle of [`WriteGuard::PipeWithReader`].
    write_partner: AtomicU64,
    /// The concrete type of the live object, so downcasts need no virtual call.
    type_id: UnsafeCell<TypeId>,
    close_hooks: Mutex<Vec<(u64, CloseHook)>>,
}

// SAFETY: `object` is written only by the thread that owns a free or finalizing slot, and read
// only by threads holding a reference, which the state machine makes exclusive of writing.
unsafe impl Sync for Slot {}

impl Slot {
    pub fn new() -> Slot {
        Slot {
            state: AtomicU64::new(0),
            fd: AtomicI32::new(-1),
            owner_inside: AtomicU32::new(0),
            kind: AtomicU8::new(0),
            write_guard: AtomicU8::new(0),
            has_hooks: AtomicBool::new(false),
            write_twin: AtomicI32::new(-1),
            owner: AtomicUsize::new(0),
            object: UnsafeCell::new(None),
            write_partner: AtomicU64::new(0),
            type_id: UnsafeCell::new(TypeId::of::<()>()),
            close_hooks: Mutex::new(Vec::new()),
        }
    }

    /// The generation that the next object put in this free slot will have, or `None` if the
    /// slot is retired.
    pub fn next_generation(&self) -> Option<u32> {
        let state = self.state.load(Ordering::Acquire);
        generation_of(state).checked_add(1).filter(|_| state & CLOSING == 0)
    }

    /// Puts an object into a free slot and makes it live with generation `generation`.
    ///
    /// # Safety
    /// The caller must own the slot exclusively: it was just taken from the free list.
    /// `owner`: the thread pointer of the thread that uses the object on the fast path, or 0
    /// (see `Table::owner_for_new`).
    pub unsafe fn fill(&self, stored: Stored, generation: u32, owner: usize) {
        match stored {
            Stored::Plain(plain) => self.fill_plain(plain.into_fd(), generation, owner),
            Stored::Boxed(object) => {
                self.fd.store(object.raw_fd(), Ordering::Relaxed);
                self.kind.store(object.kind() as u8, Ordering::Relaxed);
                *self.type_id.get() = (*object).type_id();
                self.set_write_guard(object.write_guard());
                debug_assert!((*self.object.get()).is_none());
                self.object.get().write(Some(Stored::Boxed(object)));
                self.publish(generation, owner);
            }
        }
    }

    /// [`Slot::fill`] with a plain descriptor, whose properties are known without asking an
    /// object, and whose type is not recorded (`object_as` tells it by the stored variant): it
    /// writes only the slot's first cache line.
    ///
    /// # Safety
    /// As [`Slot::fill`].
    #[inline(always)]
    pub unsafe fn fill_plain(&self, fd: std::os::fd::OwnedFd, generation: u32, owner: usize) {
        self.fd.store(std::os::fd::AsRawFd::as_raw_fd(&fd), Ordering::Relaxed);
        self.kind.store(super::Kind::Other as u8, Ordering::Relaxed);
        self.set_write_guard(WriteGuard::BlockSigpipe);
        // A write, not an assignment: a free slot holds `None`, which needs no drop (a call).
        debug_assert!((*self.object.get()).is_none());
        self.object.get().write(Some(Stored::Plain(super::PlainFd::from_fd(fd))));
        self.publish(generation, owner);
    }

    /// Makes a filled slot live with generation `generation`.
    #[inline(always)]
    fn publish(&self, generation: u32, owner: usize) {
        debug_assert!(generation % 2 == 1);
        self.owner.store(owner, Ordering::Relaxed);
        self.state.store((generation as u64) << GEN_SHIFT, Ordering::Release);
    }

    /// Whether `generation` holds this slot's descriptor number: it is live and not closing,
    /// or not filled yet (a claim made just before [`Slot::fill`]).
    pub fn held_by(&self, generation: u32) -> bool {
        let state = self.state.load(Ordering::Acquire);
        let current = generation_of(state);
        current < generation || (current == generation && state & CLOSING == 0)
    }

    /// Whether the slot holds an object (live or closing). For counts taken while the table
    /// is quiet: a slot being filled or emptied may be seen either way.
    pub fn occupied(&self) -> bool {
        generation_of(self.state.load(Ordering::Acquire)) % 2 == 1 && self.cached_fd() >= 0
    }

    #[inline]
    pub fn try_acquire(&self, generation: u32) -> Result<(), AcquireError> {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let found = generation_of(current);
            // Even generations are free slots: a forged handle may name one.
            if found != generation || generation.is_multiple_of(2) {
                return Err(AcquireError::Generation(found));
            }
            if current & CLOSING != 0 {
                return Err(AcquireError::Closing);
            }
            if current & RELEASING != 0 {
                std::hint::spin_loop(); // a release decides within one barrier
                current = self.state.load(Ordering::Relaxed);
                continue;
            }
            debug_assert!(current & REFS_MASK < REFS_MASK);
            match self.state.compare_exchange_weak(current, current + 1, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Drops one reference. Returns `true` when the caller took the last reference of a closing
    /// slot and must now call [`Slot::finalize`].
    #[must_use]
    #[inline]
    pub fn release(&self) -> bool {
        // AcqRel rather than Release plus an acquire fence when last: the same instruction on
        // x86, and ThreadSanitizer understands it (it does not model fences).
        let previous = self.state.fetch_sub(1, Ordering::AcqRel);
        previous & CLOSING != 0 && previous & REFS_MASK == 1 && !owner_pending(previous)
    }

    /// Whether the calling thread owns the slot's object.
    #[inline(always)]
    pub fn owned_by_caller(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == threads::thread_pointer()
    }

    /// The owner's fast path: `Ok(true)` if the caller owns the live `generation` and is now
    /// inside; `Ok(false)` means "count a reference instead" (which also reports why the
    /// handle is unusable), as when the owner is already inside (a signal handler that
    /// interrupted an operation of its own thread on this slot). `Err` when the caller must
    /// finalize: see [`Slot::leave`].
    #[inline(always)]
    pub fn enter_as_owner(&self, generation: u32) -> Result<bool, ()> {
        if !self.mark_owner_inside(generation) {
            crate::sys::cold_path(); // for other threads, counting costs more than a taken branch
            return Ok(false);
        }
        if self.usable_inside(generation) {
            return Ok(true);
        }
        crate::sys::cold_path();
        // Closed in between: a closer may have seen us inside and be waiting for us.
        if self.leave(generation) {
            return Err(());
        }
        Ok(false)
    }

    /// [`Slot::enter_as_owner`]'s first step: if the caller owns the slot and is not inside it
    /// already, marks it inside `generation` and returns `true`. The caller must then check
    /// [`Slot::usable_inside`], and leave in either case.
    #[inline(always)]
    pub fn mark_owner_inside(&self, generation: u32) -> bool {
        // The owner read here may be another generation's: then the state check that follows
        // fails (the owner of that generation is the caller, who is not inside it), or the
        // owner is not the caller, which refuses.
        if !self.owned_by_caller() || self.owner_inside.load(Ordering::Relaxed) != 0 {
            return false;
        }
        threads::set_inside(&self.owner_inside, generation);
        true
    }

    /// After [`Slot::mark_owner_inside`]: whether `generation` is live and not closing.
    #[inline(always)]
    pub fn usable_inside(&self, generation: u32) -> bool {
        threads::light_barrier();
        usable(self.state.load(Ordering::Acquire), generation)
    }

    /// Ends the owner's operation: clears `owner_inside` and, if close has begun meanwhile,
    /// marks the owner done. Returns `true` when the caller must now call [`Slot::take`]
    /// (close found the owner inside, and every counted reference is gone).
    #[inline(always)]
    #[must_use]
    pub fn leave(&self, generation: u32) -> bool {
        if self.leave_unless_closing() {
            return false;
        }
        crate::sys::cold_path();
        self.left_while_closing(generation)
    }

    /// [`Slot::leave`]'s first step: clears `owner_inside`; `true` if no close has begun. If
    /// one has, the caller must finish with [`Slot::left_while_closing`] (and never clear the
    /// word again: the slot may already hold another generation).
    #[inline(always)]
    pub fn leave_unless_closing(&self) -> bool {
        threads::clear_inside(&self.owner_inside);
        threads::light_barrier();
        self.state.load(Ordering::Acquire) & CLOSING == 0
    }

    /// [`Slot::leave`]'s second step, after the owner left while a close of `generation` was
    /// under way: marks the owner done; `true` when the caller must now call [`Slot::take`].
    #[cold]
    pub fn left_while_closing(&self, generation: u32) -> bool {
        self.mark_done(generation, self.state.load(Ordering::Acquire))
    }

    #[cold]
    fn mark_done(&self, generation: u32, mut state: u64) -> bool {
        loop {
            if generation_of(state) != generation || state & CLOSING == 0 || state & DONE != 0 {
                return false;
            }
            match self.state.compare_exchange(state, state | DONE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return state & WAIT != 0 && state & REFS_MASK == 0,
                Err(actual) => state = actual,
            }
        }
    }

    /// Called by a closer after `closing` is set: whether the owner thread is inside an
    /// operation on this slot. If it is, finalization now waits for it (`wait`), and the result
    /// is `true` unless it already left.
    ///
    /// `barrier`: whether the caller already ran [`threads::heavy_barrier`] (successfully)
    /// after setting `closing`, as a close of many handles does once for all of them.
    pub fn owner_inside(&self, barrier: bool) -> bool {
        self.owner_inside_visible(barrier) && self.state.fetch_or(WAIT, Ordering::AcqRel) & DONE == 0
    }

    /// Whether closing this slot from the calling thread needs a heavy barrier first.
    pub fn needs_barrier(&self) -> bool {
        self.owner.load(Ordering::Relaxed) != 0 && !self.owned_by_caller()
    }

    /// Whether the owner is inside an operation on the slot's generation (the caller holds it,
    /// so it cannot change), after the caller's store to the state. `true` also when no
    /// barrier could be made: the owner might be inside.
    fn owner_inside_visible(&self, barrier: bool) -> bool {
        if self.owner.load(Ordering::Relaxed) == 0 {
            return false;
        }
        if !barrier && !self.owned_by_caller() && !threads::heavy_barrier() {
            return true;
        }
        self.owner_inside.load(Ordering::Acquire) == generation_of(self.state.load(Ordering::Relaxed))
    }

    /// Close's fast path: if nobody is inside an operation on the live `generation` (no
    /// counted reference, and the owner is the caller or nobody, and not inside) and its kind
    /// byte is `kind`, ends the generation with one compare-and-swap straight to the next
    /// free one, and returns the object and its descriptor number (its close hooks have run).
    /// The caller then disposes of it and frees the slot. `None` leaves the slot as it was:
    /// close takes the full path.
    #[inline]
    pub fn end_if_idle(&self, generation: u32, kind: u8) -> Option<(Stored, RawFd)> {
        let idle = (generation as u64) << GEN_SHIFT;
        // Exactly `idle`: live (odd), no reference, no flag. The last generation retires its
        // slot, which the full path does.
        if generation.is_multiple_of(2) || generation == u32::MAX || self.state.load(Ordering::Acquire) != idle {
            return None;
        }
        // Acquire above: the kind byte and owner read next are this generation's.
        if self.cached_kind() != kind {
            return None;
        }
        if self.owner.load(Ordering::Relaxed) != 0 {
            // Another owner needs the barrier of the full path; only the owner writes
            // `owner_inside`, so when it is the caller this check cannot race.
            if !self.owned_by_caller() || self.owner_inside.load(Ordering::Relaxed) != 0 {
                return None;
            }
        }
        self.state.compare_exchange(idle, idle + (1 << GEN_SHIFT), Ordering::AcqRel, Ordering::Relaxed).ok()?;
        // SAFETY: the generation ended while nobody was inside it, and the slot is on no free
        // list yet: the caller owns it exclusively.
        Some(unsafe { self.empty() })
    }

    /// Marks the slot closing. The caller must hold a reference. Returns the number of other
    /// references at that moment, or `None` if another close got there first.
    pub fn begin_close(&self) -> Option<u64> {
        let previous = self.state.fetch_or(CLOSING, Ordering::AcqRel);
        if previous & CLOSING != 0 {
            return None;
        }
        Some((previous & REFS_MASK) - 1)
    }

    /// Marks the slot closing only if the caller's reference is the only one and the owner
    /// is not inside an operation either.
    pub fn begin_exclusive_close(&self, generation: u32) -> bool {
        let sole = ((generation as u64) << GEN_SHIFT) | 1;
        if self.state.compare_exchange(sole, sole | RELEASING, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return false;
        }
        // Nobody else can change the state while `releasing` is set.
        let alone = !self.owner_inside_visible(false);
        self.state.store(if alone { sole | CLOSING } else { sole }, Ordering::Release);
        alone
    }

    /// The live object. The caller must hold a reference.
    #[inline]
    pub fn object(&self) -> &dyn Object {
        // SAFETY: under a reference the object is present and nobody writes it.
        unsafe { (*self.object.get()).as_ref().expect("a referenced slot holds an object").object() }
    }

    /// The live object as a `T`, if that is its type. The caller must hold a reference.
    #[inline]
    pub fn object_as<T: Object>(&self) -> Option<&T> {
        // SAFETY: under a reference the object (and a boxed one's type id) is present and
        // nobody writes it; the type id was taken from this very object, so the cast is to its
        // true type.
        unsafe {
            match (*self.object.get()).as_ref()? {
                Stored::Boxed(object) if *self.type_id.get() == TypeId::of::<T>() => {
                    let object: *const dyn Object = &**object;
                    Some(&*(object as *const T))
                }
                Stored::Plain(plain) => (plain as &dyn std::any::Any).downcast_ref::<T>(),
                Stored::Boxed(_) => None,
            }
        }
    }

    /// Records how writes to the live object avoid `SIGPIPE`. Set when the object is put in,
    /// and changed only before its handle is handed out (a pipe's write end learns its read end).
    pub fn set_write_guard(&self, guard: WriteGuard) {
        // The partner and twin are written for every object: a write takes a partner as the
        // sign of code 3, so one left by an earlier generation of the slot would send it to a
        // stale twin number.
        let (code, partner, twin) = match guard {
            WriteGuard::None => (0, 0, -1),
            WriteGuard::Socket => (1, 0, -1),
            WriteGuard::BlockSigpipe => (2, 0, -1),
            WriteGuard::PipeWithReader { reader, nonblocking } => (3, reader.0, nonblocking),
        };
        self.write_partner.store(partner, Ordering::Relaxed);
        self.write_twin.store(twin, Ordering::Relaxed);
        self.write_guard.store(code, Ordering::Relaxed);
    }

    /// The read end a write to the live object holds (see [`WriteGuard::PipeWithReader`]),
    /// or 0. The caller must hold a reference.
    #[inline(always)]
    pub fn write_partner(&self) -> u64 {
        self.write_partner.load(Ordering::Relaxed)
    }

    /// The non-blocking descriptor of [`WriteGuard::PipeWithReader`]. The caller must hold a
    /// reference.
    #[inline(always)]
    pub fn write_twin(&self) -> i32 {
        self.write_twin.load(Ordering::Relaxed)
    }

    /// Whether a write to the live object needs no guard at all ([`WriteGuard::None`]).
    #[inline(always)]
    pub fn writes_unguarded(&self) -> bool {
        self.write_guard.load(Ordering::Relaxed) == 0
    }

    /// The live object's [`WriteGuard`]. The caller must hold a reference.
    #[inline(always)]
    pub fn write_guard(&self) -> WriteGuard {
        match self.write_guard.load(Ordering::Relaxed) {
            0 => WriteGuard::None,
            1 => WriteGuard::Socket,
            3 => WriteGuard::PipeWithReader { reader: Handle(self.write_partner()), nonblocking: self.write_twin() },
            _ => WriteGuard::BlockSigpipe,
        }
    }

    #[inline]
    pub fn cached_fd(&self) -> i32 {
        self.fd.load(Ordering::Relaxed)
    }

    /// The kind byte of the live object. The caller must hold a reference.
    #[inline]
    pub fn cached_kind(&self) -> u8 {
        self.kind.load(Ordering::Relaxed)
    }

    /// The descriptor of `generation` without taking a reference (a seqlock read): `None`
    /// if the slot does not hold that generation, or is closing, at both ends of the read.
    #[inline]
    pub fn peek_fd(&self, generation: u32) -> Result<i32, AcquireError> {
        let before = self.state.load(Ordering::Acquire);
        let fd = self.fd.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let after = self.state.load(Ordering::Relaxed);
        for state in [before, after] {
            if generation_of(state) != generation {
                return Err(AcquireError::Generation(generation_of(state)));
            }
            if state & CLOSING != 0 {
                return Err(AcquireError::Closing);
            }
        }
        Ok(fd)
    }

    pub fn add_close_hook(&self, key: u64, hook: CloseHook) {
        self.has_hooks.store(true, Ordering::Relaxed);
        self.close_hooks.lock().unwrap_or_else(|p| p.into_inner()).push((key, hook));
    }

    /// Removes the hook registered under `key`; returns whether there was one.
    pub fn remove_close_hook(&self, key: u64) -> bool {
        let mut hooks = self.close_hooks.lock().unwrap_or_else(|p| p.into_inner());
        let before = hooks.len();
        hooks.retain(|(k, _)| *k != key);
        hooks.len() != before
    }

    /// Takes the object out of a closing slot with no references left, after running the close
    /// hooks. Returns the object, its descriptor number and whether the slot may be reused.
    ///
    /// # Safety
    /// The caller must own the slot exclusively: it is closing, and either [`Slot::release`]
    /// returned `true`, or [`Slot::begin_exclusive_close`] succeeded (the caller's own
    /// reference then ends here).
    pub unsafe fn take(&self) -> (Stored, RawFd, bool) {
        let (object, fd) = self.empty();
        let generation = generation_of(self.state.load(Ordering::Relaxed));
        // Even generation: free. A slot whose generation would wrap stays closing for ever.
        let (state, reusable) = match generation.checked_add(1) {
            Some(next) => ((next as u64) << GEN_SHIFT, true),
            _ => (((generation as u64) << GEN_SHIFT) | CLOSING, false),
        };
        self.state.store(state, Ordering::Release);
        (object, fd, reusable)
    }

    /// Takes the object and its descriptor number out, after running the close hooks.
    ///
    /// # Safety
    /// The caller owns the slot exclusively (see [`Slot::take`] and [`Slot::end_if_idle`]).
    #[inline]
    unsafe fn empty(&self) -> (Stored, RawFd) {
        let object = (*self.object.get()).take().expect("an ending slot holds its object");
        // Hooks are added under a reference, which every path here has seen end (Acquire), and
        // none can be added now: a load and a store, not a swap (an atomic read-modify-write
        // on every close).
        if self.has_hooks.load(Ordering::Relaxed) {
            crate::sys::cold_path();
            self.run_close_hooks(&object);
        }
        // Only the slot's exclusive owner writes the number: a load and a store again.
        let fd = self.fd.load(Ordering::Relaxed);
        self.fd.store(-1, Ordering::Relaxed);
        (object, fd)
    }

    #[cold]
    fn run_close_hooks(&self, object: &Stored) {
        self.has_hooks.store(false, Ordering::Relaxed);
        let hooks = std::mem::take(&mut *self.close_hooks.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, hook) in hooks {
            hook(object.object().as_fd());
        }
    }

    /// What the owner's lookup of an older handle of this slot leaves for an instant.
    #[cfg(test)]
    pub fn force_owner_inside(&self, generation: u32) {
        self.owner_inside.store(generation, Ordering::Release);
    }

    #[cfg(test)]
    pub fn force_generation(&self, generation: u32) {
        self.state.store((generation as u64) << GEN_SHIFT, Ordering::Release);
    }
}

const _: () = {
    assert!(std::mem::size_of::<Slot>() == 128, "a slot is two cache lines");
    assert!(std::mem::offset_of!(Slot, write_partner) + 8 <= 64, "what calls read is in the first line");
};
