#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine: cmocka, socat, cmake, groff,
# abi-dumper, abi-compliance-checker... from apt, and the Python test tools
# (python-bindings/requirements-test.txt) into a virtual environment.
#   scripts/install-test-deps.sh [--python-only] [VENV]    (VENV: build/venv by default)
# PYTHON (python3 by default) makes the venv: Debian's own python3 refuses pip installs
# outside one (PEP 668, "externally managed environment").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python_only=false
if [ "${1:-}" = --python-only ]; then python_only=true; shift; fi
venv=${1:-$root/build/venv}
python=${PYTHON:-python3}
requirements=$root/python-bindings/requirements-test.txt

need_apt=()
[ -f /usr/include/cmocka.h ] || need_apt+=(libcmocka-dev)
command -v socat >/dev/null || need_apt+=(socat)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v groff >/dev/null || need_apt+=(groff-base)
# make abi-check: dump the library's ABI and compare it with the committed baseline.
command -v abi-dumper >/dev/null || need_apt+=(abi-dumper)
command -v abi-compliance-checker >/dev/null || need_apt+=(abi-compliance-checker)

if $python_only; then need_apt=(); fi
# Debian's python3 has venv's pip bootstrap (ensurepip) in another package.
"$python" -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)

if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${need_apt[*]} with apt-get"
    log=$(mktemp)
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"; } \
        >"$log" 2>&1 || { cat "$log"; echo "apt-get failed"; exit 1; }
    rm -f "$log"
fi

# The venv is made again when PYTHON is another interpreter than the one that made it.
base=$("$python" -c 'import sys; print(sys.base_prefix)')
if [ "$("$venv/bin/python" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" != "$base" ]; then
    echo "making $venv with $python ($base)"
    "$python" -m venv --clear "$venv"
fi
# pip says nothing when everything is there already; a stamp spares even that call.
stamp=$venv/.requirements-test.txt
if ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install -q -r "$requirements"
    cp "$requirements" "$stamp"
fi
