//! The registrations of one epoll instance: written under a lock, read by waits without one.
//!
//! A wait translates every event the kernel reports (a token) into the registration's handle
//! and user value. Under a mutex that was two more locked instructions on the set's shared
//! cache line per wait, plus a fork section: 21 ns of a 212 ns wait (one ready event of one,
//! `make bench`), and every thread waiting on one set wrote the same line. So the
//! registrations live in entries that never move and are read like a sequence lock, the
//! token doing the sequence's work:
//!
//! * an entry's token is the registration's token while it lives, 0 while the entry is free;
//! * a token names its entry (the low [`INDEX_BITS`]) and the entry's generation (the next 16
//!   bits), and carries the process's range above (see the module above), so a token is
//!   never handed out twice for one instance by one process: an entry whose generations are
//!   used up is retired, not reused;
//! * a reader loads the token (acquire), the target and the user value, then the token again
//!   behind an acquire fence; a writer reusing an entry stores 0 first, then a release fence,
//!   the values, and the new token (release). A reader that saw its token twice read the
//!   values of that registration; one that saw anything else drops the event, which is right,
//!   because an entry changes token only when its registration ended.
//!
//! Entries sit in chunks of doubling size, allocated under the lock and freed only when the
//! record is dropped, so a reader never meets freed memory. The user value may change under a
//! reader (`EPOLL_CTL_MOD`): it reads the old value or the new one, as a wait racing a modify
//! would anyway.

use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::handles::{self, Handle, Table};

/// Bits of a token that name its entry.
pub(super) const INDEX_BITS: u32 = 24;
const INDEX_MASK: u64 = (1 << INDEX_BITS) - 1;
/// Bits above the index that carry the entry's generation, below the process range.
const GENERATION_BITS: u32 = 16;
const LAST_GENERATION: u16 = u16::MAX;
/// Entries in the first chunk; chunk `k` holds `FIRST_CHUNK << k`.
const FIRST_CHUNK: usize = 64;
/// Enough chunks for every index a token can name.
const CHUNKS: usize = (INDEX_BITS - FIRST_CHUNK.trailing_zeros() + 1) as usize;

/// What a wait reports for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Registration {
    pub target: Handle,
    pub user: u64,
}

#[derive(Default)]
struct Entry {
    token: AtomicU64,
    target: AtomicU64,
    user: AtomicU64,
}

/// The chunk and the offset in it where entry `index` lives.
fn locate(index: usize) -> (usize, usize) {
    let shifted = index + FIRST_CHUNK;
    let chunk = (usize::BITS - 1 - shifted.leading_zeros()) as usize - FIRST_CHUNK.trailing_zeros() as usize;
    (chunk, shifted - (FIRST_CHUNK << chunk))
}

/// What only writers touch, under the lock.
#[derive(Default)]
struct Book {
    /// Entries free for reuse, with the generation their next token gets.
    free: Vec<(u32, u16)>,
    /// Entries below this have been used at least once (their chunks exist).
    used: u32,
    /// Live registrations (entries with a token).
    live: usize,
    /// `live` after the last sweep.
    swept: usize,
}

/// The smallest record that is swept at an add.
pub(super) const SWEEP_FROM: usize = 64;

pub(super) struct Registry {
    chunks: [AtomicPtr<Entry>; CHUNKS],
    book: Mutex<Book>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry { chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())), book: Mutex::new(Book::default()) }
    }

    fn entry(&self, index: usize) -> Option<&Entry> {
        let (chunk, offset) = locate(index);
        let base = self.chunks.get(chunk)?.load(Ordering::Acquire);
        // SAFETY: a published chunk holds `FIRST_CHUNK << chunk` entries and lives as long as
        // the registry; `offset` is below that.
        (!base.is_null()).then(|| unsafe { &*base.add(offset) })
    }

    /// The registration `token` names, if it is still in the set. Takes no lock.
    #[inline]
    pub fn get(&self, token: u64) -> Option<Registration> {
        let entry = self.entry((token & INDEX_MASK) as usize)?;
        if token == 0 || entry.token.load(Ordering::Acquire) != token {
            return None;
        }
        let target = entry.target.load(Ordering::Relaxed);
        let user = entry.user.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (entry.token.load(Ordering::Relaxed) == token).then_some(Registration { target: Handle(target), user })
    }

    /// The writers' side, inside a fork section (so a `fork()` never finds it half changed).
    pub fn write(&self) -> Writer<'_> {
        let section = handles::fork_section();
        Writer { registry: self, book: self.book.lock().unwrap_or_else(|p| p.into_inner()), _section: section }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for (chunk, pointer) in self.chunks.iter_mut().enumerate() {
            let base = *pointer.get_mut();
            if !base.is_null() {
                // SAFETY: made by `Writer::reserve` as a boxed slice of this length.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(base, FIRST_CHUNK << chunk)) });
            }
        }
    }
}

