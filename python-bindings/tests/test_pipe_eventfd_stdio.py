import errno
import os
import signal
import subprocess
import sys

import pytest

import fdsafe
from fdsafe import EventFd, InvalidArgumentError, Stdio, pipe


def test_pipe_round_trip_and_capacity():
    r, w = pipe()
    assert w.write(b"hello") == 5
    assert r.read(100) == b"hello"
    assert r.capacity == 65536
    w.capacity = 1 << 20
    assert r.capacity == 1 << 20, "both ends share the pipe"
    with pytest.raises(PermissionError):
        w.capacity = 1 << 24  # above /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE
    r.close()
    w.close()


def test_packet_mode_keeps_boundaries():
    r, w = pipe(packet=True)
    w.write(b"one")
    w.write(b"two!")
    assert r.read(100) == b"one"
    assert r.read(100) == b"two!"
    r.close()
    w.close()


def test_write_without_reader_is_broken_pipe_not_a_signal():
    # SIGPIPE at its default disposition would kill the process; Python ignores it, so the
    # check runs in a child that restores the default first.
    code = (
        "import signal, fdsafe\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "r, w = fdsafe.pipe(); r.close()\n"
        "try:\n    w.write(b'x')\nexcept BrokenPipeError:\n    print('EPIPE')\n"
        "print('pending' if signal.SIGPIPE in signal.sigpending() else 'clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EPIPE", "clean"]


