import os
import subprocess
import sys

import pytest

from fdsafe import EPOLL_IN, Epoll, EventFd, Fanotify, InvalidArgumentError, WrongKindError
from fdsafe import fanotify as fan


def group(flags):
    try:
        return Fanotify.init(flags)
    except PermissionError as err:
        pytest.skip(f"fanotify_init: {err} (needs CAP_SYS_ADMIN; run as root)")


def test_notification_events_carry_paths(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with group(fan.NONBLOCK) as g, Epoll.create() as ep:
        g.mark(f, fan.OPEN | fan.CLOSE_NOWRITE)
        ep.add(g, EPOLL_IN, data="fan")
        f.read_text()
        assert ep.wait(1.0) == [("fan", EPOLL_IN)]
        events = list(g)
        assert events and all(e.path == str(f) and e.pid == os.getpid() and not e.is_permission for e in events)
        assert fan.OPEN & events[0].mask
        open_paths = []
        for n in os.listdir("/proc/self/fd"):
            try:
                open_paths.append(os.readlink(f"/proc/self/fd/{n}"))
            except OSError:
                pass
        assert str(f) not in open_paths  # the event descriptors were closed at once


def test_fid_events_with_names(tmp_path):
    with group(fan.NONBLOCK | fan.REPORT_DFID_NAME) as g:
        g.mark(tmp_path, fan.CREATE | fan.DELETE, fan.MARK_ADD | fan.MARK_ONLYDIR)
        (tmp_path / "born").touch()
        (tmp_path / "born").unlink()
        events = list(g)
        assert {e.name for e in events} == {"born"}
        mask = 0
        for e in events:
            mask |= e.mask
            assert e.path is None and e.fsid and e.file_handle
        assert mask == fan.CREATE | fan.DELETE


@pytest.mark.parametrize("allow", [False, True])
def test_permission_answer_reaches_the_opener(tmp_path, allow):
    f = tmp_path / "guarded"
    f.write_text("secret")
    with group(fan.CLASS_CONTENT) as g:
        g.mark(f, fan.OPEN_PERM)
        child = subprocess.Popen([sys.executable, "-c", f"open({str(f)!r}).read()"], stderr=subprocess.DEVNULL)
        (event,) = g.read_events()
        assert event.is_permission and event.pid == child.pid and event.path == str(f)
        assert os.pread(g.event_fileno(event), 16, 0) == b"secret"
        assert g.unanswered == 1
        g.respond(event, allow=allow)
        assert g.unanswered == 0
        assert (child.wait(10) == 0) is allow  # a denied open really fails
        with pytest.raises(FileNotFoundError):
            g.respond(event, allow=True)


def test_bad_input(tmp_path):
    with pytest.raises(InvalidArgumentError):
        Fanotify.init(fan.CLASS_CONTENT | fan.CLASS_PRE_CONTENT)
    with group(fan.NONBLOCK) as g:
        with pytest.raises(InvalidArgumentError):
            g.mark(tmp_path, fan.OPEN, fan.MARK_ADD | fan.MARK_REMOVE)
        with pytest.raises(FileNotFoundError):
            g.mark(tmp_path / "missing", fan.OPEN)
        with pytest.raises(InvalidArgumentError):
            g.read_events(0)
        e = EventFd.create()
        with pytest.raises(WrongKindError):
            Fanotify(e.value, owned=False).pending
        e.close()


@pytest.mark.parametrize("target", [fan.MARK_MOUNT, fan.MARK_FILESYSTEM])
def test_mount_and_filesystem_marks_then_flush(tmp_path, target):
    f = tmp_path / "w"
    f.write_text("")
    with group(fan.NONBLOCK) as g:
        g.mark(tmp_path, fan.CLOSE_WRITE, fan.MARK_ADD | target)
        f.write_text("data")
        assert any(e.path == str(f) and e.mask & fan.CLOSE_WRITE for e in g)  # others may write too
        g.mark(None, 0, fan.MARK_FLUSH | target)
        f.write_text("more")
        assert not any(e.path == str(f) for e in g)


def test_pre_content_group_and_release_answers(tmp_path):
    f = tmp_path / "p"
    f.write_text("x")
    g = group(fan.CLASS_PRE_CONTENT)
    g.mark(f, fan.OPEN_PERM)
    child = subprocess.Popen([sys.executable, "-c", f"open({str(f)!r}).read()"])
    (event,) = g.read_events()
    assert event.is_permission
    g.close()  # unanswered: fdsafe answers "allow" and closes the event descriptor
    assert child.wait(10) == 0
