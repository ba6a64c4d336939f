"""pytest plugin (registered as ``fdsafe``): the ``fd_leak_check`` fixture."""
from typing import Iterator

import pytest

from .testing import fd_leak_check as _fd_leak_check


@pytest.fixture
def fd_leak_check() -> Iterator[None]:
    """Fails the test if it leaves descriptors open, naming each one's kind and target."""
    with _fd_leak_check():
        yield
