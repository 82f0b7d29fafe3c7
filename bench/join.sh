#!/usr/bin/env bash
# Join time: add and join K subscriptions (K distinct IPv4 groups on one port,
# one context), then leave them all, timed by the drain (join_s, its CPU time
# join_cpu_s, leave_s, and free_s for mcrx_context_free afterwards).
# Runs on the receiver host of scripts/netns-run.sh; the limits it raises
# (open files) are the namespace's process's own.
# A K above what one process may open (the hard RLIMIT_NOFILE, which only
# CAP_SYS_RESOURCE raises) is split over several drains on the same port,
# started one after the other while the earlier ones hold their sockets, so
# the kernel sees all K; the join time is then the sum of theirs and the
# leave column is not comparable (they leave at once).
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
per=$(($(ulimit -n) - 1024))
echo "Open files: soft $(ulimit -n), hard $(ulimit -Hn); one drain holds up to $per subscriptions."
echo
echo "| K | drains | join K (median of $REPS) | per subscription | join CPU | leave K | context free |"
echo "|---|---|---|---|---|---|---|"
for k in $KS; do
  : >"$work/r"
  n=$(((k + per - 1) / per))
  for _ in $(seq 1 "$REPS"); do
    pids=""
    left=$k first=0 d=0
    while [ "$left" -gt 0 ]; do
      chunk=$((left < per ? left : per))
      ready="$work/ready.$port.$d"
      "$build/bench/mcrx_bench_drain" batch 239.1.1.1 "$port" 100 "$chunk" "$ready" "$first" >"$work/out.$d" &
      pids="$pids $!"
      for _ in $(seq 1 60000); do [ -e "$ready" ] && break; sleep 0.01; done
      left=$((left - chunk)) first=$((first + chunk)) d=$((d + 1))
    done
    nsenter --net="$S" "$build/bench/mcrx_bench_flood" 198.51.100.1 va 239.1.1.1 "$port" 64 100 >/dev/null
    for p in $pids; do kill -USR1 "$p"; done
    for p in $pids; do wait "$p"; done
    cat "$work"/out.* | awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      j += v["join_s"]; c += v["join_cpu_s"]; if (v["leave_s"] > l) l = v["leave_s"]; if (v["free_s"] > f) f = v["free_s"] }
      END { print j, c, l, f }' >>"$work/r"
    rm -f "$work"/out.*
    port=$((port + 1))
  done
  sort -n "$work/r" | awk -v k="$k" -v n="$n" '{j[NR] = $1; c[NR] = $2; l[NR] = $3; f[NR] = $4} END {
    m = int((NR + 1) / 2); lv = "-"; if (n == 1) lv = sprintf("%.3f s", l[m])
    printf "| %d | %d | %.3f s | %.1f us | %.3f s | %s | %.3f s |\n", k, n, j[m], j[m] / k * 1e6, c[m], lv, f[m] }'
done
}
main "$@"
exit
