#!/usr/bin/env bash
# A/B drain: the same modes from two builds, interleaved run by run, so a
# change is measured against what it replaced in one sitting (make bench-ab).
# Runs on the receiver host of scripts/netns-run.sh.
# usage: ab.sh BUILD_A BUILD_B   (env: COUNT SIZE REPS MODES)
set -euo pipefail
main() {
a=$1 b=$2
COUNT=${COUNT:-300000}
SIZE=${SIZE:-64}
REPS=${REPS:-7}
MODES=${MODES:-naive recvmmsg sub sub-lean ctx batch thread poll}
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=43000
run() { # build mode -> datagrams/s
  local build=$1 mode=$2 ready="$work/ready.$port"
  "$build/bench/mcrx_bench_drain" "$mode" 239.1.1.1 "$port" "$COUNT" 1 "$ready" >"$work/out" &
  local pid=$!
  for _ in $(seq 1 6000); do [ -e "$ready" ] && break; sleep 0.01; done
  [ -e "$ready" ] || { echo "drain did not get ready" >&2; exit 1; }
  nsenter --net="$S" "$b/bench/mcrx_bench_flood" 198.51.100.1 va 239.1.1.1 "$port" "$SIZE" "$COUNT" >/dev/null
  sleep 0.3
  kill -USR1 "$pid"
  wait "$pid"
  port=$((port + 1))
  awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%.0f\n", v["received"] / v["seconds"]}' "$work/out"
}
for _ in $(seq 1 "$REPS"); do
  for mode in $MODES; do
    echo "$mode A $(run "$a" "$mode")" >>"$work/r"
    echo "$mode B $(run "$b" "$mode")" >>"$work/r"
  done
done
echo "| mode | A datagrams/s (median) | B datagrams/s (median) | B / A |"
echo "|---|---|---|---|"
for mode in $MODES; do
  ma=$(awk -v m="$mode" '$1 == m && $2 == "A" {print $3}' "$work/r" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  mb=$(awk -v m="$mode" '$1 == m && $2 == "B" {print $3}' "$work/r" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  echo "| $mode | $ma | $mb | $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}') |"
done
}
main "$@"
exit
