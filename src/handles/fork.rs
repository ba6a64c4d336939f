//! Fork safety: no fdsafe lock is held in the child of a `fork()`, and the child forgets the
//! references of the threads that did not come along.
//!
//! The table's reference protocol takes no lock, so the only state that can be caught half
//! done at a fork is what fdsafe guards with mutexes (close hooks, epoll records, the
//! descriptor owners beyond the paged range). Every such critical section runs inside a
//! [`section`]: a read lock on the calling thread's stripe of the gate, taken once per thread
//! however deeply sections nest. `pthread_atfork` handlers take every stripe for writing
//! before the fork (so no section is running or can start) and let go of them in both
//! processes after; the child then walks the table (see `Table::after_fork_in_child`).
//!
//! Why stripes: a read lock writes its lock word, so one gate for the whole process was one
//! cache line written by every section of every thread. Two threads each waiting on an epoll
//! set of its own (a section per wait) ran at 1.65-1.78x raw `epoll_wait`, against 1.18x for
//! one thread. A thread takes a stripe of its own (round robin, on its first section), so
//! threads share a lock word only beyond [`STRIPES`] threads.
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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Stripes of the gate (see the module documentation).
const STRIPES: usize = 64;

/// One stripe, alone on its cache lines (128 bytes: the adjacent-line prefetcher pairs lines).
#[repr(align(128))]
struct Stripe(RwLock<()>);

static GATE: [Stripe; STRIPES] = [const { Stripe(RwLock::new(())) }; STRIPES];
/// The stripe the next thread to enter its first section takes.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);
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

/// A thread's place at the gate: how deeply its sections nest, and its stripe.
struct Seat {
    depth: Cell<usize>,
    /// `usize::MAX` until the thread's first section.
    stripe: Cell<usize>,
}

thread_local! {
    static SEAT: Seat = const { Seat { depth: Cell::new(0), stripe: Cell::new(usize::MAX) } };
    /// The write locks the forking thread holds from `prepare` to `parent` or `child` (an
    /// array, not a vector: nothing is allocated or freed around the fork).
    static FORKING: RefCell<[Option<RwLockWriteGuard<'static, ()>>; STRIPES]> =
        const { RefCell::new([const { None }; STRIPES]) };
}

/// A critical section that a fork must not split; see the module documentation.
pub struct Section {
    _gate: Option<RwLockReadGuard<'static, ()>>,
}

/// Enters a section (nested sections of one thread share the outermost one's lock).
pub fn section() -> Section {
    let outermost = SEAT.try_with(|seat| {
        seat.depth.set(seat.depth.get() + 1);
        if seat.depth.get() > 1 {
            return None;
        }
        if seat.stripe.get() == usize::MAX {
            seat.stripe.set(NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        Some(seat.stripe.get())
    });
    // A thread whose locals are gone (a thread-exit destructor closing a handle) cannot count
    // its nesting, and a nested read of one lock could wait behind a fork's write: it takes
    // no stripe (a fork may then catch its section; such a thread is about to end anyway).
    let stripe = outermost.ok().flatten();
    Section { _gate: stripe.map(|at| GATE[at].0.read().unwrap_or_else(|p| p.into_inner())) }
}

impl Drop for Section {
    fn drop(&mut self) {
        let _ = SEAT.try_with(|seat| seat.depth.set(seat.depth.get().saturating_sub(1)));
    }
}

/// Installs the fork handlers once. They are installed when the library is loaded (see
/// `FORK_HANDLERS_AT_LOAD` in `lib.rs`); inserts call this too, in case a link left that out.
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
        if SEAT.try_with(|seat| seat.depth.get()).unwrap_or(0) == 0 {
            let _ = FORKING.try_with(|forking| {
                // In one order, so that two forking threads never hold a stripe each.
                for (stripe, held) in GATE.iter().zip(forking.borrow_mut().iter_mut()) {
                    *held = Some(stripe.0.write().unwrap_or_else(|p| p.into_inner()));
                }
            });
        }
    });
    // Advanced once the gate is held, so that forks of two threads, serialized by the gate,
    // each have their own epoch: another thread's advance cannot land between this one and
    // this fork's copy of memory.
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// Lets go of every stripe `prepare` took.
fn open_gate() {
    let _ = FORKING.try_with(|forking| forking.borrow_mut().iter_mut().for_each(|held| drop(held.take())));
}

extern "C" fn parent() {
    let _ = std::panic::catch_unwind(open_gate);
}

extern "C" fn child() {
    let _ = std::panic::catch_unwind(|| {
        open_gate();
        IN_CHILD.store(true, Ordering::Relaxed);
        super::TABLE.after_fork_in_child();
    });
}
