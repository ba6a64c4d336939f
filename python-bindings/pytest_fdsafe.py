"""pytest plugin of the fdsafe package (registered as ``fdsafe``): the ``fd_leak_check`` fixture.

pytest imports every installed plugin when it starts, in every project of the environment. So
this module lives outside the ``fdsafe`` package (whose import loads libfdsafe) and imports
fdsafe only when a test uses the fixture: a missing or broken library is an error for that
test alone, never for a pytest run that does not use fdsafe.
"""
from typing import Iterator

import pytest


@pytest.fixture
def fd_leak_check() -> Iterator[None]:
    """Fails the test if it leaves descriptors open, naming each one's kind and target."""
    try:
        from fdsafe.testing import fd_leak_check as check
    except ImportError as err:
        message = f"the fd_leak_check fixture needs the fdsafe package, which cannot be imported: {err}"
        raise pytest.fail.Exception(message, pytrace=False) from None
    with check():
        yield
