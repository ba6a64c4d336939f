"""make bench, Python part: the fdsafe bindings (ctypes) against Python's standard library
doing the same work, measured in the same run (medians of alternating batches).

Run from the repository: python3 bench/python_bench.py (the bindings find
target/release/libfdsafe.so, or FDSAFE_LIBRARY)."""
import os
import socket
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python-bindings"))

import fdsafe  # noqa: E402
from fdsafe.pipe import SIGPIPE_GUARD, SIGPIPE_IGNORE, sigpipe_mode  # noqa: E402
from fdsafe.handle import KIND_OTHER  # noqa: E402
from fdsafe.socket import KIND_UNIX_STREAM, unix_pair  # noqa: E402

BATCHES = 11


def per_op(fn, ops):
    t = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t) / ops


def compare(name, ours, theirs, ops, unit="ns"):
    a, b = [], []
    for _ in range(BATCHES):
        b.append(per_op(theirs, ops))
        a.append(per_op(ours, ops))
    f, s = statistics.median(a), statistics.median(b)
    print(f"{name:52s} fdsafe {f:8.1f} {unit}   stdlib {s:8.1f} {unit}   ratio {f / s:.3f}")
    return f / s


def bench_eventfd(n=20000):
    raw = os.eventfd(0, os.EFD_CLOEXEC)
    e = fdsafe.EventFd.create()
    one = struct.pack("=Q", 1)
    batch = fdsafe.IOBatch([(e, "w", one), (e, "r", 8)] * 1000)

    def stdlib():
        w, r = os.eventfd_write, os.eventfd_read
        for _ in range(n):
            w(raw, 1)
            r(raw)

    def calls():
        add, take = e.add, e.read_value
        for _ in range(n):
            add(1)
            take()

    def batched():
        run = batch.run
        for _ in range(n // 1000):
            run()

    compare("eventfd write+read, one call each", calls, stdlib, n)
    compare("eventfd write+read, IOBatch of 1000", batched, stdlib, n)
    os.close(raw)
    e.close()


def bench_pipe(n=20000):
    rr, rw = os.pipe2(os.O_CLOEXEC)
    r, w = fdsafe.pipe()
    batch = fdsafe.IOBatch([(w, "w", b"x"), (r, "r", 1)] * 1000)

    def stdlib():
        wr, rd = os.write, os.read
        for _ in range(n):
            wr(rw, b"x")
            rd(rr, 1)

    def calls():
        wr, rd = w.write, r.read
        for _ in range(n):
            wr(b"x")
            rd(1)

    def batched():
        run = batch.run
        for _ in range(n // 1000):
            run()

    for mode, label in ((SIGPIPE_GUARD, "guard"), (SIGPIPE_IGNORE, "ignore")):
        sigpipe_mode(mode)
        compare(f"pipe 1-byte write+read, one call each ({label})", calls, stdlib, n)
        compare(f"pipe 1-byte write+read, IOBatch of 1000 ({label})", batched, stdlib, n)
    sigpipe_mode(SIGPIPE_GUARD)
    for fd in (rr, rw):
        os.close(fd)
    r.close()
    w.close()


def bench_passing():
    """socket.send_fds/recv_fds against the bindings' send_fds/recv_fds: Unix stream sockets
    passed (the daemon case), per descriptor including closing what arrived (os.close each;
    fdsafe.close_all, one call per message, unless it says "close each")."""
    sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fa, fb = unix_pair()
    pairs = [unix_pair() for _ in range(253)]
    ours = [p[0] for p in pairs]
    theirs = [p[0].fileno() for p in pairs]
    for count in (1, 64, 253):
        messages = max(2000 // count, 20)
        handles, fds = ours[:count], theirs[:count]

        def stdlib():
            for _ in range(messages):
                socket.send_fds(sa, [b"x"], fds)
                _, got, _, _ = socket.recv_fds(sb, 1, 253)
                for fd in got:
                    os.close(fd)

        def shim(kind, bulk_close=True):
            def run():
                for _ in range(messages):
                    fa.send_fds(b"x", handles)
                    got = fb.recv_fds(1, kind=kind)
                    if bulk_close:
                        fdsafe.close_all(got.handles)
                    else:
                        for h in got.handles:
                            h.close()
            return run

        ops = messages * count
        compare(f"SCM_RIGHTS {count:3d} sockets/msg, detect, close each", shim(None, False), stdlib, ops, "ns/fd")
        compare(f"SCM_RIGHTS {count:3d} sockets/msg, detect", shim(None), stdlib, ops, "ns/fd")
        compare(f"SCM_RIGHTS {count:3d} sockets/msg, KIND_OTHER", shim(KIND_OTHER), stdlib, ops, "ns/fd")
        compare(f"SCM_RIGHTS {count:3d} sockets/msg, expected kind", shim(KIND_UNIX_STREAM), stdlib, ops, "ns/fd")
    for a, b in pairs:
        a.close()
        b.close()
    fa.close()
    fb.close()
    sa.close()
    sb.close()


def main():
    print(f"fdsafe Python bindings vs the standard library (Python {sys.version.split()[0]}), "
          f"medians of {BATCHES} batches")
    bench_eventfd()
    bench_pipe()
    bench_passing()


if __name__ == "__main__":
    main()
