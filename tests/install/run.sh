#!/usr/bin/env bash
# The install a distribution makes: `make install` into a DESTDIR staging tree with folders of
# its own, with no working cargo on PATH (install must never build). Outside programs are built
# against the staged copy with pkg-config and with CMake's find_package and run; the man pages
# are checked; the example daemon and the pip-installed Python bindings run against it; then
# `make uninstall` must leave nothing. A plain install (no DESTDIR) beside folders that existed
# before must leave those folders and their files alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
fail() { echo "install test: $*"; exit 1; }

# A cargo first on PATH that records being called and fails.
mkdir "$work/bin"
printf '#!/bin/sh\necho "cargo $*" >> "%s/cargo-called"\nexit 1\n' "$work" > "$work/bin/cargo"
chmod +x "$work/bin/cargo"

# Folders as a Debian package has them (multiarch library folder), none of them the default.
stage="$work/stage"
prefix=/opt/fdsafe-test
multiarch=$(gcc -print-multiarch)
lib="lib/${multiarch:-x86_64-linux-gnu}"
dirs=(PREFIX="$prefix" LIBDIR="$prefix/$lib" INCLUDEDIR="$prefix/include/fdsafe-0"
      MANDIR="$prefix/man" PKGCONFIGDIR="$prefix/share/pkgconfig")
libdir="$stage$prefix/$lib"

PATH="$work/bin:$PATH" make -s -C "$root" install DESTDIR="$stage" "${dirs[@]}" > "$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "make install failed"; }
[ ! -e "$work/cargo-called" ] || fail "make install ran $(cat "$work/cargo-called")"
echo "make install ran without calling cargo (a failing cargo was first on PATH)"

find "$stage" \( -type f -o -type l \) | sort > "$work/installed"
echo "installed:"; sed "s|$stage|  DESTDIR|" "$work/installed"
for f in "$lib"/libfdsafe.so."$version" "$lib"/libfdsafe.so.0 "$lib"/libfdsafe.so "$lib"/libfdsafe.a \
         include/fdsafe-0/fdsafe.h share/pkgconfig/fdsafe.pc "$lib"/cmake/fdsafe/fdsafeConfig.cmake \
         "$lib"/cmake/fdsafe/fdsafeConfigVersion.cmake man/man3/fdsafe_close.3 man/man7/fdsafe.7; do
    [ -e "$stage$prefix/$f" ] || fail "$prefix/$f was not installed"
done
[ "$(readlink "$libdir/libfdsafe.so.0")" = "libfdsafe.so.$version" ] || fail "libfdsafe.so.0 does not point at the library"
if grep -v "^$stage$prefix/" "$work/installed"; then fail "files installed outside PREFIX"; fi
grep -qx "libdir=$prefix/$lib" "$stage$prefix/share/pkgconfig/fdsafe.pc" || fail "fdsafe.pc has the wrong libdir"
grep -qx "includedir=$prefix/include/fdsafe-0" "$stage$prefix/share/pkgconfig/fdsafe.pc" || fail "fdsafe.pc has the wrong includedir"

