"""Socket activation under the real systemd-socket-activate, and notification checked by a
notify socket of the test's own (exact text, credentials, descriptors)."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fdsafe
from fdsafe import daemon

PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
ENV_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


@pytest.fixture(autouse=True)
def clean_env():
    saved = {k: os.environ.pop(k) for k in ENV_VARS if k in os.environ}
    yield
    for k in ENV_VARS:
        os.environ.pop(k, None)
    os.environ.update(saved)


# ---------- activation ----------

_ACTIVATED = r"""
import os, sys
from fdsafe import daemon, TcpListener, UnixListener
fds = daemon.listen_fds(unset_environment=True)
assert fds.status == daemon.LISTEN_ADOPTED, fds.status
assert [h.name for h in fds] == ["web", "ctl"], [h.name for h in fds]
assert "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ
web, ctl = fds.names()["web"], fds.names()["ctl"]
assert isinstance(web, TcpListener) and isinstance(ctl, UnixListener), (web, ctl)
assert [h.fileno() for h in fds] == [3, 4]
assert not os.get_inheritable(3) and not os.get_inheritable(4)
again = daemon.listen_fds()
assert list(again) == list(fds) and again[0] is fds[0], "the same objects on every call"
for h, reply in ((web, b"web:tcp-listener"), (ctl, b"ctl:unix-listener")):
    conn, _ = h.accept()
    with conn:
        conn.sendall(reply)
    h.close()
print("activated: ok")
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate is not installed")
def test_activation_under_systemd_socket_activate(tmp_path):
    port = _free_port()
    path = str(tmp_path / "ctl.sock")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    child = subprocess.Popen(
        ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "-l", path, "--fdname=web:ctl",
         sys.executable, "-c", _ACTIVATED],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with client:
            assert client.recv(100) == b"web:tcp-listener"
        with socket.socket(socket.AF_UNIX) as unix_client:
            unix_client.settimeout(10)
            unix_client.connect(path)
            assert unix_client.recv(100) == b"ctl:unix-listener"
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err.decode()
    assert b"activated: ok" in out


