import pytest

from fdsafe.testing import fd_leak_check

# The plugin is registered through an entry point when the package is installed; the suite also
# runs from the source tree, so load it here.
pytest_plugins = ["fdsafe.pytest_plugin"]


@pytest.fixture(autouse=True)
def fd_balance():
    """Every test must leave exactly the descriptors it found."""
    with fd_leak_check():
        yield
