import asyncio
import os
import subprocess
import sys

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
            while True:  # fill the pipe
                try:
                    written += w.write(b"x" * 4096)
                except BlockingIOError:
                    break
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
