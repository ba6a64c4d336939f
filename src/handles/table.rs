//! The table of slots: segments that never move, so lookups need no lock.
//!
//! Segment `s` holds `64 << s` slots and is allocated the first time an index in it is
//! needed. Allocation and freeing take a mutex (they make system calls anyway); lookups
//! only touch the slot's own atomic state.

use std::os::fd::{OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::cell::RefCell;
use std::sync::Mutex;

use super::slot::{AcquireError, CloseHook, Slot};
use super::{Handle, Kind, Object};
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
}

/// A reference on a live handle, held for the length of one operation.
pub struct Guard {
    slot: &'static Slot,
    handle: Handle,
    table: &'static Table,
}

impl Table {
    pub const fn new() -> Table {
        Table {
            segments: [const { AtomicPtr::new(ptr::null_mut()) }; SEGMENTS],
            allocator: Mutex::new(Allocator { free: Vec::new(), next_unused: 0, owners: Owners::new() }),
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
    pub fn insert(&'static self, object: Box<dyn Object>) -> std::result::Result<Handle, (Error, Box<dyn Object>)> {
        let mut alloc = self.allocator();
        self.insert_locked(&mut alloc, object)
    }

    /// Registers several objects under one acquisition of the allocator lock (a message's
    /// worth of received descriptors), each exactly as [`Table::insert`] would. `each` gets
    /// every object's outcome in order; it runs under the allocator lock, so it must not call
    /// into the table (keep refused objects and drop them afterwards).
    pub fn insert_many(
        &'static self,
        objects: impl IntoIterator<Item = Box<dyn Object>>,
        mut each: impl FnMut(std::result::Result<Handle, (Error, Box<dyn Object>)>),
    ) {
        let mut alloc = self.allocator();
        for object in objects {
            each(self.insert_locked(&mut alloc, object));
        }
    }

    fn insert_locked(&'static self, alloc: &mut Allocator, object: Box<dyn Object>) -> std::result::Result<Handle, (Error, Box<dyn Object>)> {
        let kind = object.kind();
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
        unsafe { slot.fill(object, generation) };
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

    #[inline]
    pub fn get(&'static self, handle: Handle) -> Result<Guard> {
        let slot = self.resolve(handle)?;
        slot.try_acquire(handle.generation()).map_err(|e| self.stale(handle, e))?;
        let guard = Guard { slot, handle, table: self };
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
        let guard = self.get(handle)?;
        let Some(others) = guard.slot.begin_close() else {
            return Err(Error::Stale(StaleReason::Closed));
        };
        if others > 0 {
            guard.object().interrupt();
        }
        Ok(others)
    }

    /// Ends a handle and hands its descriptor to the caller, without the kind's cleanup.
    /// Fails with `EBUSY` while other threads are inside operations on the handle.
    pub fn release(&'static self, handle: Handle) -> Result<OwnedFd> {
        let guard = self.get(handle)?;
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

    #[cold]
    fn finalize(&self, slot: &Slot, handle: Handle) {
        // SAFETY: called only after `release` returned true for the last reference.
        let (object, reusable) = unsafe { slot.take() };
        let fd = object.raw_fd();
        drop(object); // closes the descriptor (and runs the kind's cleanup)
        self.free_slot(handle, fd, reusable);
    }

    fn free_slot(&self, handle: Handle, fd: RawFd, reusable: bool) {
        // Inside close_many on this thread: the batch frees its slots under one lock at its end.
        let deferred = DEFERRED_FREES
            .try_with(|d| match d.try_borrow_mut() {
                Ok(mut d) if d.active => {
                    d.frees.push((handle, fd, reusable));
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

    /// Closes each handle exactly as [`Table::close`] would, in order, and returns how many
    /// were live. The slots this thread finalizes are given back to the allocator under one
    /// lock at the end of the batch instead of one lock per handle. Until then such a slot is
    /// simply not reusable yet, and its descriptor number (already closed) is still recorded
    /// as owned by its dead handle, which [`Table::insert`] treats as free: the handle
    /// promise is unchanged.
    pub fn close_many(&'static self, handles: impl IntoIterator<Item = Handle>) -> usize {
        let batch = DeferredBatch::start(self);
        let mut closed = 0;
        for handle in handles {
            if self.close(handle).is_ok() {
                closed += 1;
            }
        }
        drop(batch);
        closed
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

/// Slots freed by this thread during a [`Table::close_many`] batch.
struct DeferredFrees {
    active: bool,
    frees: Vec<(Handle, RawFd, bool)>,
}

thread_local! {
    static DEFERRED_FREES: RefCell<DeferredFrees> = const { RefCell::new(DeferredFrees { active: false, frees: Vec::new() }) };
}

/// Turns deferral on for this thread; dropping it (also on unwinding) frees the collected
/// slots under one allocator lock and turns deferral off. Nested batches defer to the outer.
struct DeferredBatch {
    table: &'static Table,
    outer: bool,
}

impl DeferredBatch {
    fn start(table: &'static Table) -> DeferredBatch {
        let outer = DEFERRED_FREES
            .try_with(|d| d.try_borrow_mut().map(|mut d| !std::mem::replace(&mut d.active, true)).unwrap_or(false))
            .unwrap_or(false);
        DeferredBatch { table, outer }
    }
}

impl Drop for DeferredBatch {
    fn drop(&mut self) {
        if !self.outer {
            return;
        }
        let _ = DEFERRED_FREES.try_with(|d| {
            if let Ok(mut d) = d.try_borrow_mut() {
                d.active = false;
                if !d.frees.is_empty() {
                    let mut alloc = self.table.allocator();
                    for (handle, fd, reusable) in d.frees.drain(..) {
                        Table::free_locked(&mut alloc, handle, fd, reusable);
                    }
                }
            }
        });
    }
}

impl Guard {
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
    #[inline]
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        self.slot.object_as::<T>()
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
