#!/usr/bin/env bash
# What counting costs, as user-space instructions per datagram (callgrind
# counts instructions, not seconds, so the figure does not move with the
# machine's load). Runs the drain of a normal build and of an MCRX_COUNTERS=OFF
# build on the same traffic. Runs on the receiver host of scripts/netns-run.sh.
# usage: count-cost.sh BUILD_DIR NOCOUNT_BUILD_DIR   (env: COUNT, MODES)
set -euo pipefail
build=$1 nocount=$2
COUNT=${COUNT:-20000}
MODES=${MODES:-sub-lean ctx batch}
flood=$build/bench/mcrx_bench_flood
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=43000
ir() { # drain-binary mode -> instructions of the whole run
  local bin=$1 mode=$2 ready="$work/ready.$port"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$port" "$bin" "$mode" 239.1.1.1 "$port" \
    "$COUNT" 1 "$ready" >"$work/out" 2>/dev/null &
  local pid=$!
  for _ in $(seq 1 3000); do [ -e "$ready" ] && break; sleep 0.01; done
  sleep 1 # valgrind is slow to reach its wait; let it settle
  nsenter --net="$S" "$flood" 198.51.100.1 va 239.1.1.1 "$port" 64 "$COUNT" >/dev/null
  sleep 0.3
  kill -USR1 "$pid" # valgrind runs the program in its own process
  wait "$pid"
  grep -q "received=$COUNT " "$work/out" || { echo "count-cost: $mode lost datagrams" >&2; cat "$work/out" >&2; exit 1; }
  sed -n 's/^summary: //p' "$work/cg.$port"
  port=$((port + 1))
}
echo "| mode | instructions per datagram, counting on | off | counting costs |"
echo "|---|---|---|---|"
for mode in $MODES; do
  with=$(ir "$build/bench/mcrx_bench_drain" "$mode")
  without=$(ir "$nocount/bench/mcrx_bench_drain" "$mode")
  awk -v a="$with" -v b="$without" -v n="$COUNT" -v m="$mode" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.1f (%.1f%%) |\n", m, a/n, b/n, (a-b)/n, (a-b)/b*100 }'
done
