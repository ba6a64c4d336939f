//! The table of slots: pages that never move, so lookups need no lock.
//!
//! Page `p` holds the 1,024 slots from index `p * 1024` and is allocated before any of them
//! is handed out; finding a slot is one load of its page's address. Lookups only touch the
//! slot's own atomic state; inserting and closing take no lock either (free indices are kept
//! per thread, see `spare`, and descriptor owners in a lock-free map, see `owners`).

use std::os::fd::{OwnedFd, RawFd};
use std::ptr;
use crate::sys::cold_path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::owners::{AlreadyOwned, Owners};
use super::slot::{AcquireError, CloseHook, Slot};
use super::spare::{self, Pool};
use super::threads;
use super::{Handle, Kind, Object, Stored};
use crate::error::{Error, Result, StaleReason};

const PAGE_BITS: u32 = 10;
const PAGE_SLOTS: usize = 1 << PAGE_BITS;
/// One more than the largest slot index: every index a handle's 24 bits can hold. (Under
/// Miri, 64 pages: Miri's borrow tracking retags the whole table on every call through
/// `&Table`, and 16,384 page addresses made each call take tens of milliseconds.)
pub(crate) const CAPACITY: u32 = if cfg!(miri) { 1 << 16 } else { 1 << 24 };
const PAGES: usize = (CAPACITY >> PAGE_BITS) as usize;

fn locate(index: u32) -> (usize, usize) {
    ((index >> PAGE_BITS) as usize, index as usize & (PAGE_SLOTS - 1))
}

pub struct Table {
    pages: [AtomicPtr<Slot>; PAGES],
    /// Free indices no thread holds (see `spare`).
    pool: Mutex<Pool>,
    /// Which live handle owns each descriptor number.
    owners: Owners,
    /// Whether new objects are owned by the thread that inserts them (see `threads`).
    creator_fast_path: AtomicBool,
}

/// A reference on a live handle, held for the length of one operation: a counted reference,
/// or, for the thread that created the handle, the `owner_inside` word of the slot. (A guard
/// dropped on another thread than its own clears the word with the same atomic store; the
/// owner sets it again only once it reads it clear.)
pub struct Guard {
    slot: &'static Slot,
    handle: Handle,
    table: &'static Table,
    /// Whether this is the owner inside rather than a counted reference: 0 or 1, a whole
    /// word, so that the guard has no padding (moving a guard with padding, LLVM copied the
    /// padding in overlapping 4-byte pieces, and every load after stalled on store forwarding).
    owner: usize,
}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

impl Table {
    pub const fn new() -> Table {
        Table {
            pages: [const { AtomicPtr::new(ptr::null_mut()) }; PAGES],
            pool: Mutex::new(Pool::new()),
            owners: Owners::new(),
            creator_fast_path: AtomicBool::new(true),
        }
    }

    #[inline]
    pub(super) fn slot(&self, index: u32) -> Option<&Slot> {
        let (page, offset) = locate(index);
        let base = self.pages.get(page)?.load(Ordering::Acquire);
        // SAFETY: a published page has `PAGE_SLOTS` slots and is never freed.
        (!base.is_null()).then(|| unsafe { &*base.add(offset) })
    }

    pub(super) fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Allocates the pages of slots `first..last` that do not exist yet. Called under the pool
    /// lock, before any of these indices is handed out.
    pub(super) fn ensure_pages(&self, first: u32, last: u32) {
        if first >= last {
            return;
        }
        for page in locate(first).0..=locate(last - 1).0 {
            if self.pages[page].load(Ordering::Relaxed).is_null() {
                let slots: Box<[Slot]> = (0..PAGE_SLOTS).map(|_| Slot::new()).collect();
                self.pages[page].store(Box::leak(slots).as_mut_ptr(), Ordering::Release);
            }
        }
    }

    /// Registers an object; the table owns it from now on. On failure the object comes back
    /// untouched, so the caller decides whether its descriptor is closed.
    pub fn insert(&'static self, object: impl Into<Stored>) -> std::result::Result<Handle, (Error, Stored)> {
        let object = object.into();
        let owner = self.owner_for_new();
        match spare::with_stack(self, |stack| self.reserve(stack, object.raw_fd(), object.kind(), false)) {
            Ok((slot, handle)) => {
                // SAFETY: `reserve` took the slot off a free list.
                unsafe { slot.fill(object, handle.generation(), owner) };
                Ok(handle)
            }
            Err(error) => Err((error, object)),
        }
    }