def test_closing_the_read_end_wakes_a_writer_waiting_for_room():
    # A producer blocked on a full pipe stops with BrokenPipeError when the consumer closes
    # its end, as with os.pipe (the write must not keep the read end open while it waits).
    import threading

    r, w = pipe()
    outcome = []

    def produce():
        try:
            while True:
                w.write(b"x" * 65536)
        except BrokenPipeError:
            outcome.append("EPIPE")

    producer = threading.Thread(target=produce)
    producer.start()
    threading.Event().wait(0.05)  # the pipe is full and the producer waits for room
    read_fd = r.fileno()
    r.close()
    producer.join(timeout=5)
    alive = producer.is_alive()
    if alive:  # unstick it so the test run can end: drain until the read end is gone, then fail
        drain = os.open(f"/proc/self/fd/{w.fileno()}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        pipe_inode = os.fstat(drain).st_ino

        def read_end_open():
            try:
                return os.fstat(read_fd).st_ino == pipe_inode
            except OSError:
                return False

        while read_end_open():
            try:
                os.read(drain, 65536)
            except BlockingIOError:
                threading.Event().wait(0.001)
        os.close(drain)  # the last reader: the producer gets EPIPE
        producer.join()
    w.close()
    assert not alive, "the writer stayed blocked after its read end was closed"
    assert outcome == ["EPIPE"]


def test_blocking_write_larger_than_the_pipe_writes_everything():
    import threading

    r, w = pipe()
    got = []
    def consume():
        total = 0
        while total < 1 << 22:
            total += len(r.read(65536))
        got.append(total)

    reader = threading.Thread(target=consume)
    reader.start()
    assert w.write(b"y" * (1 << 22)) == 1 << 22
    reader.join()
    assert got == [1 << 22]
    r.close()
    w.close()


def test_eventfd_counter_semaphore_and_nonblocking():
    with EventFd.create(initial=2) as ev:
        ev.add(5)
        assert ev.read_value() == 7
    with EventFd.create(initial=3, semaphore=True, nonblocking=True) as ev:
        assert [ev.read_value() for _ in range(3)] == [1, 1, 1]
        with pytest.raises(BlockingIOError):
            ev.read_value()
        with pytest.raises(OSError) as e:
            ev.add(2**64 - 1)
        assert e.value.errno == errno.EINVAL


def test_eventfd_bad_flags():
    from fdsafe._lib import lib
    import ctypes
    out = ctypes.c_uint64()
    assert lib.fdsafe_eventfd_create(0, 0x80, ctypes.byref(out)) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    assert lib.fdsafe_pipe_create(0x80, ctypes.byref(out), ctypes.byref(out)) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT
    assert lib.fdsafe_eventfd_read(0, None) == fdsafe.errors.FDSAFE_E_INVALID_ARGUMENT


def test_stdio_handles_never_close_the_streams():
    out = Stdio.open(fdsafe.STDOUT)
    assert out.fileno() >= 3
    assert os.get_inheritable(out.fileno()) is False
    out.close()
    os.fstat(1)  # still open
    with pytest.raises(InvalidArgumentError):
        Stdio.open(3)


def test_stdio_close_stream_points_it_at_dev_null():
    code = (
        "import os, fdsafe\n"
        "h = fdsafe.Stdio.open(fdsafe.STDOUT, close_stream=True)\n"
        "h.write(b'through the handle\\n'); h.close()\n"
        "os.write(2, os.readlink('/proc/self/fd/1').encode())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"through the handle\n"
    assert out.stderr == b"/dev/null"


def test_stdio_open_refuses_a_stream_number_a_handle_took():
    # The program closed descriptor 1 and an eventfd handle took the number: not a stream.
    code = (
        "import os, fdsafe\n"
        "os.close(1)\n"
        "e = fdsafe.EventFd.create()\n"
        "assert e.fileno() == 1\n"
        "try:\n    fdsafe.Stdio.open(fdsafe.STDOUT, close_stream=True)\n"
        "except fdsafe.InvalidArgumentError as err:\n    os.write(2, b'refused')\n"
        "e.add(5); assert e.read_value() == 5\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stderr == b"refused"


def test_errors_have_names_and_messages():
    assert fdsafe.error_name(-errno.EAGAIN) == "EAGAIN"
    assert fdsafe.error_name(fdsafe.errors.FDSAFE_E_WRONG_KIND) == "FDSAFE_E_WRONG_KIND"
    assert fdsafe.strerror(-errno.EBADF) == "Bad file descriptor"
    assert fdsafe.strerror(-99999) == "Unknown error"
    r, w = pipe()
    r.close()
    with pytest.raises(OSError):
        r.read(1)
    assert fdsafe.last_error().startswith("fdsafe_read: stale handle")
    w.close()


def test_a_splice_in_a_thread_that_blocks_sigpipe_leaves_none_pending():
    # splice has no RWF_NOSIGNAL: fdsafe blocks SIGPIPE around it and discards the one it
    # raised, also when the thread blocked SIGPIPE itself (unblocking would then kill).
    code = (
        "import os, signal, fdsafe\n"
        "from fdsafe.splice import splice\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})\n"
        "src_r, src_w = fdsafe.pipe(); dst_r, dst_w = fdsafe.pipe(); dst_r.close()\n"
        "src_w.write(b'abc')\n"
        "try:\n    splice(src_r, dst_w, 3)\nexcept BrokenPipeError:\n    print('EPIPE', flush=True)\n"
        "print(sorted(signal.sigpending()), flush=True)\n"
        "assert signal.SIGPIPE in signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPIPE})\n"
        "print('survived')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EPIPE", "[]", "survived"]


def test_sigpipe_ignore_mode_in_a_child():
    # Python's signal.getsignal only knows what Python set, so the disposition is checked by
    # its effect: a raw os.write to a pipe without readers survives only while ignored.
    code = (
        "import os, signal, fdsafe\n"
        "from fdsafe.pipe import sigpipe_mode, SIGPIPE_GUARD, SIGPIPE_IGNORE\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "assert sigpipe_mode(SIGPIPE_IGNORE) == SIGPIPE_GUARD\n"
        "r, w = fdsafe.pipe(); r.close()\n"
        "try:\n    w.write(b'x')\nexcept BrokenPipeError:\n    print('EPIPE', flush=True)\n"
        "rr, ww = os.pipe(); os.close(rr)\n"
        "try:\n    os.write(ww, b'x')\nexcept BrokenPipeError:\n    print('ignored', flush=True)\n"
        "assert sigpipe_mode(SIGPIPE_GUARD) == SIGPIPE_IGNORE\n"
        "try:\n    w.write(b'x')\nexcept BrokenPipeError:\n    print('EPIPE', flush=True)\n"
        "try:\n    sigpipe_mode(5)\nexcept fdsafe.InvalidArgumentError:\n    print('refused', flush=True)\n"
        "os.write(ww, b'x')\n"  # SIG_DFL is back: this kills the child
        "print('survived')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert out.returncode == -signal.SIGPIPE, out.stderr
    assert out.stdout.split() == ["EPIPE", "ignored", "EPIPE", "refused"]
