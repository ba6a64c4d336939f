//! The table of slots: segments that never move, so lookups need no lock.
//!
//! Segment `s` holds `64 << s` slots and is allocated the first time an index in it is
//! needed. Allocation and freeing take a mutex (they make system calls anyway); lookups
//! only touch the slot's own atomic state.

use std::os::fd::{OwnedFd, RawFd};
use std::ptr;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Mutex;

use super::slot::{AcquireError, CloseHook, Slot};
use super::threads::{self, Hazard};
use super::{Handle, Kind, Object, Stored};
use crate::error::{Error, Result, StaleReason};

const FIRST_SEGMENT_BITS: u32 = 6;
const SEGMENTS: usize = 18;
/// One more than the largest slot index: `64 * (2^18 - 1)`, just under 2^24.
pub(crate) const CAPACITY: u32 = (1 << FIRST_SEGMENT_BITS) * ((1 << SEGMENTS) - 1);

fn locate(index: u32) -> (usize, usize) {
    let biased = index as u64 + (1 << FIRST_SEGMENT_BITS);
    let top_bit = 63 - biased.leading_zeros();
    let segment = (top_bit - FIRST_SEGMENT_BITS) as usize;
    (segment, (biased - (1 << top_bit)) as usize)
}

struct Allocator {
    free: Vec<u32>,
    next_unused: u32,
    /// Which live handle owns each descriptor number, so that one descriptor can never be
    /// adopted twice (two owners would mean a double close).
    owners: Owners,
}

/// Descriptor number -> owning handle, as a vector indexed by the number (descriptors are
/// small and dense: the kernel hands out the lowest free one), 0 for none. Insert and remove
/// are an index, with no allocation once the vector has grown to the highest descriptor.
struct Owners {
    by_fd: Vec<u64>,
    count: usize,
}

impl Owners {
    const fn new() -> Owners {
        Owners { by_fd: Vec::new(), count: 0 }
    }
    fn get(&self, fd: RawFd) -> Option<Handle> {
        let owner = *usize::try_from(fd).ok().and_then(|i| self.by_fd.get(i))?;
        (owner != 0).then_some(Handle(owner))
    }
    fn insert(&mut self, fd: RawFd, handle: Handle) {
        let Ok(i) = usize::try_from(fd) else { return };
        if i >= self.by_fd.len() {
            self.by_fd.resize((i + 1).next_power_of_two().max(64), 0);
        }
        if self.by_fd[i] == 0 {
            self.count += 1;
        }
        self.by_fd[i] = handle.0;
    }
    fn remove(&mut self, fd: RawFd) {
        if let Some(owner) = usize::try_from(fd).ok().and_then(|i| self.by_fd.get_mut(i)) {
            if *owner != 0 {
                *owner = 0;
                self.count -= 1;
            }
        }
    }
}

pub struct Table {
    segments: [AtomicPtr<Slot>; SEGMENTS],
    allocator: Mutex<Allocator>,
    /// Whether new objects are owned by the thread that inserts them (see `threads`).
    creator_fast_path: AtomicBool,
}

/// A reference on a live handle, held for the length of one operation: a counted reference,
/// or, for the thread that created the handle, a hazard in its thread record.
pub struct Guard {
    slot: &'static Slot,
    handle: Handle,
    table: &'static Table,
    /// The owner's hazard, or null for a counted reference. (A raw pointer: as an `Option`
    /// LLVM copied it through the stack in pieces, stalling every call.)
    hazard: *const Hazard,
}

// SAFETY: the hazard lives in a thread record, and records are never freed. A guard dropped on
// another thread than its own clears the hazard with the same atomic store; the record's thread
// takes a hazard again only once it reads it clear.
unsafe impl Send for Guard {}
unsafe impl Sync for Guard {}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

impl Table {
    pub const fn new() -> Table {
        Table {
            segments: [const { AtomicPtr::new(ptr::null_mut()) }; SEGMENTS],
            allocator: Mutex::new(Allocator { free: Vec::new(), next_unused: 0, owners: Owners::new() }),
            creator_fast_path: AtomicBool::new(true),
        }
    }

    #[inline]
    pub(super) fn slot(&self, index: u32) -> Option<&Slot> {
        if index >= CAPACITY {
            return None;
        }
        let (segment, offset) = locate(index);
        let base = self.segments[segment].load(Ordering::Acquire);
        // SAFETY: a published segment has `64 << segment` slots and is never freed.
        (!base.is_null()).then(|| unsafe { &*base.add(offset) })
    }

    fn allocator(&self) -> std::sync::MutexGuard<'_, Allocator> {
        self.allocator.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers an object; the table owns it from now on. On failure the object comes back
    /// untouched, so the caller decides whether its descriptor is closed.
    pub fn insert(&'static self, object: impl Into<Stored>) -> std::result::Result<Handle, (Error, Stored)> {
        let mut alloc = self.allocator();
        self.insert_locked(&mut alloc, object.into())
    }

