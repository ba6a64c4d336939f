#!/usr/bin/env python3
"""A scripted session with the example daemon (examples/daemon.c), using real clients.

    demo.py DAEMON            print what happens (make demo)
    demo.py --check DAEMON    the same, exiting non-zero if any step fails (make test)

Steps: start under a notify socket of our own and wait for READY=1; a socat client on the
Unix socket and a Python client over TCP, both answered by the worker process; a client of
another uid refused after the credential check; reloads by editing the configuration
(inotify) and by SIGHUP, with the daemon's descriptors counted before and after; an idle
client dropped; SIGTERM with STOPPING=1, and the socket file gone; then the same daemon
started by systemd-socket-activate, serving the sockets it was handed.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

results = []
VERBOSE = True


def step(name, ok, detail=""):
    results.append((name, bool(ok), detail))
    mark = "ok  " if ok else "FAIL"
    print(f"  [{mark}] {name}" + (f": {detail}" if detail else ""), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotifyListener:
    """A service manager's notify socket: collects each datagram's text and sender pid."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.messages = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except OSError:
                return
            pid = None
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(payload[:4], "little")
            self.messages.append((data.decode(), pid))

    def wait_for(self, text, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in m for m, _ in self.messages):
                return True
            time.sleep(0.02)
        return False

    def close(self):
        self.sock.close()


def exchange_unix(path, text):
    out = subprocess.run(["socat", "-t2", "-", f"UNIX-CONNECT:{path}"], input=text + "\n",
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def exchange_tcp(port, text):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(text.encode() + b"\n")
        return s.recv(200).decode().strip()


class Daemon:
    def __init__(self, command, env, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            time.sleep(0.02)
        return None

    def descriptors(self):
        return sorted(os.listdir(f"/proc/{self.proc.pid}/fd"), key=int)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.log.close()


def main_scenario(daemon_path, work):
    port = free_port()
    sock_path = os.path.join(work, "run", "greet.sock")
    config = os.path.join(work, "greet.conf")
    with open(config, "w") as f:
        f.write(f"greeting=hello\nidle_timeout_ms=700\nunix={sock_path}\ntcp=127.0.0.1:{port}\n"
                f"socket_mode=0666\nallow_uid={os.getuid()}\n")
    notify = NotifyListener(os.path.join(work, "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(work, "notify.sock"))
    print(f"starting {daemon_path} {config}", flush=True)
    d = Daemon([daemon_path, config], env, os.path.join(work, "daemon.log"))
    try:
        ready = notify.wait_for("READY=1")
        m = d.wait_log(r"ready: unix (\S+), tcp (\S+), worker (\d+)")
        worker = m.group(3) if m else "?"
        step("daemon reports READY=1 on the notify socket", ready and m,
             f"{len(notify.messages)} messages, sent by pid {notify.messages[0][1] if notify.messages else '?'}")
        step("notify messages carry the daemon's pid", all(pid == d.proc.pid for _, pid in notify.messages))

        reply = exchange_unix(sock_path, "world")
        step("socat on the Unix socket is answered by the worker", reply == f"hello, world (worker {worker})", reply)
        reply = exchange_tcp(port, "tcp client")
        step("a Python TCP client is answered by the worker", reply == f"hello, tcp client (worker {worker})", reply)

        if os.getuid() == 0 and shutil.which("setpriv"):
            # Read only (-u): the daemon answers and closes at once, before any request.
            out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "socat", "-u",
                                  f"UNIX-CONNECT:{sock_path}", "STDOUT"], capture_output=True, text=True, timeout=10)
            refused = d.wait_log(r"refused a Unix client: pid \d+ uid 65534")
            step("a client of another uid is refused after the credential check",
                 out.stdout.strip() == "denied" and refused, out.stdout.strip() or out.stderr.strip())
        else:
            print("  [skip] credential refusal: needs root and setpriv to connect as another uid", flush=True)

        before = d.descriptors()
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write(text.replace("greeting=hello", "greeting=hi"))
        reloaded = d.wait_log(r"reloaded \(configuration file changed\): greeting \"hi\"")
        step("editing the configuration reloads it (inotify), RELOADING=1 notified",
             reloaded and notify.wait_for("RELOADING=1"))
        reply = exchange_tcp(port, "after reload")
        step("the new greeting is used", reply == f"hi, after reload (worker {worker})", reply)
        d.proc.send_signal(signal.SIGHUP)
        step("SIGHUP reloads too (signalfd)", d.wait_log(r"reloaded \(SIGHUP\)"))
        after = d.descriptors()
        step("no descriptor leaks across the reloads", before == after, f"{len(before)} before, {len(after)} after")

        with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
            idle.settimeout(5)
            got = idle.recv(100).decode().strip()
        step("an idle client is dropped by the worker's timerfd", got == "bye: idle", got)

        status = d.stop()
        step("SIGTERM stops it cleanly, STOPPING=1 notified, worker reaped",
             status == 0 and notify.wait_for("STOPPING=1") and "worker" in d.text() and "stopped" in d.text(),
             f"exit status {status}")
        step("the Unix socket file is removed on close", not os.path.exists(sock_path))
    finally:
        d.stop()
        notify.close()
        if VERBOSE:
            print("  daemon log:", flush=True)
            for line in d.text().splitlines():
                print("    " + line, flush=True)


def activation_scenario(daemon_path, work):
    if not shutil.which("systemd-socket-activate"):
        print("  [skip] socket activation: systemd-socket-activate is not installed", flush=True)
        return
    port = free_port()
    sock_path = os.path.join(work, "activated.sock")
    config = os.path.join(work, "activated.conf")
    with open(config, "w") as f:
        f.write("greeting=activated\nidle_timeout_ms=5000\n")
    print(f"starting it under systemd-socket-activate -l {sock_path} -l 127.0.0.1:{port}", flush=True)
    d = Daemon(["systemd-socket-activate", "-l", sock_path, "-l", f"127.0.0.1:{port}", "--fdname=unix:tcp",
                daemon_path, config], dict(os.environ), os.path.join(work, "activated.log"))
    try:
        deadline = time.time() + 5
        while not os.path.exists(sock_path) and time.time() < deadline:
            time.sleep(0.02)
        # systemd-socket-activate starts the daemon on the first connection.
        reply = exchange_unix(sock_path, "over an activated socket")
        step("socket activation: the handed-over Unix socket is served",
             reply.startswith("activated, over an activated socket (worker "), reply)
        step("socket activation: descriptors adopted by name and kind",
             d.wait_log(r'descriptor 3 "unix" is a unix_listener') and d.wait_log(r'descriptor 4 "tcp" is a tcp_listener'))
        reply = exchange_tcp(port, "and TCP")
        step("socket activation: the handed-over TCP socket is served", reply.startswith("activated, and TCP"), reply)
    finally:
        status = d.stop()
        step("socket activation: SIGTERM stops it", status == 0, f"exit status {status}")
        if VERBOSE:
            print("  daemon log:", flush=True)
            for line in d.text().splitlines():
                print("    " + line, flush=True)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) != 1:
        print(__doc__)
        return 2
    daemon_path = os.path.abspath(args[0])
    work = tempfile.mkdtemp(prefix="fdsafe-demo-")
    os.chmod(work, 0o755)  # so that a client of another uid can reach the socket
    try:
        main_scenario(daemon_path, work)
        activation_scenario(daemon_path, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    failed = [name for name, ok, _ in results if not ok]
    print(f"demo: {len(results) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if (check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
