"""The fast descriptor-passing path (fdsafe.passing): HandlePasser, HandleList, close_values
and wrap. Real descriptors go through (checked with os.fstat and by writing through them),
bad input is refused with the package's exceptions, and the fd-balance fixture proves
nothing leaks."""
import array
import errno
import fcntl
import os

import pytest

import fdsafe
from fdsafe import socket as fs
from fdsafe.errors import InvalidArgumentError, WrongKindError
from fdsafe.handle import KIND_OTHER, Handle
from fdsafe.passing import PASS_DATA_MAX, HandleList, HandlePasser, close_values, wrap


def live(value):
    return not Handle(value, owned=False).closed


def same_file(a_fd, b_fd):
    a, b = os.fstat(a_fd), os.fstat(b_fd)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def test_passes_real_descriptors_as_values():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = HandlePasser(a), HandlePasser(b, size=16)
        assert sender.send(b"two", [r, w]) == 3
        data, values, info = receiver.recv()
        assert data == b"two" and info == 0 and receiver.flags == 0 and receiver.closed_count == 0
        assert isinstance(values, array.array) and values.typecode == "Q" and len(values) == 2
        assert all(isinstance(v, int) for v in values)
        got_r, got_w = (Handle(v, owned=False) for v in values)
        assert got_r.kind == KIND_OTHER  # the default: no kernel query per descriptor
        assert same_file(got_r.fileno(), r.fileno()) and same_file(got_w.fileno(), w.fileno())
        assert got_r.fileno() != r.fileno()  # a new descriptor of the same pipe
        assert fcntl.fcntl(got_w.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert got_w.write(b"through") == 7
        assert r.read(7) == b"through"
        assert not r.closed and not w.closed  # the sender's handles stay open
        assert receiver.close_received() == 2
        assert not live(values[0]) and not live(values[1])
        assert receiver.close_received() == 0  # nothing left from that message


def test_send_takes_objects_values_arrays_and_handle_lists():
    a, b = fs.unix_pair(fs.UNIX_SEQPACKET)
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = HandlePasser(a), HandlePasser(b, size=8, max_handles=4)
        prepared = HandleList([r, w.value])
        assert len(prepared) == 2 and prepared.values() == [r.value, w.value]
        for handles in ([r, w], [r.value, w.value], [r, w.value], array.array("Q", [r.value, w.value]),
                        (r, w), prepared, prepared):
            assert sender.send(b"m", handles) == 1
            data, values, _ = receiver.recv()
            assert data == b"m" and len(values) == 2
            assert same_file(Handle(values[1], owned=False).fileno(), w.fileno())
            receiver.close_received()
        assert sender.send(bytearray(b"none"), []) == 4  # data alone
        assert receiver.recv() == (b"none", array.array("Q"), 0)


def test_received_values_can_be_forwarded_as_they_are():
    a, b = fs.unix_pair()
    c, d = fs.unix_pair(fs.UNIX_DATAGRAM)
    r, w = fdsafe.pipe()
    with a, b, c, d, r, w:
        first, middle, last = HandlePasser(a), HandlePasser(b), HandlePasser(d)
        forward = HandlePasser(c)
        first.send(b"1", [w])
        _, values, _ = middle.recv()
        forward.send(b"2", values)  # the array('Q') goes on with no conversion
        middle.close_received()
        _, values, _ = last.recv()
        Handle(values[0], owned=False).write(b"hop")
        assert r.read(3) == b"hop"
        assert close_values(values) == 1


@pytest.mark.parametrize("kind", [None, fs.KIND_UNIX_STREAM])
def test_detected_or_expected_kinds(kind):
    a, b = fs.unix_pair()
    x, y = fs.unix_pair()
    e = fdsafe.EventFd.create()
    with a, b, x, y, e:
        sender, receiver = HandlePasser(a), HandlePasser(b, kind=kind)
        sender.send(b"k", [x, e])
        _, values, _ = receiver.recv()
        objects = wrap(values)
        try:
            assert type(objects[0]) is fs.UnixStream
            # an expected kind that does not fit is detected in full
            assert type(objects[1]) is fdsafe.EventFd
            objects[1].add(5)
            assert e.read_value() == 5
        finally:
            fdsafe.close_all(objects)
        assert receiver.close_received() == 0  # the objects closed them all already


def test_wrap_refuses_stale_values_before_wrapping_any():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = HandlePasser(a), HandlePasser(b)
        sender.send(b"x", [r, w])
        _, values, _ = receiver.recv()
        close_values(values[1:])
        with pytest.raises(OSError) as info:
            wrap(values)
        assert info.value.errno == errno.EBADF
        assert live(values[0])  # not wrapped, so not closed by a collected object
        assert receiver.close_received() == 1


def test_close_values():
    r, w = fdsafe.pipe()
    e = fdsafe.EventFd.create()
    values = [r.value, w.value, e.value]
    assert close_values(values + [r.value, 0]) == 3  # repeats and 0 are skipped
    assert close_values(array.array("Q", values)) == 0  # all stale now
    assert close_values([]) == 0
    for h in (r, w, e):
        assert h.closed
        h.close()
    with pytest.raises(TypeError):
        close_values([fdsafe.EventFd])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        close_values([-1])


def test_more_descriptors_than_room_are_closed_not_leaked():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = HandlePasser(a), HandlePasser(b, max_handles=2)
        sender.send(b"x", [r] * 20)
        _, values, info = receiver.recv()
        assert len(values) == 2 and info & fs.RECV_INFO_CTRUNC and info == receiver.flags
        assert receiver.closed_count > 0 and info & fs.RECV_INFO_CLOSED
        receiver.close_received()
        none = HandlePasser(b, max_handles=0)
        sender.send(b"y", [w] * 3)
        _, values, info = none.recv()
        assert len(values) == 0 and info & (fs.RECV_INFO_CTRUNC | fs.RECV_INFO_CLOSED)


def test_data_beyond_size_is_cut_and_reported():
    a, b = fs.unix_pair(fs.UNIX_DATAGRAM)
    with a, b:
        sender, receiver = HandlePasser(a), HandlePasser(b, size=4)
        sender.send(b"abcdefgh", [])
        data, values, info = receiver.recv()
        assert data == b"abcd" and len(values) == 0 and info == fs.RECV_INFO_TRUNC
        big = HandlePasser(b, size=1 << 16)  # large buffers are copied out by length
        sender.send(b"z" * 1000, [])
        assert big.recv()[0] == b"z" * 1000


def test_peek_dontwait_and_end_of_stream():
    a, b = fs.unix_pair()
    with b:
        receiver = HandlePasser(b, size=4)
        with pytest.raises(BlockingIOError):
            receiver.recv(fs.MSG_DONTWAIT)
        HandlePasser(a).send(b"pk", [])
        assert receiver.recv(fs.MSG_PEEK)[0] == b"pk"
        assert receiver.recv()[0] == b"pk"
        a.close()
        assert receiver.recv() == (b"", array.array("Q"), 0)


def test_constructor_refuses_bad_input():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w, fs.tcp_listen("127.0.0.1:0") as tcp:
        with pytest.raises(TypeError):
            HandlePasser(r.fileno())  # type: ignore[arg-type]
        for wrong in (r, tcp):
            with pytest.raises(WrongKindError):
                HandlePasser(wrong)
        for size in (0, -1, PASS_DATA_MAX + 1, 1.5):
            with pytest.raises(InvalidArgumentError):
                HandlePasser(a, size=size)  # type: ignore[arg-type]
        for count in (-1, 254, 1 << 40):
            with pytest.raises(InvalidArgumentError):
                HandlePasser(a, max_handles=count)
        for kind in (0, 3, 25, -1):
            with pytest.raises(InvalidArgumentError):
                HandlePasser(a, kind=kind)
        closed, peer = fs.unix_pair()
        peer.close()
        closed.close()
        with pytest.raises(OSError) as info:
            HandlePasser(closed)
        assert info.value.errno == errno.EBADF


def test_send_and_recv_refuse_bad_input_and_send_nothing():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = HandlePasser(a), HandlePasser(b)
        stale, other = fdsafe.pipe()
        stale.close()
        other.close()
        with pytest.raises(OSError) as info:
            sender.send(b"x", [r, stale])  # a closed handle: nothing sent
        assert info.value.errno == errno.EBADF
        with pytest.raises(InvalidArgumentError):
            sender.send(b"", [r])  # descriptors need a byte to travel with
        with pytest.raises(InvalidArgumentError):
            sender.send(b"x", [r] * 254)
        with pytest.raises(InvalidArgumentError):
            HandleList([r] * 254)
        with pytest.raises(InvalidArgumentError):
            sender.send(b"x", [-5])
        with pytest.raises(TypeError):
            sender.send(b"x", ["r"])  # type: ignore[list-item]
        with pytest.raises(InvalidArgumentError):
            sender.send(b"x", [r], flags=1 << 20)  # unknown to the library
        for bad in (-1, 1 << 31):
            with pytest.raises(InvalidArgumentError):
                sender.send(b"x", [r], flags=bad)
            with pytest.raises(InvalidArgumentError):
                receiver.recv(flags=bad)
        with pytest.raises(InvalidArgumentError):
            receiver.recv(flags=1 << 20)
        with pytest.raises(BlockingIOError):
            receiver.recv(fs.MSG_DONTWAIT)  # none of the refused sends sent anything
    with pytest.raises(OSError) as info:  # the socket is closed now
        sender.send(b"x", [])
    assert info.value.errno == errno.EBADF
    with pytest.raises(OSError) as info:
        receiver.recv()
    assert info.value.errno == errno.EBADF
    assert receiver.close_received() == 0


def test_stream_socket_passer_from_the_socket_object():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        sender, receiver = a.passer(), b.passer(size=2, kind=None)
        assert sender.socket is a
        sender.send(b"ab", HandleList([w]))
        data, values, _ = receiver.recv()
        assert data == b"ab" and values[0] >> 56 == fdsafe.PipeEnd.KIND
        assert receiver.close_received() == 1


def test_a_failed_recv_keeps_the_last_message_for_close_received():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        HandlePasser(a).send(b"x", [r])
        receiver = HandlePasser(b)
        _, values, _ = receiver.recv()
        with pytest.raises(BlockingIOError):
            receiver.recv(fs.MSG_DONTWAIT)
        assert receiver.close_received() == 1
        assert not live(values[0])


def test_passing_to_another_process():
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    with a, b, r, w:
        pid = os.fork()
        if pid == 0:  # child: receive the write end and write through it
            code = 1
            try:
                receiver = HandlePasser(b)
                _, values, info = receiver.recv()
                Handle(values[0], owned=False).write(b"child")
                code = 0 if info == 0 and receiver.close_received() == 1 else 2
            finally:
                os._exit(code)
        HandlePasser(a).send(b"w", HandleList([w]))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert r.read(5) == b"child"
