//! Handle-table tests. They use a fake object that makes no system calls, so Miri can run
//! them (`make miri`).

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use super::{CloseHook, Handle, Kind, Object, Table};
use crate::error::{Error, StaleReason};

/// Records its drop; `alive` turns false when dropped, so a use after drop is detectable.
struct Fake {
    fd: i32,
    kind: Kind,
    alive: Arc<AtomicBool>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::SeqCst);
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl Object for Fake {
    fn kind(&self) -> Kind {
        self.kind
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: never used for a system call; the number is only a label here.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        let fd = self.fd;
        // Like a real kind giving up its descriptor: no drop side effects.
        std::mem::forget(self);
        // SAFETY: tests turn this straight back into a raw number without closing it.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }
}

struct Probe {
    alive: Arc<AtomicBool>,
    drops: Arc<AtomicUsize>,
}

fn fake(fd: i32, kind: Kind) -> (Box<dyn Object>, Probe) {
    let alive = Arc::new(AtomicBool::new(true));
    let drops = Arc::new(AtomicUsize::new(0));
    let object = Box::new(Fake { fd, kind, alive: alive.clone(), drops: drops.clone() });
    (object, Probe { alive, drops })
}

/// Held by the tests that advance the process-wide fork epoch, or need it still: they would
/// disturb each other run in parallel.
static EPOCH_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn table() -> &'static Table {
    Box::leak(Box::new(Table::new()))
}

fn insert(table: &'static Table, fd: i32, kind: Kind) -> (Handle, Probe) {
    let (object, probe) = fake(fd, kind);
    (table.insert(object).map_err(|(e, _)| e).unwrap(), probe)
}

#[test]
fn a_handle_works_until_closed_and_never_after() {
    let t = table();
    let (h, probe) = insert(t, 100, Kind::Pipe);
    assert_ne!(h, Handle::INVALID);
    assert_eq!(t.get(h).unwrap().kind(), Kind::Pipe);
    assert_eq!(t.get(h).map(|g| g.raw_fd()).unwrap(), 100);
    assert_eq!(t.close(h).unwrap(), 0);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    assert_eq!(t.get(h).err(), Some(Error::Stale(StaleReason::Closed)));
    assert_eq!(t.close(h).err(), Some(Error::Stale(StaleReason::Closed)));
    assert!(t.get(h).map(|g| g.raw_fd()).is_err());
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1, "a second close closes nothing");
}

#[test]
fn reused_slots_never_revive_old_handles() {
    let t = table();
    let mut old = Vec::new();
    for round in 0..200 {
        let (h, _probe) = insert(t, 7, Kind::EventFd);
        for stale in &old {
            assert!(t.get(*stale).is_err(), "round {round}: an old handle resolved");
        }
        assert_eq!(t.get(h).map(|g| g.raw_fd()).unwrap(), 7);
        t.close(h).unwrap();
        old.push(h);
    }
    // One slot served every round: same index, 200 distinct generations.
    assert!(old.iter().all(|h| h.index() == old[0].index()));
    let mut generations: Vec<u32> = old.iter().map(|h| h.generation()).collect();
    generations.dedup();
    assert_eq!(generations.len(), 200);
}

#[test]
fn zero_forged_and_never_issued_values_are_refused() {
    let t = table();
    assert_eq!(t.get(Handle::INVALID).err(), Some(Error::Stale(StaleReason::Zero)));
    let (h, _p) = insert(t, 5, Kind::Pipe);
    let newer = Handle::new(Kind::Pipe, h.generation() + 2, h.index());
    assert_eq!(t.get(newer).err(), Some(Error::Stale(StaleReason::NeverIssued)));
    let even = Handle::new(Kind::Pipe, h.generation() + 1, h.index());
    assert_eq!(t.get(even).err(), Some(Error::Stale(StaleReason::NeverIssued)));
    let other_kind = Handle::new(Kind::EventFd, h.generation(), h.index());
    assert_eq!(t.get(other_kind).err(), Some(Error::Stale(StaleReason::NeverIssued)));
    let unknown_kind = Handle(h.0 | (0xff << 56));
    assert!(t.get(unknown_kind).is_err());
    let far_index = Handle::new(Kind::Pipe, 1, 5_000_000);
    assert_eq!(t.get(far_index).err(), Some(Error::Stale(StaleReason::NeverIssued)));
    assert!(t.get(h).is_ok());
}