    /// Registers several objects under one acquisition of the allocator lock (a message's
    /// worth of received descriptors), each exactly as [`Table::insert`] would. `each` gets
    /// every object's outcome in order; it runs under the allocator lock, so it must not call
    /// into the table (keep refused objects and drop them afterwards).
    pub fn insert_many(
        &'static self,
        objects: impl IntoIterator<Item = Stored>,
        mut each: impl FnMut(std::result::Result<Handle, (Error, Stored)>),
    ) {
        let mut alloc = self.allocator();
        for object in objects {
            each(self.insert_locked(&mut alloc, object));
        }
    }

    fn insert_locked(&'static self, alloc: &mut Allocator, object: Stored) -> std::result::Result<Handle, (Error, Stored)> {
        let kind = object.object().kind();
        let fd = object.raw_fd();
        if let Some(owner) = alloc.owners.get(fd) {
            // An owner that is closing has released (or is releasing) the number; a live one
            // means the descriptor would have two owners, and so be closed twice.
            if self.peek_fd(owner).is_ok() {
                return Err((already_owned(fd, owner), object));
            }
        }
        let index = match alloc.free.pop() {
            Some(index) => index,
            None if alloc.next_unused < CAPACITY => {
                alloc.next_unused += 1;
                alloc.next_unused - 1
            }
            None => return Err((Error::from_errno(libc::EMFILE).context("fdsafe handle table full"), object)),
        };
        let (segment, _) = locate(index);
        if self.segments[segment].load(Ordering::Relaxed).is_null() {
            let count = 1usize << (segment as u32 + FIRST_SEGMENT_BITS);
            let slots: Box<[Slot]> = (0..count).map(|_| Slot::new()).collect();
            self.segments[segment].store(Box::leak(slots).as_mut_ptr(), Ordering::Release);
        }
        let slot = self.slot(index).expect("segment just published");
        let generation = slot.next_generation().expect("free slots are never retired");
        // SAFETY: the index came off the free list (or was never used) under the allocator lock.
        unsafe { slot.fill(object, generation, self.creator_fast_path.load(Ordering::Relaxed)) };
        let handle = Handle::new(kind, generation, index);
        alloc.owners.insert(fd, handle);
        Ok(handle)
    }

    #[cold]
    fn stale(&self, handle: Handle, found: AcquireError) -> Error {
        let reason = match found {
            AcquireError::Closing => StaleReason::Closed,
            AcquireError::Generation(current) if handle.generation() < current => StaleReason::Closed,
            AcquireError::Generation(_) => StaleReason::NeverIssued,
        };
        Error::Stale(reason)
    }

    #[inline]
    fn resolve(&self, handle: Handle) -> Result<&Slot> {
        match self.slot(handle.index()) {
            Some(slot) if handle.generation() % 2 == 1 => Ok(slot),
            _ if handle == Handle::INVALID => Err(Error::Stale(StaleReason::Zero)),
            _ => Err(Error::Stale(StaleReason::NeverIssued)),
        }
    }

    #[inline(always)] // the guard then lives in registers, not copied through the stack
    pub fn get(&'static self, handle: Handle) -> Result<Guard> {
        match self.try_get(handle) {
            Some(guard) => Ok(guard),
            None => Err(self.refusal(handle)),
        }
    }

    /// [`Table::get`] without the error: `None` if the handle is not (or no longer) live or not
    /// of its recorded kind, all of which are final.
    #[inline(always)]
    fn try_get(&'static self, handle: Handle) -> Option<Guard> {
        let slot = self.slot(handle.index())?;
        let hazard = match slot.enter_as_owner(handle.generation()) {
            Ok(Some(hazard)) => hazard as *const Hazard,
            Ok(None) => {
                slot.try_acquire(handle.generation()).ok()?;
                std::ptr::null()
            }
            Err(()) => {
                self.finalize(slot, handle); // closed while we entered, and we were the last
                return None;
            }
        };
        let guard = Guard { slot, handle, table: self, hazard };
        (slot.cached_kind() == handle.kind_bits()).then_some(guard)
    }

    /// Why [`Table::try_get`] refused `handle`.
    #[cold]
    #[inline(never)]
    fn refusal(&'static self, handle: Handle) -> Error {
        match self.get_counted(handle) {
            Err(error) => error,
            Ok(_) => Error::Stale(StaleReason::Closed), // cannot happen: refusals are final
        }
    }