    /// Registers descriptors the kernel has just installed in this process (those a message
    /// brought with `SCM_RIGHTS`), in order, each as a plain descriptor ([`Kind::Other`]) built
    /// in its slot in place, and writes their handles to `out` (at most `out.len()` are taken
    /// from `fds`). Returns how many were written; a refused descriptor goes to `refused`
    /// instead. The thread's free slots and the new handles' owner are looked up once for all.
    /// A number the kernel has just given out was free a moment ago, so no other caller can
    /// rightly be adopting it: it is recorded as owned with a plain store (see
    /// `Owners::claim_fresh`).
    ///
    /// `refused` must not insert or close handles (it would find this thread's free slots in
    /// use, and fall back to the shared pool).
    #[inline(always)]
    pub fn insert_received(
        &'static self,
        fds: impl Iterator<Item = OwnedFd>,
        out: &mut [u64],
        mut refused: impl FnMut(Error, OwnedFd),
    ) -> usize {
        let owner = self.owner_for_new();
        spare::with_stack(self, |stack| {
            let mut made = 0;
            for fd in fds.take(out.len()) {
                match self.reserve(stack, std::os::fd::AsRawFd::as_raw_fd(&fd), Kind::Other, true) {
                    Ok((slot, handle)) => {
                        // SAFETY: `reserve` took the slot off a free list.
                        unsafe { slot.fill_plain(fd, handle.generation(), owner) };
                        // `made` <= the descriptors taken so far <= out.len().
                        if let Some(entry) = out.get_mut(made) {
                            *entry = handle.0;
                        }
                        made += 1;
                    }
                    Err(error) => {
                        cold_path();
                        refused(error, fd);
                    }
                }
            }
            made
        })
    }

    /// The owner a new object gets: the calling thread, on the creator's fast path (see
    /// `threads`), or nobody.
    #[inline(always)]
    fn owner_for_new(&self) -> usize {
        if self.creator_fast_path.load(Ordering::Relaxed) && threads::fast_path_available() {
            threads::thread_pointer()
        } else {
            0
        }
    }

    /// Takes a free slot from `stack` for an object of `kind` with descriptor `fd`, and records
    /// the handle it will have as the descriptor's owner (`fresh`: a number the kernel has
    /// just given out, see [`Table::insert_received`]). The caller fills the slot.
    #[inline(always)]
    fn reserve(&'static self, stack: &mut spare::Stack<'_>, fd: RawFd, kind: Kind, fresh: bool) -> Result<(&'static Slot, Handle)> {
        let Some(index) = stack.pop() else {
            cold_path();
            return Err(Error::from_errno(libc::EMFILE).context("fdsafe handle table full"));
        };
        let slot = self.slot(index).expect("pages exist before their indices are handed out");
        let generation = slot.next_generation().expect("free slots are never retired");
        let handle = Handle::new(kind, generation, index);
        // Claimed before the slot is filled: until then the claim counts as live (see `holds`).
        let holds = |owner| self.holds(owner);
        let claimed = if fresh { self.owners.claim_fresh(fd, handle, holds) } else { self.owners.claim(fd, handle, holds) };
        if let Err(AlreadyOwned(owner)) = claimed {
            cold_path();
            stack.push(index);
            return Err(already_owned(fd, owner));
        }
        Ok((slot, handle))
    }

