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