    /// [`Table::get`] with a counted reference, whoever the caller is.
    fn get_counted(&'static self, handle: Handle) -> Result<Guard> {
        let slot = self.resolve(handle)?;
        slot.try_acquire(handle.generation()).map_err(|e| self.stale(handle, e))?;
        let guard = Guard { slot, handle, table: self, hazard: std::ptr::null() };
        if slot.cached_kind() != handle.kind_bits() {
            return Err(Error::Stale(StaleReason::NeverIssued));
        }
        Ok(guard)
    }

    /// The descriptor of a live handle, without holding it: the number may be reused as soon
    /// as another thread closes the handle.
    #[inline]
    pub fn peek_fd(&'static self, handle: Handle) -> Result<RawFd> {
        let slot = self.resolve(handle)?;
        slot.peek_fd(handle.generation()).map_err(|e| self.stale(handle, e))
    }

    /// Closes a handle: no new operation can start on it, and its descriptor is closed once
    /// the operations already running have returned (by whichever thread finishes last).
    /// Returns the number of operations still running when close was called.
    pub fn close(&'static self, handle: Handle) -> Result<u64> {
        if let Some(slot) = self.slot(handle.index()) {
            if slot.close_if_idle(handle.generation(), handle.kind_bits()) {
                self.finalize(slot, handle);
                return Ok(0);
            }
        }
        let guard = self.get_counted(handle)?;
        let Some(mut others) = guard.slot.begin_close() else {
            return Err(Error::Stale(StaleReason::Closed));
        };
        if guard.slot.owner_inside(false) {
            others += 1;
        }
        if others > 0 {
            guard.object().interrupt();
        }
        Ok(others)
    }

    /// [`Table::close`] for many handles, with one heavy barrier for all of them instead of one
    /// per handle created by another thread. The slots this thread finalizes go back to the
    /// allocator under one lock at the end instead of one lock each; until then such a slot
    /// is not reusable yet, and its (closed) descriptor number is still recorded as owned by
    /// its dead handle, which [`Table::insert`] treats as free: the handle promise is
    /// unchanged. Returns how many were live and are now closed.
    pub fn close_many(&'static self, handles: impl IntoIterator<Item = Handle>) -> usize {
        let batch = DeferredBatch::start();
        let mut idle = 0;
        let mut closing = Vec::new();
        for handle in handles {
            if let Some(slot) = self.slot(handle.index()) {
                if slot.close_if_idle(handle.generation(), handle.kind_bits()) {
                    self.finalize(slot, handle);
                    idle += 1;
                    continue;
                }
            }
            if let Ok(guard) = self.get_counted(handle) {
                if let Some(others) = guard.slot.begin_close() {
                    closing.push((guard, others));
                }
            }
        }
        let barrier = closing.iter().any(|(guard, _)| guard.slot.needs_barrier()) && threads::heavy_barrier();
        for (guard, others) in &closing {
            // Always asked: it is what makes finalization wait for an owner inside.
            let owner_inside = guard.slot.owner_inside(barrier);
            if *others > 0 || owner_inside {
                guard.object().interrupt();
            }
        }
        let closed = idle + closing.len();
        drop(closing); // finalizes the handles nobody else is inside
        drop(batch);
        closed
    }

    /// Ends a handle and hands its descriptor to the caller, without the kind's cleanup.
    /// Fails with `EBUSY` while other threads are inside operations on the handle.
    pub fn release(&'static self, handle: Handle) -> Result<OwnedFd> {
        let guard = self.get_counted(handle)?;
        if !guard.slot.begin_exclusive_close(handle.generation()) {
            return Err(Error::from_errno(libc::EBUSY).context("release: other threads are using the handle"));
        }
        let slot = guard.slot;
        std::mem::forget(guard);
        // SAFETY: closing with our reference as the only one.
        let (object, reusable) = unsafe { slot.take() };
        self.free_slot(handle, object.raw_fd(), reusable);
        Ok(object.into_fd())
    }

    fn finalize(&'static self, slot: &Slot, handle: Handle) {
        // Dropping the object closes through libc (a cancellation point), whatever the call.
        let _no_cancel = crate::sys::NoCancellation::begin();
        // The handle as issued: the caller's value may carry wrong kind bits.
        let handle = Handle::new_raw(slot.cached_kind(), handle.generation(), handle.index());
        // SAFETY: called only when `release` or `leave` said the last reference is gone.
        let (object, reusable) = unsafe { slot.take() };
        let fd = object.raw_fd();
        drop(object); // closes the descriptor (and runs the kind's cleanup)
        self.free_slot(handle, fd, reusable);
    }

    fn free_slot(&'static self, handle: Handle, fd: RawFd, reusable: bool) {
        // Inside close_many on this thread: the batch frees its slots under one lock at its end.
        let deferred = DEFERRED_FREES
            .try_with(|d| match d.try_borrow_mut() {
                Ok(mut d) if d.active => {
                    d.frees.push((self, handle, fd, reusable));
                    true
                }
                _ => false,
            })
            .unwrap_or(false);
        if !deferred {
            Self::free_locked(&mut self.allocator(), handle, fd, reusable);
        }
    }

