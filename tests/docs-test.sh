#!/usr/bin/env bash
# Compiles every complete C program (a ```c block with main) in README.md and
# docs/*.md against the library, so the documentation cannot drift from the API.
# A block preceded by "<!-- example: examples/NAME.c -->" must instead equal
# that file, which the build compiles and tests/examples-test.sh runs.
# usage: docs-test.sh SOURCE_DIR STATIC_LIBRARY
# (the static library needs -lpthread and, on Linux, -lmnl: pkg-config --static)
set -euo pipefail
src=$1 lib=$2
cc=${CC:-cc}
extra=${MCRX_CONSUMER_FLAGS:-}
# What the static library needs besides (pkg-config's Libs.private: -luring).
libs=${MCRX_CONSUMER_LIBS:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for md in "$src/README.md" "$src"/docs/*.md; do
  # Split the ```c blocks into numbered files.
  awk -v out="$work/$(basename "$md" .md)" '
    /^<!-- example: .* -->$/ { embed = $3; next }
    /^```c$/ { inblk = 1; k++; file = out "_" k (embed != "" ? ".embed" : ".c");
               if (embed != "") print embed > (file ".path"); embed = ""; next }
    /^```/ && inblk { inblk = 0; close(file); next }
    inblk { print > file }
    !inblk && !/^$/ { embed = "" }' "$md"
done
for f in "$work"/*.embed; do
  [ -e "$f" ] || continue
  path=$(cat "$f.path")
  if ! cmp -s "$f" "$src/$path"; then
    echo "docs-test: the block embedding $path differs from the file"
    diff "$f" "$src/$path" | head -20
    exit 1
  fi
  n=$((n + 1))
done
for f in "$work"/*.c; do
  [ -e "$f" ] || continue
  grep -q 'int main' "$f" || continue
  if ! "$cc" -std=gnu11 -Wall -Wextra -Werror $extra -I"$src/include" -o "${f%.c}" "$f" "$lib" $libs -lpthread -lmnl; then
    echo "docs-test: $(basename "$f") does not compile"
    exit 1
  fi
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "docs-test: no examples found"; exit 1; }
echo "docs-test: $n examples compile or match their files"