#[test]
fn close_waits_for_running_operations() {
    let t = table();
    let (h, probe) = insert(t, 9, Kind::Pipe);
    let running = t.get(h).unwrap();
    assert_eq!(t.close(h).unwrap(), 1, "one operation was running");
    assert!(t.get(h).is_err(), "no new operation may start");
    assert!(probe.alive.load(Ordering::SeqCst), "the running operation still has its object");
    assert_eq!(running.raw_fd(), 9);
    drop(running);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1, "the last operation closed it");
}

#[test]
fn release_hands_over_without_dropping_and_refuses_while_busy() {
    let t = table();
    let (h, probe) = insert(t, 11, Kind::Pipe);
    let busy = t.get(h).unwrap();
    assert_eq!(t.release(h).err().and_then(|e| e.errno()), Some(libc::EBUSY));
    drop(busy);
    let fd = t.release(h).unwrap().into_raw_fd();
    assert_eq!(fd, 11);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 0, "release does not run the kind's drop");
    assert!(t.get(h).is_err());
}

#[test]
fn a_descriptor_cannot_have_two_live_owners() {
    let t = table();
    let (h, _p) = insert(t, 21, Kind::Pipe);
    let (second, probe) = fake(21, Kind::Pipe);
    let (err, returned) = t.insert(second).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    drop(returned);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
    t.close(h).unwrap();
    let (again, _p2) = insert(t, 21, Kind::Pipe);
    assert!(t.get(again).is_ok(), "once the owner is gone the number may be owned again");
}

#[test]
fn a_slot_whose_generation_would_wrap_is_retired() {
    let t = table();
    let (h, _p) = insert(t, 3, Kind::Pipe);
    t.close(h).unwrap();
    let slot = t.slot_for_test(h.index()).unwrap();
    slot.force_generation(u32::MAX - 1); // free, next generation u32::MAX (the last odd one)
    let (last, _p) = insert(t, 3, Kind::Pipe);
    assert_eq!(last.index(), h.index());
    assert_eq!(last.generation(), u32::MAX);
    t.close(last).unwrap();
    let (next, _p) = insert(t, 3, Kind::Pipe);
    assert_ne!(next.index(), h.index(), "the retired slot is not reused");
    assert!(t.get(last).is_err());
}

#[test]
fn close_hooks_run_once_before_the_object_goes() {
    use std::sync::Mutex;
    // What each hook saw: (owner, key, descriptor, whether the object was still alive).
    static SEEN: Mutex<Vec<(u64, u64, i32, bool)>> = Mutex::new(Vec::new());
    static ALIVE: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
    fn record(_: &'static Table, closing: super::Closing<'_>, owner: u64, key: u64) {
        use std::os::fd::AsRawFd;
        let alive = ALIVE.lock().unwrap().as_ref().unwrap().load(Ordering::SeqCst);
        SEEN.lock().unwrap().push((owner, key, closing.fd.as_raw_fd(), alive));
    }
    let t = table();
    let (h, probe) = insert(t, 31, Kind::Pipe);
    *ALIVE.lock().unwrap() = Some(probe.alive.clone());
    // Three owners: the first hook is kept in the slot, the others beside it.
    for owner in 1..=3u64 {
        let guard = t.get(h).unwrap();
        guard.change_close_hooks(|hooks| {
            assert!(hooks.of_owner(owner).is_none());
            hooks.push(CloseHook { run: record, owner, key: owner * 10 });
        });
    }
    assert_eq!(t.get(h).unwrap().change_close_hooks(|hooks| hooks.of_owner(2).map(|hook| hook.key)), Some(20));
    // Removing the first (inline) one keeps the others.
    assert!(t.remove_close_hook(h, |hook| hook.key == 10).unwrap());
    assert!(!t.remove_close_hook(h, |hook| hook.key == 10).unwrap(), "removed once");
    t.close(h).unwrap();
    let mut seen = SEEN.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec![(2, 20, 31, true), (3, 30, 31, true)], "each remaining hook ran once, before the drop");
    assert!(t.remove_close_hook(h, |_| true).is_err(), "a closed handle has no hooks to change");
}

