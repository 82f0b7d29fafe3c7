#!/usr/bin/env bash
# Builds the Windows tree with mingw-w64 (cmake/mingw-w64-x86_64.cmake) in
# DIR: DIR/bin holds mcrx-core.dll, the tools (mcrx_recv.exe,
# mcrx_recv_meta.exe, mcrx_send.exe) and example_wait_loop.exe side by side;
# DIR holds mcrx-core.dll.a (import library) and libmcrx-core.a. Then checks
# that each DLL and program needs nothing but Windows' own DLLs (and
# mcrx-core.dll): no libgcc_s, no libwinpthread.
#
# `make windows` runs it before installing; ctest's windows-build test runs it
# for the tests that use the Windows programs (fixture mcrx_windows).
# usage: scripts/windows-build.sh DIR [cmake options...]
# Without mingw-w64 it exits 77 (skipped), or 1 under CI=true.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
triple=x86_64-w64-mingw32

if ! command -v $triple-gcc >/dev/null 2>&1 || ! command -v $triple-objdump >/dev/null 2>&1; then
  echo "windows-build: $triple-gcc is missing: apt-get install gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev" \
    "(or run scripts/install-deps.sh as root)" >&2
  [ "${CI:-}" = "true" ] && { echo "windows-build: CI=true, so a skip is a failure" >&2; exit 1; }
  exit 77
fi

cmake -S "$src" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-x86_64.cmake" -DMCRX_WERROR=ON "$@"
cmake --build "$dir" -j "${JOBS:-2}"

# Windows' own DLLs: what every Windows has in System32.
own='^(kernel32|msvcrt|ucrtbase|ws2_32|iphlpapi|advapi32|ntdll|user32|bcrypt|api-ms-win-.*)\.dll$'
bad=0 n=0
for f in "$dir"/bin/*.dll "$dir"/bin/*.exe; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  for dll in $($triple-objdump -p "$f" | awk '/DLL Name:/ { print tolower($3) }'); do
    if [ "$dll" != mcrx-core.dll ] && ! [[ $dll =~ $own ]]; then
      echo "windows-build: $(basename "$f") needs $dll, which Windows does not have" >&2
      bad=1
    fi
  done
done
[ "$n" -ge 5 ] || { echo "windows-build: expected the DLL and 4 programs in $dir/bin, found $n" >&2; exit 1; }
[ "$bad" = 0 ]
echo "windows-build: $n files in $dir/bin need only Windows' own DLLs"
