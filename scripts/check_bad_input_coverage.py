#!/usr/bin/env python3
"""Fails unless every function in include/fdsafe.h has a bad-input case in c-tests/.

A bad-input case is an `expect_code(fdsafe_x(...), CODE)` whose CODE is negative: a `-E...`
errno or an `FDSAFE_E_...` code. Functions returning a static string take any input and have no
error; they count as covered when a test calls them with an out-of-range value (e.g. -20000,
9999, INT32_MIN, UINT32_MAX). Functions without parameters have no input to get wrong; they
count as covered when a test calls them.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_OF_RANGE = re.compile(r"-20000|9999|INT32_MIN|INT_MIN|UINT32_MAX|INT32_MAX|-4095|-99999")


def header_functions():
    text = re.sub(r"/\*.*?\*/", "", (ROOT / "include" / "fdsafe.h").read_text(), flags=re.S)
    found = {}
    for m in re.finditer(r"^([A-Za-z_][\w \*]*?)\b(fdsafe_\w+)\((void)?\)?", text, flags=re.M):
        found[m.group(2)] = ("char *" in m.group(1), m.group(3) is not None)
    return found


def calls(source, macro):
    """Yields the argument text of each `macro(...)` call, parentheses balanced."""
    for m in re.finditer(re.escape(macro) + r"\(", source):
        depth, i = 1, m.end()
        while depth and i < len(source):
            depth += {"(": 1, ")": -1}.get(source[i], 0)
            i += 1
        yield source[m.end():i - 1]


def split_last_argument(args):
    depth = 0
    for i in range(len(args) - 1, -1, -1):
        c = args[i]
        depth += {")": 1, "(": -1}.get(c, 0)
        if c == "," and depth == 0:
            return args[:i], args[i + 1:].strip()
    return args, ""


def main():
    functions = header_functions()
    sources = "\n".join(p.read_text() for p in sorted((ROOT / "c-tests").glob("*.c")))
    covered = set()
    for args in calls(sources, "expect_code"):
        call, expected = split_last_argument(args)
        m = re.match(r"\s*(fdsafe_\w+)\(", call)
        if m and re.fullmatch(r"-E[A-Z0-9]+|FDSAFE_E_[A-Z_]+", expected):
            covered.add(m.group(1))
    for name, (returns_string, no_parameters) in functions.items():
        uses = list(calls(sources, name))
        if no_parameters and uses:
            covered.add(name)
        if returns_string and any(OUT_OF_RANGE.search(a) for a in uses):
            covered.add(name)
    missing = sorted(set(functions) - covered)
    print(f"bad-input coverage: {len(functions) - len(missing)}/{len(functions)} exported functions")
    if missing:
        print("no bad-input case (expect_code(fn(...), -E.../FDSAFE_E_...)) in c-tests/ for: " + ", ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
