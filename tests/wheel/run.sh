#!/usr/bin/env bash
# A Python user's path. Builds the wheel as pip does (`pip wheel ./python-bindings`, which runs
# `make lib`), checks what it holds and its manylinux tag (objdump and auditwheel), installs it
# into a fresh venv, and runs the whole Python suite from a folder outside the repository with
# no FDSAFE_* variable: fdsafe and its library must come from the wheel. Then it breaks the
# installed library: pytest must still run an unrelated project in that venv (exit 0), and the
# fd_leak_check fixture and `import fdsafe` must say what is wrong.
#   tests/wheel/run.sh            the wheel, from the source tree
#   tests/wheel/run.sh --sdist    an sdist, then a wheel built from it (a full cargo build),
#                                 installed and used
# PYTHON makes the fresh venv; VENV_PYTHON has pip, build and auditwheel (make venv).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
tools=${VENV_PYTHON:-$root/build/venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "wheel test: $*" >&2; exit 1; }

# The user's environment: no FDSAFE_* variable, no PYTHONPATH into the repository, and no
# LD_LIBRARY_PATH that could hold another libfdsafe.
clean=(env -u PYTHONPATH -u LD_LIBRARY_PATH)
for v in $(compgen -e | grep '^FDSAFE_' || true); do clean+=(-u "$v"); done

mkdir "$work/dist"
if [ "${1:-}" = --sdist ]; then
    "$tools" -m build -q --sdist -o "$work/dist" "$root/python-bindings" > "$work/build.log" 2>&1 \
        || { cat "$work/build.log"; fail "the sdist did not build"; }
    sdist=$(echo "$work"/dist/*.tar.gz)
    tar -tzf "$sdist" > "$work/sdist.list"
    for f in pyproject.toml build_backend.py pytest_fdsafe.py fdsafe/__init__.py fdsafe/py.typed \
             crate/Cargo.toml crate/Cargo.lock crate/build.rs crate/cbindgen.toml crate/Makefile \
             crate/LICENSE crate/src/lib.rs crate/include/fdsafe.h; do
        grep -qx "[^/]*/$f" "$work/sdist.list" || fail "the sdist has no $f"
    done
    echo "sdist: $(basename "$sdist"), $(stat -c %s "$sdist") bytes, $(wc -l < "$work/sdist.list") files"
    start=$SECONDS
    "$tools" -m pip wheel -q --no-deps --no-cache-dir -w "$work/dist" "$sdist" > "$work/build.log" 2>&1 \
        || { cat "$work/build.log"; fail "no wheel from the sdist"; }
    echo "wheel built from the sdist in $((SECONDS - start)) s (make lib in the unpacked sdist)"
else
    "$tools" -m pip wheel -q --no-deps --no-cache-dir -w "$work/dist" "$root/python-bindings" \
        > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "the wheel did not build"; }
fi

