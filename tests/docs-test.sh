#!/usr/bin/env bash
# Compiles every complete C program (a ```c block with main) in README.md and
# docs/*.md against the library, so the documentation cannot drift from the API.
# usage: docs-test.sh SOURCE_DIR STATIC_LIBRARY
set -euo pipefail
src=$1 lib=$2
cc=${CC:-cc}
extra=${MCRX_CONSUMER_FLAGS:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for md in "$src/README.md" "$src"/docs/*.md; do
  # Split the ```c blocks into numbered files.
  awk -v out="$work/$(basename "$md" .md)" '
    /^```c$/ { inblk = 1; k++; file = out "_" k ".c"; next }
    /^```/ && inblk { inblk = 0; close(file); next }
    inblk { print > file }' "$md"
done
for f in "$work"/*.c; do
  [ -e "$f" ] || continue
  grep -q 'int main' "$f" || continue
  if ! "$cc" -std=gnu11 -Wall -Wextra -Werror $extra -I"$src/include" -o "${f%.c}" "$f" "$lib" -lpthread; then
    echo "docs-test: $(basename "$f") does not compile"
    exit 1
  fi
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "docs-test: no examples found"; exit 1; }
echo "docs-test: $n examples compile"
