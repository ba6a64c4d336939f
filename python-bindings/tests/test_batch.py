"""IOBatch (fdsafe_io_batch) and recv_fds(kind=...) (fdsafe_socket_recv_handles_as)."""
import errno
import os
import struct

import pytest

import fdsafe
from fdsafe.handle import KIND_OTHER, KIND_PIPE
from fdsafe.socket import KIND_UNIX_STREAM, unix_pair


def test_batch_round_trips_in_order():
    with fdsafe.EventFd.create() as e:
        r, w = fdsafe.pipe()
        with r, w:
            batch = fdsafe.IOBatch([(e, "w", struct.pack("=Q", 2)), (e, "w", struct.pack("=Q", 3)), (e, "r", 8),
                                    (w, "w", b"abc"), (r, "r", 10)])
            assert len(batch) == 5
            for _ in range(3):  # a batch runs again and again
                batch.run()
                assert batch.results() == [8, 8, 8, 3, 3]
                assert struct.unpack("=Q", batch.data(2))[0] == 5
                assert batch.data(4) == b"abc"
                assert batch.data(0) is None


def test_batch_raises_the_first_failure_and_stops():
    e = fdsafe.EventFd.create(nonblocking=True)
    dead = fdsafe.EventFd.create()
    dead.close()
    with e:
        batch = fdsafe.IOBatch([(e, "w", struct.pack("=Q", 1)), (dead, "r", 8), (e, "r", 8)])
        with pytest.raises(OSError) as info:
            batch.run()
        assert info.value.errno == errno.EBADF
        assert e.read_value() == 1  # the first write ran, the read after the failure did not
        with pytest.raises(BlockingIOError):
            fdsafe.IOBatch([(e, "r", 8)]).run()


def test_batch_refuses_bad_steps():
    with fdsafe.EventFd.create() as e:
        with pytest.raises(ValueError):
            fdsafe.IOBatch([(e, "x", 8)])
        with pytest.raises(ValueError):
            fdsafe.IOBatch([(e, "r", 8)] * (fdsafe.batch.IO_BATCH_MAX + 1))
        fdsafe.IOBatch([]).run()  # empty: nothing to do


def test_recv_fds_as_other_and_expected_kind():
    a, b = unix_pair()
    r, w = fdsafe.pipe()
    x, y = unix_pair()
    with a, b, r, w, x, y:
        a.send_fds(b"m", [r, x])
        got = b.recv_fds(1, kind=KIND_OTHER)
        assert [h.kind for h in got.handles] == [KIND_OTHER, KIND_OTHER]
        for h in got.handles:
            h.close()
        a.send_fds(b"m", [r, x])
        got = b.recv_fds(1, kind=KIND_UNIX_STREAM)
        assert [h.kind for h in got.handles] == [KIND_PIPE, KIND_UNIX_STREAM]
        got.handles[1].send(b"z")
        assert y.recv(1) == b"z"
        for h in got.handles:
            h.close()
        with pytest.raises(fdsafe.InvalidArgumentError):
            b.recv_fds(1, kind=999)


def test_close_all_closes_live_handles_once():
    e = fdsafe.EventFd.create()
    r, w = fdsafe.pipe()
    dead = fdsafe.EventFd.create()
    dead.close()
    assert fdsafe.close_all([e, r, dead, e, w]) == 3
    assert e.closed and r.closed and w.closed
    assert fdsafe.close_all([e]) == 0  # closing twice is harmless
    assert fdsafe.close_all([]) == 0


def test_received_handles_get_their_class_without_a_lookup():
    a, b = unix_pair()
    with a, b:
        e = fdsafe.EventFd.create()
        a.send_fds(b"m", [e])
        got = b.recv_fds(1)
        assert isinstance(got.handles[0], fdsafe.EventFd)
        got.handles[0].add(2)
        assert e.read_value() == 2
        fdsafe.close_all(got.handles + [e])


def test_batch_resumes_after_eintr(monkeypatch):
    """An operation interrupted by a signal fails with -EINTR and ends the library call; run()
    resumes from that operation, as Python's own calls retry (PEP 475)."""
    import fdsafe.batch as batch_module

    def interrupted_at_start(ops, count, flags):
        ops.contents.result = -errno.EINTR  # as if a signal hit the first operation
        return 0

    monkeypatch.setattr(batch_module, "_fast_batch", interrupted_at_start)
    with fdsafe.EventFd.create() as e:
        batch = fdsafe.IOBatch([(e, "w", struct.pack("=Q", 4)), (e, "r", 8)])
        batch.run()
        assert batch.results() == [8, 8]
        assert struct.unpack("=Q", batch.data(1))[0] == 4


def test_close_all_except_in_a_forked_worker():
    """A worker after os.fork keeps what it serves with and drops the rest it inherited; the
    parent's copies keep working."""
    control, worker_end = unix_pair()
    e = fdsafe.EventFd.create()
    r, w = fdsafe.pipe()
    raw = [control.fileno(), e.fileno(), r.fileno()]
    pid = os.fork()
    if pid == 0:  # the worker: exit codes say which check failed
        code = 0
        try:
            if fdsafe.close_all_except([worker_end, w]) < 3:
                code = 10
            elif any(_is_open(fd) for fd in raw):
                code = 11
            elif worker_end.send(b"hi") != 2 or w.write(b"x") != 1:
                code = 12
            elif not (e.closed and not worker_end.closed):
                code = 13
        except BaseException:
            code = 20
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert control.recv(4) == b"hi"
    assert r.read(4) == b"x"
    e.add(1)
    assert e.read_value() == 1
    fdsafe.close_all([control, worker_end, e, r, w])


def test_close_all_except_refuses_a_wrong_keep_list():
    e = fdsafe.EventFd.create()
    dead = fdsafe.EventFd.create()
    dead.close()
    with pytest.raises(OSError) as raised:
        fdsafe.close_all_except([e, dead])
    assert raised.value.errno == errno.EBADF
    with pytest.raises(TypeError):
        fdsafe.close_all_except([e, 3])
    assert not e.closed
    e.add(1)  # nothing was closed
    e.close()


def _is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
