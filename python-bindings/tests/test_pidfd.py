import errno
import os
import signal
import sys

import pytest

import fdsafe
from fdsafe import InvalidArgumentError, MemFd, PidFd, WrongKindError, pipe
from fdsafe import pidfd as pidfd_mod
from fdsafe.memfd import KIND_MEMFD


def test_spawn_wait_exit_status():
    p = PidFd.spawn([sys.executable, "-c", "import sys; sys.exit(5)"])
    assert p.kind_name == "pidfd" and os.get_inheritable(p.fileno()) is False
    st = p.wait_exit(timeout=20)
    assert st is not None and st.exited and st.status == 5
    with pytest.raises(ChildProcessError):
        p.poll_exit()
    with pytest.raises(ProcessLookupError):
        p.pid
    p.close()


def test_signal_and_poll():
    p = PidFd.spawn(["sleep", "60"])
    assert p.pid > 0
    assert p.poll_exit() is None
    assert p.wait_exit(timeout=0) is None
    p.send_signal(signal.SIGTERM)
    st = p.wait_exit(timeout=20)
    assert st.code == pidfd_mod.KILLED and st.signal == signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        p.send_signal(signal.SIGTERM)
    p.close()


def test_fork_through_fdsafe():
    pid, p = pidfd_mod.fork()
    if pid == 0:
        os._exit(9)
    st = p.wait_exit(timeout=20)
    assert (st.pid, st.code, st.status) == (pid, pidfd_mod.EXITED, 9)
    p.close()


def test_getfd_from_another_process():
    code = (
        "import os, sys, time\n"
        "m = os.memfd_create('child')\n"
        "os.write(m, b'secret')\n"
        "print(m, flush=True)\n"
        "time.sleep(60)\n"
    )
    r, w = os.pipe()
    pid = os.posix_spawn(sys.executable, [sys.executable, "-c", code], dict(os.environ),
                         file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)])
    os.close(w)
    with os.fdopen(r) as out:
        target = int(out.readline())
    p = PidFd.open(pid)
    copy = p.getfd(target, KIND_MEMFD)
    assert isinstance(copy, MemFd)
    assert copy.pread(10, 0) == b"secret"
    with pytest.raises(InvalidArgumentError):
        p.getfd(target, fdsafe.handle.KIND_PIPE)
    p.send_signal(signal.SIGKILL)
    assert p.wait_exit(20000).signal == signal.SIGKILL
    copy.close()
    p.close()


def test_pidfd_bad_input():
    with pytest.raises(InvalidArgumentError):
        PidFd.open(0)
    with pytest.raises(ProcessLookupError):
        PidFd.open(0x3FFFFFFF)
    with PidFd.open(os.getpid()) as me:
        assert me.pid == os.getpid()
        with pytest.raises(ChildProcessError):
            me.poll_exit()
        with pytest.raises(OSError) as e:
            me.send_signal(1000)
        assert e.value.errno == errno.EINVAL
    r, w = pipe()
    with pytest.raises(WrongKindError):
        PidFd(r.value, owned=False).send_signal(0)
    r.close(), w.close()


def test_waitid_stopped_continued_and_killed():
    """A job-control supervisor's view: stop and continue a child through its pidfd."""
    p = PidFd.spawn(["sleep", "60"])
    pid = p.pid
    every = pidfd_mod.WAIT_EXITED | pidfd_mod.WAIT_STOPPED | pidfd_mod.WAIT_CONTINUED
    assert p.waitid(every | pidfd_mod.WAIT_NOHANG) is None
    p.send_signal(signal.SIGSTOP)
    peek = p.waitid(os.WSTOPPED | os.WNOWAIT)  # the kernel's values work as they are
    assert peek == pidfd_mod.ExitStatus(pid, os.CLD_STOPPED, signal.SIGSTOP)
    st = p.waitid(every)
    assert st.stopped and not st.exited and st.signal == signal.SIGSTOP and st.pid == pid
    assert p.waitid(pidfd_mod.WAIT_STOPPED | pidfd_mod.WAIT_NOHANG) is None  # reported once
    p.send_signal(signal.SIGCONT)
    st = p.waitid(pidfd_mod.WAIT_CONTINUED)
    assert st.continued and st.code == pidfd_mod.CONTINUED and st.signal == signal.SIGCONT
    p.send_signal(signal.SIGKILL)
    st = p.waitid(pidfd_mod.WAIT_EXITED)
    assert st.code == pidfd_mod.KILLED and st.signal == signal.SIGKILL
    with pytest.raises(ChildProcessError):
        p.waitid(every)
    p.close()


def test_waitid_matches_os_waitid_and_refuses_bad_options():
    p = PidFd.spawn([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(InvalidArgumentError):
        p.waitid(pidfd_mod.WAIT_NOHANG)  # no state asked for
    with pytest.raises(InvalidArgumentError):
        p.waitid(pidfd_mod.WAIT_EXITED | 0x10)
    st = p.waitid(pidfd_mod.WAIT_EXITED | pidfd_mod.WAIT_NOWAIT)
    ref = os.waitid(os.P_PID, st.pid, os.WEXITED | os.WNOWAIT)
    assert (st.pid, st.code, st.status) == (ref.si_pid, ref.si_code, ref.si_status)
    assert st.exited and st.status == 3
    assert p.waitid() == st  # WEXITED by default; reaps
    with pytest.raises(ChildProcessError):
        p.waitid()
    p.close()
    r, w = pipe()
    with pytest.raises(WrongKindError):
        PidFd(r.value, owned=False).waitid()
    r.close(), w.close()
