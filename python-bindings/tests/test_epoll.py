import os
import select
import socket as pysocket
import signal
import threading
import time

import pytest

import fdsafe
from fdsafe import (EPOLL_ET, EPOLL_HUP, EPOLL_IN, EPOLL_ONESHOT, EPOLL_OUT, Epoll, EventFd,
                    InvalidArgumentError, Stdio, WrongKindError, pipe)


def test_wait_returns_data_or_handle_pairs():
    r, w = pipe()
    e = EventFd.create()
    with Epoll.create() as ep:
        ep.add(r, EPOLL_IN, data="the pipe")
        ep.add(e)  # data defaults to the handle itself
        assert len(ep) == 2
        assert ep.wait(0) == []
        w.write(b"x")
        e.add(1)
        got = dict(ep.wait(1.0))
        assert got == {"the pipe": EPOLL_IN, e: EPOLL_IN}
        assert sorted(type(k).__name__ for k, _ in ep) == ["EventFd", "str"]
        ep.modify(r, EPOLL_IN, data=99)
        assert (99, EPOLL_IN) in ep.wait(1.0)
        ep.delete(r)
        assert len(ep) == 1
        with pytest.raises(FileNotFoundError):
            ep.delete(r)
        with pytest.raises(FileExistsError):
            ep.add(e)
    for h in (r, w, e):
        h.close()


def test_closing_a_registered_handle_removes_it_even_with_a_dup_alive():
    r, w = pipe()
    raw_copy = os.dup(r.fileno())
    ep = Epoll.create()
    ep.add(r, data="r")
    w.write(b"x")
    assert ep.wait(1.0) == [("r", EPOLL_IN)]
    r.close()
    assert len(ep) == 0
    assert ep.wait(0.05) == []
    os.close(raw_copy)
    w.close()
    ep.close()


def test_oneshot_edge_and_hangup():
    r, w = pipe()
    e = EventFd.create(1)
    ep = Epoll.create()
    ep.add(e, EPOLL_IN | EPOLL_ONESHOT, data="once")
    assert ep.wait(1.0) == [("once", EPOLL_IN)]
    assert ep.wait(0) == []
    ep.modify(e, EPOLL_IN | EPOLL_ONESHOT, data="again")
    assert ep.wait(1.0) == [("again", EPOLL_IN)]
    ep.delete(e)
    ep.add(r, EPOLL_IN | EPOLL_ET, data="r")
    ep.add(w, EPOLL_OUT, data="w")
    assert ep.wait(1.0) == [("w", EPOLL_OUT)]
    ep.delete(w)
    w.close()
    events = ep.wait(1.0)
    assert events[0][0] == "r" and events[0][1] & EPOLL_HUP
    for h in (r, e, ep):
        h.close()


def test_standard_input_in_a_set():
    pr, pw = os.pipe()
    saved = os.dup(0)
    os.dup2(pr, 0)
    try:
        with Stdio.open(0) as stdin, Epoll.create() as ep:
            ep.add(stdin, data="stdin")
            os.write(pw, b"hello")
            assert ep.wait(1.0) == [("stdin", EPOLL_IN)]
    finally:
        os.dup2(saved, 0)
        for fd in (saved, pr, pw):
            os.close(fd)


def test_nanosecond_wait_and_signal_mask():
    ep = Epoll.create()
    e = EventFd.create()
    ep.add(e)
    start = time.monotonic()
    try:
        assert ep.wait_ns(20_000_000) == []
    except OSError as err:
        pytest.skip(f"epoll_pwait2: {err}")
    assert time.monotonic() - start >= 0.02
    fired = []
    old = signal.signal(signal.SIGUSR1, lambda *a: fired.append(1))
    previous = fdsafe.signal_mask(fdsafe.SIG_BLOCK, [signal.SIGUSR1])
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert ep.pwait([signal.SIGUSR1], 0) == [] and fired == []
        threading.Timer(0.05, lambda: e.add(1)).start()
        # The wait's own mask lets SIGUSR1 in: its handler runs, the wait goes on.
        assert ep.pwait([], 5.0) == [(e, EPOLL_IN)]
        assert fired == [1]
    finally:
        fdsafe.signal_mask(fdsafe.SIG_SETMASK, previous)
        signal.signal(signal.SIGUSR1, old)
    e.close()
    ep.close()


