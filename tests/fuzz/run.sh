#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS, growing a work corpus in the build
# directory from the committed seeds, then minimises seeds + findings back
# into tests/fuzz/corpus/<target> (libFuzzer -merge=1). Inputs named crash-*
# (reproducers of fixed bugs) are always kept. Stops at the first crash and
# leaves the reproducer in BUILD/fuzz-artifacts/.
# usage: [FUZZ_TARGETS="ip ..."] run.sh BUILD SECONDS
set -euo pipefail
build=$1 secs=$2
src=$(cd "$(dirname "$0")" && pwd)
targets=${FUZZ_TARGETS:-"ip interface config cmsg jsonl_validate jsonl_merge jsonl_writer"}
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
total=0
summary=""
for t in $targets; do
  bin=$build/tests/fuzz/fuzz_$t
  seeds=$src/corpus/$t
  work=$build/fuzz-work/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$seeds" "$work"
  dict=()
  case $t in
    jsonl_*) dict=(-dict="$src/json.dict") ;;
    ip|interface|config) dict=(-dict="$src/address.dict") ;;
  esac
  echo "== fuzz $t: ${secs}s"
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$build/fuzz-artifacts/$t-" "${dict[@]}" \
      "$work" "$seeds" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz $t: crashed; reproducer in $build/fuzz-artifacts/" >&2
    exit 1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  # Minimise to a corpus worth committing: inputs that reach code no other
  # kept input reaches (edges only, -use_counters=0). libFuzzer's merge takes
  # the smallest inputs first; feeding it the largest first, in chunks,
  # keeps fewer of them (each error path still needs an input of its own).
  merged=$build/fuzz-merge/$t chunks=$build/fuzz-merge/$t.chunks
  rm -rf "$merged" "$chunks" && mkdir -p "$merged" "$chunks"
  # (one copy of each name: libFuzzer names inputs by their hash)
  find "$seeds" "$work" -maxdepth 1 -type f ! -name 'crash-*' -printf '%s %f %p\n' |
    sort -k2,2 -u | sort -rn | cut -d' ' -f3- | split -l 25 - "$chunks/list."
  for list in "$chunks"/list.*; do
    [ -e "$list" ] || continue
    rm -rf "$chunks/in" && mkdir -p "$chunks/in"
    xargs -d '\n' cp -t "$chunks/in" <"$list"
    "$bin" -merge=1 -use_counters=0 -max_len=4096 "$merged" "$chunks/in" >>"$log" 2>&1
  done
  find "$seeds" -maxdepth 1 -type f -name 'crash-*' -exec cp {} "$merged/" \;
  rm -rf "$seeds" && mkdir -p "$seeds"
  find "$merged" -maxdepth 1 -type f -exec cp -t "$seeds" {} +
  n=$(find "$seeds" -type f | wc -l)
  summary+=$(printf '%-16s %12s executions, corpus %4s files' "$t" "$execs" "$n")$'\n'
done
printf '\n%s' "$summary"
printf '%-16s %12s executions\n' total "$total"
