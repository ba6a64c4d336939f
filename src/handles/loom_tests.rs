//! Model checks of the handle table's protocol with loom: every interleaving (up to a
//! preemption bound) of two or three threads that use, close, release and reinsert handles.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --lib loom_tests --target-dir
//! target/loom -- --test-threads=1`. `LOOM_MAX_PREEMPTIONS` overrides each test's bound.
//!
//! What every test checks, over all the interleavings it explores:
//! - an object is never dropped while a guard on it lives: every use through a guard asserts
//!   the fake object's `alive` flag, and reads a loom cell that the object's drop (and its
//!   hand-over by release) writes, so loom also reports a use that is not ordered before the
//!   drop by the protocol's atomics;
//! - every closed object is dropped exactly once (its drop asserts it was alive), and a
//!   released one never;
//! - a handle that failed once, or whose close returned, never resolves again, even after its
//!   slot holds a new object; a guard always reaches the object its handle was issued for;
//! - the free list never hands out an index that a live handle holds.
//!
//! The fake descriptor numbers are never real descriptors: a fake object's drop closes
//! nothing, and release hands the number back without closing it.

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::model::Builder;
use loom::sync::atomic::AtomicU64;
use loom::thread::JoinHandle;

use super::{Guard, Handle, Kind, Object, Table};
use crate::error::{Error, StaleReason};

/// What a live fake object's payload holds.
const LIVE: u64 = 0x5eed;

/// A cell that guards read and the object's end writes, so that loom checks that every read
/// happens before the end. `Sync` as the table's protocol makes it: writes only once no
/// guard is left.
struct Payload(UnsafeCell<u64>);

// SAFETY: written only by the object's drop or hand-over, which the protocol orders after
// every guard's read (which is what loom checks).
unsafe impl Sync for Payload {}

/// A descriptor object that makes no system call. `alive` and `drops` are the standard
/// library's atomics: loom runs one thread at a time, so they record the order of events in
/// the interleaving being explored without adding interleavings of their own.
struct Fake {
    fd: RawFd,
    payload: Payload,
    alive: Arc<AtomicBool>,
    drops: Arc<AtomicUsize>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.payload.0.with_mut(|payload| unsafe { *payload = 0 });
        assert!(self.alive.swap(false, SeqCst), "object {} dropped twice", self.fd);
        self.drops.fetch_add(1, SeqCst);
    }
}

