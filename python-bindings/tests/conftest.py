import pytest

import fdsafe
from fdsafe import _lib
from fdsafe.testing import fd_leak_check


def pytest_configure(config):
    # An installed package registers the plugin through its entry point; from the source
    # tree it is loaded here.
    if not config.pluginmanager.has_plugin("fdsafe"):
        config.pluginmanager.import_plugin("pytest_fdsafe")


def pytest_report_header(config):
    """Which package and library this run tests: the source tree's or an installed wheel's."""
    return f"fdsafe {fdsafe.version()}: package {fdsafe.__file__}, library {_lib.lib._name}"


@pytest.fixture(autouse=True)
def fd_balance():
    """Every test must leave exactly the descriptors it found."""
    with fd_leak_check():
        yield
