"""pytest plugin (registered as ``fdsafe``): the ``fd_leak_check`` fixture."""
import pytest

from .testing import fd_leak_check as _fd_leak_check


@pytest.fixture
def fd_leak_check():
    """Fails the test if it leaves descriptors open, naming each one's kind and target."""
    with _fd_leak_check():
        yield
