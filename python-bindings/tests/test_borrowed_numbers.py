"""Where the package hands a handle's descriptor to code outside fdsafe (``socket.socket``,
``fcntl``, a raw-descriptor call), the number must come from a duplicate fdsafe makes while
holding the handle, never from ``fileno()``, which only lends it: a close by another thread
between ``fileno()`` and its use frees the number, and the next file opened takes it.

Each test makes that window certain, as a thread switch would make it by chance: the
handle's ``fileno()`` closes the handle and opens a decoy on the freed number before it
returns. A call that borrowed the number would reach the decoy."""
import os
import socket

import fdsafe
import fdsafe.socket as fs
from fdsafe.fifo import KIND_CHARDEV
from fdsafe.handle import KIND_PIPE
from fdsafe.splice import splice


def close_then_open_a_decoy(monkeypatch, cls, open_decoy):
    """Makes ``cls.fileno`` close its handle and open a decoy (the lowest free number, the
    one just freed) before returning the number. Returns the list the decoys go in."""
    real_fileno = cls.fileno
    decoys = []

    def fileno_then_close(self):
        fd = real_fileno(self)
        self.close()
        decoys.append(open_decoy())
        return fd

    monkeypatch.setattr(cls, "fileno", fileno_then_close)
    return decoys


def inode(fd):
    return os.fstat(fd).st_ino


def test_to_socket_copies_the_handles_own_socket(monkeypatch):
    a, b = fs.unix_pair()
    with a, b:
        wanted = inode(a.fileno())
        decoys = close_then_open_a_decoy(monkeypatch, type(a), lambda: socket.socket(socket.AF_UNIX))
        with a.to_socket() as copy:
            assert inode(copy.fileno()) == wanted, "a copy of the decoy socket"
        for decoy in decoys:
            decoy.close()


def test_send_fds_with_handles_and_plain_numbers_sends_the_handles_file(monkeypatch):
    a, b = fs.unix_pair()
    r, w = fdsafe.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    with a, b, r, w:
        wanted = inode(r.fileno())
        decoys = close_then_open_a_decoy(monkeypatch, type(r), lambda: os.open("/etc/hostname", os.O_RDONLY))
        try:
            assert a.send_fds(b"x", [r, null]) == 1
        finally:
            monkeypatch.undo()  # the received end is a PipeEnd too
            os.close(null)
            for decoy in decoys:
                os.close(decoy)
        got = b.recv_fds(1, 2)
        with got.handles[0] as sent, got.handles[1] as null_copy:
            assert (sent.kind, null_copy.kind) == (KIND_PIPE, KIND_CHARDEV)
            assert inode(sent.fileno()) == wanted, "the decoy file was sent"


def test_splice_from_a_handle_to_a_plain_number_reads_the_handles_pipe(monkeypatch):
    r, w = fdsafe.pipe()
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    try:
        with r, w:
            w.write(b"from the handle's pipe")

            def decoy_pipe_with_data():
                dr, dw = os.pipe2(os.O_CLOEXEC)  # dr takes the freed number
                os.write(dw, b"DECOY")
                os.close(dw)
                return dr

            decoys = close_then_open_a_decoy(monkeypatch, type(r), decoy_pipe_with_data)
            assert splice(r, out_w, 64) == len(b"from the handle's pipe")
            for decoy in decoys:
                os.close(decoy)
        assert os.read(out_r, 64) == b"from the handle's pipe"
    finally:
        os.close(out_r)
        os.close(out_w)


def test_a_streams_mode_is_its_own_files(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"")
    r, w = fdsafe.pipe()
    with r, w:
        decoys = close_then_open_a_decoy(monkeypatch, type(w), lambda: os.open(path, os.O_RDONLY))
        # A write end asks its open file: "wb". The decoy, read-only, would say "rb".
        assert w.mode == "wb"
        assert w.writable() and not w.readable()
        for decoy in decoys:
            os.close(decoy)