pub(super) struct Writer<'a> {
    registry: &'a Registry,
    book: MutexGuard<'a, Book>,
    _section: handles::ForkSection,
}

impl Writer<'_> {
    /// Records a registration and returns its token, `range` in the bits above the
    /// generation. `ENOSPC` when every entry a token can name is in use or retired.
    pub fn insert(&mut self, target: Handle, user: u64, range: u64) -> Result<u64> {
        let (index, generation) = match self.book.free.pop() {
            Some(free) => free,
            None => (self.reserve()?, 1),
        };
        let entry = self.registry.entry(index as usize).expect("reserved entries have chunks");
        let token = range | (generation as u64) << INDEX_BITS | index as u64;
        // The sequence lock's write (see the module documentation).
        entry.token.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        entry.target.store(target.0, Ordering::Relaxed);
        entry.user.store(user, Ordering::Relaxed);
        entry.token.store(token, Ordering::Release);
        self.book.live += 1;
        Ok(token)
    }

    /// An entry never used, its chunk allocated.
    fn reserve(&mut self) -> Result<u32> {
        let index = self.book.used;
        if index as u64 > INDEX_MASK {
            return Err(Error::from_errno(libc::ENOSPC).context("too many registrations in one epoll set"));
        }
        let (chunk, _) = locate(index as usize);
        let pointer = &self.registry.chunks[chunk];
        if pointer.load(Ordering::Relaxed).is_null() {
            let entries: Box<[Entry]> = (0..FIRST_CHUNK << chunk).map(|_| Entry::default()).collect();
            pointer.store(Box::into_raw(entries) as *mut Entry, Ordering::Release);
        }
        self.book.used += 1;
        Ok(index)
    }

    fn live_entry(&self, token: u64) -> Option<&Entry> {
        let entry = self.registry.entry((token & INDEX_MASK) as usize)?;
        (token != 0 && entry.token.load(Ordering::Relaxed) == token).then_some(entry)
    }

    /// Ends the registration `token` names; what it was, if it was still recorded.
    pub fn remove(&mut self, token: u64) -> Option<Registration> {
        let entry = self.live_entry(token)?;
        let was = Registration { target: Handle(entry.target.load(Ordering::Relaxed)), user: entry.user.load(Ordering::Relaxed) };
        entry.token.store(0, Ordering::Relaxed);
        self.book.live -= 1;
        let generation = ((token >> INDEX_BITS) & ((1 << GENERATION_BITS) - 1)) as u16;
        if generation < LAST_GENERATION {
            self.book.free.push(((token & INDEX_MASK) as u32, generation + 1));
        }
        Some(was)
    }

    /// Replaces the user value of `token`'s registration; the old one, if it is recorded.
    pub fn set_user(&mut self, token: u64, user: u64) -> Option<u64> {
        Some(self.live_entry(token)?.user.swap(user, Ordering::Relaxed))
    }

    /// Every live registration's token and record.
    pub fn live(&self) -> Vec<(u64, Registration)> {
        (0..self.book.used as usize)
            .filter_map(|index| {
                let entry = self.registry.entry(index)?;
                let token = entry.token.load(Ordering::Relaxed);
                (token != 0).then(|| {
                    (token, Registration { target: Handle(entry.target.load(Ordering::Relaxed)), user: entry.user.load(Ordering::Relaxed) })
                })
            })
            .collect()
    }

    /// Ends every registration; returns them.
    pub fn drain(&mut self) -> Vec<(u64, Registration)> {
        let all = self.live();
        for &(token, _) in &all {
            self.remove(token);
        }
        all
    }

    /// The number of registrations recorded (targets that closed included, until a sweep).
    pub fn len(&self) -> usize {
        self.book.live
    }

    /// Ends the registrations of targets that are no longer live in `table`.
    pub fn sweep(&mut self, table: &'static Table) {
        for (token, record) in self.live() {
            if !table.is_live(record.target) {
                self.remove(token);
            }
        }
        self.book.swept = self.book.live;
    }

    /// Sweeps when the record has doubled since the last sweep, so a sweep's cost is spread
    /// over the adds that made it due, and the record is at most twice the live registrations
    /// plus those that closed since.
    pub fn sweep_if_due(&mut self, table: &'static Table) {
        if self.book.live >= SWEEP_FROM.max(2 * self.book.swept) {
            self.sweep(table);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_fill_the_chunks_in_order() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let last = INDEX_MASK as usize;
        let (chunk, offset) = locate(last);
        assert!(chunk < CHUNKS && offset < FIRST_CHUNK << chunk, "the last index fits");
    }

    #[test]
    fn a_token_reads_back_until_its_registration_ends() {
        let registry = Registry::new();
        let range = 5 << 40;
        let first = registry.write().insert(Handle(11), 1, range).unwrap();
        assert_eq!(first >> 40, 5);
        assert_eq!(registry.get(first), Some(Registration { target: Handle(11), user: 1 }));
        assert_eq!(registry.write().set_user(first, 2), Some(1));
        assert_eq!(registry.get(first).unwrap().user, 2);
        assert_eq!(registry.write().remove(first).unwrap().target, Handle(11));
        assert_eq!(registry.get(first), None, "an ended registration");
        let second = registry.write().insert(Handle(12), 3, range).unwrap();
        assert_eq!(second & INDEX_MASK, first & INDEX_MASK, "the entry is reused");
        assert_ne!(second, first, "with a new generation");
        assert_eq!(registry.get(first), None, "the old token names nothing");
        assert_eq!(registry.get(0), None);
        assert_eq!(registry.get(range | 1 << INDEX_BITS | 999_999), None, "an entry never made");
    }

    #[test]
    fn an_entry_whose_generations_are_spent_is_retired() {
        let registry = Registry::new();
        let mut writer = registry.write();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..LAST_GENERATION {
            let token = writer.insert(Handle(1), 0, 0).unwrap();
            assert!(seen.insert(token), "token {token:#x} handed out twice");
            assert_eq!(token & INDEX_MASK, 0);
            writer.remove(token);
        }
        let next = writer.insert(Handle(1), 0, 0).unwrap();
        assert_eq!(next & INDEX_MASK, 1, "entry 0 retired after its last generation");
    }

    /// Readers racing a writer that ends and reuses entries never see one registration's
    /// target with another's user value, nor a registration under a token not its own.
    #[test]
    fn readers_never_mix_registrations() {
        let registry = Registry::new();
        let latest = AtomicU64::new(0);
        let done = std::sync::atomic::AtomicBool::new(false);
        let found_one = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        let mut seen = 0u64;
                        while !done.load(Ordering::Relaxed) {
                            if let Some(found) = registry.get(latest.load(Ordering::Relaxed)) {
                                assert_eq!(found.target.0, found.user, "a torn registration");
                                seen += 1;
                                found_one.store(true, Ordering::Relaxed);
                            }
                        }
                        seen
                    })
                })
                .collect();
            // At least this many rounds, and on until a reader has found a registration (on
            // a loaded machine the readers may not have run at all by then).
            let rounds = if cfg!(miri) { 200 } else { 200_000u64 };
            for k in (1..).take_while(|&k| k <= rounds || !found_one.load(Ordering::Relaxed)) {
                let mut writer = registry.write();
                let token = writer.insert(Handle(k), k, 0).unwrap();
                latest.store(token, Ordering::Relaxed);
                if k % 2 == 0 {
                    writer.remove(token);
                }
            }
            done.store(true, Ordering::Relaxed);
            let seen: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
            assert!(seen > 0, "the readers found no registration at all");
        });
    }
}
