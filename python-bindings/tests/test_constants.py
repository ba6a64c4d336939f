"""The constants a Python user already has (the stdlib's socket and os modules) do what they
name when given to fdsafe, and the package's constants are the generated header values."""
import errno
import os
import re
import socket as pysocket
from pathlib import Path

import pytest

from fdsafe import _constants
from fdsafe import file as ffile
from fdsafe import socket as fs
from fdsafe.errors import InvalidArgumentError

ROOT = Path(__file__).resolve().parents[2]


def test_socket_names_that_mirror_the_stdlib_have_its_values():
    mirrored = [n for n in dir(fs) if re.match(r"(MSG|SHUT|SOCK|SOL|SO|TCP|IP|IPV6|IPPROTO)_[A-Z0-9_]+$", n)]
    checked = [n for n in mirrored if hasattr(pysocket, n)]
    assert len(checked) >= 30, checked
    for name in checked:
        assert getattr(fs, name) == getattr(pysocket, name), name
    assert fs.UNIX_SEQPACKET == pysocket.SOCK_SEQPACKET
    assert fs.UNIX_DATAGRAM == pysocket.SOCK_DGRAM and fs.UNIX_STREAM == pysocket.SOCK_STREAM


def test_open_flags_are_the_os_modules():
    for name in ("O_RDONLY", "O_WRONLY", "O_RDWR"):
        assert getattr(ffile, name) == getattr(os, name)
    assert ffile.FILE_APPEND == os.O_APPEND and ffile.FILE_CREATE == os.O_CREAT
    assert _constants.FDSAFE_NONBLOCK == os.O_NONBLOCK


def test_stdlib_socket_type_makes_that_socket():
    a, b = fs.unix_pair(pysocket.SOCK_SEQPACKET)
    with a, b:
        assert isinstance(a, fs.UnixSeqpacket)
        a.send(b"one")
        a.send(b"two")
        assert b.recv(100) == b"one"  # message boundaries: a seqpacket socket
    a, b = fs.unix_pair(pysocket.SOCK_DGRAM)
    with a, b:
        assert isinstance(a, fs.UnixDatagram)


def test_stdlib_shut_rdwr_shuts_both_directions():
    a, b = fs.unix_pair(pysocket.SOCK_STREAM)
    with a, b:
        a.shutdown(pysocket.SHUT_RDWR)
        assert b.recv(10) == b""  # the peer reads end-of-file
        with pytest.raises(BrokenPipeError):
            a.send(b"x")  # and this side can no longer send
        assert a.recv(10) == b""  # nor receive


def test_stdlib_msg_flags_do_what_they_name():
    a, b = fs.unix_pair(pysocket.SOCK_STREAM)
    with a, b:
        with pytest.raises(BlockingIOError):
            b.recv(10, pysocket.MSG_DONTWAIT)
        a.send(b"peek")
        assert b.recv(4, pysocket.MSG_PEEK) == b"peek"
        assert b.recv(4) == b"peek"
        with pytest.raises(OSError) as info:
            b.recv(4, pysocket.MSG_OOB)  # no out-of-band byte waits: the kernel says so
        py_a, py_b = pysocket.socketpair()
        with py_a, py_b, pytest.raises(OSError) as py_info:
            py_b.recv(4, pysocket.MSG_OOB)
        assert info.value.errno == py_info.value.errno
        with pytest.raises(InvalidArgumentError):
            b.recv(4, pysocket.MSG_ERRQUEUE)  # fdsafe does not offer it: refused, never misread


def test_stdlib_socket_option_pair_sets_that_option():
    with fs.udp_bind("127.0.0.1:0") as u:
        u.setopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR, 1)
        assert u.getopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR) == 1
        assert u.getopt(pysocket.SOL_SOCKET, pysocket.SO_KEEPALIVE) == 0  # not keepalive
        # The kernel agrees, asked directly through a duplicate of the descriptor.
        with pysocket.socket(fileno=os.dup(u.fileno())) as raw:
            assert raw.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR) == 1
        with pytest.raises(InvalidArgumentError):
            u.getopt(pysocket.SOL_SOCKET, pysocket.SO_TYPE)  # not one fdsafe supports


def test_constants_module_matches_the_header():
    """Every number the header defines has the same value in fdsafe._constants, whether the
    package runs from the source tree or from an installed wheel (the header is beside the
    tests either way; `make check-header` also checks the generated file is fresh)."""
    checked = 0
    for name, value in re.findall(r"^#define (FDSAFE_\w+) (.+)$", (ROOT / "include" / "fdsafe.h").read_text(), re.M):
        if name == "FDSAFE_H":
            continue
        if value.startswith('"'):
            expected = value.strip('"')
        else:
            # Integer literals, and fdsafe-only flags written with FDSAFE_OWN_FLAG and shifts.
            assert re.fullmatch(r"[\w\s()|<>x-]+", value), (name, value)
            expected = eval(value, {}, vars(_constants))  # noqa: S307 (the project's own header)
        assert getattr(_constants, name) == expected, name
        checked += 1
    assert checked >= 250, checked


def test_fdsafe_only_flags_are_distinct_and_marked():
    own = {n: v for n, v in vars(_constants).items()
           if n.startswith("FDSAFE_") and n != "FDSAFE_OWN_FLAG" and isinstance(v, int) and v > 0
           and v & _constants.FDSAFE_OWN_FLAG}
    assert len(own) >= 13, own
    bits = [v & ~_constants.FDSAFE_OWN_FLAG for v in own.values()]
    assert all(b and b & (b - 1) == 0 for b in bits), own  # one bit each
    assert len(set(bits)) == len(bits), own  # no two share it
    assert errno.EINVAL  # (keeps errno imported for readers comparing with OSError codes)
