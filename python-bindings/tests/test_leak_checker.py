import os
import socket

import pytest

from fdsafe.testing import DescriptorLeak, fd_leak_check


def test_reports_each_leak_with_kind_and_target(tmp_path):
    path = tmp_path / "leaky.txt"
    kept = []
    try:
        with pytest.raises(DescriptorLeak) as caught:
            with fd_leak_check():
                kept.append(open(path, "w"))
                r, w = os.pipe()
                kept += [r, w]
                server = socket.socket()
                kept.append(server)
                server.bind(("127.0.0.1", 0))
                server.listen()
        described = {d.kind: d.target for d in caught.value.leaked}
        assert described["file"] == str(path)
        assert described["pipe"].startswith("pipe:[")
        assert described["socket"] == f"tcp 127.0.0.1:{server.getsockname()[1]}"
    finally:
        kept[0].close()
        os.close(kept[1])
        os.close(kept[2])
        kept[3].close()


def test_unix_sockets_and_anon_inodes_are_named(tmp_path):
    import fdsafe
    path = str(tmp_path / "s.sock")
    listener = ev = None
    try:
        with pytest.raises(DescriptorLeak) as caught:
            with fd_leak_check():
                listener = socket.socket(socket.AF_UNIX)
                listener.bind(path)
                ev = fdsafe.EventFd.create()
        targets = sorted(d.target for d in caught.value.leaked)
        assert targets == ["eventfd", f"unix stream {path}"]
    finally:
        if listener:
            listener.close()
        if ev:
            ev.close()


def test_a_clean_block_passes(fd_leak_check):
    with open(__file__) as f:
        f.read(1)
