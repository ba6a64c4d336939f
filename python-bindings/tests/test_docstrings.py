"""Every public callable of the package has a docstring: each name in every module's
``__all__`` that is a function or class, and each public method and property of those
classes defined in fdsafe. (An API reference built from the docstrings, ``make doc``, is
only as good as they are.)"""
import ctypes
import importlib
import inspect
import pkgutil

import pytest

import fdsafe


def _module_names():
    yield "fdsafe"
    for info in pkgutil.iter_modules(fdsafe.__path__):
        if not info.name.startswith("libfdsafe"):  # an installed wheel's C library
            yield "fdsafe." + info.name


def _own_doc(obj):
    """The docstring written for ``obj`` itself: none inherited, none generated (dataclasses
    and named tuples make one of their signature, ``Name(field, ...)``)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if not doc or not doc.strip():
        return None
    if inspect.isclass(obj) and doc.startswith(obj.__name__ + "("):
        return None
    return doc


def _ours(obj):
    """Whether fdsafe defines ``obj`` (not ctypes, io or the standard library). A pointer type
    made by ``ctypes.POINTER`` takes the module it was made in, but is ctypes' own."""
    if inspect.isclass(obj) and issubclass(obj, ctypes._Pointer):
        return False
    return getattr(obj, "__module__", "").split(".")[0] in ("fdsafe", "pytest_fdsafe")


def _members(cls):
    """(name, object) of the public methods and properties ``cls`` has from fdsafe's classes,
    its private bases included (their methods are public through it)."""
    seen = set()
    for klass in cls.__mro__:
        if _ours(klass):
            for name, member in vars(klass).items():
                if not name.startswith("_") and name not in seen:
                    seen.add(name)
                    yield from _callable(name, member)


def _callable(name, member):
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        yield name, member  # its __doc__ is its getter's, or the doc it was made with
    elif inspect.isfunction(member):
        yield name, member


def _undocumented(module_name):
    module = importlib.import_module(module_name)
    missing = [] if _own_doc(module) else ["the module itself"]
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj) or not _ours(obj):
            continue  # constants, submodules (walked on their own), ctypes' and io's names
        if not _own_doc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            missing += [f"{name}.{m}" for m, fn in _members(obj) if not _own_doc(fn)]
    return missing


@pytest.mark.parametrize("module_name", list(_module_names()))
def test_every_public_callable_has_a_docstring(module_name):
    missing = _undocumented(module_name)
    assert not missing, f"{module_name}: no docstring for {', '.join(missing)}"


def test_the_check_sees_a_missing_docstring():
    class Example:
        """Documented."""

        def method(self):
            pass

        @property
        def value(self):
            return 1

    Example.__module__ = "fdsafe.example"
    assert sorted(m for m, fn in _members(Example) if not _own_doc(fn)) == ["method", "value"]


def test_the_check_refuses_a_generated_class_docstring():
    import dataclasses
    from typing import NamedTuple

    @dataclasses.dataclass
    class Plain:
        x: int

    class Pair(NamedTuple):
        a: int

    assert Plain.__doc__ and Pair.__doc__  # generated: "Plain(x: int)", "Pair(a,)"
    assert _own_doc(Plain) is None and _own_doc(Pair) is None
