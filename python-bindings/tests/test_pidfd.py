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


def test_fork_while_another_thread_runs_python_code():
    # The child must come out of the fork able to run os._exit: a fork made with the
    # interpreter's lock let go (a plain ctypes call) could leave that lock held, in the
    # child, by a thread that does not exist there, and the child would hang for ever.
    import threading

    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(range(200))

    workers = [threading.Thread(target=busy) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(150):
            pid, p = pidfd_mod.fork()
            if pid == 0:
                os._exit(3)
            with p:
                st = p.wait_exit(timeout=5)
                if st is None:  # hung: do not leave it behind
                    p.send_signal(signal.SIGKILL)
                    p.wait_exit(timeout=10)
                assert st is not None and (st.pid, st.status) == (pid, 3), "the forked child hung"
    finally:
        stop.set()
        for worker in workers:
            worker.join()


def test_spawn_and_fork_pidfds_name_the_child_when_children_are_reaped_at_once():
    # With SIGCHLD ignored the kernel reaps a child as it exits: a program that exits at once
    # may be gone before its pidfd is opened. spawn then raises ChildProcessError (never a
    # pidfd of another process, never a signal sent by a reused pid). Run in a child process:
    # the disposition is process-wide.
    code = (
        "import signal, sys, os\n"
        "from fdsafe import PidFd\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "for _ in range(30):\n"
        "    try:\n"
        "        p = PidFd.spawn(['true'])\n"
        "    except ChildProcessError:\n"
        "        continue\n"
        "    try:\n"
        "        pid = p.pid\n"
        "    except ProcessLookupError:\n"
        "        pid = None\n"
        "    p.close()\n"
        "from fdsafe import pidfd\n"
        "for _ in range(50):\n"
        "    pid, p = pidfd.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    try:\n"
        "        assert p.pid == pid, 'another process'\n"
        "    except ProcessLookupError:\n"
        "        pass  # reaped as it exited: the pidfd still names it\n"
        "    p.close()\n"
        "sys.exit(0)\n"
    )
    import subprocess
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


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


def test_wait_exit_on_a_process_not_our_child_raises_at_once_as_os_waitid():
    with PidFd.open(os.getpid()) as me:
        with pytest.raises(ChildProcessError):
            os.waitid(os.P_PIDFD, me.fileno(), os.WEXITED)
        with pytest.raises(ChildProcessError):
            me.wait_exit(timeout=5)  # was: None after the 5 s (without a timeout: forever)
        with pytest.raises(ChildProcessError):
            me.wait_exit(timeout=0)


def test_wait_exit_on_a_nonblocking_pidfd_of_a_running_child_does_not_wait():
    p = PidFd.spawn(["sleep", "60"])
    with p, PidFd.open(p.pid, nonblocking=True) as nb:
        with pytest.raises(BlockingIOError):
            nb.waitid()
        with pytest.raises(BlockingIOError):
            nb.wait_exit(timeout=5)  # was: waited the 5 s
        p.send_signal(signal.SIGKILL)
        assert p.wait(fdsafe.EVENT_IN, 20)
        st = nb.wait_exit()  # exited: collected, blocking or not
        assert st is not None and st.code == pidfd_mod.KILLED


def test_a_spawned_child_starts_with_no_signal_blocked():
    """A process that reads SIGTERM from a SignalFd blocks it; its children must not inherit
    that, or SIGTERM could never stop them."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
    try:
        with fdsafe.SignalFd.create([signal.SIGTERM]):
            child = PidFd.spawn([sys.executable, "-c", "import time; time.sleep(30)"])
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    with child:
        child.send_signal(signal.SIGTERM)
        status = child.wait_exit(timeout=10)
        assert status is not None, "SIGTERM did not end the child: it was blocked there"
        assert (status.code, status.status) == (pidfd_mod.KILLED, signal.SIGTERM)


def test_wait_exit_goes_on_and_reaps_when_another_thread_closes_the_pidfd():
    # os.waitid(P_PIDFD, fd) blocked in one thread goes on when another thread closes fd
    # (the kernel holds the file), and reaps the child. So must wait_exit with no timeout.
    import threading
    import time

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # exits once the parent writes
        os._exit(7)
    os.close(r)
    p = PidFd.open(pid)
    got = []
    waiter = threading.Thread(target=lambda: got.append(p.wait_exit()))
    waiter.start()
    time.sleep(0.2)
    p.close()
    os.write(w, b"x")
    os.close(w)
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(got) == 1 and got[0].pid == pid and got[0].code == os.CLD_EXITED and got[0].status == 7
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left
