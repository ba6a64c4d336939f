import asyncio
import errno
import os
import subprocess
import sys

import pytest

import fdsafe
from fdsafe import aio


def test_await_readable_with_a_writer_in_another_process():
    async def main():
        r, w = fdsafe.pipe()
        with r, w:
            fd = w.release()  # hand the write end to a child process
            try:
                child = subprocess.Popen(
                    [sys.executable, "-c", f"import os, time; time.sleep(0.1); os.write({fd}, b'from child')"],
                    pass_fds=[fd])
            finally:
                os.close(fd)
            data = await asyncio.wait_for(aio.read(r, 100), 10)
            assert child.wait() == 0
            assert data == b"from child"
            assert await aio.read(r, 100) == b"", "end of file once the child is gone"

    asyncio.run(main())


def test_writable_waits_for_room():
    async def main():
        r, w = fdsafe.pipe(nonblocking=True)
        with r, w:
            w.capacity = 4096
            written = 0
            while True:  # fill the pipe (a raw stream's write: None when full)
                n = w.write(b"x" * 4096)
                if n is None:
                    break
                written += n
            drained = asyncio.get_running_loop().call_later(0.05, lambda: r.read(4096))
            n = await asyncio.wait_for(aio.write(w, b"more"), 10)
            assert n == 4 and written == 4096
            drained.cancel()

    asyncio.run(main())


def test_eventfd_wakes_the_loop_from_a_thread():
    async def main():
        ev = fdsafe.EventFd.create(nonblocking=True)
        with ev:
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, ev.add, 5)
            await asyncio.wait_for(aio.readable(ev), 10)
            assert ev.read_value() == 5

    asyncio.run(main())


# ---------- descriptor passing ----------

_PEER = r"""
import os, socket, sys
s = socket.socket(fileno=int(sys.argv[1]))
r, w = os.pipe()
os.write(w, b"from the peer")
os.close(w)
socket.send_fds(s, [b"fds"], [r])
os.close(r)
msg, fds, flags, addr = socket.recv_fds(s, 100, 4)
assert msg == b"ret" and len(fds) == 1, (msg, fds)
os.write(fds[0], b"back")
os.close(fds[0])
s.close()
"""


def test_async_fds_with_a_python_peer_in_another_process():
    from fdsafe import socket as fsock

    async def main():
        mine, theirs = fsock.unix_pair(fsock.UNIX_STREAM)
        with mine, theirs:
            child = subprocess.Popen([sys.executable, "-c", _PEER, str(theirs.fileno())], pass_fds=[theirs.fileno()])
            theirs.close()
            got = await asyncio.wait_for(aio.recv_fds(mine, 100, 4), 10)
            assert got.data == b"fds"
            assert len(got.handles) == 1
            (r,) = got.handles
            with r:
                assert isinstance(r, fdsafe.PipeEnd)
                assert r.read(100) == b"from the peer"
            back_r, back_w = fdsafe.pipe()
            with back_r, back_w:
                assert await aio.send_fds(mine, b"ret", [back_w]) == 3
                back_w.close()  # the peer has its own copy
                assert child.wait(10) == 0
                assert back_r.read(100) == b"back"

    asyncio.run(main())


def test_async_fds_between_fdsafe_sockets_waits_for_the_message():
    from fdsafe import socket as fsock

    async def main():
        a, b = fsock.unix_pair(fsock.UNIX_SEQPACKET)
        r, w = fdsafe.pipe()
        with a, b, r, w:
            receiving = asyncio.ensure_future(aio.recv_fds(b, 64, 8))
            await asyncio.sleep(0.05)
            assert not receiving.done(), "recv_fds waits for a message without blocking the loop"
            assert await aio.send_fds(a, b"two", [r, w]) == 3
            got = await asyncio.wait_for(receiving, 10)
            assert got.data == b"two"
            assert [type(h) for h in got.handles] == [fdsafe.PipeEnd, fdsafe.PipeEnd]
            r2, w2 = got.handles
            with r2, w2:
                w2.write(b"x")
                assert r.read(1) == b"x"
                assert all(os.get_inheritable(h.fileno()) is False for h in (r2, w2))

    asyncio.run(main())