impl Object for Fake {
    fn kind(&self) -> Kind {
        Kind::Pipe
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: never used for a system call; the number is only a label here.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        // The hand-over must come after every guard's use, like a drop.
        self.payload.0.with_mut(|payload| unsafe { *payload = 0 });
        assert!(self.alive.load(SeqCst), "object {} released after its drop", self.fd);
        let fd = self.fd;
        // Like a real kind giving up its descriptor: no drop side effects.
        std::mem::forget(self);
        // SAFETY: the tests turn this straight back into a number without closing it.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }
}

/// Another kind with the same behaviour, so a reused slot can change kind too.
struct FakeEventFd(Fake);

impl Object for FakeEventFd {
    fn kind(&self) -> Kind {
        Kind::EventFd
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
    fn into_fd(self: Box<Self>) -> OwnedFd {
        Box::new(self.0).into_fd()
    }
}

/// What a test keeps of an object it gave to the table.
struct Probe {
    alive: Arc<AtomicBool>,
    drops: Arc<AtomicUsize>,
}

impl Probe {
    fn drops(&self) -> usize {
        self.drops.load(SeqCst)
    }
    fn alive(&self) -> bool {
        self.alive.load(SeqCst)
    }
}

fn fake(fd: RawFd) -> (Fake, Probe) {
    let alive = Arc::new(AtomicBool::new(true));
    let drops = Arc::new(AtomicUsize::new(0));
    let object = Fake { fd, payload: Payload(UnsafeCell::new(LIVE)), alive: alive.clone(), drops: drops.clone() };
    (object, Probe { alive, drops })
}

/// A fresh table for one execution of a model (loom's atomics live for one execution).
fn table() -> &'static Table {
    Box::leak(Box::new(Table::new()))
}

fn insert_kind(table: &'static Table, fd: RawFd, kind: Kind) -> (Handle, Probe) {
    let (object, probe) = fake(fd);
    let object: Box<dyn Object> = match kind {
        Kind::Pipe => Box::new(object),
        Kind::EventFd => Box::new(FakeEventFd(object)),
        _ => unreachable!(),
    };
    let handle = table.insert(object).map_err(|(err, _)| err).expect("insert");
    assert_eq!(handle.kind(), Some(kind));
    (handle, probe)
}

fn insert(table: &'static Table, fd: RawFd) -> (Handle, Probe) {
    insert_kind(table, fd, Kind::Pipe)
}

/// One operation's use of the object: it must be the one the handle was issued for, alive.
fn use_guard(guard: &Guard, fd: RawFd) {
    let object = guard.object();
    let fake = match guard.kind() {
        Kind::Pipe => guard.downcast::<Fake>().expect("a pipe handle holds a Fake"),
        Kind::EventFd => &guard.downcast::<FakeEventFd>().expect("an eventfd handle holds a FakeEventFd").0,
        kind => panic!("unexpected kind {kind:?}"),
    };
    assert!(fake.alive.load(SeqCst), "object {} used after its drop", fake.fd);
    assert_eq!(fake.fd, fd, "a handle resolved to another object");
    assert_eq!(guard.raw_fd(), fd);
    assert_eq!(object.raw_fd(), fd);
    fake.payload.0.with(|payload| assert_eq!(unsafe { *payload }, LIVE, "object {fd} read after its end"));
}

/// Gets, uses and drops a guard on `handle`; `false` if the handle is closed (the only way a
/// handle that was once live may fail).
fn try_use(table: &'static Table, handle: Handle, fd: RawFd) -> bool {
    match table.get(handle) {
        Ok(guard) => {
            use_guard(&guard, fd);
            true
        }
        Err(err) => {
            assert_eq!(err, Error::Stale(StaleReason::Closed));
            false
        }
    }
}

fn assert_closed(table: &'static Table, handle: Handle) {
    assert_eq!(table.get(handle).err(), Some(Error::Stale(StaleReason::Closed)));
    assert_eq!(table.close(handle).err(), Some(Error::Stale(StaleReason::Closed)));
    assert!(!table.is_live(handle));
}

fn is_busy(err: &Error) -> bool {
    err.errno() == Some(libc::EBUSY)
}

/// Which outcomes a model reached, over all its interleavings: each test asserts that the
/// races it is about did happen both ways (a model that never reaches a case checks nothing
/// about it).
#[derive(Clone)]
struct Outcomes(Arc<Vec<(&'static str, AtomicUsize)>>);

impl Outcomes {
    fn new(names: &[&'static str]) -> Outcomes {
        Outcomes(Arc::new(names.iter().map(|&name| (name, AtomicUsize::new(0))).collect()))
    }
    fn saw(&self, name: &str) {
        let (_, count) = self.0.iter().find(|(known, _)| *known == name).expect("a declared outcome");
        count.fetch_add(1, SeqCst);
    }
    fn assert_all_seen(&self) {
        for (name, count) in self.0.iter() {
            assert_ne!(count.load(SeqCst), 0, "no interleaving reached: {name}");
        }
    }
}

/// A model thread. Loom's threads are coroutines with small stacks by default.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    loom::thread::Builder::new().stack_size(1 << 18).spawn(f).expect("spawn a model thread")
}

/// Explores `body` with at most `preemptions` preemptions per interleaving (`None`: every
/// interleaving; `LOOM_MAX_PREEMPTIONS` overrides either), and prints how many it ran. The
/// body runs on a thread with a larger stack than loom's first one, which a `Table` (its
/// descriptor owners' page array) does not fit on.
fn check(name: &str, preemptions: Option<usize>, body: impl Fn() + Send + Sync + 'static) {
    let mut builder = Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = preemptions;
    }
    let body = Arc::new(body);
    let executions = Arc::new(AtomicUsize::new(0));
    let counted = executions.clone();
    let start = std::time::Instant::now();
    builder.check(move || {
        counted.fetch_add(1, SeqCst);
        let body = body.clone();
        loom::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || body())
            .expect("spawn the model's main thread")
            .join()
            .unwrap();
    });
    eprintln!(
        "{name}: {} interleavings, preemption bound {:?}, {:.2?}",
        executions.load(SeqCst),
        builder.preemption_bound,
        start.elapsed()
    );
}

/// A use races a close: the use sees the live object or a closed handle, never a dropped
/// object; the object is dropped once, by the close if idle or by the use's guard if not; a
/// handle that failed once never resolves again.
#[test]
fn use_races_close() {
    let outcomes = Outcomes::new(&["idle close", "busy close", "use refused"]);
    let seen = outcomes.clone();
    check("use_races_close", None, move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let user = spawn(move || {
            let first = try_use(t, h, 10);
            let second = try_use(t, h, 10);
            assert!(first || !second, "a closed handle resolved again");
            first
        });
        let running = t.close(h).expect("the only close succeeds");
        if running == 0 {
            seen.saw("idle close");
            assert_eq!(probe.drops(), 1, "an idle close drops the object itself");
        } else {
            seen.saw("busy close");
        }
        assert!(!t.is_live(h));
        assert!(!try_use(t, h, 10), "a handle resolved after its close returned");
        let used = user.join().unwrap();
        if !used {
            seen.saw("use refused");
        }
        assert!(running == 0 || used, "close counted an operation that never ran");
        assert_eq!(probe.drops(), 1);
        assert!(!probe.alive());
        assert_closed(t, h);
        assert_eq!(t.owner_of(10), None);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Two uses race a close: whichever of the three lets go last drops the object, once.
#[test]
fn two_uses_race_close() {
    let outcomes = Outcomes::new(&["0 running", "1 running", "2 running"]);
    let seen = outcomes.clone();
    check("two_uses_race_close", Some(3), move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let users: Vec<_> = (0..2).map(|_| spawn(move || try_use(t, h, 10))).collect();
        let running = t.close(h).expect("the only close succeeds");
        assert!(running <= 2, "close counted {running} operations");
        seen.saw(["0 running", "1 running", "2 running"][running as usize]);
        if running == 0 {
            assert_eq!(probe.drops(), 1);
        }
        let used = users.into_iter().map(|user| user.join().unwrap() as u64).sum::<u64>();
        assert!(running <= used, "close counted {running} operations, {used} ran");
        assert_eq!(probe.drops(), 1);
        assert_closed(t, h);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Two closes race: exactly one succeeds, the other finds the handle closed; one drop.
#[test]
fn two_closes_race() {
    let outcomes = Outcomes::new(&["first thread won", "second thread won"]);
    let seen = outcomes.clone();
    check("two_closes_race", None, move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let other = spawn(move || t.close(h));
        let mine = t.close(h);
        let other = other.join().unwrap();
        assert!(mine.is_ok() != other.is_ok(), "exactly one close succeeds: {mine:?} {other:?}");
        seen.saw(if mine.is_ok() { "first thread won" } else { "second thread won" });
        let failed = if mine.is_ok() { other } else { mine };
        assert_eq!(failed.err(), Some(Error::Stale(StaleReason::Closed)));
        assert_eq!(probe.drops(), 1);
        assert_closed(t, h);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Two closes race with a use: exactly one close succeeds, the object is dropped once, and
/// never under the use's guard.
#[test]
fn two_closes_race_a_use() {
    let outcomes = Outcomes::new(&["use ran", "use refused", "the use's guard dropped the object"]);
    let seen = outcomes.clone();
    check("two_closes_race_a_use", Some(3), move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let closers: Vec<_> = (0..2).map(|_| spawn(move || t.close(h))).collect();
        match t.get(h) {
            Ok(guard) => {
                seen.saw("use ran");
                use_guard(&guard, 10);
                assert_eq!(probe.drops(), 0, "dropped under a guard");
                drop(guard);
                if probe.drops() == 1 {
                    seen.saw("the use's guard dropped the object");
                }
            }
            Err(err) => {
                seen.saw("use refused");
                assert_eq!(err, Error::Stale(StaleReason::Closed));
            }
        }
        let results: Vec<_> = closers.into_iter().map(|closer| closer.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "exactly one close succeeds: {results:?}");
        assert!(results.iter().all(|r| r.is_ok() || r.as_ref().err() == Some(&Error::Stale(StaleReason::Closed))));
        assert_eq!(probe.drops(), 1);
        assert_closed(t, h);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Release races a use: it either refuses with `EBUSY` (the use held a guard) and the
/// handle stays live, or hands the descriptor over without dropping the object, after which
/// the use can no longer resolve the handle.
#[test]
fn release_races_use() {
    let outcomes = Outcomes::new(&["released", "busy"]);
    let seen = outcomes.clone();
    check("release_races_use", None, move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let user = spawn(move || {
            let first = try_use(t, h, 10);
            let second = try_use(t, h, 10);
            assert!(first || !second, "a released handle resolved again");
            first
        });
        let released = match t.release(h) {
            Ok(fd) => {
                seen.saw("released");
                assert_eq!(fd.into_raw_fd(), 10);
                assert!(!try_use(t, h, 10), "a handle resolved after its release returned");
                assert_eq!(t.owner_of(10), None, "the number is the caller's now");
                true
            }
            Err(err) => {
                seen.saw("busy");
                assert!(is_busy(&err), "release failed with {err:?}");
                false
            }
        };
        let used = user.join().unwrap();
        assert!(released || used, "release said busy, yet no operation ran");
        if !released {
            assert!(t.is_live(h), "a refused release leaves the handle live");
            assert_eq!(t.release(h).expect("release once idle").into_raw_fd(), 10);
        }
        assert_eq!(probe.drops(), 0, "release does not drop the object");
        assert!(probe.alive());
        assert_closed(t, h);
        assert_eq!(t.owner_of(10), None);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Release is refused while a guard lives, whatever other uses do meanwhile, and succeeds,
/// without a drop, once the guard is gone.
#[test]
fn release_refuses_while_a_guard_lives() {
    check("release_refuses_while_a_guard_lives", Some(3), || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let guard = t.get(h).unwrap();
        let releaser = spawn(move || t.release(h).map(IntoRawFd::into_raw_fd));
        let user = spawn(move || try_use(t, h, 10));
        use_guard(&guard, 10);
        let refused = releaser.join().unwrap().expect_err("release while a guard lives");
        assert!(is_busy(&refused), "release failed with {refused:?}");
        assert!(user.join().unwrap(), "a refused release leaves the handle usable");
        use_guard(&guard, 10);
        drop(guard);
        assert_eq!(probe.drops(), 0);
        assert_eq!(t.release(h).unwrap().into_raw_fd(), 10);
        assert_eq!(probe.drops(), 0, "release does not drop the object");
        assert_closed(t, h);
        assert_eq!(t.live_count(), 0);
    });
}

/// Release races a close and a use: exactly one of close and release ends the handle; the
/// object is dropped once if the close did, never if the release did.
#[test]
fn release_races_close_and_use() {
    let outcomes = Outcomes::new(&["released", "closed, release busy", "closed, release found it closed"]);
    let seen = outcomes.clone();
    check("release_races_close_and_use", Some(3), move || {
        let t = table();
        let (h, probe) = insert(t, 10);
        let closer = spawn(move || t.close(h));
        let user = spawn(move || try_use(t, h, 10));
        let released = t.release(h).map(IntoRawFd::into_raw_fd);
        let closed = closer.join().unwrap();
        let used = user.join().unwrap();
        match (&released, &closed) {
            (Ok(fd), Err(err)) => {
                seen.saw("released");
                assert_eq!(*fd, 10);
                assert_eq!(*err, Error::Stale(StaleReason::Closed));
                assert_eq!(probe.drops(), 0, "release does not drop the object");
                assert!(probe.alive());
            }
            (Err(err), Ok(_)) => {
                seen.saw(if is_busy(err) { "closed, release busy" } else { "closed, release found it closed" });
                let closed = *err == Error::Stale(StaleReason::Closed);
                assert!(closed || is_busy(err) && used, "release failed with {err:?}");
                assert_eq!(probe.drops(), 1);
            }
            _ => panic!("exactly one of release and close ends the handle: {released:?} {closed:?}"),
        }
        assert_closed(t, h);
        assert_eq!(t.owner_of(10), None);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// A handle's slot is reused while the handle is still being tried: a close followed by an
/// insert on one thread, a concurrent insert on another, and a use of the old handle on a
/// third. The old handle never resolves to a new object (its generation is gone), every new
/// handle differs from it, and the two new objects never share a slot.
#[test]
fn closed_handle_never_resolves_after_its_slot_is_reused() {
    let outcomes = Outcomes::new(&[
        "old handle used",
        "old handle refused",
        "old slot reused after close",
        "old slot reused by the other thread",
        "old slot not reused",
    ]);
    let seen = outcomes.clone();
    check("closed_handle_never_resolves_after_its_slot_is_reused", Some(3), move || {
        let t = table();
        let (old, old_probe) = insert(t, 10);
        let user = spawn(move || try_use(t, old, 10));
        let inserter = spawn(move || insert(t, 12));
        t.close(old).unwrap();
        let (mine, mine_probe) = insert_kind(t, 11, Kind::EventFd);
        assert!(!try_use(t, old, 10), "a closed handle resolved after its slot was reused");
        let (theirs, theirs_probe) = inserter.join().unwrap();
        seen.saw(if user.join().unwrap() { "old handle used" } else { "old handle refused" });
        seen.saw(if mine.index() == old.index() {
            "old slot reused after close"
        } else if theirs.index() == old.index() {
            "old slot reused by the other thread"
        } else {
            "old slot not reused"
        });
        for new in [mine, theirs] {
            assert_ne!(new, old);
            if new.index() == old.index() {
                assert_eq!(new.generation(), old.generation() + 2, "a reused slot moves on one lifetime");
            }
        }
        assert_ne!(mine.index(), theirs.index(), "one index handed out twice");
        assert_eq!(old_probe.drops(), 1);
        assert_closed(t, old);
        assert!(try_use(t, mine, 11));
        assert!(try_use(t, theirs, 12));
        assert_eq!(t.owner_of(11), Some(mine));
        assert_eq!(t.owner_of(12), Some(theirs));
        assert_eq!(t.live_count(), 2);
        t.close(mine).unwrap();
        t.close(theirs).unwrap();
        assert_eq!((mine_probe.drops(), theirs_probe.drops()), (1, 1));
        assert_closed(t, old);
        assert_closed(t, mine);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Once a close has dropped the object (the kernel may then give its number out again), the
/// number can be adopted by a new handle at once, from either thread, and the old handle's
/// end never erases the new owner.
#[test]
fn a_number_is_adopted_again_once_its_object_is_dropped() {
    let outcomes = Outcomes::new(&["adopted by the closer", "adopted by the user"]);
    let seen = outcomes.clone();
    check("a_number_is_adopted_again_once_its_object_is_dropped", None, move || {
        let t = table();
        let (old, probe) = insert(t, 20);
        let probe = Arc::new(probe);
        let token = Arc::new(AtomicBool::new(false));
        // Whoever sees the drop first adopts the number again (as a new descriptor that the
        // kernel happened to number the same).
        let adopt_if_dropped = {
            let (probe, token) = (probe.clone(), token.clone());
            move || (probe.drops() == 1 && !token.swap(true, SeqCst)).then(|| insert(t, 20))
        };
        let user = spawn({
            let adopt_if_dropped = adopt_if_dropped.clone();
            move || {
                try_use(t, old, 20);
                adopt_if_dropped()
            }
        });
        t.close(old).unwrap();
        let mine = adopt_if_dropped();
        let theirs = user.join().unwrap();
        let (new, new_probe) = match (mine, theirs) {
            (Some(new), None) => {
                seen.saw("adopted by the closer");
                new
            }
            (None, Some(new)) => {
                seen.saw("adopted by the user");
                new
            }
            _ => panic!("the thread that dropped the object saw it dropped"),
        };
        assert_eq!(probe.drops(), 1);
        assert_ne!(new, old);
        assert_eq!(t.owner_of(20), Some(new), "the old handle's end erased the new owner");
        assert_closed(t, old);
        assert!(try_use(t, new, 20));
        t.close(new).unwrap();
        assert_eq!(new_probe.drops(), 1);
        assert_eq!(t.owner_of(20), None);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// The free list's ABA case: a pop that has read the head and its successor is overtaken by
/// a thread that pops both and pushes the first back. The stale pop must not succeed (that
/// would hand out the successor, which is live).
#[test]
fn free_list_pop_overtaken_by_pop_pop_push() {
    check("free_list_pop_overtaken_by_pop_pop_push", None, || {
        let t = table();
        let (first, first_probe) = insert(t, 30);
        let (second, second_probe) = insert(t, 31);
        t.close(second).unwrap();
        t.close(first).unwrap();
        assert_eq!((first_probe.drops(), second_probe.drops()), (1, 1));
        // Free list: first's index, then second's.
        let other = spawn(move || {
            let (p, p_probe) = insert(t, 33);
            let (q, q_probe) = insert(t, 34);
            assert_ne!(p.index(), q.index());
            t.close(p).unwrap();
            assert_eq!(p_probe.drops(), 1);
            (q, q_probe)
        });
        let (x, x_probe) = insert(t, 32);
        let (q, q_probe) = other.join().unwrap();
        assert_ne!(x.index(), q.index(), "one index handed out twice");
        // The list is still sound: two more inserts take indices nobody live holds.
        let (r, r_probe) = insert(t, 35);
        let (s, s_probe) = insert(t, 36);
        let live = [(x, 32), (q, 34), (r, 35), (s, 36)];
        for (i, (a, _)) in live.iter().enumerate() {
            for (b, _) in &live[i + 1..] {
                assert_ne!(a.index(), b.index(), "one index handed out twice");
            }
        }
        for (h, fd) in live {
            assert!(try_use(t, h, fd));
            t.close(h).unwrap();
        }
        for probe in [x_probe, q_probe, r_probe, s_probe] {
            assert_eq!(probe.drops(), 1);
        }
        assert_closed(t, first);
        assert_closed(t, second);
        assert_eq!(t.live_count(), 0);
    });
}

/// A chain of freed slots handed over at once (what the slots a thread keeps become, see
/// `kept`) races two pops: no index is handed out twice, and the whole chain reaches the list.
#[test]
fn a_chain_of_freed_slots_pushed_at_once_races_two_pops() {
    check("a_chain_of_freed_slots_pushed_at_once_races_two_pops", Some(3), || {
        let t = table();
        let (a, b) = (t.pop_free().unwrap(), t.pop_free().unwrap());
        t.link_free(a, Some(b));
        t.link_free(b, None);
        let poppers: Vec<_> = (0..2).map(|_| spawn(move || t.pop_free().unwrap())).collect();
        t.push_chain(a, b);
        let mut got: Vec<u32> = poppers.into_iter().map(|popper| popper.join().unwrap()).collect();
        got.extend([t.pop_free().unwrap(), t.pop_free().unwrap()]);
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), 4, "one index handed out twice");
        assert!(got.contains(&a) && got.contains(&b), "a slot of the chain was lost");
    });
}

/// Two inserts race a close that frees a slot (pop, pop and push at once): the new handles
/// get distinct indices, each resolves to its own object, and the list stays sound.
#[test]
fn two_inserts_race_a_close() {
    let outcomes = Outcomes::new(&["an insert reused the closed slot", "both inserts took other slots"]);
    let seen = outcomes.clone();
    check("two_inserts_race_a_close", Some(3), move || {
        let t = table();
        let (a, a_probe) = insert(t, 40);
        let (b, b_probe) = insert(t, 41);
        t.close(b).unwrap();
        let inserters: Vec<_> = [42, 43].into_iter().map(|fd| spawn(move || insert(t, fd))).collect();
        t.close(a).unwrap();
        let mut new: Vec<_> = inserters.into_iter().map(|inserter| inserter.join().unwrap()).collect();
        assert_ne!(new[0].0.index(), new[1].0.index(), "one index handed out twice");
        seen.saw(if new.iter().any(|(h, _)| h.index() == a.index()) {
            "an insert reused the closed slot"
        } else {
            "both inserts took other slots"
        });
        new.push(insert(t, 44));
        let third = new[2].0.index();
        assert!(third != new[0].0.index() && third != new[1].0.index(), "one index handed out twice");
        assert_eq!((a_probe.drops(), b_probe.drops()), (1, 1));
        assert_closed(t, a);
        assert_closed(t, b);
        for ((h, probe), fd) in new.into_iter().zip([42, 43, 44]) {
            assert_ne!(h, a);
            assert_ne!(h, b);
            assert!(try_use(t, h, fd));
            assert_eq!(t.owner_of(fd), Some(h));
            t.close(h).unwrap();
            assert_eq!(probe.drops(), 1);
        }
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// A handle value that reaches another thread without any synchronization of its own (a
/// relaxed store and load, as a C program may pass it). The get may then find the slot as
/// that thread last saw it (free: "never issued"), but if it succeeds it must see the object
/// the inserter put in the slot (the acquire is what orders the two), and a close by that
/// thread must be ordered after it. The slot is a reused one, so the previous object's end
/// is in the picture too.
#[test]
fn a_handle_passed_without_synchronization_sees_its_object() {
    let outcomes = Outcomes::new(&["resolved", "not visible yet", "not published yet"]);
    let seen = outcomes.clone();
    check("a_handle_passed_without_synchronization_sees_its_object", None, move || {
        let t = table();
        let (old, old_probe) = insert(t, 10);
        t.close(old).unwrap();
        let mailbox: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        let inserter = spawn(move || {
            let (h, probe) = insert(t, 11);
            mailbox.store(h.0, Relaxed);
            (h, probe)
        });
        let passed = Handle(mailbox.load(Relaxed));
        let seen_handle_was_zero = passed == Handle::INVALID;
        let closed_here = passed != Handle::INVALID
            && match t.get(passed) {
                Ok(guard) => {
                    seen.saw("resolved");
                    use_guard(&guard, 11);
                    drop(guard);
                    t.close(passed).expect("close a handle this thread has just used");
                    true
                }
                Err(err) => {
                    // Without synchronization this thread may not see the fill yet.
                    seen.saw("not visible yet");
                    assert_eq!(err, Error::Stale(StaleReason::NeverIssued));
                    false
                }
            };
        if seen_handle_was_zero {
            seen.saw("not published yet");
        }
        let (h, probe) = inserter.join().unwrap();
        assert_eq!(h.index(), old.index(), "the freed slot is reused");
        if !closed_here {
            assert!(try_use(t, h, 11));
            t.close(h).unwrap();
        }
        assert_eq!((old_probe.drops(), probe.drops()), (1, 1));
        assert_closed(t, old);
        assert_closed(t, h);
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Two threads each close a handle and insert a new object (both pushes and both pops race)
/// while a third uses both old handles: the old handles never resolve once closed, never to
/// a new object, and the new handles get distinct indices and their own objects.
#[test]
fn two_close_and_reinsert_cycles_race_uses() {
    let outcomes =
        Outcomes::new(&["a new object took a closed slot", "an old handle was used", "an old handle was refused"]);
    let seen = outcomes.clone();
    check("two_close_and_reinsert_cycles_race_uses", Some(3), move || {
        let t = table();
        let (a, a_probe) = insert(t, 50);
        let (b, b_probe) = insert(t, 51);
        let cycle = |old: Handle, fd: RawFd| {
            spawn(move || {
                t.close(old).unwrap();
                insert(t, fd)
            })
        };
        let cycles = [cycle(a, 52), cycle(b, 53)];
        let used = [try_use(t, a, 50), try_use(t, b, 51)];
        let new: Vec<_> = cycles.into_iter().map(|cycle| cycle.join().unwrap()).collect();
        if used.iter().any(|&used| used) {
            seen.saw("an old handle was used");
        }
        if used.iter().any(|&used| !used) {
            seen.saw("an old handle was refused");
        }
        assert_ne!(new[0].0.index(), new[1].0.index(), "one index handed out twice");
        if new.iter().any(|(h, _)| h.index() == a.index() || h.index() == b.index()) {
            seen.saw("a new object took a closed slot");
        }
        assert_eq!((a_probe.drops(), b_probe.drops()), (1, 1));
        assert_closed(t, a);
        assert_closed(t, b);
        for ((h, probe), fd) in new.into_iter().zip([52, 53]) {
            assert!(h != a && h != b);
            assert!(try_use(t, h, fd));
            t.close(h).unwrap();
            assert_eq!(probe.drops(), 1);
        }
        assert_eq!(t.live_count(), 0);
    });
    outcomes.assert_all_seen();
}

/// Close hooks are added through guards while a close races: every hook that was added runs
/// exactly once, with the object's descriptor and before the object is dropped, whichever
/// thread finalizes (the first hook is kept in the slot, the second beside it); an add
/// refused because the close came first leaves nothing to run.
#[test]
fn hook_adds_race_close() {
    use super::CloseHook;
    use std::os::fd::AsRawFd;
    use std::sync::Mutex;
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static ALIVE: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);
    fn hook(_: &'static Table, closing: super::Closing<'_>, _owner: u64, _key: u64) {
        assert_eq!(closing.fd.as_raw_fd(), 10, "a hook ran with another descriptor");
        assert!(ALIVE.lock().unwrap().as_ref().unwrap().load(SeqCst), "a hook ran after the drop");
        RUNS.fetch_add(1, SeqCst);
    }
    let outcomes = Outcomes::new(&["none added", "one added", "both added"]);
    let seen = outcomes.clone();
    check("hook_adds_race_close", Some(3), move || {
        RUNS.store(0, SeqCst);
        let t = table();
        let (h, probe) = insert(t, 10);
        *ALIVE.lock().unwrap() = Some(probe.alive.clone());
        let adders: Vec<_> = (1..=2u64)
            .map(|owner| {
                spawn(move || match t.get(h) {
                    Ok(guard) => {
                        guard.change_close_hooks(|hooks| hooks.push(CloseHook { run: hook, owner, key: owner }));
                        true
                    }
                    Err(_) => false,
                })
            })
            .collect();
        t.close(h).expect("the only close succeeds");
        let added = adders.into_iter().map(|adder| adder.join().unwrap() as usize).sum::<usize>();
        seen.saw(["none added", "one added", "both added"][added]);
        assert_eq!(probe.drops(), 1);
        assert_eq!(RUNS.load(SeqCst), added, "{added} hooks added, {} ran", RUNS.load(SeqCst));
        assert_closed(t, h);
    });
    outcomes.assert_all_seen();
}
