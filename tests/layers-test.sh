#!/usr/bin/env bash
# No cycles between source files (docs/architecture.md): from the built
# objects, which file calls which (a symbol one defines and another uses),
# then a topological sort; a cycle fails with the files on it. Also checks
# that the address leaf (addr.c) calls no other file of ours but error.c.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
objdir="$1/CMakeFiles/mcrx_objects.dir"
[ -d "$objdir" ] || { echo "no objects under $objdir"; exit 1; }
cd "$objdir"
# The objects of this build's sources (sources.cmake), not leftovers.
mapfile -t objs < <(grep -o 'src/[A-Za-z0-9_/]*\.c' "$here/sources.cmake" | sed 's|$|.o|' |
  while read -r o; do [ -f "$o" ] && echo "$o"; done)
[ "${#objs[@]}" -ge 10 ] || { echo "found only ${#objs[@]} objects"; exit 1; }
defs=$(for o in "${objs[@]}"; do nm --defined-only "$o" | awk -v f="$o" '$2 ~ /[TDBRV]/ {print $3, f}'; done)
edges=$(for o in "${objs[@]}"; do
  nm -u "$o" | awk '{print $2}' | while read -r sym; do
    awk -v s="$sym" -v f="$o" '$1 == s && $2 != f {print f, $2}' <<<"$defs"
  done
done | sort -u)
echo "calls between files:"
sed 's/^/  /' <<<"$edges"
# tsort prints "input contains a loop" and the loop's members on stderr.
if ! out=$(tsort <<<"$edges" 2>&1 >/dev/null) || [ -n "$out" ]; then
  echo "FAIL: a cycle between source files:"
  echo "$out"
  exit 1
fi
leaf=$(awk '$1 == "src/addr.c.o" && $2 != "src/error.c.o"' <<<"$edges")
if [ -n "$leaf" ]; then
  echo "FAIL: the address leaf calls other files: $leaf"
  exit 1
fi
echo "no cycles; addr.c depends on error.c only"
