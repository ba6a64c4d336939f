//! Per-thread records for the owner fast path, and the memory barriers that make it safe.
//!
//! Each slot remembers the thread that created its object (its owner). When the owner uses the
//! handle it takes no shared reference: it writes the slot's address into its own record (its
//! hazard), re-checks the slot, and clears the hazard when the call returns: plain loads and
//! stores, no atomic read-modify-write. Every other thread counts references on the slot as
//! before. A close from another thread must then see the owner's hazard; that takes a store-load
//! barrier on both sides, and the owner's side is made free by an asymmetric one: the closer
//! runs `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which executes a full barrier on every
//! CPU running a thread of this process. Where the kernel refuses membarrier, handles get no
//! owner (every call counts); under Miri both sides use an ordinary fence, so Miri checks the
//! protocol itself.
//!
//! A record belongs to a thread pointer (the address of the thread's control block, what
//! `pthread_self` returns), so the fast path finds out whether it runs on the owner thread with
//! one register read and no thread-local lookup. At any moment at most one live thread has a
//! given thread pointer; a thread created later at the same address takes over the record and
//! the ownership of the slots naming it, which is sound because the exited thread can no
//! longer be inside an operation. Records are never freed: one per thread control block the
//! process ever used with fdsafe (glibc reuses them for new threads).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{compiler_fence, fence, AtomicPtr, AtomicUsize, Ordering};

/// How many operations a thread can be inside at once on the fast path (a write to a pipe
/// also holds its read end; deeper nesting counts references).
pub const HAZARDS: usize = 2;

/// One published hazard: the address of the slot its thread is inside an operation on, or 0.
pub type Hazard = AtomicUsize;

#[repr(align(64))] // one record per cache line: a thread's hazard stores touch no one else's line
pub struct ThreadRecord {
    hazards: [Hazard; HAZARDS],
    thread: usize,
    next: *const ThreadRecord,
}

// SAFETY: `thread` and `next` are written before the record is published and never changed.
unsafe impl Sync for ThreadRecord {}

impl ThreadRecord {
    /// A free hazard of this record if the calling thread is its thread (a signal handler
    /// that interrupted operations of the same thread finds theirs taken).
    #[inline(always)]
    pub fn free_hazard(&self) -> Option<&Hazard> {
        if self.thread != thread_pointer() {
            return None;
        }
        self.hazards.iter().find(|hazard| hazard.load(Ordering::Relaxed) == 0)
    }

    /// Whether the thread of this record is inside an operation on `address`. Only
    /// meaningful after the caller's own store (close has begun) and a [`heavy_barrier`].
    pub fn is_inside(&self, address: usize) -> bool {
        self.hazards.iter().any(|hazard| hazard.load(Ordering::Acquire) == address)
    }

    pub fn is_callers(&self) -> bool {
        self.thread == thread_pointer()
    }
}

/// Publishes a hazard. The caller then runs [`light_barrier`] and re-checks the slot.
#[inline(always)]
pub fn set_hazard(hazard: &Hazard, address: usize) {
    hazard.store(address, Ordering::Relaxed);
}

/// Clears a hazard: everything this thread did with the object happens before a closer that
/// reads the cleared value.
#[inline(always)]
pub fn clear_hazard(hazard: &Hazard) {
    hazard.store(0, Ordering::Release);
}

/// The calling thread's control block address: unique among live threads.
#[inline]
fn thread_pointer() -> usize {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    {
        let tp: usize;
        // SAFETY: on x86-64 Linux %fs:0 holds the thread control block's own address (the
        // TLS ABI requires it); reading it has no side effects.
        unsafe { std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp, options(nostack, readonly, preserves_flags, pure)) };
        tp
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", not(miri))))]
    {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as usize }
    }
}

static RECORDS: AtomicPtr<ThreadRecord> = AtomicPtr::new(ptr::null_mut());

thread_local! {
    static CURRENT: Cell<*const ThreadRecord> = const { Cell::new(ptr::null()) };
}

/// The calling thread's record, found or made on first use (the slow path: object creation).
pub fn current() -> &'static ThreadRecord {
    let cached = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    // SAFETY: records are never freed.
    if let Some(record) = unsafe { cached.as_ref() } {
        if record.is_callers() {
            return record;
        }
    }
    let thread = thread_pointer();
    let record = find_record(thread).unwrap_or_else(|| new_record(thread));
    let _ = CURRENT.try_with(|current| current.set(record));
    record
}

fn find_record(thread: usize) -> Option<&'static ThreadRecord> {
    let mut next = RECORDS.load(Ordering::Acquire);
    // SAFETY: records are never freed, and `next` is immutable once published.
    while let Some(record) = unsafe { next.as_ref() } {
        if record.thread == thread {
            return Some(record);
        }
        next = record.next as *mut ThreadRecord;
    }
    None
}

fn new_record(thread: usize) -> &'static ThreadRecord {
    let mut head = RECORDS.load(Ordering::Acquire);
    let record = Box::leak(Box::new(ThreadRecord { hazards: Default::default(), thread, next: head }));
    loop {
        match RECORDS.compare_exchange_weak(head, record, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return record,
            Err(actual) => {
                head = actual;
                record.next = head;
            }
        }
    }
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes no pointers.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

/// Whether the fast path can be used: the kernel accepted the process's membarrier
/// registration (asked once). Where it refuses, new handles get no owner and every call
/// counts a reference. Under Miri the barriers are ordinary fences, so the path is tested.
pub fn fast_path_available() -> bool {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REGISTERED.get_or_init(|| cfg!(miri) || membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
}

/// The owner's side of the store-load barrier, between publishing (or clearing) its hazard
/// and reading the slot's state: nothing at run time, the closer's membarrier does the work.
#[inline(always)]
pub fn light_barrier() {
    if cfg!(miri) {
        fence(Ordering::SeqCst);
    } else {
        compiler_fence(Ordering::SeqCst);
    }
}

/// The closer's side: after it, every owner either sees the closer's earlier store or has its
/// hazard visible to the closer. Returns `false` if no barrier could be made (the caller must
/// then assume the owner is inside).
pub fn heavy_barrier() -> bool {
    if cfg!(miri) {
        fence(Ordering::SeqCst);
        return true;
    }
    // A forked child may need to register again (the registration belongs to the process).
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
        || (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
}
