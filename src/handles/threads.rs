//! The owner fast path's thread identity and the memory barriers that make it safe.
//!
//! Each slot remembers the thread that created its object (its owner). When the owner uses the
//! handle it takes no shared reference: it sets the slot's `owner_inside` word (only it writes
//! it) to the generation it uses, re-checks the slot, and clears the word when the call
//! returns: plain loads and stores, no atomic read-modify-write. Every other thread counts references on the slot as
//! before. A close from another thread must then see the owner's word; that takes a store-load
//! barrier on both sides, and the owner's side is made free by an asymmetric one: the closer
//! runs `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which executes a full barrier on every
//! CPU running a thread of this process. Where the kernel refuses membarrier, handles get no
//! owner (every call counts); under Miri both sides use an ordinary fence, so Miri checks the
//! protocol itself.
//!
//! A thread is identified by its thread pointer (the address of the thread's control block,
//! what `pthread_self` returns), so the fast path finds out whether it runs on the owner thread
//! with one register read and no thread-local lookup. At any moment at most one live thread has
//! a given thread pointer; a thread created later at the same address takes over the ownership
//! of the slots naming it, which is sound because the exited thread can no longer be inside an
//! operation.

use std::sync::atomic::{compiler_fence, fence, AtomicU32, Ordering};

/// Marks the owner inside an operation on `generation`. The caller then runs
/// [`light_barrier`] and re-checks the slot.
#[inline(always)]
pub fn set_inside(inside: &AtomicU32, generation: u32) {
    inside.store(generation, Ordering::Relaxed);
}

/// Marks the owner out: everything it did with the object happens before a closer that reads
/// the cleared word.
#[inline(always)]
pub fn clear_inside(inside: &AtomicU32) {
    inside.store(0, Ordering::Release);
}

/// The calling thread's control block address: unique among live threads.
#[inline(always)]
pub fn thread_pointer() -> usize {
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
