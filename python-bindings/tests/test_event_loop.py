"""One Epoll over every event source of this area, from Python."""
import os
import signal
import time

from fdsafe import (EPOLL_IN, Epoll, EventFd, Inotify, MessageQueue, SignalFd, TimerFd, pipe)
from fdsafe import inotify as ino
from fdsafe import mqueue


def test_one_loop_over_every_source(tmp_path):
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    qname = f"/fdsafe-pyloop-{os.getpid()}"
    r, w = pipe()
    try:
        with Epoll.create() as ep, TimerFd.create(nonblocking=True) as timer, \
                SignalFd.create([signal.SIGUSR1], nonblocking=True) as sig, \
                EventFd.create(nonblocking=True) as event, Inotify.create(nonblocking=True) as watch, \
                MessageQueue.open(qname, create=True, exclusive=True, max_messages=2, message_size=16,
                                  nonblocking=True) as queue:
            watch.add_watch(tmp_path, ino.IN_CREATE)
            sources = {
                "timer": (timer, lambda: timer.set(0.001), timer.expirations),
                "signal": (sig, lambda: signal.raise_signal(signal.SIGUSR1), sig.read_signals),
                "event": (event, lambda: event.add(1), event.read_value),
                "inotify": (watch, lambda: (tmp_path / f"f{time.monotonic_ns()}").touch(), watch.read_events),
                "queue": (queue, lambda: queue.send(b"m"), queue.receive),
                "pipe": (r, lambda: w.write(b"p"), lambda: r.read(16)),
            }
            for name, (handle, _, _) in sources.items():
                ep.add(handle, EPOLL_IN, data=name)
            assert ep.wait(0) == []
            for name, (_, fire, drain) in sources.items():
                fire()
                assert ep.wait(2.0) == [(name, EPOLL_IN)]
                drain()
                assert ep.wait(0) == []
            for _, fire, _ in sources.values():
                fire()
            seen = set()
            while len(seen) < len(sources):
                for name, events in ep.wait(2.0):
                    assert name not in seen and events == EPOLL_IN
                    seen.add(name)
                    sources[name][2]()
            assert seen == set(sources)
    finally:
        r.close()
        w.close()
        mqueue.unlink(qname)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