/// A close hook learns whether closing ends the descriptor's open file: only for a descriptor
/// fdsafe made, never lent, duplicated or sent (marked shared), with no fork since, and
/// closed (a release hands the descriptor on).
#[test]
fn hooks_learn_whether_closing_ends_the_file() {
    use std::sync::Mutex;
    static ENDS: Mutex<Vec<(u64, bool)>> = Mutex::new(Vec::new());
    fn record(_: &'static Table, closing: super::Closing<'_>, owner: u64, _: u64) {
        ENDS.lock().unwrap().push((owner, closing.file_ends));
    }
    let _epoch = EPOCH_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let t = table();
    let hooked = |h: Handle, owner: u64| t.get(h).unwrap().change_close_hooks(|hooks| hooks.push(CloseHook { run: record, owner, key: 0 }));
    let made = |fd: i32| t.insert_made(fake(fd, Kind::EventFd).0.into()).map_err(|(e, _)| e).unwrap();
    let sole = made(61);
    let lent = made(62);
    let released = made(63);
    let adopted = insert(t, 64, Kind::EventFd).0;
    let copied = t.insert_copy(fake(65, Kind::EventFd).0.into()).map_err(|(e, _)| e).unwrap();
    for (owner, h) in [(1, sole), (2, lent), (3, released), (4, adopted), (5, copied)] {
        hooked(h, owner);
    }
    t.get(lent).unwrap().mark_shared();
    for h in [sole, lent, adopted, copied] {
        t.close(h).unwrap();
    }
    let _fd = t.release(released).unwrap();
    std::mem::forget(_fd); // a fake number
    #[cfg(not(miri))]
    {
        let forked = made(66);
        hooked(forked, 6);
        super::fork::advance_epoch(); // a fork happened: a child may hold the file
        t.close(forked).unwrap();
    }
    let mut ends = ENDS.lock().unwrap().clone();
    ends.sort();
    let mut expected = vec![(1, true), (2, false), (3, false), (4, false), (5, false)];
    if cfg!(not(miri)) {
        expected.push((6, false));
    }
    assert_eq!(ends, expected);
}

#[test]
fn concurrent_use_and_close_never_touch_a_dropped_object() {
    let t = table();
    let threads = if cfg!(miri) { 3 } else { 4 };
    let rounds = if cfg!(miri) { 20 } else { 2000 };
    for round in 0..rounds {
        let (h, probe) = insert(t, 40 + round % 5, Kind::Pipe);
        let closed_by = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let closed_by = closed_by.clone();
                scope.spawn(move || {
                    for _ in 0..(if cfg!(miri) { 3 } else { 20 }) {
                        if let Ok(guard) = t.get(h) {
                            let fake = guard.downcast::<Fake>().unwrap();
                            assert!(fake.alive.load(Ordering::SeqCst), "object used after drop");
                        }
                        if t.close(h).is_ok() {
                            closed_by.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(closed_by.load(Ordering::SeqCst), 1, "exactly one close succeeds");
        assert_eq!(probe.drops.load(Ordering::SeqCst), 1, "dropped exactly once");
    }
    assert_eq!(t.live_count(), 0);
}

#[test]
fn many_threads_creating_and_closing_get_distinct_live_handles() {
    let t = table();
    let per_thread = if cfg!(miri) { 10 } else { 5000 };
    std::thread::scope(|scope| {
        for thread in 0..4 {
            scope.spawn(move || {
                for i in 0..per_thread {
                    let fd = 1000 + thread * 10_000 + i; // distinct, and dense like real descriptors
                    let (h, probe) = insert(t, fd, Kind::Pipe);
                    assert_eq!(t.get(h).map(|g| g.raw_fd()).unwrap(), fd);
                    t.close(h).unwrap();
                    assert_eq!(probe.drops.load(Ordering::SeqCst), 1);
                }
            });
        }
    });
    assert_eq!(t.live_count(), 0);
}

#[test]
fn a_second_owner_is_refused_and_gets_its_object_back_undropped() {
    let t = table();
    let (first, _p) = insert(t, 40, Kind::Pipe);
    let (object, probe) = fake(40, Kind::Other);
    let (err, refused) = t.insert(object).map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert_eq!(refused.raw_fd(), 40);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 0, "a refused object comes back undropped");
    drop(refused);
    assert_eq!(t.owner_of(40), Some(first), "the first owner stays recorded");
    assert_eq!(t.live_count(), 1);
    t.close(first).unwrap();
    assert_eq!(t.owner_of(40), None, "cleared by the close");
    assert_eq!(t.live_count(), 0);
}

#[test]
fn of_threads_adopting_the_same_number_at_once_exactly_one_wins() {
    let t = table();
    let rounds = if cfg!(miri) { 3 } else { 2000 };
    for round in 0..rounds {
        let fd = 100 + round % 50;
        let won = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let (object, _probe) = fake(fd, Kind::Pipe);
                    if let Ok(h) = t.insert(object) {
                        won.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(t.owner_of(fd), Some(h));
                    }
                });
            }
        });
        assert_eq!(won.load(Ordering::SeqCst), 1, "round {round}: one owner per number");
        t.close(t.owner_of(fd).unwrap()).unwrap();
    }
    assert_eq!(t.live_count(), 0);
}