    fn free_locked(alloc: &mut Allocator, handle: Handle, fd: RawFd, reusable: bool) {
        // A newer owner of the number (the kernel reused it once it was closed) stays.
        if alloc.owners.get(fd) == Some(handle) {
            alloc.owners.remove(fd);
        }
        if reusable {
            alloc.free.push(handle.index());
        }
    }

    /// Runs `hook` with the descriptor just before `handle`'s object goes away (close or
    /// release). The hook must not call back into the table for this handle.
    pub fn add_close_hook(&'static self, handle: Handle, key: u64, hook: CloseHook) -> Result<()> {
        let guard = self.get(handle)?;
        guard.slot.add_close_hook(key, hook);
        Ok(())
    }

    pub fn remove_close_hook(&'static self, handle: Handle, key: u64) -> Result<bool> {
        let guard = self.get(handle)?;
        Ok(guard.slot.remove_close_hook(key))
    }

    /// Chooses whether handles inserted from now on are used without a counted reference by
    /// the thread that inserted them (the default), at the price of a heavy barrier when
    /// another thread closes them. Returns the previous choice.
    pub fn set_creator_fast_path(&self, on: bool) -> bool {
        self.creator_fast_path.swap(on, Ordering::Relaxed)
    }

    /// The number of live handles (for leak checks and benchmarks).
    pub fn live_count(&self) -> usize {
        self.allocator().owners.count
    }
}

#[cold]
fn already_owned(fd: RawFd, owner: Handle) -> Error {
    Error::invalid(format!(
        "descriptor {fd} already belongs to live handle {:#x} (was it closed or adopted behind fdsafe's back?)",
        owner.0
    ))
}

/// Slots freed by this thread during a [`Table::close_many`] batch (with their table: a close
/// hook may finalize a slot of another table than the batch's).
struct DeferredFrees {
    active: bool,
    frees: Vec<(&'static Table, Handle, RawFd, bool)>,
}

thread_local! {
    static DEFERRED_FREES: RefCell<DeferredFrees> = const { RefCell::new(DeferredFrees { active: false, frees: Vec::new() }) };
}

/// Turns deferral on for this thread; dropping it (also on unwinding) frees the collected
/// slots, one allocator lock per run of the same table, and turns deferral off. Nested
/// batches defer to the outer.
struct DeferredBatch {
    outer: bool,
}

impl DeferredBatch {
    fn start() -> DeferredBatch {
        let outer = DEFERRED_FREES
            .try_with(|d| d.try_borrow_mut().map(|mut d| !std::mem::replace(&mut d.active, true)).unwrap_or(false))
            .unwrap_or(false);
        DeferredBatch { outer }
    }
}

impl Drop for DeferredBatch {
    fn drop(&mut self) {
        if !self.outer {
            return;
        }
        let _ = DEFERRED_FREES.try_with(|d| {
            let Ok(mut d) = d.try_borrow_mut() else { return };
            d.active = false;
            // Drained in place, so the vector keeps its room for the next batch. Freeing takes
            // only the allocator lock, never this thread-local.
            let mut frees = d.frees.drain(..).peekable();
            while let Some(&(table, ..)) = frees.peek() {
                let mut alloc = table.allocator();
                while let Some((_, handle, fd, reusable)) = frees.next_if(|(t, ..)| std::ptr::eq(*t, table)) {
                    Table::free_locked(&mut alloc, handle, fd, reusable);
                }
            }
        });
    }
}

impl Guard {
    #[cfg(test)]
    pub fn is_owner_fast_path(&self) -> bool {
        !self.hazard.is_null()
    }
    pub fn handle(&self) -> Handle {
        self.handle
    }
    #[inline]
    pub fn object(&self) -> &dyn Object {
        self.slot.object()
    }
    #[inline]
    pub fn kind(&self) -> Kind {
        Kind::from_u32(self.slot.cached_kind() as u32).expect("live slots hold a valid kind")
    }
    #[inline]
    pub fn raw_fd(&self) -> RawFd {
        self.slot.cached_fd()
    }
    /// The descriptor, borrowed for as long as the guard keeps it open (no virtual call).
    #[inline]
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        // SAFETY: the slot's cached descriptor is its object's, which stays open while this
        // guard lives.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(self.slot.cached_fd()) }
    }
    #[inline]
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        self.slot.object_as::<T>()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: records are never freed.
        let last = match unsafe { self.hazard.as_ref() } {
            Some(hazard) => self.slot.leave(hazard, self.handle.generation()),
            None => self.slot.release(),
        };
        if last {
            self.table.finalize(self.slot, self.handle);
        }
    }
}
