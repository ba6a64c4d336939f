//! One slot of the handle table and its lock-free state machine.
//!
//! `state` packs `[generation: 32 | closing: 1 | references: 31]`. Odd generations are live.
//! - acquire: CAS `refs + 1`, only while the generation matches and `closing` is clear;
//! - release: `refs - 1`; the thread that takes the last reference of a closing slot
//!   finalizes it (drops the object, so the descriptor closes, then frees the slot);
//! - close: sets `closing` (once), so no new reference can be taken.
//! The object is written only while the slot is free and read only under a reference.

use std::any::TypeId;
use std::cell::UnsafeCell;
use std::sync::atomic::{fence, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use super::Object;

const REFS_MASK: u64 = (1 << 31) - 1;
const CLOSING: u64 = 1 << 31;
const GEN_SHIFT: u32 = 32;

fn generation_of(state: u64) -> u32 {
    (state >> GEN_SHIFT) as u32
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

#[repr(align(64))] // one slot per cache line: threads on different handles never share one
pub struct Slot {
    state: AtomicU64,
    fd: AtomicI32,
    kind: AtomicU8,
    /// The concrete type of the live object, so downcasts need no virtual call.
    type_id: UnsafeCell<TypeId>,
    object: UnsafeCell<Option<Box<dyn Object>>>,
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
            kind: AtomicU8::new(0),
            type_id: UnsafeCell::new(TypeId::of::<()>()),
            object: UnsafeCell::new(None),
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
    pub unsafe fn fill(&self, object: Box<dyn Object>, generation: u32) {
        debug_assert!(generation % 2 == 1);
        self.fd.store(object.raw_fd(), Ordering::Relaxed);
        self.kind.store(object.kind() as u8, Ordering::Relaxed);
        *self.type_id.get() = (*object).type_id();
        *self.object.get() = Some(object);
        self.state.store((generation as u64) << GEN_SHIFT, Ordering::Release);
    }

    #[inline]
    pub fn try_acquire(&self, generation: u32) -> Result<(), AcquireError> {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let found = generation_of(current);
            if found != generation {
                return Err(AcquireError::Generation(found));
            }
            if current & CLOSING != 0 {
                return Err(AcquireError::Closing);
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
        previous & CLOSING != 0 && previous & REFS_MASK == 1
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

    /// Marks the slot closing only if the caller's reference is the only one.
    pub fn begin_exclusive_close(&self, generation: u32) -> bool {
        let sole = ((generation as u64) << GEN_SHIFT) | 1;
        self.state.compare_exchange(sole, sole | CLOSING, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// The live object. The caller must hold a reference.
    #[inline]
    pub fn object(&self) -> &dyn Object {
        // SAFETY: under a reference the object is present and nobody writes it.
        unsafe { (*self.object.get()).as_deref().expect("a referenced slot holds an object") }
    }

    /// The live object as a `T`, if that is its type. The caller must hold a reference.
    #[inline]
    pub fn object_as<T: Object>(&self) -> Option<&T> {
        // SAFETY: under a reference the type id and object are present and nobody writes them;
        // the type id was taken from this very object, so the cast is to its true type.
        unsafe {
            if *self.type_id.get() != TypeId::of::<T>() {
                return None;
            }
            let object: *const dyn Object = (*self.object.get()).as_deref()?;
            Some(&*(object as *const T))
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
    /// hooks. Returns the object and whether the slot may be reused.
    ///
    /// # Safety
    /// The caller must own the slot exclusively: it is closing, and either [`Slot::release`]
    /// returned `true`, or [`Slot::begin_exclusive_close`] succeeded (the caller's own
    /// reference then ends here).
    pub unsafe fn take(&self) -> (Box<dyn Object>, bool) {
        let object = (*self.object.get()).take().expect("a closing slot holds its object");
        let hooks = std::mem::take(&mut *self.close_hooks.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, hook) in hooks {
            hook(object.as_fd());
        }
        self.fd.store(-1, Ordering::Relaxed);
        let generation = generation_of(self.state.load(Ordering::Relaxed));
        // Even generation: free. A slot whose generation would wrap stays closing for ever.
        let (state, reusable) = match generation.checked_add(1) {
            Some(next) => ((next as u64) << GEN_SHIFT, true),
            _ => (((generation as u64) << GEN_SHIFT) | CLOSING, false),
        };
        self.state.store(state, Ordering::Release);
        (object, reusable)
    }

    #[cfg(test)]
    pub fn force_generation(&self, generation: u32) {
        self.state.store((generation as u64) << GEN_SHIFT, Ordering::Release);
    }
}