/// [`Table::insert_copy`] of one descriptor.
fn insert_received(t: &'static Table, fd: OwnedFd) -> Result<Handle, (Error, OwnedFd)> {
    t.insert_copy(super::PlainFd::from_fd(fd).into()).map_err(|(e, object)| (e, object.into_fd()))
}

#[test]
fn a_received_number_is_refused_only_while_a_live_handle_records_it() {
    let t = table();
    // A live handle whose descriptor was closed behind fdsafe's back: the kernel may give the
    // number out again, and the received descriptor must not get a second owner.
    let (stale_owner, _p) = insert(t, 500, Kind::Pipe);
    let received = unsafe { <OwnedFd as FromRawFd>::from_raw_fd(500) };
    let (err, back) = insert_received(t, received).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert_eq!(back.into_raw_fd(), 500, "the descriptor comes back");
    assert_eq!(t.owner_of(500), Some(stale_owner));
    t.close(stale_owner).unwrap();
    // Once that owner is gone the number is free, and a received one takes it.
    let received = unsafe { <OwnedFd as FromRawFd>::from_raw_fd(500) };
    let h = insert_received(t, received).map_err(|(e, _)| e).unwrap();
    assert_eq!((t.owner_of(500), t.get(h).unwrap().kind()), (Some(h), Kind::Other));
    assert_eq!(t.release(h).unwrap().into_raw_fd(), 500, "released without closing");
    assert_eq!(t.owner_of(500), None);
}

#[test]
fn a_claim_counts_as_owning_before_its_slot_is_filled() {
    let t = table();
    let (h, _p) = insert(t, 45, Kind::Pipe);
    t.close(h).unwrap();
    // What `insert` records before filling: the handle of the slot's next generation.
    let pending = Handle::new(Kind::Pipe, h.generation() + 2, h.index());
    let slot = t.slot_for_test(h.index()).unwrap();
    assert!(slot.held_by(pending.generation()), "not filled yet, yet held");
    assert!(!slot.held_by(h.generation()), "the closed generation holds nothing");
}

#[test]
fn a_closing_handle_still_owns_its_number() {
    let t = table();
    let (h, _p) = insert(t, 46, Kind::Pipe);
    let guard = t.get(h).unwrap(); // a call in progress: the close waits for it
    assert!(t.close(h).is_ok());
    assert_eq!(t.owner_of(46), Some(h), "the descriptor is still open, and still fdsafe's");
    drop(guard); // the last call returns: the slot is taken and the number let go
    assert_eq!(t.owner_of(46), None);
}