# The wheel: its name, what it holds, the glibc its library needs and the tag that follows.
wheel=$(echo "$work"/dist/*.whl)
name=$(basename "$wheel")
[[ $name =~ ^fdsafe-[0-9.]+-py3-none-(manylinux_([0-9]+)_([0-9]+)_x86_64)\.whl$ ]] \
    || fail "$name is not a py3-none-manylinux_2_N_x86_64 wheel"
tag=${BASH_REMATCH[1]}
unzip -l "$wheel" > "$work/wheel.list"
for f in fdsafe/libfdsafe.so fdsafe/__init__.py fdsafe/py.typed pytest_fdsafe.py; do
    grep -q " $f\$" "$work/wheel.list" || fail "$name has no $f"
done
unzip -q -d "$work/unpacked" "$wheel" fdsafe/libfdsafe.so
glibc=$(objdump -T "$work/unpacked/fdsafe/libfdsafe.so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
[ "$glibc" = "GLIBC_${BASH_REMATCH[2]}.${BASH_REMATCH[3]}" ] || fail "the library needs $glibc, the tag says $tag"
audit=$("$tools" -m auditwheel show "$wheel" 2>&1 | tr -s ' \n' ' ')
[[ $audit == *"consistent with the following platform tag: \"$tag\""* ]] || { echo "$audit"; fail "auditwheel disagrees"; }
echo "wheel: $name, $(stat -c %s "$wheel") bytes; its libfdsafe.so needs $glibc at most; auditwheel: consistent with $tag"

# A fresh venv with the wheel (and pytest) installed.
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$wheel" pytest
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

cd "$work"
"${clean[@]}" "$work/venv/bin/python" -c 'import fdsafe, fdsafe._lib as l; print(fdsafe.__file__); print(l.lib._name)' \
    > "$work/where"
[ "$(sed -n 1p "$work/where")" = "$site/fdsafe/__init__.py" ] || fail "fdsafe imported from $(sed -n 1p "$work/where")"
[ "$(sed -n 2p "$work/where")" = "$site/fdsafe/libfdsafe.so" ] || fail "library loaded from $(sed -n 2p "$work/where")"
echo "fdsafe imported from the venv: $(sed -n 1p "$work/where"), its library $(sed -n 2p "$work/where")"

if [ "${1:-}" = --sdist ]; then
    "${clean[@]}" "$work/venv/bin/python" -c '
import fdsafe
r, w = fdsafe.pipe()
with r, w:
    w.write(b"from the sdist")
    assert r.read(14) == b"from the sdist"
print("the wheel built from the sdist works: fdsafe", fdsafe.version())'
    exit 0
fi

# Outside the repository: the tests, and the two repository files they read (the README's
# example, the header the bindings are checked against), in the layout they expect.
mkdir -p "$work/outside/python-bindings" "$work/outside/include"
cp -r "$root/python-bindings/tests" "$work/outside/python-bindings/"
cp "$root/README.md" "$work/outside/"
cp "$root/include/fdsafe.h" "$work/outside/include/"
cd "$work/outside/python-bindings"
"${clean[@]}" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests

# The installed library broken: pytest still runs a project that does not use fdsafe.
mkdir "$work/other"
printf 'def test_arithmetic():\n    assert 1 + 1 == 2\n' > "$work/other/test_other.py"
printf 'def test_uses_fixture(fd_leak_check):\n    pass\n' > "$work/other/test_fixture.py"
echo "not a shared library" > "$site/fdsafe/libfdsafe.so"
cd "$work/other"
"${clean[@]}" "$work/venv/bin/python" -m pytest -p no:cacheprovider test_other.py > "$work/other.log" 2>&1 \
    || { cat "$work/other.log"; fail "with the library broken, an unrelated pytest run failed"; }
grep -q '^plugins: .*fdsafe' "$work/other.log" || { cat "$work/other.log"; fail "the fdsafe plugin was not loaded"; }
echo "library broken: an unrelated project's pytest run passes with the fdsafe plugin loaded: $(tail -n 1 "$work/other.log")"
status=0
"${clean[@]}" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider test_fixture.py > "$work/fixture.log" 2>&1 || status=$?
[ $status -eq 1 ] && grep -q 'fd_leak_check fixture needs the fdsafe package.*cannot load libfdsafe from the copy bundled' \
    "$work/fixture.log" || { cat "$work/fixture.log"; fail "the fixture did not say what is wrong (status $status)"; }
echo "library broken: the fixture says: $(grep -o 'the fd_leak_check fixture needs.*' "$work/fixture.log" | head -n 1 | cut -c 1-150)..."
"${clean[@]}" "$work/venv/bin/python" -c 'import fdsafe' > "$work/import.log" 2>&1 && fail "import fdsafe worked on a broken library"
grep -q '^ImportError: fdsafe: cannot load libfdsafe from the copy bundled with the package' "$work/import.log" \
    || { cat "$work/import.log"; fail "import fdsafe did not say what is wrong"; }
echo "library broken: import fdsafe says: $(tail -n 1 "$work/import.log" | cut -c 1-150)..."

# The installed library missing: the loader falls back to the system library path.
rm "$site/fdsafe/libfdsafe.so"
if grep -q 'libfdsafe\.so' <<< "$(ldconfig -p)"; then  # read whole: no SIGPIPE under pipefail
    echo "library missing: not checked, the system library path has a libfdsafe: $(ldconfig -p | grep -m 1 libfdsafe)"
else
    "${clean[@]}" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider test_other.py > "$work/other.log" 2>&1 \
        || { cat "$work/other.log"; fail "with the library missing, an unrelated pytest run failed"; }
    "${clean[@]}" "$work/venv/bin/python" -c 'import fdsafe' > "$work/import.log" 2>&1 && fail "import fdsafe worked with no library"
    grep -q '^ImportError: fdsafe: cannot load libfdsafe from the system library path' "$work/import.log" \
        || { cat "$work/import.log"; fail "import fdsafe did not say what is wrong"; }
    echo "library missing: an unrelated pytest run passes; import fdsafe says: $(tail -n 1 "$work/import.log" | cut -c 1-120)..."
fi

# A developer's editable install: the source tree's package and the repository's build.
"$python" -m venv "$work/editable"
"$work/editable/bin/python" -m pip install -q -e "$root/python-bindings" > "$work/editable.log" 2>&1 \
    || { cat "$work/editable.log"; fail "pip install -e did not work"; }
"${clean[@]}" "$work/editable/bin/python" -c 'import fdsafe, fdsafe._lib as l; print(fdsafe.__file__); print(l.lib._name)' \
    > "$work/where"
[ "$(cat "$work/where")" = "$(printf '%s\n' "$root/python-bindings/fdsafe/__init__.py" "$root/target/release/libfdsafe.so")" ] \
    || fail "the editable install imported $(cat "$work/where")"
echo "editable install: fdsafe from the source tree, library from target/release"
echo "wheel test: $name installed and tested outside the repository"
