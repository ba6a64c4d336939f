import pytest

from fdsafe.testing import fd_leak_check


def pytest_configure(config):
    # An installed package registers the plugin through its entry point; from the source
    # tree it is loaded here.
    if not config.pluginmanager.has_plugin("fdsafe"):
        config.pluginmanager.import_plugin("fdsafe.pytest_plugin")


@pytest.fixture(autouse=True)
def fd_balance():
    """Every test must leave exactly the descriptors it found."""
    with fd_leak_check():
        yield