def test_signal_sets():
    s = fdsafe.sigset([signal.SIGINT, 64])
    assert s.bits == (1 << (signal.SIGINT - 1)) | (1 << 63)
    with pytest.raises(InvalidArgumentError):
        fdsafe.sigset([65])
    with pytest.raises(InvalidArgumentError):
        fdsafe.signal_mask(9, [])


def test_bad_input():
    r, w = pipe()
    ep = Epoll.create()
    with pytest.raises(WrongKindError):
        Epoll(r.value, owned=False).add(w)
    with pytest.raises(InvalidArgumentError):
        ep.add(r, 0x40000)
    with pytest.raises(OSError):
        ep.add(ep)
    with pytest.raises(InvalidArgumentError):
        ep.wait(0, max_events=0)
    r.close()
    with pytest.raises(OSError):
        ep.add(r)
    ep.close()
    with pytest.raises(OSError):
        ep.wait(0)
    w.close()


def test_duplicate_set_shares_registrations():
    """The kernel keeps one interest list per epoll instance; dup() is another handle of it."""
    a, b = EventFd.create(1), EventFd.create(1)
    ep = Epoll.create()
    ep2 = ep.dup()
    ep.add(a, EPOLL_IN, data="a")
    ep2.add(b, EPOLL_IN, data="b")
    assert len(ep) == len(ep2) == 2
    with pytest.raises(FileExistsError):
        ep2.add(a)
    assert sorted(ep.wait(1.0)) == sorted(ep2.wait(1.0)) == [("a", EPOLL_IN), ("b", EPOLL_IN)]
    ep2.modify(a, EPOLL_IN, data="a again")
    ep.delete(b)
    assert ep.wait(1.0) == [("a again", EPOLL_IN)]
    ep.close()  # the other handle keeps every registration
    assert len(ep2) == 1 and ep2.wait(1.0) == [("a again", EPOLL_IN)]
    a.close()  # deregisters through the handle left
    assert len(ep2) == 0 and ep2.wait(0) == []
    ep2.close()
    b.close()


def test_fromfd_and_a_set_passed_over_a_socket_share_registrations():
    """CPython's test_epoll.test_fromfd, with a duplicate (fdsafe owns each descriptor)."""
    from fdsafe import socket as fs
    server, client = fs.unix_pair()
    with Epoll.create() as ep:
        ep2 = Epoll.fromfd(os.dup(ep.fileno()))
        ep2.register(server, EPOLL_IN | EPOLL_OUT)
        ep2.register(client, EPOLL_IN | EPOLL_OUT)
        events, events2 = ep.poll(1, 4), ep2.poll(0.9, 4)
        assert len(events) == len(events2) == 2
        assert {h.value for h, _ in events} == {server.value, client.value}  # as their handles
        a, b = fs.unix_pair()
        a.send_fds(b"s", [ep])
        got = b.recv_fds(1).handles[0]
        assert isinstance(got, Epoll) and len(got) == 2
        got.delete(client)
        assert len(ep2) == 1
        got.close(), a.close(), b.close()
    assert len(ep2.poll(1, 4)) == 1  # the first handle closed, the second still works
    ep2.close()
    server.close(), client.close()


def test_a_number_closed_without_unregister_is_never_reported():
    """select.epoll reports nothing for a descriptor closed without unregister. fdsafe holds
    a duplicate of a number it registered, so the old file's events went on arriving under
    the number, after it named another file; a wait now checks the number first, drops the
    registration and its duplicate (so the peer sees the connection end)."""
    mine, peer = pysocket.socketpair()
    number = mine.fileno()
    with Epoll.create() as ep:
        ep.register(number, select.EPOLLIN)
        mine.close()  # no unregister
        r, w = os.pipe()  # takes the number
        try:
            assert number in (r, w)
            peer.send(b"for the closed socket")
            assert ep.poll(0.2) == []  # not reported under a number that names a pipe now
            assert len(ep) == 0  # the registration is gone, with its duplicate
            peer.settimeout(2)
            try:  # the connection ended (reset: the closed end had unread data)
                assert peer.recv(1) == b""
            except ConnectionResetError:
                pass
            ep.register(number, select.EPOLLIN)  # the new file at that number registers afresh
            os.write(w, b"x")
            assert ep.poll(1) == [(number, select.EPOLLIN)]
        finally:
            os.close(r)
            os.close(w)
            peer.close()


