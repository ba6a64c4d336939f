#!/usr/bin/env python3
"""Checks that every error code a function returned in the tests is one its header comment lists.

Usage: check_documented_errors.py [--header include/fdsafe.h] LOG...

Each LOG holds lines `function code`, one per failing call, written by a library built with
`--cfg fdsafe_error_log` (`make errors-test`). The header's format, which this script relies on
and enforces:
- every function's comment has one "Errors:" section, running to "Thread safety:" or to the
  comment's end; "Errors: none." for a function that cannot fail;
- the codes it lists are the backquoted `-EXXX` and `FDSAFE_E_XXX` names in that section;
- "as `fdsafe_other`" (or "those of `fdsafe_other`") adds that function's list;
- the conventions at the top of the header document two codes once for all: `-EBADF` for
  every function that takes a handle (0, closed, released or never issued), and
  `FDSAFE_E_INTERNAL` (a bug) for every function.
Prints every undocumented (function, code) pair and exits 1 if there is any, or if a function
has no "Errors:" section, or a comment names a function or type the header does not declare.
"""
import argparse
import errno
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DECLARATION = re.compile(r"/\*\*((?:(?!\*/).)*)\*/\s*([^;{}/#]*?\b(fdsafe_\w+)\s*\(([^)]*)\)\s*;)", re.S)
CODE = re.compile(r"`(-E[A-Z0-9]+|FDSAFE_E_[A-Z_]+)`")
REFERENCE = re.compile(r"\b(?:as|those of)\s+`(fdsafe_\w+)`")
# Said once in the header's conventions; see the module text.
EVERY_FUNCTION = {"FDSAFE_E_INTERNAL"}
EVERY_HANDLE_FUNCTION = {"-EBADF"}


def comment_text(raw):
    """The comment without its leading ` * `, joined into one line."""
    return " ".join(line.strip().lstrip("*").strip() for line in raw.splitlines())


def errors_section(text):
    start = text.find("Errors:")
    if start < 0:
        return None
    if text.find("Errors:", start + 1) >= 0:
        raise ValueError("two Errors: sections")
    end = text.find("Thread safety:", start)
    return text[start + len("Errors:"): end if end >= 0 else len(text)]


def parse_header(path):
    """{function: (codes named, functions referred to, takes a handle)} and the problems."""
    text = path.read_text()
    library_codes = {m.group(1): int(m.group(2))
                     for m in re.finditer(r"^#define (FDSAFE_E_[A-Z_]+) (-\d+)$", text, re.M)}
    functions, commented, problems = {}, set(), []
    for m in DECLARATION.finditer(text):
        name, params = m.group(3), m.group(4)
        commented.add(name)
        try:
            section = errors_section(comment_text(m.group(1)))
        except ValueError as err:
            problems.append(f"{name}: {err}")
            continue
        if section is None:
            problems.append(f"{name}: no Errors: section in its comment")
            continue
        takes_handle = re.search(r"(^|,)\s*fdsafe_handle\s+\w+\s*(,|$)", params) is not None
        functions[name] = (set(CODE.findall(section)), set(REFERENCE.findall(section)), takes_handle)
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    declared = set(re.findall(r"\b(fdsafe_\w+)\s*\(", code))
    for name in sorted(declared - commented):
        problems.append(f"{name}: declared without a documentation comment")
    # A comment may name only what exists: a function, a type or a struct of the header.
    types = set(re.findall(r"\b(?:struct|typedef [^;]*?)\s*\b(fdsafe_\w+)\b", code))
    for name in sorted(set(re.findall(r"`(fdsafe_[a-z0-9_]+)", text)) - declared - types):
        problems.append(f"the comments name {name}, which the header does not declare")
    return functions, library_codes, problems


def documented_codes(functions, library_codes, problems):
    """{function: set of numeric codes}, references followed."""
    def number(name):
        if name in library_codes:
            return library_codes[name]
        value = getattr(errno, name[1:], None)
        if value is None:
            problems.append(f"unknown code {name}")
            return None
        return -value

    resolved = {}

    def resolve(name, seen):
        if name in resolved:
            return resolved[name]
        codes, refs, takes_handle = functions[name]
        names = set(codes) | EVERY_FUNCTION | (EVERY_HANDLE_FUNCTION if takes_handle else set())
        result = {number(c) for c in names} - {None}
        for ref in sorted(refs):
            if ref not in functions:
                problems.append(f"{name}: its Errors: refer to {ref}, which has no Errors: section")
            elif ref not in seen:
                result |= resolve(ref, seen | {name})
        resolved[name] = result
        return result

    for name in functions:
        resolve(name, frozenset())
    return resolved


def code_name(code, library_codes):
    for name, value in library_codes.items():
        if value == code:
            return name
    return f"-{errno.errorcode.get(-code, str(-code))}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--header", type=Path, default=ROOT / "include" / "fdsafe.h")
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args()

    functions, library_codes, problems = parse_header(args.header)
    documented = documented_codes(functions, library_codes, problems)
    seen = {}
    for log in args.logs:
        if not log.exists():  # every suite has failing calls: no log means no logging library
            print(f"{log}: missing; was the library built with --cfg fdsafe_error_log?")
            return 1
        for line in log.read_text().splitlines():
            name, code = line.split()
            seen.setdefault((name, int(code)), 0)
            seen[(name, int(code))] += 1

    undocumented = sorted((n, c) for (n, c) in seen if c not in documented.get(n, set()))
    for name, code in undocumented:
        if name not in functions:
            print(f"undocumented: {name} is not a header function but returned {code}")
        else:
            print(f"undocumented: {name} returned {code_name(code, library_codes)} "
                  f"({seen[(name, code)]} times)")
    for problem in problems:
        print(f"header: {problem}")
    callers = {n for n, _ in seen}
    print(f"check_documented_errors: {len(functions)} functions with an Errors: section; "
          f"{sum(seen.values())} failures of {len(callers)} functions, {len(seen)} distinct "
          f"(function, code) pairs; {len(undocumented)} undocumented, {len(problems)} header problems")
    return 1 if undocumented or problems else 0


if __name__ == "__main__":
    sys.exit(main())