#[test]
fn close_many_closes_like_close_and_frees_every_slot() {
    let t = table();
    let mut handles = Vec::new();
    let mut probes = Vec::new();
    for fd in 50..60 {
        let (h, p) = insert(t, fd, Kind::EventFd);
        handles.push(h);
        probes.push(p);
    }
    // One handle is in use by another operation: close marks it, its drop waits.
    let busy = t.get(handles[3]).unwrap();
    let stale = handles[9];
    t.close(stale).unwrap();
    let list = handles.iter().copied().chain([Handle::INVALID, handles[0]]);
    assert_eq!(t.close_many(list), 9, "9 live handles; 0, a closed one and a repeat are skipped");
    for (i, p) in probes.iter().enumerate() {
        let expected = usize::from(i != 3);
        assert_eq!(p.drops.load(Ordering::SeqCst), expected, "object {i}");
    }
    assert!(handles.iter().all(|&h| t.get(h).is_err()), "no handle resolves after close_many");
    assert_eq!(t.live_count(), 1, "all are gone once close_many returns, but the busy one");
    drop(busy);
    assert_eq!(probes[3].drops.load(Ordering::SeqCst), 1);
    assert_eq!(t.live_count(), 0);
    // Every slot went back to the free list: ten new objects reuse them, with new generations.
    let again: Vec<Handle> = (50..60).map(|fd| insert(t, fd, Kind::EventFd).0).collect();
    let mut old_slots: Vec<u32> = handles.iter().map(|h| h.index()).collect();
    let mut new_slots: Vec<u32> = again.iter().map(|h| h.index()).collect();
    old_slots.sort_unstable();
    new_slots.sort_unstable();
    assert_eq!(old_slots, new_slots);
    assert!(handles.iter().all(|h| t.get(*h).is_err()), "old handles stay dead after reuse");
    assert_eq!(t.close_many(again.iter().copied()), 10);
    assert_eq!(t.live_count(), 0);
}

#[test]
fn a_forged_even_generation_never_reaches_a_free_slot() {
    let t = table();
    let (h, _p) = insert(t, 90, Kind::Pipe); // allocates a page of free slots next to it
    let free_neighbour = Handle::new(Kind::Pipe, 0, h.index() + 1);
    assert!(t.get(free_neighbour).is_err(), "generation 0: a free slot");
    let freed = Handle::new(Kind::Pipe, h.generation() + 1, h.index());
    t.close(h).unwrap();
    assert!(t.get(freed).is_err(), "the even generation of a freed slot");
    assert!(t.get(Handle(h.index() as u64 + 1)).is_err(), "kind 0, generation 0");
}

#[test]
fn plain_descriptors_are_stored_inline_and_behave_like_any_object() {
    let t = table();
    // Leaked on purpose: the number 95 is never a real descriptor of this process, and a
    // PlainFd closes what it holds; the test gives it back before that.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(95) };
    let h = t.insert(super::PlainFd::from_fd(fd)).map_err(|(e, _)| e).unwrap();
    {
        let guard = t.get(h).unwrap();
        assert_eq!(guard.kind(), Kind::Other);
        assert_eq!(guard.raw_fd(), 95);
        assert!(guard.downcast::<super::PlainFd>().is_some());
        assert!(guard.downcast::<Fake>().is_none());
    }
    assert_eq!(t.release(h).unwrap().into_raw_fd(), 95, "released without closing");
    assert!(t.get(h).is_err());
}

#[test]
fn every_changed_bit_of_a_live_handle_is_refused() {
    let t = table();
    let (h, probe) = insert(t, 120, Kind::EventFd);
    let (other, _p) = insert(t, 121, Kind::Pipe);
    for bit in 0..64 {
        let forged = Handle(h.0 ^ (1 << bit));
        if forged == other {
            continue;
        }
        assert!(t.get(forged).is_err(), "bit {bit}");
        assert!(!t.is_live(forged), "bit {bit}");
        assert!(t.close(forged).is_err(), "bit {bit}");
        assert!(t.release(forged).is_err(), "bit {bit}");
    }
    assert_eq!(t.get(h).unwrap().raw_fd(), 120, "the live handle is untouched");
    assert!(probe.alive.load(Ordering::SeqCst));
}

#[test]
fn a_forked_child_forgets_other_threads_references_and_finishes_their_closes() {
    let _epoch = EPOCH_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let t = table();
    // Numbers no test opens: the child's walk closes a finished close's number for real.
    let (closing, closing_probe) = insert(t, 19_990, Kind::EventFd);
    let (used, used_probe) = insert(t, 19_991, Kind::EventFd);
    // Two threads of the parent that do not come along: one inside a call on each handle.
    std::mem::forget(t.get(closing).unwrap());
    std::mem::forget(t.get(used).unwrap());
    assert_eq!(t.close(closing).unwrap(), 1, "its close waits for the vanished thread");
    assert!(closing_probe.alive.load(Ordering::SeqCst));
    // The fork begins (what `prepare` does), and a third thread inserts a handle before the
    // kernel copies the memory: in the child its number may be another file.
    super::fork::advance_epoch();
    let (made_at_fork, made_probe) = insert(t, 19_992, Kind::EventFd);
    // What the child's fork handler does: the waiting close completes at once (its number
    // closed, its object left undropped: nothing may free memory in a fork handler)...
    t.after_fork_in_child();
    assert_eq!(closing_probe.drops.load(Ordering::SeqCst), 0);
    assert!(t.get(closing).is_err());
    // ...the handle made during the fork is closed the same way...
    assert!(t.get(made_at_fork).is_err(), "a handle inserted during the fork is closed in the child");
    assert_eq!(made_probe.drops.load(Ordering::SeqCst), 0);
    // ...and the other handle closes idle, as if nobody had been inside it.
    assert_eq!(t.close(used).unwrap(), 0);
    assert_eq!(used_probe.drops.load(Ordering::SeqCst), 1);
    assert_eq!(t.live_count(), 0);
}

