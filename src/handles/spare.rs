//! Free slot indices: a stack per thread over a shared pool under a lock, so that inserting
//! and closing a handle take no lock (only one in 128 does, to move a batch of indices).
//!
//! A thread's stack belongs to one table at a time (the process has one; tests make more): a
//! thread that turns to another table first gives its indices back to the first. A thread's
//! indices go back to the pool when it exits; an index a thread cannot stack (once it is
//! exiting) goes to the pool directly.

use std::cell::RefCell;
use std::mem::ManuallyDrop;

use super::table::Table;

/// Indices moved between a thread's stack and the pool at once.
const BATCH: usize = 128;
/// A thread keeps at most this many free indices.
const LOCAL_MAX: usize = 4 * BATCH;

/// The indices no thread holds, and the first index never used yet.
pub struct Pool {
    pub free: Vec<u32>,
    pub next_unused: u32,
}

impl Pool {
    pub const fn new() -> Pool {
        Pool { free: Vec::new(), next_unused: 0 }
    }
}

struct Local {
    table: Option<&'static Table>,
    /// Freed by hand when the thread exits (see [`GiveBack`]), so that `LOCAL` has no drop
    /// and reaching it needs no check of its state.
    free: ManuallyDrop<Vec<u32>>,
    /// Set once the thread's indices were given back at exit: later calls (from other
    /// thread-local destructors) use the pool.
    exited: bool,
}

impl Local {
    /// Gives every index back to its table's pool.
    fn flush(&mut self) {
        if let Some(table) = self.table.take() {
            table.pool().free.append(&mut self.free);
        }
    }

    #[inline]
    fn switch_to(&mut self, table: &'static Table) {
        if !self.table.is_some_and(|t| std::ptr::eq(t, table)) {
            crate::sys::cold_path();
            self.switch_table(table);
        }
    }

    fn switch_table(&mut self, table: &'static Table) {
        if self.table.is_none() {
            GIVE_BACK.with(|_| {}); // registers the exit hook on first use
        }
        self.flush();
        self.table = Some(table);
    }
}

/// Gives the thread's indices back to the pool when the thread exits.
struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        LOCAL.with(|local| {
            if let Ok(mut local) = local.try_borrow_mut() {
                local.flush();
                local.exited = true;
                // SAFETY: `exited` keeps every later call away from the vector.
                unsafe { ManuallyDrop::drop(&mut local.free) };
            }
        });
    }
}

thread_local! {
    static LOCAL: RefCell<Local> =
        const { RefCell::new(Local { table: None, free: ManuallyDrop::new(Vec::new()), exited: false }) };
    static GIVE_BACK: GiveBack = const { GiveBack };
}

/// A thread's free indices of one table, borrowed for one or more inserts and closes.
pub struct Stack<'a> {
    table: &'static Table,
    free: &'a mut Vec<u32>,
}

impl Stack<'_> {
    /// A free index, or `None` if every index is in use.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<u32> {
        match self.free.pop() {
            Some(index) => Some(index),
            None => {
                crate::sys::cold_path();
                refill(self.table, self.free);
                self.free.pop()
            }
        }
    }

    /// Returns a free index.
    #[inline(always)]
    pub fn push(&mut self, index: u32) {
        if self.free.len() >= LOCAL_MAX {
            crate::sys::cold_path();
            self.table.pool().free.extend(self.free.drain(..BATCH));
        }
        self.free.push(index);
    }
}

/// Runs `f` with this thread's stack of free indices of `table`; a thread that has none now
/// (it is exiting, or a caller up the stack is using it: a signal handler that closes a handle
/// while its thread was inside an insert or close) gets one over the pool for the call.
#[inline(always)]
pub fn with_stack<R>(table: &'static Table, f: impl FnOnce(&mut Stack<'_>) -> R) -> R {
    // The address only: `LocalKey::with` with the whole body as its closure was not inlined.
    let local: *const RefCell<Local> = LOCAL.with(|local| local as *const RefCell<Local>);
    // SAFETY: a thread-local without destructor lives as long as its thread, which runs this.
    let local = unsafe { &*local };
    if let Ok(mut local) = local.try_borrow_mut() {
        if !local.exited {
            local.switch_to(table);
            return f(&mut Stack { table, free: &mut local.free });
        }
    }
    crate::sys::cold_path();
    with_temporary_stack(table, f)
}

#[inline(never)]
fn with_temporary_stack<R>(table: &'static Table, f: impl FnOnce(&mut Stack<'_>) -> R) -> R {
    let mut free = Vec::new();
    let result = f(&mut Stack { table, free: &mut free });
    table.pool().free.append(&mut free);
    result
}

/// Returns a free index to `table`.
#[inline(always)]
pub fn give(table: &'static Table, index: u32) {
    with_stack(table, |stack| stack.push(index));
}

/// Moves up to a batch of indices from the pool to `free`, using new ones (and allocating
/// their pages) when the pool has none. None when every index is in use: a table-full error
/// can come while other threads' stacks still hold free indices (at most 512 each).
#[cold]
fn refill(table: &'static Table, free: &mut Vec<u32>) {
    let mut pool = table.pool();
    let from_pool = pool.free.len().min(BATCH);
    if from_pool > 0 {
        let start = pool.free.len() - from_pool;
        free.extend(pool.free.drain(start..));
        return;
    }
    let first = pool.next_unused;
    let last = first.saturating_add(BATCH as u32).min(super::table::CAPACITY);
    table.ensure_pages(first, last);
    pool.next_unused = last;
    free.extend((first..last).rev()); // popped lowest first
}
