//! Fork safety: no fdsafe lock is held in the child of a `fork()`, and the child forgets the
//! references of the threads that did not come along.
//!
//! The table's reference protocol takes no lock, so the only state that can be caught half
//! done at a fork is what fdsafe guards with mutexes (close hooks, epoll records, the
//! descriptor owners beyond the paged range). Every such critical section runs inside a
//! [`section`]: a read lock on one process-wide gate, taken once per thread however deeply
//! sections nest. `pthread_atfork` handlers take the gate for writing before the fork (so no
//! section is running or can start) and let go of it in both processes after; the child then
//! walks the table (see `Table::after_fork_in_child`).
//!
//! The kernel copies the descriptor table before the memory, and the parent's other threads
//! run in between. A handle another thread inserts in that window can name, in the child, a
//! descriptor number the child's table has not got, or has for another file: a use there
//! would reach the wrong file. So `prepare` advances the fork *epoch* before the kernel copies
//! anything, every insert records the epoch it sees (after the system call that made the
//! descriptor), and the child drops every handle recorded with the current epoch: it closes
//! the number, which in the child is either that handle's own copy or a copy of a file the
//! parent had closed (nobody's, in the child's memory), and frees the slot.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());
static IN_CHILD: AtomicBool = AtomicBool::new(false);
/// Advanced by `prepare` before every fork; see the module documentation.
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The fork epoch now (read by inserts after the system call that made their descriptor:
/// one made after the kernel copied the descriptor table sees the advanced epoch, because
/// both took the table's lock).
#[inline]
pub fn epoch() -> u32 {
    EPOCH.load(Ordering::Acquire)
}

/// Whether this process is a child forked after fdsafe installed its handlers.
pub fn in_child() -> bool {
    IN_CHILD.load(Ordering::Relaxed)
}

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The write lock the forking thread holds from `prepare` to `parent` or `child`.
    static FORKING: RefCell<Option<RwLockWriteGuard<'static, ()>>> = const { RefCell::new(None) };
}

/// A critical section that a fork must not split; see the module documentation.
pub struct Section {
    _gate: Option<RwLockReadGuard<'static, ()>>,
}

/// Enters a section (nested sections of one thread share the outermost one's lock).
pub fn section() -> Section {
    let depth = DEPTH.try_with(|depth| {
        depth.set(depth.get() + 1);
        depth.get()
    });
    let gate = match depth {
        Ok(1) => Some(GATE.read().unwrap_or_else(|p| p.into_inner())),
        _ => None,
    };
    Section { _gate: gate }
}

impl Drop for Section {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Installs the fork handlers once, before the first handle exists.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: registering three functions that take no arguments and never unwind.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
}

/// What `prepare` does to the epoch, for the table's tests of the child's walk.
#[cfg(test)]
pub fn advance_epoch() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn prepare() {
    let _ = std::panic::catch_unwind(|| {
        // A fork from inside a section (a close hook that forks) would wait for itself.
        if DEPTH.try_with(Cell::get).unwrap_or(0) == 0 {
            let gate = GATE.write().unwrap_or_else(|p| p.into_inner());
            let _ = FORKING.try_with(|forking| *forking.borrow_mut() = Some(gate));
        }
    });
    // Advanced once the gate is held, so that forks of two threads, serialized by the gate,
    // each have their own epoch: another thread's advance cannot land between this one and
    // this fork's copy of memory.
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn parent() {
    let _ = std::panic::catch_unwind(|| {
        let _ = FORKING.try_with(|forking| forking.borrow_mut().take());
    });
}

extern "C" fn child() {
    let _ = std::panic::catch_unwind(|| {
        let _ = FORKING.try_with(|forking| forking.borrow_mut().take());
        IN_CHILD.store(true, Ordering::Relaxed);
        super::TABLE.after_fork_in_child();
    });
}
