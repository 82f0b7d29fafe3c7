#!/usr/bin/env bash
# Join time: add and join K subscriptions (K distinct IPv4 groups on one port,
# one context), then leave them all, timed by the drain (join_s, leave_s).
# Runs on the receiver host of scripts/netns-run.sh; the limits it raises
# (open files) are the namespace's process's own.
# usage: join.sh BUILD   (env: KS, REPS)
set -euo pipefail
main() {
build=$1
KS=${KS:-1000 10000 50000}
REPS=${REPS:-3}
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=45000
ulimit -n $((${KS##* } + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "| K | join K (median of $REPS) | per subscription | leave K |"
echo "|---|---|---|---|"
for k in $KS; do
  : >"$work/r"
  for _ in $(seq 1 "$REPS"); do
    ready="$work/ready.$port"
    "$build/bench/mcrx_bench_drain" batch 239.1.1.1 "$port" 100 "$k" "$ready" >"$work/out" &
    pid=$!
    for _ in $(seq 1 60000); do [ -e "$ready" ] && break; sleep 0.01; done
    nsenter --net="$S" "$build/bench/mcrx_bench_flood" 198.51.100.1 va 239.1.1.1 "$port" 64 100 >/dev/null
    kill -USR1 "$pid"
    wait "$pid"
    awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } print v["join_s"], v["leave_s"]}' \
      "$work/out" >>"$work/r"
    port=$((port + 1))
  done
  sort -n "$work/r" | awk -v k="$k" '{j[NR] = $1; l[NR] = $2} END {
    m = int((NR + 1) / 2); printf "| %d | %.3f s | %.1f us | %.3f s |\n", k, j[m], j[m] / k * 1e6, l[m] }'
done
}
main "$@"
exit
