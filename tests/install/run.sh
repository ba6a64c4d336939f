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

# The example daemon, built against the installed copy with pkg-config, through its whole
# scripted session (socket activation included).
gcc -std=c11 -Wall -Werror "$root/examples/daemon.c" $(pkg-config --cflags --libs fdsafe) \
    -Wl,-rpath,"$prefix/lib" -o "$work/daemon"
python3 "$root/examples/demo.py" --check "$work/daemon" > "$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
tail -n 1 "$work/demo.log"

# A Python user: pip install into a fresh virtual environment (a wheel that carries its
# own copy of the library), and the package serves a socket-activated listener.
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$root/python-bindings" >/dev/null
cat > "$work/activated.py" <<'PY'
import fdsafe.daemon
(listener,) = fdsafe.daemon.listen_fds()
print(f"python got {listener.name!r}: {listener.kind_name} from {fdsafe.__file__} "
      f"({fdsafe._lib.lib._name})", flush=True)
conn = listener.accept()[0]
conn.sendall(b"hello from a pip-installed fdsafe\n")
conn.close()
listener.close()
PY
# systemd-socket-activate passes on only the variables named with -E.
systemd-socket-activate -l "$work/py.sock" --fdname=greeter \
    "$work/venv/bin/python" "$work/activated.py" > "$work/py.log" 2>&1 &
activator=$!
for _ in $(seq 100); do [ -S "$work/py.sock" ] && break; sleep 0.05; done
reply=$(socat -t2 - UNIX-CONNECT:"$work/py.sock" </dev/null)
wait $activator || true
grep "python got 'greeter': unix_listener from $work/venv" "$work/py.log" || { cat "$work/py.log"; exit 1; }
[ "$reply" = "hello from a pip-installed fdsafe" ] || { echo "reply: $reply"; cat "$work/py.log"; exit 1; }
echo "pip-installed bindings served a socket-activated listener: $reply"

make -s -C "$root" uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" \( -type f -o -type l \) | sort)
if [ -n "$left" ]; then echo "uninstall left: $left"; exit 1; fi
echo "install test: pkg-config and CMake builds ran; uninstall removed all $(wc -l < "$work/installed") files"