#[test]
fn release_is_refused_while_a_reference_is_held_and_leaves_the_handle_live() {
    let t = table();
    let (h, probe) = insert(t, 140, Kind::Pipe);
    let held = t.get(h).unwrap();
    assert_eq!(t.release(h).err(), Some(Error::Os { errno: libc::EBUSY, context: Some("release: other threads are using the handle".into()) }));
    drop(held);
    assert_eq!(t.release(h).unwrap().into_raw_fd(), 140);
    assert_eq!(probe.drops.load(Ordering::SeqCst), 0, "released, not dropped");
    assert!(t.get(h).is_err());
}

/// Inserts `n` objects on numbers from `first_fd` and closes them: the indices they had.
fn insert_and_close(t: &'static Table, first_fd: i32, n: u32) -> Vec<u32> {
    let handles: Vec<Handle> = (0..n).map(|i| insert(t, first_fd + i as i32, Kind::Pipe).0).collect();
    for &h in &handles {
        t.close(h).unwrap();
    }
    handles.iter().map(|h| h.index()).collect()
}

/// The indices `n` new objects get (the objects stay live).
fn indices_of_new(t: &'static Table, first_fd: i32, n: u32) -> Vec<u32> {
    (0..n).map(|i| insert(t, first_fd + i as i32, Kind::Pipe).0.index()).collect()
}

#[test]
fn a_thread_hands_its_freed_slots_to_the_others_a_batch_at_a_time() {
    use super::kept::BATCH;
    let t = table();
    let (go_on, wait) = std::sync::mpsc::channel::<()>();
    let (report, freed) = std::sync::mpsc::channel::<Vec<u32>>();
    let closer = std::thread::spawn(move || {
        let handles: Vec<Handle> = (0..BATCH).map(|i| insert(t, 1_000 + i as i32, Kind::Pipe).0).collect();
        // One short of a batch: the thread keeps them.
        for &h in &handles[1..] {
            t.close(h).unwrap();
        }
        report.send(handles[1..].iter().map(|h| h.index()).collect()).unwrap();
        wait.recv().unwrap();
        // The batch's last: all of them go to the shared list.
        t.close(handles[0]).unwrap();
        report.send(vec![handles[0].index()]).unwrap();
        wait.recv().unwrap();
        // Three more, kept until the thread exits.
        insert_and_close(t, 1_200, 3)
    });
    let kept = freed.recv().unwrap();
    let elsewhere = indices_of_new(t, 2_000, 4);
    assert!(elsewhere.iter().all(|i| !kept.contains(i)), "another thread took a slot still kept");
    go_on.send(()).unwrap();
    let mut batch = kept.clone();
    batch.extend(freed.recv().unwrap());
    batch.sort_unstable();
    let mut reused = indices_of_new(t, 3_000, BATCH);
    reused.sort_unstable();
    assert_eq!(reused, batch, "the handed-over batch serves the other threads' next inserts");
    go_on.send(()).unwrap();
    let mut at_exit = closer.join().unwrap();
    at_exit.sort_unstable();
    let mut reused = indices_of_new(t, 4_000, 3);
    reused.sort_unstable();
    assert_eq!(reused, at_exit, "a thread hands its kept slots over when it exits");
}

#[test]
fn a_thread_reuses_the_slots_it_freed_without_the_shared_list() {
    let t = table();
    let freed = insert_and_close(t, 5_000, 4);
    let mut again = indices_of_new(t, 5_100, 4);
    again.reverse(); // the last freed is taken first
    assert_eq!(again, freed);
}

