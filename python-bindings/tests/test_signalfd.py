import os
import signal
import subprocess
import sys

import pytest

import fdsafe
from fdsafe import EPOLL_IN, Epoll, EventFd, InvalidArgumentError, SignalFd, WrongKindError


@pytest.fixture
def restore_mask():
    old = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    pending = signal.sigpending() - set(old)
    for signo in pending:  # drain what the test left, so unblocking it does nothing
        signal.sigtimedwait([signo], 0)
    signal.pthread_sigmask(signal.SIG_SETMASK, old)


def test_signals_from_another_process(restore_mask):
    with SignalFd.create([signal.SIGUSR1, signal.SIGCHLD]) as sfd:
        assert signal.SIGUSR1 in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        sender = subprocess.Popen(["kill", "-USR1", str(os.getpid())])
        records = {}
        while signal.SIGUSR1 not in records or signal.SIGCHLD not in records:
            for info in sfd.read_signals():
                records[info.signo] = info
        sender.wait()
        usr1, chld = records[signal.SIGUSR1], records[signal.SIGCHLD]
        assert usr1.pid == sender.pid and usr1.uid == os.getuid() and usr1.code == 0  # SI_USER
        assert chld.pid == sender.pid and chld.status == 0 and chld.code == 1  # CLD_EXITED


def test_merged_standard_signals_and_iteration(restore_mask):
    with SignalFd.create([signal.SIGUSR2], nonblocking=True) as sfd:
        code = "import os, signal, sys; p = int(sys.argv[1]); os.kill(p, signal.SIGUSR2); os.kill(p, signal.SIGUSR2)"
        subprocess.run([sys.executable, "-c", code, str(os.getpid())], check=True)
        records = list(sfd)  # stops when nothing is pending
        assert [r.signo for r in records] == [signal.SIGUSR2]  # two sent, merged into one


def test_update_and_epoll(restore_mask):
    with SignalFd.create([signal.SIGUSR1], nonblocking=True) as sfd, Epoll.create() as ep:
        ep.add(sfd, EPOLL_IN, data="signals")
        sfd.update([signal.SIGUSR2])
        signal.raise_signal(signal.SIGUSR2)
        assert ep.wait(1.0) == [("signals", EPOLL_IN)]
        (info,) = sfd.read_signals()
        assert info.signo == signal.SIGUSR2 and info.pid == os.getpid()


def test_block_process(restore_mask):
    threads = fdsafe.block_process([signal.SIGHUP])
    assert threads >= 1
    assert signal.SIGHUP in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_bad_input(restore_mask):
    with pytest.raises(InvalidArgumentError):
        SignalFd.create([0])
    with SignalFd.create([signal.SIGUSR1], nonblocking=True) as sfd:
        with pytest.raises(BlockingIOError):
            sfd.read_signals()
        with pytest.raises(InvalidArgumentError):
            sfd.read_signals(0)
        e = EventFd.create()
        with pytest.raises(WrongKindError):
            SignalFd(e.value, owned=False).update([signal.SIGUSR1])
        e.close()
    with pytest.raises(OSError):
        sfd.read_signals()
