"""The pytest plugin, for ``-p fdsafe.pytest_plugin``: the fixture is defined in ``pytest_fdsafe``,
the module the package registers (it imports fdsafe only when the fixture is used)."""
from pytest_fdsafe import fd_leak_check

__all__ = ["fd_leak_check"]
