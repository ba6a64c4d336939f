"""TUN devices for real in a network namespace a forked child makes: the device is created,
brought up and given an address over netlink (fdsafe.socket.socket(AF_NETLINK...)), a UDP
datagram sent with the stdlib's socket module to a peer on its subnet is read from the device
as one whole packet, woken by fdsafe's epoll; persistence and bad input. Skips with the
kernel's reason where the kernel refuses."""
import ctypes
import os
import socket
import struct
import sys
import traceback

import pytest

import fdsafe
from fdsafe import socket as fs
from fdsafe.tun import IFF_MULTI_QUEUE, IFF_NO_PI, IFF_PERSIST, IFF_TUN, KIND_TUN, Tun, tun_open

CLONE_NEWNET = 0x40000000
RTM_NEWLINK, RTM_NEWADDR, NLMSG_ERROR = 16, 20, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFF_UP = 1  # net/if.h
SKIP = 77


def _request(nl, kind, flags, body):
    nl.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, 1, 0) + body)
    answer = nl.recv(4096)
    assert struct.unpack_from("=H", answer, 4)[0] == NLMSG_ERROR
    code = struct.unpack_from("=i", answer, 16)[0]
    if code:
        raise OSError(-code, os.strerror(-code))


def _configure(index, address):
    """Brings the interface up and gives it ``address``/24, over a generic netlink socket."""
    with fs.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        _request(nl, RTM_NEWLINK, 0, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP))  # flags, change mask
        raw = socket.inet_aton(address)
        attrs = struct.pack("=HH", 8, IFA_LOCAL) + raw + struct.pack("=HH", 8, IFA_ADDRESS) + raw
        _request(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, struct.pack("=BBBBI", socket.AF_INET, 24, 0, 0, index) + attrs)


def _in_namespace():
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        print(f"unshare(CLONE_NEWNET) refused by the kernel: {os.strerror(ctypes.get_errno())}")
        return SKIP
    try:
        tun = tun_open("fdsafe-py0", nonblocking=True)
    except OSError as err:
        print(f"tun_open refused by the kernel: {err}")
        return SKIP
    with tun:
        assert isinstance(tun, Tun) and tun.kind == KIND_TUN
        assert tun.name == "fdsafe-py0" and tun.flags == IFF_TUN | IFF_NO_PI
        _configure(socket.if_nametoindex(tun.name), "10.78.0.1")
        with fdsafe.Epoll.create() as ep, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            ep.add(tun, fdsafe.EPOLL_IN, 7)
            udp.bind(("10.78.0.1", 0))
            udp.sendto(b"ping-py", ("10.78.0.2", 9999))
            for _ in range(20):
                assert ep.wait(2.0) == [(7, fdsafe.EPOLL_IN)], "the device never became readable"
                packet = tun.read(2048)
                if packet[0] >> 4 == 4 and packet[9] == socket.IPPROTO_UDP:
                    break
            ihl = (packet[0] & 15) * 4
            assert packet[16:20] == socket.inet_aton("10.78.0.2")
            assert struct.unpack_from("!HHH", packet, ihl) == (udp.getsockname()[1], 9999, 8 + 7)
            assert packet[ihl + 8:] == b"ping-py" and len(packet) == ihl + 15  # one whole packet
        # Nothing more of the datagram; what else may come (the kernel's IPv6 router
        # solicitations and listener reports, on its own timers once the link is up) is
        # never a second IPv4 packet.
        with pytest.raises(BlockingIOError):
            for _ in range(20):
                assert tun.read(2048)[0] >> 4 != 4, "a second IPv4 packet"
        with tun_open("fdsafe-pq", multi_queue=True) as q1, tun_open("fdsafe-pq", multi_queue=True) as q2:
            assert q1.flags & IFF_MULTI_QUEUE and q2.name == "fdsafe-pq"
        with tun_open("fdsafe-pp") as p:
            p.set_persist()
            assert p.flags & IFF_PERSIST
        assert socket.if_nametoindex("fdsafe-pp") > 0  # outlived its descriptor
        with tun_open("fdsafe-pp") as p:
            p.set_persist(False)
        with pytest.raises(OSError):
            socket.if_nametoindex("fdsafe-pp")
        # A name that is not UTF-8 (the kernel takes it): decoded as os.fsdecode decodes it.
        with tun_open(b"fd\xff\xfe") as odd:
            assert os.fsencode(odd.name) == b"fd\xff\xfe"
    return 0


def test_tun_packets_in_a_network_namespace(capfd):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _in_namespace()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    out, err = capfd.readouterr()
    if os.waitstatus_to_exitcode(status) == SKIP:
        pytest.skip(out.strip())
    assert os.waitstatus_to_exitcode(status) == 0, out + err


def test_bad_input_is_refused():
    with pytest.raises(fdsafe.InvalidArgumentError):
        tun_open("name-of-16-bytes")
    with pytest.raises(fdsafe.InvalidArgumentError):
        tun_open("a/b")
    with fdsafe.EventFd.create() as ev, pytest.raises(fdsafe.WrongKindError):
        Tun(ev.value, owned=False).name
