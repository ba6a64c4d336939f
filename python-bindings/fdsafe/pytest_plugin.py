"""The pytest plugin, for ``-p fdsafe.pytest_plugin``: the fixture is defined in ``pytest_fdsafe``,
the module the package registers (it imports fdsafe only when the fixture is used)."""
import importlib
from typing import Any

__all__ = ["fd_leak_check"]

# Imported by name, not with an import statement: pytest_fdsafe is a single-file module, which
# cannot carry a py.typed marker (PEP 561), so a type checker of an installed fdsafe
# (mypy --strict -p fdsafe) would report it as untyped.
fd_leak_check: Any = importlib.import_module("pytest_fdsafe").fd_leak_check