_ACTIVATED_UDP = r"""
from fdsafe import daemon, UdpSocket
fds = daemon.listen_fds()
assert fds.status == daemon.LISTEN_ADOPTED and len(fds) == 1, fds
(udp,) = fds
assert isinstance(udp, UdpSocket) and udp.name == "unknown", (udp, udp.name)
data, sender = udp.recvfrom(100)  # the datagram that triggered the activation
udp.sendto(b"echo:" + data, sender)
udp.close()
"""


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate is not installed")
def test_datagram_activation_without_names():
    port = _free_port()
    child = subprocess.Popen(
        ["systemd-socket-activate", "--datagram", "-l", f"127.0.0.1:{port}", sys.executable, "-c", _ACTIVATED_UDP],
        env=dict(os.environ, PYTHONPATH=PACKAGE_ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(0.2)
            deadline = time.monotonic() + 10
            while True:  # until the tool is listening (a datagram sent earlier is lost)
                client.sendto(b"ping", ("127.0.0.1", port))
                try:
                    reply = client.recv(100)
                    break
                except (socket.timeout, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise
        assert reply == b"echo:ping"
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err.decode()


def test_not_activated_and_other_pid():
    fds = daemon.listen_fds()
    assert fds.status == daemon.LISTEN_NONE and list(fds) == []
    os.environ["LISTEN_FDS"] = "2"
    os.environ["LISTEN_PID"] = str(os.getppid())
    fds = daemon.listen_fds()
    assert fds.status == daemon.LISTEN_OTHER_PID and list(fds) == []
    assert "LISTEN_FDS" in os.environ
    fds = daemon.listen_fds(unset_environment=True)
    assert fds.status == daemon.LISTEN_OTHER_PID
    assert "LISTEN_FDS" not in os.environ and "LISTEN_PID" not in os.environ


@pytest.mark.parametrize("count", ["", "x", "-1", "1.0", " 2", "0x2", "999999999999999999999"])
def test_garbage_listen_fds_is_refused(count):
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = count
    with pytest.raises(fdsafe.InvalidArgumentError, match="LISTEN_FDS"):
        daemon.listen_fds(unset_environment=True)
    assert os.environ["LISTEN_FDS"] == count, "a refused call leaves the environment alone"


def test_garbage_listen_pid_is_refused():
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = "me"
    with pytest.raises(fdsafe.InvalidArgumentError, match="LISTEN_PID"):
        daemon.listen_fds()


# ---------- notification ----------

@pytest.fixture
def manager(tmp_path):
    """A notify socket: a Unix datagram socket with SO_PASSCRED; NOTIFY_SOCKET points to it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    path = str(tmp_path / "notify")
    s.bind(path)
    s.settimeout(5)
    os.environ["NOTIFY_SOCKET"] = path
    with s:
        yield s


def _receive(s):
    """(text, [fds], (pid, uid, gid) or None)."""
    ucred = struct.calcsize("3i")
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(ucred) + socket.CMSG_SPACE(8 * 4))
    assert not flags & socket.MSG_CTRUNC
    fds, creds = [], None
    for level, kind, payload in anc:
        if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
            fds += list(struct.unpack(f"{len(payload) // 4}i", payload))
        elif (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
            creds = struct.unpack("3i", payload[:ucred])
    return data.decode(), fds, creds


def _expect(s, text):
    got, fds, creds = _receive(s)
    assert got == text
    assert fds == []
    assert creds == (os.getpid(), os.getuid(), os.getgid())


def test_notify_messages(manager):
    assert daemon.ready() is True
    _expect(manager, "READY=1")
    assert daemon.ready(status="up")
    _expect(manager, "READY=1\nSTATUS=up")
    assert daemon.status("3 clients")
    _expect(manager, "STATUS=3 clients")
    assert daemon.watchdog()
    _expect(manager, "WATCHDOG=1")
    assert daemon.stopping()
    _expect(manager, "STOPPING=1")
    assert daemon.notify("EXTEND_TIMEOUT_USEC=5000000")
    _expect(manager, "EXTEND_TIMEOUT_USEC=5000000")
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert daemon.reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    text, _, _ = _receive(manager)
    head, usec = text.split("MONOTONIC_USEC=")
    assert head == "RELOADING=1\n" and before <= int(usec) <= after


def test_fdstore_passes_descriptors(manager):
    r, w = fdsafe.pipe()
    with r, w:
        assert daemon.fdstore([w], "pipe-w")
        text, fds, creds = _receive(manager)
        assert text == "FDSTORE=1\nFDNAME=pipe-w"
        assert creds == (os.getpid(), os.getuid(), os.getgid())
        assert len(fds) == 1
        os.write(fds[0], b"stored")
        os.close(fds[0])
        assert r.read(100) == b"stored"
        assert daemon.notify("FDSTORE=1\nFDNAME=r", [r])
        _, fds, _ = _receive(manager)
        assert len(fds) == 1
        os.close(fds[0])
        for bad in ["", "a:b", "x" * 256, "new\nline", "é"]:
            with pytest.raises(fdsafe.InvalidArgumentError):
                daemon.fdstore([w], bad)
        with pytest.raises(fdsafe.InvalidArgumentError):
            daemon.fdstore([], "empty")
    with pytest.raises(OSError):
        daemon.fdstore([w], "closed")  # a closed handle: -EBADF, nothing sent
    manager.setblocking(False)
    with pytest.raises(BlockingIOError):
        manager.recv(100)


def test_notify_without_a_manager_and_bad_states(manager):
    for bad in ["", "READY", "ready=1", "READY=1\n\nX=1", "=1"]:
        with pytest.raises(fdsafe.InvalidArgumentError):
            daemon.notify(bad)
    with pytest.raises(fdsafe.InvalidArgumentError):
        daemon.status("two\nlines")
    del os.environ["NOTIFY_SOCKET"]
    assert daemon.ready() is False
    assert daemon.status("x") is False
    os.environ["NOTIFY_SOCKET"] = "not-a-path"
    with pytest.raises(fdsafe.InvalidArgumentError):
        daemon.ready()
    os.environ["NOTIFY_SOCKET"] = "/nonexistent-fdsafe/notify"
    with pytest.raises(FileNotFoundError):
        daemon.ready()


def test_notify_abstract_socket():
    name = f"fdsafe-py-notify-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        s.bind("\0" + name)
        s.settimeout(5)
        os.environ["NOTIFY_SOCKET"] = "@" + name
        assert daemon.notify("READY=1", unset_environment=True)
        _expect(s, "READY=1")
        assert "NOTIFY_SOCKET" not in os.environ


def test_watchdog_usec():
    assert daemon.watchdog_usec() == 0
    os.environ["WATCHDOG_USEC"] = "2000000"
    assert daemon.watchdog_usec() == 2000000
    os.environ["WATCHDOG_PID"] = str(os.getpid())
    assert daemon.watchdog_usec() == 2000000
    os.environ["WATCHDOG_PID"] = str(os.getppid())
    assert daemon.watchdog_usec() == 0
    del os.environ["WATCHDOG_PID"]
    for no_interval in ("0", str(2**64 - 1)):  # 2**64 - 1 is systemd's "infinity"
        os.environ["WATCHDOG_USEC"] = no_interval
        with pytest.raises(fdsafe.InvalidArgumentError):
            daemon.watchdog_usec()
    os.environ["WATCHDOG_USEC"] = "10"
    assert daemon.watchdog_usec(unset_environment=True) == 10
    assert "WATCHDOG_USEC" not in os.environ


_ACTIVATED_STREAMS = r"""
import os, sys
from fdsafe import daemon
for number, target in zip(map(int, sys.argv[1:]), (3, 4, 5)):
    os.dup2(number, target, inheritable=False)
    os.close(number)
os.environ.update(LISTEN_FDS="3", LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="web:jobs:null")
print(sorted((type(h).__name__, h.name) for h in daemon.listen_fds()))
"""


def test_activated_streams_keep_their_names(tmp_path):
    """systemd passes ListenFIFO= and ListenSpecial= descriptors beside sockets; a stream's
    `name` is a property (as io's), which listen_fds used to assign and fail on, dropping
    (so closing) every activated descriptor."""
    fifo = tmp_path / "jobs"
    os.mkfifo(fifo)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "web.sock"))
        listener.listen()
        jobs = os.open(fifo, os.O_RDWR | os.O_CLOEXEC)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            numbers = [listener.fileno(), jobs, null]
            out = subprocess.run([sys.executable, "-c", _ACTIVATED_STREAMS, *map(str, numbers)], pass_fds=numbers,
                                 env=dict(os.environ, PYTHONPATH=PACKAGE_ROOT), capture_output=True, timeout=60)
        finally:
            os.close(jobs)
            os.close(null)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().strip() == "[('CharDevice', 'null'), ('Fifo', 'jobs'), ('UnixListener', 'web')]"


def test_ready_refuses_a_status_of_several_lines(manager):
    with pytest.raises(fdsafe.InvalidArgumentError, match="single line"):
        daemon.ready(status="Serving\nSTOPPING=1")