    /// Whether `owner`, recorded as a descriptor's owner, still holds it: live and not closing,
    /// or claimed and not filled yet. (A closing owner gives the number back: it is recorded
    /// until the object is taken out, just before the descriptor closes.)
    fn holds(&self, owner: Handle) -> bool {
        self.slot(owner.index()).is_some_and(|slot| slot.held_by(owner.generation()))
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
    ///
    /// Every branch off the owner's success path is marked cold: a call that follows a system
    /// call pays for each taken branch (the kernel's code evicts the branch predictor's entries
    /// for ours), so that path must fall straight through.
    #[inline(always)]
    pub fn try_get(&'static self, handle: Handle) -> Option<Guard> {
        let (slot, owner) = self.enter(handle)?;
        Some(Guard { slot, handle, table: self, owner: owner as usize })
    }

    /// The owner's path for a call that cannot unwind (system calls): if the calling thread
    /// owns the live `handle` (of `kind`, if given), runs `call` inside the owner's hold and
    /// returns its result. `call` must not panic: nothing would take the owner out again.
    ///
    /// Anything else (another thread, a handle closed or closing, a wrong kind) returns a
    /// [`Detour`] for [`Table::settle`] on the caller's cold path. The path itself calls no
    /// function, so its caller needs no saved registers.
    #[inline(always)]
    pub fn owner_call(
        &'static self,
        handle: Handle,
        kind: Option<Kind>,
        call: impl FnOnce(Held<'_>) -> isize,
    ) -> OwnerCall {
        let Some(slot) = self.slot(handle.index()) else {
            crate::sys::cold_path();
            return Err(Detour::NOT_RUN);
        };
        let generation = handle.generation();
        let expected = kind.map_or(handle.kind_bits(), |kind| kind as u8);
        if handle.kind_bits() != expected || !slot.mark_owner_inside(generation) {
            crate::sys::cold_path();
            return Err(Detour::NOT_RUN);
        }
        if !slot.usable_inside(generation) || slot.cached_kind() != expected {
            crate::sys::cold_path();
            return Err(Detour { slot, handle, ret: None });
        }
        let ret = call(Held(slot));
        if !slot.leave_unless_closing() {
            crate::sys::cold_path();
            return Err(Detour { slot, handle, ret: Some(ret) });
        }
        Ok(ret)
    }

    /// Whether the calling thread created the object in `handle`'s slot: a cheap look before
    /// work that only the owner's path can use ([`Table::owner_call`] checks everything).
    #[inline(always)]
    pub fn owned_by_caller(&'static self, handle: Handle) -> bool {
        self.slot(handle.index()).is_some_and(|slot| slot.owned_by_caller())
    }

    /// Finishes an owner call: if it detoured, leaves the slot as [`Table::owner_call`] could
    /// not (finalizing it if a close waited for the owner). Returns what the call returned if
    /// it ran; `None` if it did not, and the caller takes the full path, which reports why.
    #[cold]
    #[inline(never)]
    pub fn settle(&'static self, call: OwnerCall) -> Option<isize> {
        let detour = match call {
            Ok(ret) => return Some(ret),
            Err(detour) => detour,
        };
        // SAFETY: a detour's slot is one of this table's, and slots are never freed.
        if let Some(slot) = unsafe { detour.slot.as_ref() } {
            let generation = detour.handle.generation();
            let last = match detour.ret {
                None => slot.leave(generation),
                Some(_) => slot.left_while_closing(generation),
            };
            if last {
                self.finalize(slot, detour.handle);
            }
        }
        detour.ret
    }

    /// [`Table::try_get`]'s hold without the guard: the slot, and whether it is held as the
    /// owner inside (else by a counted reference). The caller lets go of it as the guard's
    /// drop would.
    #[inline(always)]
    fn enter(&'static self, handle: Handle) -> Option<(&'static Slot, bool)> {
        let Some(slot) = self.slot(handle.index()) else {
            cold_path();
            return None;
        };
        let owner = match slot.enter_as_owner(handle.generation()) {
            Ok(true) => true,
            Ok(false) => {
                cold_path();
                slot.try_acquire(handle.generation()).ok()?;
                false
            }
            Err(()) => {
                cold_path();
                self.finalize(slot, handle); // closed while we entered, and we were the last
                return None;
            }
        };
        if slot.cached_kind() != handle.kind_bits() {
            cold_path();
            drop(Guard { slot, handle, table: self, owner: owner as usize });
            return None;
        }
        Some((slot, owner))
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
        let guard = Guard { slot, handle, table: self, owner: 0 };
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
    ///
    /// Inlined into its caller, so that the system call closing an idle handle's descriptor
    /// returns through the caller's frame only (see `sys::direct`).
    #[inline(always)]
    pub fn close(&'static self, handle: Handle) -> Result<u64> {
        if let Some(slot) = self.slot(handle.index()) {
            if let Some((object, fd)) = slot.end_if_idle(handle.generation(), handle.kind_bits()) {
                // The kind bits matched the slot's: `handle` is the handle as issued.
                self.dispose(handle, object, fd, true);
                return Ok(0);
            }
        }
        cold_path();
        self.close_busy(handle)
    }

    /// [`Table::close`] of a handle that is in use (or not live).
    #[inline(never)]
    fn close_busy(&'static self, handle: Handle) -> Result<u64> {
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
    /// per handle created by another thread. Returns how many were live and are now closed.
    pub fn close_many(&'static self, handles: impl IntoIterator<Item = Handle>) -> usize {
        let mut idle = 0;
        let mut closing = Vec::new();
        for handle in handles {
            if let Some(slot) = self.slot(handle.index()) {
                if let Some((object, fd)) = slot.end_if_idle(handle.generation(), handle.kind_bits()) {
                    self.dispose(handle, object, fd, true);
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
        let (object, fd, reusable) = unsafe { slot.take() };
        self.owners.clear(fd, handle);
        if reusable {
            spare::give(self, handle.index());
        }
        Ok(object.into_fd())
    }

    fn finalize(&'static self, slot: &Slot, handle: Handle) {
        // The handle as issued: the caller's value may carry wrong kind bits.
        let handle = Handle::new_raw(slot.cached_kind(), handle.generation(), handle.index());
        // SAFETY: called only when `release` or `leave` said the last reference is gone.
        let (object, fd, reusable) = unsafe { slot.take() };
        self.dispose(handle, object, fd, reusable);
    }

    /// Closes the object of an ended handle and frees its slot (`reusable`: unless retired).
    /// The slot is freed first, so that closing is the last step: the slot no longer refers
    /// to the object, and the descriptor number, cleared from the owners while still open,
    /// cannot have been given to anyone else yet.
    #[inline(always)]
    fn dispose(&'static self, handle: Handle, object: Stored, fd: RawFd, reusable: bool) {
        self.owners.clear(fd, handle);
        if reusable {
            spare::give(self, handle.index());
        }
        super::discard(object);
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

    /// The number of live handles, closing ones included until their object is gone (for
    /// leak checks in tests: it reads every slot ever used).
    pub fn live_count(&self) -> usize {
        let used = self.pool().next_unused;
        (0..used).filter_map(|index| self.slot(index)).filter(|slot| slot.occupied()).count()
    }

    /// The recorded owner of a descriptor number.
    #[cfg(test)]
    pub fn owner_of(&self, fd: RawFd) -> Option<Handle> {
        self.owners.get(fd)
    }
}

#[cold]
fn already_owned(fd: RawFd, owner: Handle) -> Error {
    Error::invalid(format!(
        "descriptor {fd} already belongs to live handle {:#x} (was it closed or adopted behind fdsafe's back?)",
        owner.0
    ))
}

impl Guard {
    #[cfg(test)]
    pub fn is_owner_fast_path(&self) -> bool {
        self.owner != 0
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
        let fd = self.slot.cached_fd();
        // SAFETY: the slot's cached descriptor is its object's, which stays open while this
        // guard lives; an open descriptor is not negative (saying so removes a panic path,
        // which would keep the guard on the stack).
        unsafe {
            std::hint::assert_unchecked(fd >= 0);
            std::os::fd::BorrowedFd::borrow_raw(fd)
        }
    }
    /// How a write to this handle avoids `SIGPIPE` (no virtual call).
    #[inline(always)]
    pub fn write_guard(&self) -> super::WriteGuard {
        self.slot.write_guard()
    }
    /// The handle a write must hold ([`super::WriteGuard::PipeWithReader`]), or 0.
    #[inline(always)]
    pub fn write_partner(&self) -> u64 {
        self.slot.write_partner()
    }
    /// The non-blocking descriptor of [`super::WriteGuard::PipeWithReader`] (open while the
    /// guard lives).
    #[inline(always)]
    pub fn write_twin(&self) -> RawFd {
        self.slot.write_twin()
    }
    /// Whether writes need no guard ([`super::WriteGuard::None`]).
    #[inline(always)]
    pub fn writes_unguarded(&self) -> bool {
        self.slot.writes_unguarded()
    }
    /// Changes [`Guard::write_guard`]; only before the handle is handed out.
    pub fn set_write_guard(&self, guard: super::WriteGuard) {
        self.slot.set_write_guard(guard);
    }
    #[inline]
    pub fn downcast<T: Object>(&self) -> Option<&T> {
        self.slot.object_as::<T>()
    }
}

/// Up to `N` handles held together for one operation (the descriptors of a message to send),
/// as [`Guard`]s would hold them, in 8 bytes each on the stack and let go of in one loop
/// (a guard is 32 bytes and its drop a call: for a message of 253, the difference is a tenth
/// of what sending costs).
pub struct HeldList<const N: usize> {
    table: &'static Table,
    /// The handle, with bit 63 (never set in an issued handle) for "held as the owner inside".
    held: [std::mem::MaybeUninit<u64>; N],
    len: usize,
}

const HELD_AS_OWNER: u64 = 1 << 63;

impl<const N: usize> HeldList<N> {
    #[inline(always)]
    pub fn new(table: &'static Table) -> HeldList<N> {
        HeldList { table, held: [const { std::mem::MaybeUninit::uninit() }; N], len: 0 }
    }

    /// Looks `handle` up as [`Table::get`] does and holds it until the list is dropped;
    /// returns its descriptor. Panics past `N` handles (callers check the count first; the
    /// boundary catches panics).
    #[inline(always)]
    pub fn hold(&mut self, handle: Handle) -> Result<RawFd> {
        let Some(fd) = self.try_hold(handle) else {
            cold_path();
            return Err(self.table.refusal(handle));
        };
        Ok(fd)
    }

    /// [`HeldList::hold`] without the error: `None` if the handle is not live.
    #[inline(always)]
    pub fn try_hold(&mut self, handle: Handle) -> Option<RawFd> {
        assert!(self.len < N, "more handles than the list holds");
        // No guard: one moved through the stack (in pieces) stalled store forwarding.
        let (slot, owner) = self.table.enter(handle)?;
        self.held[self.len].write(handle.0 | if owner { HELD_AS_OWNER } else { 0 });
        self.len += 1;
        Some(slot.cached_fd())
    }
}

impl<const N: usize> Drop for HeldList<N> {
    #[inline(always)]
    fn drop(&mut self) {
        for held in &self.held[..self.len] {
            // SAFETY: the first `len` entries were written by `hold`.
            let held = unsafe { held.assume_init() };
            let handle = Handle(held & !HELD_AS_OWNER);
            let slot = self.table.slot(handle.index()).expect("a held handle's slot exists");
            drop(Guard { slot, handle, table: self.table, owner: (held >> 63) as usize });
        }
    }
}

/// What [`Table::owner_call`] returns: the call's result, or where it left the fast path.
pub type OwnerCall = std::result::Result<isize, Detour>;

/// Where [`Table::owner_call`] left the fast path: see [`Table::settle`].
pub struct Detour {
    /// The slot entered as its owner, or null if none was.
    slot: *const Slot,
    handle: Handle,
    /// What the call returned, if it ran (and then left the slot while a close was under way).
    ret: Option<isize>,
}

/// What [`Table::owner_call`] lends its call: the live object's slot, held.
#[derive(Clone, Copy)]
pub struct Held<'a>(&'a Slot);

impl Held<'_> {
    #[inline(always)]
    pub fn fd(self) -> RawFd {
        self.0.cached_fd()
    }
    /// See [`Guard::write_partner`].
    #[inline(always)]
    pub fn write_partner(self) -> u64 {
        self.0.write_partner()
    }
    /// See [`Guard::write_twin`].
    #[inline(always)]
    pub fn write_twin(self) -> RawFd {
        self.0.write_twin()
    }
    /// See [`Guard::writes_unguarded`].
    #[inline(always)]
    pub fn writes_unguarded(self) -> bool {
        self.0.writes_unguarded()
    }
}

impl Detour {
    /// Nothing was entered or run.
    pub(crate) const NOT_RUN: Detour = Detour { slot: ptr::null(), handle: Handle::INVALID, ret: None };
}

impl Drop for Guard {
    #[inline(always)]
    fn drop(&mut self) {
        let last = if self.owner != 0 {
            self.slot.leave(self.handle.generation())
        } else {
            cold_path();
            self.slot.release()
        };
        if last {
            cold_path();
            self.table.finalize(self.slot, self.handle);
        }
    }
}
