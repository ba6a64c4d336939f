//! The synchronization types the table is built from: the standard library's, or loom's when
//! the protocol is model-checked (`RUSTFLAGS="--cfg loom" cargo test --lib loom`).

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
#[cfg(loom)]
pub use loom::sync::Mutex;
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub use std::sync::Mutex;

use super::Stored;

#[cfg(loom)]
pub use loom::cell::UnsafeCell;
#[cfg(not(loom))]
pub use std::cell::UnsafeCell;

/// A slot's object: written only by the slot's exclusive owner, read under a reference.
pub struct ObjectCell(UnsafeCell<Option<Stored>>);

// SAFETY: the slot's protocol makes writes exclusive of every read (see `slot`).
unsafe impl Sync for ObjectCell {}

impl ObjectCell {
    pub fn new() -> ObjectCell {
        ObjectCell(UnsafeCell::new(None))
    }

    /// # Safety
    /// The caller owns the free slot exclusively.
    pub unsafe fn put(&self, object: Stored) {
        self.with_mut(|cell| {
            debug_assert!(cell.is_none());
            *cell = Some(object);
        })
    }

    /// # Safety
    /// The caller owns the closing slot exclusively.
    pub unsafe fn take(&self) -> Stored {
        self.with_mut(|cell| cell.take().expect("an ending slot holds its object"))
    }

    /// # Safety
    /// The caller holds a reference (or owns the slot).
    pub unsafe fn get(&self) -> &Stored {
        #[cfg(loom)]
        let object = self.0.with(|cell| (*cell).as_ref().map(|object| &*(object as *const Stored)));
        #[cfg(not(loom))]
        let object = (*self.0.get()).as_ref();
        object.expect("a referenced slot holds an object")
    }

    /// # Safety
    /// As [`ObjectCell::get`].
    pub unsafe fn is_some(&self) -> bool {
        #[cfg(loom)]
        return self.0.with(|cell| (*cell).is_some());
        #[cfg(not(loom))]
        return (*self.0.get()).is_some();
    }

    unsafe fn with_mut<R>(&self, f: impl FnOnce(&mut Option<Stored>) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(|cell| f(&mut *cell));
        #[cfg(not(loom))]
        return f(&mut *self.0.get());
    }
}
