//! The slots a thread has freed, kept for its own next inserts and handed to the table's shared
//! free list a batch at a time.
//!
//! Why: in the pattern daemons run most, one thread creating handles and another using and
//! closing them, a free list shared on every close and every insert moves its cache line from
//! one thread to the other twice per handle, on the closing thread's path. Handing freed slots
//! over [`BATCH`] at a time moved the eventfd lifecycle of `make bench` from 0.92-0.93 to
//! 0.95-0.96 of raw descriptors (with the owners left stale at close, see `owners`); a thread
//! that creates and closes its own handles reuses its slots without any atomic operation on
//! the list.
//!
//! What it costs: another thread cannot take a kept slot until it is handed over, so up to
//! `BATCH - 1` free slots per thread wait (the table has 16 Mi). A thread hands its slots
//! over when it exits. A forked child rebuilds its free list from the slots themselves (see
//! `Table::after_fork_in_child`), so the kept slots of the threads that did not come along
//! are not lost there.
//!
//! Under loom nothing is kept: the model tests check the shared list's protocol, where slots
//! move between threads; what is kept here is touched by one thread only.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, Ordering};

use super::table::Table;

/// How many freed slots a thread keeps before handing them over together.
pub(super) const BATCH: u32 = 32;

/// The kept slots: a chain linked through the slots' `next_free`, as the shared list is.
#[derive(Clone, Copy)]
struct Chain {
    /// The table the slots belong to (tests make tables of their own).
    table: Option<&'static Table>,
    count: u32,
    first: u32,
    last: u32,
}

const EMPTY: Chain = Chain { table: None, count: 0, first: 0, last: 0 };

thread_local! {
    /// No destructor of its own, so reading it never registers one (the child of a fork
    /// reads it, where nothing may allocate).
    static KEPT: Cell<Chain> = const { Cell::new(EMPTY) };
    /// Registered when the thread first keeps a slot: hands the kept slots over at exit.
    static HAND_OVER_AT_EXIT: HandOver = const { HandOver };
    /// Set while the thread is changing `KEPT` (see [`exclusively`]).
    static CHANGING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `change` on this thread's kept slots, unless the thread is already changing them:
/// a signal handler that interrupted `keep` or `take` and calls fdsafe itself. Then `None`,
/// and the caller uses the shared list, which is safe from any context. Without this, a
/// handler's insert could take the slot the interrupted `take` was taking, and both handles
/// would name one slot. A handler that arrives before the flag is set runs to its end before
/// the interrupted thread reads the chain, so the flag alone is enough; the fences keep the
/// compiler from moving the chain's reads and writes outside it.
pub(super) fn exclusively<R>(change: impl FnOnce() -> R) -> Option<R> {
    if CHANGING.with(|changing| changing.replace(true)) {
        return None;
    }
    compiler_fence(Ordering::SeqCst);
    let result = change();
    compiler_fence(Ordering::SeqCst);
    CHANGING.with(|changing| changing.set(false));
    Some(result)
}

struct HandOver;

impl Drop for HandOver {
    fn drop(&mut self) {
        let chain = KEPT.with(|kept| kept.replace(EMPTY));
        if let (Some(table), true) = (chain.table, chain.count > 0) {
            table.push_chain(chain.first, chain.last);
        }
    }
}

fn same(table: Option<&'static Table>, other: &'static Table) -> bool {
    table.is_some_and(|table| std::ptr::eq(table, other))
}

/// Keeps the freed slot `index` of `table` for this thread. Returns `false` when the caller
/// must put it on the shared list itself (the thread is exiting, or under loom).
pub fn keep(table: &'static Table, index: u32) -> bool {
    if cfg!(loom) {
        return false;
    }
    exclusively(|| keep_now(table, index)).unwrap_or(false)
}

fn keep_now(table: &'static Table, index: u32) -> bool {
    let mut chain = KEPT.with(Cell::get);
    if chain.count > 0 && !same(chain.table, table) {
        // Slots of another table: hand them over first (only tests have several tables).
        KEPT.with(|kept| kept.set(EMPTY));
        if let Some(other) = chain.table {
            other.push_chain(chain.first, chain.last);
        }
        chain = EMPTY;
    }
    if chain.count == 0 && HAND_OVER_AT_EXIT.try_with(|_| ()).is_err() {
        return false; // the thread is exiting: nothing would hand the slot over
    }
    // The newest first, linked to the one kept before it.
    let (next, last) = if chain.count == 0 { (None, index) } else { (Some(chain.first), chain.last) };
    table.link_free(index, next);
    chain = Chain { table: Some(table), count: chain.count + 1, first: index, last };
    if chain.count == BATCH {
        KEPT.with(|kept| kept.set(EMPTY));
        table.push_chain(chain.first, chain.last);
    } else {
        KEPT.with(|kept| kept.set(chain));
    }
    true
}

/// A slot of `table` this thread keeps, if any (the one it freed last).
pub fn take(table: &'static Table) -> Option<u32> {
    if cfg!(loom) {
        return None;
    }
    exclusively(|| take_now(table)).flatten()
}

fn take_now(table: &'static Table) -> Option<u32> {
    let chain = KEPT.with(Cell::get);
    if chain.count == 0 || !same(chain.table, table) {
        return None;
    }
    let index = chain.first;
    let rest = match table.next_free_of(index) {
        Some(next) => Chain { count: chain.count - 1, first: next, ..chain },
        None => EMPTY,
    };
    KEPT.with(|kept| kept.set(rest));
    Some(index)
}

/// Forgets the slots of `table` this thread keeps, without handing them over: the child of a
/// fork, which rebuilds its free list from every slot, kept ones included.
pub fn forget(table: &'static Table) {
    if cfg!(loom) {
        return;
    }
    KEPT.with(|kept| {
        if same(kept.get().table, table) {
            kept.set(EMPTY);
        }
    });
}
