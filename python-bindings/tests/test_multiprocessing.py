"""Handles given to other processes by multiprocessing, as it gives them socket.socket: as
Process arguments under the spawn and forkserver start methods, and through a Queue. The
receiving process gets a working handle of the same class; plain pickle still refuses."""
import contextlib
import multiprocessing
import pickle
from multiprocessing import forkserver, reduction, resource_sharer, resource_tracker

import pytest

import fdsafe
from fdsafe import socket as fs

TIMEOUT = 30


@pytest.fixture(scope="module", autouse=True)
def helper_processes():
    """The resource tracker (spawn) and the fork server keep a descriptor open in this
    process for as long as they run: started before each test's descriptor snapshot, and
    stopped once this module is done, so the leak check sees only what the tests leave."""
    resource_tracker.ensure_running()
    forkserver.ensure_running()
    yield
    forkserver._forkserver._stop()
    resource_tracker._resource_tracker._stop()


def _answer(sock, pipe_end):
    """In the child: reads a line from ``sock``, answers it with the classes it got, and
    writes a line into ``pipe_end``."""
    with sock, pipe_end:
        line = sock.makefile("rb").readline()
        sock.sendall(b"got " + line.rstrip() + f" as {type(sock).__name__} {type(pipe_end).__name__}\n".encode())
        pipe_end.write(b"through the pipe\n")


@contextlib.contextmanager
def _started(ctx, target, args):
    """A started child process, killed and reaped on the way out, whatever happened."""
    p = ctx.Process(target=target, args=args)
    p.start()
    try:
        yield p
    finally:
        p.kill()
        p.join()
        p.close()


def _read_line(sock):
    with sock.makefile("rb") as f:
        return f.readline()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_child_gets_a_unix_stream_and_a_pipe_end(method):
    ctx = multiprocessing.get_context(method)
    mine, theirs = fs.unix_pair()
    r, w = fdsafe.pipe()
    with mine, theirs, r, w:
        with _started(ctx, _answer, (theirs, w)) as p:
            assert not theirs.closed and not w.closed  # the sender's handles stay its own
            mine.settimeout(TIMEOUT)
            mine.sendall(b"ping\n")
            assert _read_line(mine) == b"got ping as UnixStream PipeEnd\n"
            p.join(TIMEOUT)
            assert p.exitcode == 0
        theirs.close()
        w.close()
        assert r.read(100) == b"through the pipe\n"
        assert mine.recv(10) == b""  # the child's copy is closed too: no writer left


def _put_one_end(queue):
    """In the child: puts one end of a new pair on ``queue`` and answers through the other
    (which keeps the child alive until the parent has taken its end)."""
    a, b = fs.unix_pair()
    with a, b:
        queue.put(b)
        a.sendall(b"pong " + _read_line(a))


def test_a_queue_carries_a_handle():
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    try:
        with _started(ctx, _put_one_end, (queue,)) as p:
            got = queue.get(timeout=TIMEOUT)
            with got:
                assert type(got) is fs.UnixStream
                got.settimeout(TIMEOUT)
                got.sendall(b"ping\n")
                assert _read_line(got) == b"pong ping\n"
            p.join(TIMEOUT)
            assert p.exitcode == 0
    finally:
        queue.close()
        queue.join_thread()


def test_a_close_racing_the_pickling_never_hands_over_another_file(monkeypatch):
    """A Queue pickles in its feeder thread. The number it passes used to be borrowed without
    holding the handle: a close in that window freed it, another file took it, and the
    receiver got that file. Here the window is made certain: the original is closed and a
    decoy opened just before multiprocessing duplicates the number."""
    real_dup_fd = reduction.DupFd
    decoys = []

    def dup_fd_after_a_close(fd):
        original.close()
        decoys.append(fdsafe.EventFd.create(7))  # takes the lowest free number
        return real_dup_fd(fd)

    original = fdsafe.EventFd.create(1)
    monkeypatch.setattr(reduction, "DupFd", dup_fd_after_a_close)
    data = reduction.ForkingPickler.dumps(original)
    monkeypatch.setattr(reduction, "DupFd", real_dup_fd)
    got = pickle.loads(data)
    resource_sharer.stop()  # the listener multiprocessing started to hand the number over
    with got, decoys[0]:
        assert type(got) is fdsafe.EventFd
        assert got.read_value() == 1, "the original's file, not the decoy (7)"


def test_plain_pickle_still_refuses_and_so_do_stdio_and_epoll():
    a, b = fs.unix_pair()
    with a, b, fdsafe.Epoll.create() as ep, fdsafe.Stdio.open(fdsafe.STDOUT) as out:
        with pytest.raises(TypeError, match="cannot pickle"):
            pickle.dumps(a)
        # Each process has its own standard streams; an epoll set's registrations name this
        # process's handles.
        for h in (ep, out):
            with pytest.raises(TypeError, match="cannot pickle"):
                reduction.ForkingPickler.dumps(h)
