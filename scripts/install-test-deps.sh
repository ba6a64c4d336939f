#!/usr/bin/env bash
# Installs what `make test` needs on a fresh Debian machine: cmocka, socat, cmake, groff,
# abi-dumper, abi-compliance-checker, pytest.
set -euo pipefail

need_apt=()
[ -f /usr/include/cmocka.h ] || need_apt+=(libcmocka-dev)
command -v socat >/dev/null || need_apt+=(socat)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v groff >/dev/null || need_apt+=(groff-base)
# make abi-check: dump the library's ABI and compare it with the committed baseline.
command -v abi-dumper >/dev/null || need_apt+=(abi-dumper)
command -v abi-compliance-checker >/dev/null || need_apt+=(abi-compliance-checker)

if [ ${#need_apt[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${need_apt[*]} with apt-get"
    log=$(mktemp)
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}"; } \
        >"$log" 2>&1 || { cat "$log"; echo "apt-get failed"; exit 1; }
    rm -f "$log"
fi

python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q pytest
python3 -c 'import mypy' 2>/dev/null || python3 -m pip install -q mypy
