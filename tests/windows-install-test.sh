#!/usr/bin/env bash
# The Windows tree as a user gets it: `make windows PREFIX=...` installs it;
# a program written only against the Rust crate's <mcrx_core_ffi.h>
# (tests/compat/seed_program_win.c: no WSAStartup, all of <windows.h> first)
# is built with x86_64-w64-mingw32-gcc through pkg-config (import library and
# static) and through find_package with the toolchain file, and each runs
# under wine64 against a Linux sender. Runs on the receiver host of
# scripts/netns-run.sh, after ctest's windows-build test built WIN_BUILD.
# usage: windows-install-test.sh WIN_BUILD SOURCE_DIR TSEND
# Without mingw-w64 or wine64 it exits 77 (skipped), or 1 under CI=true.
set -euo pipefail
win_build=$1 src=$2 tsend=$3
triple=x86_64-w64-mingw32
wine=/usr/lib/wine/wine64
skip_or_fail() {
  echo "windows-install-test: $*" >&2
  [ "${CI:-}" = "true" ] && { echo "windows-install-test: CI=true, so a skip is a failure" >&2; exit 1; }
  exit 77
}
command -v $triple-gcc >/dev/null 2>&1 ||
  skip_or_fail "$triple-gcc missing: apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev"
[ -x "$wine" ] || skip_or_fail "$wine missing: apt-get install wine64"

work=$(mktemp -d)
export WINEPREFIX=$work/wine WINEDEBUG=-all
trap '"${wine%/*}/wineserver" -k 2>/dev/null || true; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
cc=("$triple-gcc" -std=c11 -Wall -Wextra -Werror)
imports() { $triple-objdump -p "$1" | awk '/DLL Name:/ { print tolower($3) }' | tr '\n' ' '; }

# The user's command; the Windows build is the one ctest's windows-build made.
make -s -C "$src" windows WIN_BUILD="$win_build" PREFIX="$work/prefix" >/dev/null
p=$work/prefix
for f in bin/mcrx-core.dll bin/mcrx_recv.exe bin/mcrx_recv_meta.exe bin/mcrx_send.exe \
  lib/mcrx-core.dll.a lib/libmcrx-core.a lib/pkgconfig/mcrx-core.pc \
  lib/cmake/mcrx-core/mcrx-coreConfig.cmake include/mcrx_core_ffi.h include/mcrx/mcrx.h; do
  test -f "$p/$f" || { echo "FAIL: $f not installed"; exit 1; }
done
echo "ok: make windows installs the DLL, the tools, both libraries, pkg-config and CMake files, the headers"

# pkg-config sees only the Windows tree.
export PKG_CONFIG_LIBDIR=$p/lib/pkgconfig
unset PKG_CONFIG_PATH
[ "$(pkg-config --modversion mcrx-core)" = "0.1.0" ]
[[ "$(pkg-config --libs --static mcrx-core)" == *"/lib -lmcrx-core -lws2_32 -liphlpapi"* ]] ||
  { echo "FAIL: static link flags: $(pkg-config --libs --static mcrx-core)"; exit 1; }
mkdir "$work/run"
# The import library: the program imports mcrx-core.dll and not Winsock,
# which it never calls.
"${cc[@]}" -o "$work/run/seed_pc.exe" "$src/tests/compat/seed_program_win.c" \
  $(pkg-config --cflags --libs mcrx-core)
deps=$(imports "$work/run/seed_pc.exe")
[[ " $deps" == *" mcrx-core.dll "* && " $deps" != *" ws2_32.dll "* ]] ||
  { echo "FAIL: seed_pc.exe imports: $deps"; exit 1; }
# Static: libmcrx-core.a and Windows' own libraries, no DLL of ours.
"${cc[@]}" -static -o "$work/run/seed_pc_static.exe" "$src/tests/compat/seed_program_win.c" \
  $(pkg-config --static --cflags --libs mcrx-core)
deps=$(imports "$work/run/seed_pc_static.exe")
[[ " $deps" != *" mcrx-core.dll "* && " $deps" == *" ws2_32.dll "* ]] ||
  { echo "FAIL: seed_pc_static.exe imports: $deps"; exit 1; }
echo "ok: pkg-config builds the C ABI program against the import library and statically"

# COM's interface macro: the headers compile after <windows.h> in either order.
for first in "#include <windows.h>" "#include <winsock2.h>
#include <iphlpapi.h>"; do
  printf '%s\n#include <mcrx/mcrx.h>\nint main(void) { return mcrx_context_new() == NULL; }\n' \
    "$first" >"$work/order.c"
  "${cc[@]}" -c -o "$work/order.o" "$work/order.c" $(pkg-config --cflags mcrx-core)
done
echo "ok: <mcrx/mcrx.h> compiles after <windows.h> and <iphlpapi.h>"

# find_package with the toolchain file, the installed tree on the find root.
cmake -S "$src/tests/compat" -B "$work/consumer" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-x86_64.cmake" \
  -DCMAKE_FIND_ROOT_PATH="$p" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/consumer" >/dev/null
cp "$work/consumer/seed_program_cmake.exe" "$work/consumer/seed_program_static.exe" "$work/run/"
echo "ok: find_package(mcrx-core) builds the C ABI program, shared and static"

# Every program needs only Windows' own DLLs and ours: no libgcc_s, no libwinpthread.
for f in "$work"/run/*.exe; do
  for d in $(imports "$f"); do
    case $d in libgcc* | libwinpthread* | libstdc*) echo "FAIL: $(basename "$f") needs $d"; exit 1 ;; esac
  done
done

# Windows finds a DLL beside its program.
cp "$p/bin/mcrx-core.dll" "$work/run/"
"$wine" "$work/run/seed_pc.exe" >"$work/usage" 2>&1 && { echo "FAIL: no usage error"; exit 1; }
grep -q "^usage: seed_program" "$work/usage" || { cat "$work/usage"; exit 1; }

port=34100
run() { # program group source iface sender-src
  local prog=$1 group=$2 source=$3 iface=$4 from=$5 out="$work/out.$RANDOM"
  "$wine" "$prog" "$group" "$port" "$source" $iface >"$out" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do grep -q '^ready' "$out" && break; sleep 0.1; done
  "$tsend" "$from" va "$group" "$port" "from-windows-seed-abi" 3
  wait "$pid" || { cat "$out"; echo "FAIL: $(basename "$prog") $group"; exit 1; }
  grep -q "payload=from-windows-seed-abi" "$out" || { cat "$out"; exit 1; }
  grep -q "src=$from:" "$out" || { cat "$out"; exit 1; }
  grep -q "group=$group dst_port=$port" "$out" || { cat "$out"; exit 1; }
  grep -q "dest=$group ingress=yes" "$out" || { cat "$out"; exit 1; }
  echo "ok: $(basename "$prog") $group under wine"
  port=$((port + 1))
}
ifindex=$(cat /sys/class/net/vb/ifindex)
run "$work/run/seed_pc.exe" 239.9.1.1 - "" 198.51.100.1
run "$work/run/seed_pc_static.exe" ff0e::8000:911 - "$ifindex" 2001:db8:1::1
run "$work/run/seed_program_cmake.exe" 239.9.1.2 - 198.51.100.2 198.51.100.1
run "$work/run/seed_program_static.exe" ff0e::8000:912 - "$ifindex" 2001:db8:1::1
echo "windows-install-test: passed"