def test_modify_or_unregister_of_a_number_that_names_another_file_is_not_found():
    """As select.epoll: a number closed without unregister and taken by another file is not
    registered, so modify and unregister raise FileNotFoundError. They changed the old
    file's registration instead, so the habit "modify, on FileNotFoundError register" left
    the new file unregistered and its events unreported."""
    for call in ("modify", "unregister"):
        mine, peer = pysocket.socketpair()
        number = mine.fileno()
        with Epoll.create() as ep, select.epoll() as std:
            for s in (ep, std):
                s.register(number, select.EPOLLIN)
            mine.close()  # no unregister
            r, w = os.pipe()  # takes the number
            try:
                assert number in (r, w)
                for s in (ep, std):
                    with pytest.raises(FileNotFoundError):
                        if call == "modify":
                            s.modify(number, select.EPOLLIN)
                        else:
                            s.unregister(number)
                    s.register(number, select.EPOLLIN)
                os.write(w, b"x")
                assert ep.poll(1) == std.poll(1) == [(number, select.EPOLLIN)]
            finally:
                os.close(r)
                os.close(w)
                peer.close()


def test_threads_registering_on_one_set_at_once():
    """Registering from several threads at once raised "dictionary changed size during
    iteration" out of the set's bookkeeping (a closed-handle sweep iterating while another
    thread added); select.epoll takes it."""
    errors = []
    with Epoll.create() as ep:
        def churn():
            try:
                for _ in range(200):
                    with EventFd.create() as ev:
                        ep.add(ev, EPOLL_IN)
                        ep.delete(ev)
                    with EventFd.create() as ev:
                        ep.add(ev, EPOLL_IN)  # closed registered: swept by a later add
            except Exception as err:  # noqa: BLE001 - any error fails the test below
                errors.append(err)

        threads = [threading.Thread(target=churn) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(ep) == 0


def test_modify_without_data_keeps_the_data_given_at_add():
    """Re-arming a one-shot registration with modify(target, events) must not change what
    the waits report: it used to replace the data given to add with the handle."""
    with Epoll.create() as ep, EventFd.create(1) as ev:
        ep.add(ev, EPOLL_IN | EPOLL_ONESHOT, data="job 7")
        assert [data for data, _ in ep.wait(0)] == ["job 7"]
        ep.modify(ev, EPOLL_IN | EPOLL_ONESHOT)
        assert [data for data, _ in ep.wait(0)] == ["job 7"]
        ep.modify(ev, EPOLL_IN, data="job 8")
        assert [data for data, _ in ep.wait(0)] == ["job 8"]


def test_release_hands_out_a_bare_set_and_closes_the_duplicates():
    # select.epoll has no release; what a stranger expects of one: the descriptor is a plain
    # epoll set with nothing of this package's left in it (no registration whose data is a
    # token of ours, no duplicate held open for a plain descriptor).
    r, w = os.pipe()
    ep = Epoll.create()
    before = set(os.listdir("/proc/self/fd"))
    ep.add(r, EPOLL_IN, data="mine")
    raw = ep.release()
    try:
        assert ep.closed
        assert set(os.listdir("/proc/self/fd")) - before == set(), "a duplicate is still held"
        os.write(w, b"x")
        bare = select.epoll.fromfd(raw)
        assert bare.poll(0) == []
        bare.register(r, select.EPOLLIN)  # the caller's own registration works as in any set
        assert bare.poll(0) == [(r, select.EPOLLIN)]
        bare.close()
    finally:
        os.close(r)
        os.close(w)


def test_closing_a_set_leaves_its_waiter_woken_by_a_plain_descriptor():
    # select.epoll: closing the set does not wake a thread waiting on it, and an event on a
    # registered descriptor still does. The duplicate held for the plain descriptor must stay
    # until that wait returns, or nothing could wake the waiter.
    r, w = os.pipe()
    ep = Epoll.create()
    ep.register(r, select.EPOLLIN)
    got = []
    waiter = threading.Thread(target=lambda: got.append(ep.poll()))
    waiter.start()
    time.sleep(0.2)
    before = set(os.listdir("/proc/self/fd"))
    ep.close()
    os.write(w, b"x")
    waiter.join(10)
    try:
        assert not waiter.is_alive(), "the waiter was never woken"
        assert got == [[(r, select.EPOLLIN)]]
        assert len(before - set(os.listdir("/proc/self/fd"))) == 2, "the set and its duplicate stay open"
    finally:
        os.close(r)
        os.close(w)


def test_register_and_unregister_while_another_thread_polls():
    # select.epoll's habit: one thread registers and unregisters while another polls. Every
    # call succeeds, and every event names the descriptor, never a handle of this package.
    r, w = os.pipe()
    os.write(w, b"x")  # r stays readable
    ep = Epoll.create()
    ep.register(r, select.EPOLLIN)
    stop = threading.Event()
    seen, failures = [], []

    def poll():
        while not stop.is_set():
            try:
                seen.extend(fd for fd, _ in ep.poll(0.1))
            except Exception as err:  # noqa: BLE001 - any failure is what the test looks for
                failures.append(err)

    poller = threading.Thread(target=poll)
    poller.start()
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            try:
                ep.unregister(r)
                ep.register(r, select.EPOLLIN)
            except Exception as err:  # noqa: BLE001
                failures.append(err)
    finally:
        stop.set()
        poller.join()
    try:
        assert failures == []
        assert seen and set(seen) == {r}
        assert ep.poll(1) == [(r, select.EPOLLIN)], "the last registration was lost"
    finally:
        ep.close()
        os.close(r)
        os.close(w)


def test_an_add_costs_the_same_however_many_are_registered(monkeypatch):
    # select.epoll.register costs the same at 10 registrations and at 4,000. An add that
    # looked at every registration (a library call each) to forget closed handles made a
    # daemon's accepts cost in proportion to its connections. Count those calls.
    from fdsafe._lib import lib as library

    handles = [EventFd.create() for _ in range(1500)]
    ep = Epoll.create()
    try:
        for h in handles[:1000]:
            ep.add(h)
        calls = []
        real = library.fdsafe_handle_kind
        monkeypatch.setattr(library, "fdsafe_handle_kind", lambda value: calls.append(value) or real(value))
        for h in handles[1000:]:
            ep.add(h)
        monkeypatch.undo()
        assert len(calls) < 4 * 500, f"{len(calls)} handle lookups for 500 adds"
        handles[0].close()
        for _ in range(2000):  # enough adds for a look: the closed handle's data goes
            e = EventFd.create()
            ep.add(e)
            ep.delete(e)
            e.close()
        assert handles[0].value not in ep._keys
    finally:
        ep.close()
        for h in handles:
            h.close()


def _child_status(pid):
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_uses_a_set_whose_lock_a_parent_thread_held():
    # Another thread of the parent is inside register (holding the set's lock) at the fork:
    # in the child that thread is gone, and the set must still work.
    r, w = os.pipe()
    ep = Epoll.create()
    ep.register(r, select.EPOLLIN)
    held, go_on = threading.Event(), threading.Event()

    def hold():
        with ep._activity.lock:
            held.set()
            go_on.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        signal.alarm(10)
        os.write(w, b"x")
        ok = ep.poll(1) == [(r, select.EPOLLIN)]
        ep.unregister(r)
        os._exit(0 if ok else 1)
    go_on.set()
    holder.join()
    try:
        assert _child_status(pid) == 0
    finally:
        ep.close()
        os.close(r)
        os.close(w)


def test_a_child_forked_during_a_wait_closes_the_duplicates_with_the_set():
    # The parent thread waiting at the fork does not come along: the child's close of the
    # set must not wait for that wait to end before closing the duplicate it holds.
    r, w = os.pipe()
    ep = Epoll.create()
    ep.register(r, select.EPOLLIN)
    waiter = threading.Thread(target=lambda: ep.poll(5))
    waiter.start()
    time.sleep(0.2)
    pid = os.fork()
    if pid == 0:
        signal.alarm(10)
        before = len(os.listdir("/proc/self/fd"))
        ep.close()
        after = len(os.listdir("/proc/self/fd"))
        os._exit(0 if before - after == 2 else 1)  # the set and the duplicate
    try:
        assert _child_status(pid) == 0
    finally:
        os.write(w, b"x")
        waiter.join()
        ep.close()
        os.close(r)
        os.close(w)