# Every man page the build made, section 3 and 7, is installed; man finds them by name.
built_pages=$(cd "$root/build/man" && ls man3/*.3 man7/*.7 | sort)
installed_pages=$(cd "$stage$prefix/man" && ls man3/*.3 man7/*.7 | sort)
[ "$built_pages" = "$installed_pages" ] || fail "installed man pages differ from build/man"
if command -v man >/dev/null; then
    for page in "3 fdsafe_close" "7 fdsafe"; do
        found=$(man -M "$stage$prefix/man" -w $page) || fail "man does not find ${page#* }(${page% *})"
        rendered=$(MANWIDTH=80 man -l "$found" 2>/dev/null | grep -c .) || true
        [ "${rendered:-0}" -gt 0 ] || fail "man -l renders nothing for $found"
    done
    echo "man pages: $(wc -w <<< "$installed_pages") installed; fdsafe_close(3) and fdsafe(7) found by man -M and rendered"
else
    echo "man pages: $(wc -w <<< "$installed_pages") installed (man is not installed here: rendering not checked)"
fi

# pkg-config, as a staged build uses it: the sysroot prefixes the installed folders.
export PKG_CONFIG_PATH="$stage$prefix/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
[ "$(pkg-config --modversion fdsafe)" = "$version" ] || fail "pkg-config reports $(pkg-config --modversion fdsafe)"
gcc -std=c11 -Wall -Werror "$root/tests/install/outside.c" $(pkg-config --cflags --libs fdsafe) \
    -Wl,-rpath,"$libdir" -o "$work/outside-pkgconfig"
# Fully static, as `pkg-config --static` tells (the compiler driver brings the unwinder:
# listing -lgcc_s there made `gcc -static` fail). glibc warns that getaddrinfo in a static
# program needs its shared libraries at run time; that is glibc's rule, not fdsafe's.
gcc -static -std=c11 -Wall -Werror "$root/tests/install/outside.c" $(pkg-config --static --cflags --libs fdsafe) \
    -o "$work/outside-static" 2> "$work/static-link.log" || { cat "$work/static-link.log"; fail "static link failed"; }
! ldd "$work/outside-static" > /dev/null 2>&1 || fail "the static program is dynamic"
"$work/outside-static"
# The output is read whole first: with pipefail, `ldd | grep -q` fails when grep stops early
# and ldd, still writing, gets SIGPIPE (seen once in .ci/run).
linked=$(ldd "$work/outside-pkgconfig")
grep -q "libfdsafe.so.0 => $libdir/libfdsafe.so.0" <<< "$linked" || fail "not linked to the installed library"
"$work/outside-pkgconfig"

# CMake: the shared and the static target, and a request for another 0.x minor refused.
cmake -S "$root/tests/install" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$stage$prefix" \
    -DFDSAFE_WANT="$version" -DCMAKE_BUILD_RPATH="$libdir" > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake failed"; }
cmake --build "$work/cmake-build" > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake --build failed"; }
"$work/cmake-build/outside"
"$work/cmake-build/outside-static"
if cmake -S "$root/tests/install" -B "$work/cmake-old" -DCMAKE_PREFIX_PATH="$stage$prefix" \
    -DFDSAFE_WANT=0.1 > "$work/cmake-old.log" 2>&1; then fail "find_package(fdsafe 0.1) accepted $version"; fi
echo "cmake: find_package(fdsafe $version) built fdsafe::fdsafe and fdsafe::static programs; find_package(fdsafe 0.1) refused"

# The example daemon, built against the installed copy with pkg-config, through its whole
# scripted session (socket activation included).
gcc -std=c11 -Wall -Werror "$root/examples/daemon.c" $(pkg-config --cflags --libs fdsafe) \
    -Wl,-rpath,"$libdir" -o "$work/daemon"
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

make -s -C "$root" uninstall DESTDIR="$stage" "${dirs[@]}" > "$work/uninstall.log" 2>&1 ||
    { cat "$work/uninstall.log"; fail "make uninstall failed"; }
[ ! -e "$stage" ] || { find "$stage"; fail "uninstall left the above in DESTDIR"; }
echo "uninstall removed all $(wc -l < "$work/installed") files and every folder install created"

# A plain install: a prefix whose include/ (empty) and lib/ (with a file) existed before.
plain="$work/plain"
mkdir -p "$plain/include" "$plain/lib"
echo other > "$plain/lib/other.txt"
make -s -C "$root" install PREFIX="$plain" > "$work/plain.log" 2>&1 || { cat "$work/plain.log"; fail "plain install failed"; }
grep -q "the dynamic linker does not search $plain/lib" "$work/plain.log" ||
    { cat "$work/plain.log"; fail "install did not say how programs find a library outside the linker's path"; }
make -s -C "$root" uninstall PREFIX="$plain" > "$work/plain.log" 2>&1 || { cat "$work/plain.log"; fail "plain uninstall failed"; }
left=$(cd "$plain" && find . | sort | tr '\n' ' ')
[ "$left" = ". ./include ./lib ./lib/other.txt " ] || fail "plain uninstall left: $left"
echo "plain install: said the linker does not search $(basename "$plain")/lib; uninstall kept the folders that existed before and their files"

# install never builds: without the products it stops and says so.
if make -s -C "$root" install PREFIX="$work/none" LIB_SO="$work/missing.so" > "$work/missing.log" 2>&1; then
    fail "install without the library succeeded"; fi
grep -q "missing.so is missing: run make first" "$work/missing.log" || { cat "$work/missing.log"; fail "no 'run make first'"; }
[ ! -e "$work/none" ] || fail "a failed install created folders"
echo "install test: passed"
