"""Every function in include/fdsafe.h has a binding with the same signature, and back."""
import ctypes
import re
from pathlib import Path

from fdsafe import _lib

HEADER = Path(__file__).resolve().parents[2] / "include" / "fdsafe.h"

SCALARS = {
    "int": ctypes.c_int, "int64_t": ctypes.c_int64, "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "bool": ctypes.c_bool,
    "fdsafe_handle": ctypes.c_uint64, "fdsafe_kind": ctypes.c_int, "int32_t": ctypes.c_int32,
    "uint16_t": ctypes.c_uint16, "int16_t": ctypes.c_int16, "uint8_t": ctypes.c_uint8,
    "pid_t": ctypes.c_int, "uid_t": ctypes.c_uint32, "gid_t": ctypes.c_uint32, "mode_t": ctypes.c_uint32,
    "unsigned int": ctypes.c_uint, "long": ctypes.c_long, "uint": ctypes.c_uint,
}


def header_functions():
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for m in re.finditer(r"^([A-Za-z_][\w \*]*?)\b(fdsafe_\w+)\(([^)]*)\);", text, flags=re.M):
        ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
        params = [] if args in ("", "void") else [a.strip() for a in args.split(",")]
        found[name] = (ret, [re.sub(r"\s*\b\w+$", "", p) if not p.endswith("*") else p for p in params])
    return found


def describe_c(ctype: str) -> str:
    """A comparable description of a C type: scalar size/sign, or pointer."""
    t = ctype.replace("const ", "").strip()
    if t.endswith("*"):
        base = t[:-1].strip()
        if base in ("char",):
            return "char*"
        return "ptr" if base not in SCALARS else f"ptr:{describe_ctypes(SCALARS[base])}"
    t = re.sub(r"^(struct|enum)\s+", "", t)
    if t not in SCALARS:
        return f"struct:{t}"
    return describe_ctypes(SCALARS[t])


def describe_ctypes(ct) -> str:
    if ct in (ctypes.c_char_p,):
        return "char*"
    if ct is ctypes.c_void_p:
        return "ptr"
    if isinstance(ct, type) and issubclass(ct, ctypes._Pointer):
        inner = ct._type_
        if issubclass(inner, ctypes.Structure) or inner is ctypes.c_char:
            return "ptr"
        return f"ptr:{describe_ctypes(inner)}"
    if isinstance(ct, type) and issubclass(ct, ctypes.Structure):
        return f"struct:{ct.__name__}"
    signed = ct(-1).value == -1 if ct is not ctypes.c_bool else False
    return f"{'i' if signed else 'u'}{ctypes.sizeof(ct) * 8}" + ("b" if ct is ctypes.c_bool else "")


def test_every_header_function_is_bound_with_its_signature():
    header = header_functions()
    assert len(header) >= 20
    missing = sorted(set(header) - set(_lib.PROTOTYPES))
    extra = sorted(set(_lib.PROTOTYPES) - set(header))
    assert not missing, f"functions in fdsafe.h without a Python binding: {missing}"
    assert not extra, f"bindings for functions not in fdsafe.h: {extra}"
    for name, (ret, params) in header.items():
        restype, argtypes = _lib.PROTOTYPES[name]
        assert describe_c(ret) == describe_ctypes(restype), f"{name}: return {ret} vs {restype}"
        assert len(params) == len(argtypes), f"{name}: {len(params)} parameters in C, {len(argtypes)} bound"
        for i, (c, py) in enumerate(zip(params, argtypes)):
            dc, dp = describe_c(c), describe_ctypes(py)
            if dc.startswith("ptr") and dp == "ptr":
                continue  # a struct or buffer pointer bound as an opaque pointer
            if dc.startswith("struct:") and dp.startswith("struct:"):
                continue  # by-value struct: compared by size in the kind's own tests
            assert dc == dp, f"{name}: parameter {i} is {c} ({dc}) in C but {py} ({dp}) in Python"


def test_the_unconverted_library_returns_every_declared_type():
    # `fast` skips argument conversion but must not cut an int64_t result to an int.
    from fdsafe._lib import PROTOTYPES, fast
    for name, (restype, _) in PROTOTYPES.items():
        assert getattr(fast, name).restype is restype, name