#[test]
fn a_forked_child_gets_back_the_slots_that_other_threads_kept() {
    let _epoch = EPOCH_TESTS.lock().unwrap_or_else(|p| p.into_inner());
    let t = table();
    let (report, freed) = std::sync::mpsc::channel::<Vec<u32>>();
    // A thread that does not come along: it keeps three freed slots and vanishes with them
    // (its exit would hand them over, which in a real child never happens).
    std::thread::spawn(move || {
        report.send(insert_and_close(t, 6_000, 3)).unwrap();
        super::kept::forget(t);
    })
    .join()
    .unwrap();
    let mut kept = freed.recv().unwrap();
    let own = insert_and_close(t, 6_100, 2); // this thread's own, kept too
    // What the child's fork handler does.
    t.after_fork_in_child();
    kept.extend(own);
    kept.sort_unstable();
    let mut reused = indices_of_new(t, 6_200, 5);
    reused.sort_unstable();
    assert_eq!(reused, kept, "the child reuses every free slot, kept ones included");
    let next = indices_of_new(t, 6_300, 1)[0];
    assert!(!kept.contains(&next), "no slot is handed out twice");
    assert_eq!(t.live_count(), 6);
}

#[test]
fn a_closed_owner_left_recorded_never_refuses_the_number() {
    let t = table();
    let (first, _p) = insert(t, 7_000, Kind::Pipe);
    t.close(first).unwrap();
    assert_eq!(t.owner_of(7_000), None, "an ended owner owns nothing");
    // Its slot reused for another number: the old record still names nothing live.
    let (reuser, _q) = insert(t, 7_001, Kind::Pipe);
    assert_eq!(reuser.index(), first.index());
    let (second, _r) = insert(t, 7_000, Kind::Other);
    assert_eq!(t.owner_of(7_000), Some(second));
    let (object, _s) = fake(7_000, Kind::Pipe);
    assert!(t.insert(object).is_err(), "the live second owner refuses a third");
}

#[test]
fn a_signal_handler_that_interrupts_a_change_of_the_kept_slots_leaves_them_alone() {
    let t = table();
    let freed = insert_and_close(t, 8_000, 2); // kept by this thread
    // What a signal handler does when it interrupts this thread inside `kept::take` or
    // `kept::keep` and creates and closes a handle itself.
    super::kept::exclusively(|| {
        let (h, _p) = insert(t, 8_100, Kind::Pipe);
        assert!(!freed.contains(&h.index()), "the handler took a slot out of the chain being changed");
        t.close(h).unwrap();
    })
    .expect("not nested");
    let mut again = indices_of_new(t, 8_200, 2);
    again.reverse();
    assert_eq!(again, freed, "the kept slots are as they were");
}

#[test]
fn a_handle_of_another_table_is_refused() {
    // Two copies of fdsafe in one process (or one copy loaded twice) have a table each; a
    // table's slots start at a random generation, so one's handles do not name the other's.
    let (first, second) = (table(), table());
    let (h, _p) = insert(first, 9_000, Kind::Pipe);
    let (g, _q) = insert(second, 9_001, Kind::Pipe);
    assert_eq!(h.index(), g.index(), "the same slot in each table");
    assert_ne!(h, g, "the same handle value in two tables");
    // Refused as never issued (not "closed": the slot's generations are all above it or apart).
    assert!(matches!(second.get(h), Err(Error::Stale(StaleReason::NeverIssued))), "first's handle in the second");
    assert!(matches!(first.get(g), Err(Error::Stale(StaleReason::NeverIssued))), "second's handle in the first");
}

#[test]
fn neighbouring_slots_do_not_share_a_generation() {
    // A handle value off by one in its slot bits (a caller's off-by-one, a flipped bit) must
    // not name the neighbour's live handle: consecutive slots start at different generations.
    let t = table();
    let live: Vec<Handle> = (0..64).map(|i| insert(t, 10_000 + i, Kind::Pipe).0).collect();
    for pair in live.windows(2) {
        assert_ne!(pair[0].generation(), pair[1].generation(), "slots {} and {}", pair[0].index(), pair[1].index());
    }
    for h in &live {
        for bit in 0..24 {
            let neighbour = Handle(h.0 ^ (1 << bit));
            assert!(t.get(neighbour).is_err(), "{:#x} with slot bit {bit} flipped names a live handle", h.0);
        }
    }
}
