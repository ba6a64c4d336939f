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
from fdsafe.passing import HandleList, HandlePasser  # noqa: E402
from fdsafe.socket import RECV_INFO_CLOSED, RECV_INFO_CTRUNC, unix_pair  # noqa: E402

BATCHES = 11


def per_op(fn, ops, clock=time.perf_counter_ns):
    t = clock()
    fn()
    return (clock() - t) / ops


def compare(name, ours, theirs, ops, unit="ns", batches=BATCHES, clock=time.perf_counter_ns):
    a, b = [], []
    for _ in range(batches):
        b.append(per_op(theirs, ops, clock))
        a.append(per_op(ours, ops, clock))
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
    """Passing Unix stream sockets (the daemon case), per descriptor, each side sending,
    receiving and closing what arrived, as a careful program does:

    - stdlib: socket.send_fds; socket.recv_fds with MSG_CMSG_CLOEXEC (received descriptors
      must not leak into child processes); a check of MSG_CTRUNC (descriptors lost); os.close
      of each received descriptor.
    - fdsafe fast path (fdsafe.passing.HandlePasser, kind KIND_OTHER): send of the handles
      (a HandleList made once, or a list of handle objects converted on each send); recv
      into buffers made once, giving handle values (close-on-exec on arrival); a check of
      RECV_INFO_CTRUNC/CLOSED; close_received (one fdsafe_close_many per message).
    - fdsafe objects (UnixStream.send_fds / recv_fds): one Python object per received handle,
      kind detected (or KIND_OTHER), closed with fdsafe.close_all.
    """
    sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fa, fb = unix_pair()
    sender, receiver = HandlePasser(fa), HandlePasser(fb)
    pairs = [unix_pair() for _ in range(253)]
    ours = [p[0] for p in pairs]
    theirs = [p[0].fileno() for p in pairs]
    cloexec, ctrunc = socket.MSG_CMSG_CLOEXEC, int(socket.MSG_CTRUNC)
    lost = RECV_INFO_CTRUNC | RECV_INFO_CLOSED
    print("descriptor passing (this thread's CPU time, user + kernel; medians of 21 batches):")
    print("  stdlib = socket.send_fds + recv_fds(MSG_CMSG_CLOEXEC) + MSG_CTRUNC check + os.close of each")
    print("  fast path = HandlePasser.send + recv (int values) + RECV_INFO check + close_received")
    for count in (1, 64, 253):
        messages = max(2000 // count, 20)
        handles, fds = ours[:count], theirs[:count]
        prepared = HandleList(handles)

        def stdlib():
            for _ in range(messages):
                socket.send_fds(sa, [b"x"], fds)
                _, got, flags, _ = socket.recv_fds(sb, 1, 253, cloexec)
                if flags & ctrunc:
                    raise RuntimeError("descriptors lost")
                for fd in got:
                    os.close(fd)

        def fast(what):
            def run():
                send, recv, close = sender.send, receiver.recv, receiver.close_received
                for _ in range(messages):
                    send(b"x", what)
                    if recv()[2] & lost:
                        raise RuntimeError("descriptors lost")
                    close()
            return run

        def objects(kind):
            def run():
                for _ in range(messages):
                    fa.send_fds(b"x", handles)
                    got = fb.recv_fds(1, kind=kind)
                    if got.flags & lost:
                        raise RuntimeError("descriptors lost")
                    fdsafe.close_all(got.handles)
            return run

        ops = messages * count
        cpu = time.thread_time_ns
        compare(f"SCM_RIGHTS {count:3d}/msg, fast path, HandleList", fast(prepared), stdlib, ops, "ns/fd", 21, cpu)
        compare(f"SCM_RIGHTS {count:3d}/msg, fast path, list of handles", fast(handles), stdlib, ops, "ns/fd", 21, cpu)
        compare(f"SCM_RIGHTS {count:3d}/msg, objects, KIND_OTHER", objects(KIND_OTHER), stdlib, ops, "ns/fd", 21, cpu)
        compare(f"SCM_RIGHTS {count:3d}/msg, objects, detect", objects(None), stdlib, ops, "ns/fd", 21, cpu)
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
