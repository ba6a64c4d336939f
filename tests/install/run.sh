#!/usr/bin/env bash
# Installs fdsafe into a temporary prefix, builds an outside program against it with
# pkg-config and with CMake's find_package, runs both, then checks that uninstall removes
# exactly what install put there.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

make -s -C "$root" install PREFIX="$prefix" >/dev/null
find "$prefix" \( -type f -o -type l \) | sort > "$work/installed"
echo "installed:"; sed "s|$prefix|  PREFIX|" "$work/installed"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
gcc -std=c11 -Wall -Werror "$root/tests/install/outside.c" $(pkg-config --cflags --libs fdsafe) \
    -Wl,-rpath,"$prefix/lib" -o "$work/outside-pkgconfig"
"$work/outside-pkgconfig"

cmake -S "$root/tests/install" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$prefix/lib" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/outside"

make -s -C "$root" uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" \( -type f -o -type l \) | sort)
if [ -n "$left" ]; then echo "uninstall left: $left"; exit 1; fi
echo "install test: pkg-config and CMake builds ran; uninstall removed all $(wc -l < "$work/installed") files"
