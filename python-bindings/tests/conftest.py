import gc
import os

import pytest


def open_fds():
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the listing's own descriptor, gone already
    return fds


@pytest.fixture(autouse=True)
def fd_balance():
    """Every test must leave exactly the descriptors it found."""
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    leaked = {fd: t for fd, t in after.items() if fd not in before}
    closed = {fd: t for fd, t in before.items() if fd not in after}
    assert not leaked and not closed, f"leaked {leaked}, closed {closed}"
