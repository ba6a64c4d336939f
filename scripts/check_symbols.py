#!/usr/bin/env python3
"""The ABI contract of libfdsafe.so, checked (`make symbols-test`).

- libfdsafe.map lists exactly the functions include/fdsafe.h declares, each once;
- the library exports exactly those functions, each with the version node the map gives it,
  and nothing else (besides the nodes' own definitions);
- no node is named after a release newer than Cargo.toml's version;
- the soname is libfdsafe.so.MAJOR.

Usage: check_symbols.py LIBRARY MAP HEADER VERSION
"""
import re
import subprocess
import sys

NODE = re.compile(r"^\s*(FDSAFE_(\d+)\.(\d+)(?:\.(\d+))?)\s*\{")
MAP_SYMBOL = re.compile(r"^\s*(fdsafe_\w+)\s*;")
# A declaration starts at the beginning of a line; comments and macros start otherwise.
DECLARATION = re.compile(r"^[A-Za-z].*?\b(fdsafe_[a-z0-9_]+)\(", re.M)


def read_map(path):
    """{function: node} and the nodes in order, from the version script."""
    nodes, versions, node = [], {}, None
    for line in open(path):
        if m := NODE.match(line):
            node = m.group(1)
            nodes.append((node, tuple(int(x or 0) for x in m.group(2, 3, 4))))
        elif (m := MAP_SYMBOL.match(line)) and node:
            if m.group(1) in versions:
                sys.exit(f"{path}: {m.group(1)} is listed twice ({versions[m.group(1)]}, {node})")
            versions[m.group(1)] = node
    return versions, nodes


def exported(library):
    """{symbol: version} for every defined dynamic symbol (objdump -T)."""
    out = subprocess.run(["objdump", "-T", library], check=True, capture_output=True, text=True).stdout
    symbols = {}
    for line in out.splitlines():
        fields = line.split()
        # address flags... section size version name; undefined imports have section *UND*.
        if len(fields) >= 4 and re.fullmatch(r"[0-9a-f]{16}", fields[0]) and "*UND*" not in fields:
            symbols[fields[-1]] = fields[-2].strip("()")
    return symbols


def main():
    library, map_path, header, version = sys.argv[1:5]
    failures = []
    declared = set(DECLARATION.findall(open(header).read()))
    versions, nodes = read_map(map_path)
    if not nodes:
        sys.exit(f"{map_path}: no version node found")

    for name in sorted(declared - versions.keys()):
        failures.append(f"{name} is declared in {header} but missing from {map_path}")
    for name in sorted(versions.keys() - declared):
        failures.append(f"{name} is in {map_path} but not declared in {header}")

    release = tuple(int(x) for x in version.split("."))
    for node, node_release in nodes:
        if node_release > release:
            failures.append(f"{map_path}: node {node} is newer than the version {version}")

    symbols = exported(library)
    node_names = {node for node, _ in nodes}
    for name, got in sorted(symbols.items()):
        if name in node_names and got == name:
            continue  # the node's own definition
        want = versions.get(name)
        if want is None:
            failures.append(f"{library} exports {name} ({got}), which {map_path} does not list")
        elif got != want:
            failures.append(f"{library} exports {name} under {got!r}, {map_path} says {want}")
    for name in sorted(versions.keys() - symbols.keys()):
        failures.append(f"{library} does not export {name} ({versions[name]})")

    major = version.split(".")[0]
    dynamic = subprocess.run(["objdump", "-p", library], check=True, capture_output=True, text=True).stdout
    soname = re.search(r"SONAME\s+(\S+)", dynamic)
    if not soname or soname.group(1) != f"libfdsafe.so.{major}":
        failures.append(f"soname is {soname.group(1) if soname else 'missing'}, not libfdsafe.so.{major}")

    if failures:
        print("symbols-test failed:\n  " + "\n  ".join(failures))
        sys.exit(1)
    per_node = ", ".join(f"{node}: {sum(v == node for v in versions.values())}" for node, _ in nodes)
    print(f"symbols-test: {len(declared)} functions declared in the header = listed in {map_path} "
          f"= exported, each under its node ({per_node}); nothing else exported; "
          f"soname libfdsafe.so.{major}")


if __name__ == "__main__":
    main()
