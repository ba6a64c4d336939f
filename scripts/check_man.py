#!/usr/bin/env python3
"""Checks the man pages `make man` wrote (default build/man) against include/fdsafe.h:

- every function the header declares has a page man3/<function>.3, and no page is left over;
- each page names its function and `#include <fdsafe.h>` in its synopsis, has an ERRORS
  section when the function's comment lists errors, and refers to fdsafe(7);
- each page, and fdsafe.7, renders with `groff -man -ww` (as troff and as terminal text)
  without a single warning;
- fdsafe.7 names every FDSAFE_KIND_* value and every function the header declares.

The header is read here with its own simple parser, not scripts/gen_man.py's, so a function
the generator misses is caught.
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "include" / "fdsafe.h"


def header_functions(text):
    """{name: doc comment} for every function prototype in the header."""
    found = {}
    pattern = r"(/\*\*(?:(?!\*/).)*\*/)?\s*\n([A-Za-z_][\w \*]*?\b(fdsafe_\w+)\([^)]*\);)"
    for m in re.finditer(pattern, text, flags=re.S):
        found[m.group(3)] = m.group(1) or ""
    return found


def render_warnings(page):
    """groff's warnings for a page, as troff output and as terminal text (empty: clean)."""
    problems = []
    for device in ([], ["-Tutf8"]):
        run = subprocess.run(["groff", "-man", "-ww", "-z", *device, str(page)],
                             capture_output=True, text=True)
        if run.returncode != 0 or run.stderr.strip():
            problems.append(run.stderr.strip() or "groff exited with %d" % run.returncode)
    return problems


def plain_text(page):
    run = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", str(page)], capture_output=True, text=True)
    return run.stdout.replace("\u2010", "-")


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "man"
    try:
        subprocess.run(["groff", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        sys.exit("check_man.py: groff is not installed (Debian: groff-base); scripts/install-test-deps.sh installs it")
    text = HEADER.read_text()
    functions = header_functions(text)
    kinds = sorted(set(re.findall(r"#define (FDSAFE_KIND_\w+)", text)))
    failures = []
    if len(functions) < 20:
        failures.append("only %d functions found in %s" % (len(functions), HEADER))

    pages = {p.stem: p for p in (out / "man3").glob("*.3")}
    for name in sorted(set(functions) - set(pages)):
        failures.append("%s: no page %s" % (name, out / "man3" / (name + ".3")))
    for name in sorted(set(pages) - set(functions)):
        failures.append("%s: page for a function the header does not declare" % pages[name])

    for name in sorted(set(functions) & set(pages)):
        page = pages[name]
        for problem in render_warnings(page):
            failures.append("%s: %s" % (page, problem))
        rendered = plain_text(page)
        synopsis = rendered.split("SYNOPSIS", 1)[-1].split("DESCRIPTION", 1)[0]
        if "#include <fdsafe.h>" not in synopsis or name + "(" not in synopsis:
            failures.append("%s: the synopsis lacks #include <fdsafe.h> or %s(...)" % (page, name))
        if not re.search(r"^NAME\n\s+%s\s+-\s+\S" % re.escape(name), rendered, flags=re.M):
            failures.append("%s: NAME does not read '%s - summary'" % (page, name))
        if "Errors:" in functions[name] and "\nERRORS\n" not in rendered:
            failures.append("%s: the comment lists errors but the page has no ERRORS section" % page)
        if "fdsafe(7)" not in rendered.split("SEE ALSO", 1)[-1]:
            failures.append("%s: SEE ALSO does not name fdsafe(7)" % page)

    overview = out / "man7" / "fdsafe.7"
    if not overview.exists():
        failures.append("%s is missing" % overview)
    else:
        for problem in render_warnings(overview):
            failures.append("%s: %s" % (overview, problem))
        rendered = re.sub(r"\s+", " ", plain_text(overview))
        for kind in kinds:
            if kind not in rendered:
                failures.append("fdsafe.7 does not mention the kind %s" % kind)
        for name in functions:
            if name + "(3)" not in rendered:
                failures.append("fdsafe.7 does not list %s(3)" % name)

    if failures:
        print("\n".join(failures))
        sys.exit("check_man.py: %d problems" % len(failures))
    print("man pages: %d functions in fdsafe.h, %d pages, each rendering without a groff warning; "
          "fdsafe.7 names all %d kinds and every function" % (len(functions), len(pages), len(kinds)))


if __name__ == "__main__":
    main()
