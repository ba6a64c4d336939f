import errno
import os

import pytest

from fdsafe import EPOLL_IN, Epoll, EventFd, Inotify, InvalidArgumentError, WrongKindError
from fdsafe import inotify as ino


def test_events_named_and_batched(tmp_path):
    with Inotify.create(nonblocking=True) as watcher:
        wd = watcher.add_watch(tmp_path, ino.IN_CREATE)
        long_name = "L" * 255
        for name in ("a", "b", long_name):
            (tmp_path / name).touch()
        events = watcher.read_events()
        assert [(e.wd, e.mask, e.name) for e in events] == [
            (wd, ino.IN_CREATE, "a"), (wd, ino.IN_CREATE, "b"), (wd, ino.IN_CREATE, long_name)]
        assert list(watcher) == []


def test_rename_pair_shares_a_cookie(tmp_path):
    (tmp_path / "old").touch()
    with Inotify.create(nonblocking=True) as watcher:
        watcher.add_watch(tmp_path, ino.IN_MOVED_FROM | ino.IN_MOVED_TO)
        os.rename(tmp_path / "old", tmp_path / "new")
        moved_from, moved_to = list(watcher)
        assert (moved_from.mask, moved_from.name) == (ino.IN_MOVED_FROM, "old")
        assert (moved_to.mask, moved_to.name) == (ino.IN_MOVED_TO, "new")
        assert moved_from.cookie != 0 and moved_from.cookie == moved_to.cookie


def test_dropped_watch_and_overflow(tmp_path):
    victim = tmp_path / "victim"
    victim.touch()
    with Inotify.create(nonblocking=True) as watcher:
        wd = watcher.add_watch(victim, ino.IN_DELETE_SELF)
        victim.unlink()
        watcher.remove_watch(wd)  # dropped by the kernel, IN_IGNORED unread: no error
        with pytest.raises(OSError) as removed_twice:
            watcher.remove_watch(wd)
        assert removed_twice.value.errno == errno.EINVAL  # as inotify_rm_watch(2)
        assert [e.mask for e in watcher] == [ino.IN_DELETE_SELF, ino.IN_IGNORED]
        with pytest.raises(OSError):
            watcher.remove_watch(wd + 100)
        victim.touch()
        wd = watcher.add_watch(victim, ino.IN_DELETE_SELF)
        victim.unlink()
        assert [e.mask for e in watcher] == [ino.IN_DELETE_SELF, ino.IN_IGNORED]
        with pytest.raises(OSError) as after_ignored:
            watcher.remove_watch(wd)  # its end was read: the id is gone
        assert after_ignored.value.errno == errno.EINVAL
        f = tmp_path / "f"
        f.touch()
        watcher.add_watch(f, ino.IN_OPEN | ino.IN_CLOSE_NOWRITE)
        limit = int(open("/proc/sys/fs/inotify/max_queued_events").read())
        for _ in range(limit // 2 + 50):
            os.close(os.open(f, os.O_RDONLY))
        events = list(watcher)
        assert sum(e.overflow for e in events) == 1
        assert events[-1].overflow and events[-1].wd == -1


def test_small_reads_and_epoll(tmp_path):
    with Inotify.create(nonblocking=True) as watcher, Epoll.create() as ep:
        watcher.add_watch(tmp_path, ino.IN_CREATE)
        ep.add(watcher, EPOLL_IN, data="fs")
        (tmp_path / "x").touch()
        (tmp_path / "y").touch()
        assert ep.wait(1.0) == [("fs", EPOLL_IN)]
        assert watcher.read_events(1)[0].name == "x"
        assert watcher.pending == 1
        assert watcher.read_events(1)[0].name == "y"
        assert watcher.pending == 0


def test_bad_input(tmp_path):
    with Inotify.create() as watcher:
        with pytest.raises(InvalidArgumentError):
            watcher.add_watch(tmp_path, 0x00100000)
        with pytest.raises(FileNotFoundError):
            watcher.add_watch(tmp_path / "missing", ino.IN_CREATE)
        with pytest.raises(InvalidArgumentError):
            watcher.read_events(0)
        e = EventFd.create()
        with pytest.raises(WrongKindError):
            Inotify(e.value, owned=False).add_watch(tmp_path, ino.IN_CREATE)
        e.close()


def test_options_alone_are_refused_and_the_watch_stays(tmp_path):
    # The kernel takes a mask of options alone and leaves the watch with no event.
    with Inotify.create(nonblocking=True) as watcher:
        wd = watcher.add_watch(tmp_path, ino.IN_CREATE)
        with pytest.raises(InvalidArgumentError, match="names no event"):
            watcher.add_watch(tmp_path, ino.IN_ONLYDIR)
        (tmp_path / "still").touch()
        assert [(e.wd, e.name) for e in watcher] == [(wd, "still")]


def test_the_generic_read_is_refused_and_the_events_stay(tmp_path):
    # A raw read would take events fdsafe may hold back, out of order, or the one that
    # retires a watch id; the parsed read_events gets them.
    with Inotify.create(nonblocking=True) as watcher:
        wd = watcher.add_watch(tmp_path, ino.IN_CREATE)
        (tmp_path / "a").touch()
        with pytest.raises(WrongKindError):
            watcher.read(4096)
        with pytest.raises(WrongKindError):
            watcher.readinto(bytearray(4096))
        assert [(e.wd, e.name) for e in watcher.read_events()] == [(wd, "a")]