def test_async_send_fds_waits_for_room():
    from fdsafe import socket as fsock

    async def main():
        a, b = fsock.unix_pair(fsock.UNIX_DATAGRAM, nonblocking=True)
        r, w = fdsafe.pipe()
        with a, b, r, w:
            queued = 0
            while True:  # fill the receive queue
                try:
                    a.send(b"filler", fsock.MSG_DONTWAIT)
                    queued += 1
                except BlockingIOError:
                    break
            assert queued > 0

            def drain():
                for _ in range(queued):
                    b.recv(100)

            asyncio.get_running_loop().call_later(0.05, drain)
            assert await asyncio.wait_for(aio.send_fds(a, b"late", [r]), 10) == 4
            got = await aio.recv_fds(b, 100, 2)
            assert got.data == b"late"
            for h in got.handles:
                h.close()
            assert len(got.handles) == 1

    asyncio.run(main())


def test_async_fds_refuse_non_unix_handles():
    async def main():
        r, w = fdsafe.pipe()
        with r, w:
            with pytest.raises(TypeError):
                await aio.send_fds(w, b"x", [r])
            with pytest.raises(TypeError):
                await aio.recv_fds(r, 10)

    asyncio.run(main())


def test_a_socket_with_a_timeout_does_not_block_the_loop():
    """settimeout() leaves a socket O_NONBLOCK while its calls wait out the timeout: awaiting
    one must still wait in the loop, not in the call (other tasks keep running)."""
    async def main():
        a, b = fdsafe.socket.unix_pair()
        with a, b:
            b.settimeout(2.0)
            gaps = []

            async def ticker():
                last = asyncio.get_running_loop().time()
                while True:
                    await asyncio.sleep(0.01)
                    now = asyncio.get_running_loop().time()
                    gaps.append(now - last)
                    last = now

            ticking = asyncio.create_task(ticker())
            receiving = asyncio.create_task(aio.recv_fds(b, 10))
            await asyncio.sleep(0.2)
            a.send(b"late")
            got = await asyncio.wait_for(receiving, 5)
            ticking.cancel()
            assert got.data == b"late"
            assert max(gaps) < 0.15, f"the loop stood still for {max(gaps):.2f} s"
            assert b.gettimeout() == 0.0, "the socket was put in non-blocking mode"

    asyncio.run(main())


def test_two_tasks_awaiting_one_handle_are_both_woken():
    async def main():
        r, w = fdsafe.pipe()
        with r, w:
            first = asyncio.create_task(aio.readable(r))
            second = asyncio.create_task(aio.readable(r))
            await asyncio.sleep(0.02)
            w.write(b"x")
            await asyncio.wait_for(asyncio.gather(first, second), 5)

    asyncio.run(main())


def test_a_handle_closed_while_awaited_leaves_its_numbers_next_owner_watched():
    """The kernel drops a closed descriptor from the loop's epoll set without an event, and
    the loop still lists the number. The next handle awaited on that number must be watched
    for real, and the task left waiting on the closed handle told EBADF."""
    async def main():
        r1, w1 = fdsafe.pipe()
        with w1:
            stale = asyncio.create_task(aio.read(r1, 10))
            await asyncio.sleep(0.02)
            number = r1.fileno()
            r1.close()
            r2, w2 = fdsafe.pipe()
            with r2, w2:
                assert r2.fileno() == number, "the new pipe takes the freed number"
                fresh = asyncio.create_task(aio.read(r2, 10))
                await asyncio.sleep(0.02)
                w2.write(b"for r2")
                assert await asyncio.wait_for(fresh, 5) == b"for r2"
                with pytest.raises(OSError) as raised:
                    await asyncio.wait_for(stale, 5)
                assert raised.value.errno == errno.EBADF

    asyncio.run(main())
