#!/usr/bin/env bash
# Raw-capture benchmark (bench/README.md, "Raw capture"). Runs on the receiver
# host of scripts/netns-run.sh; the flood runs on the sender host.
# usage: raw_run.sh BUILD_DIR   (env: COUNT SIZES REPS RAW_MODES OUT RAW)
#   quick single mode:  scripts/netns-run.sh env REPS=1 SIZES=64 RAW_MODES=shared-single bench/raw_run.sh build
set -euo pipefail

main() {
build=$1
drain=$build/bench/mcrx_bench_raw_drain
flood=$build/bench/mcrx_bench_flood
COUNT=${COUNT:-200000}
SIZES=${SIZES:-64 1200}
REPS=${REPS:-3}
RAW_MODES=${RAW_MODES:-tcpdump pcap pkt-recvfrom pkt-recvmmsg pkt-ring raw-single raw-batch shared-single shared-batch}
OUT=${OUT:-/dev/stdout}
S=$MCRX_TEST_SENDER_NS
group=239.1.9.1
[ -x "$drain" ] || { echo "raw bench: $drain is missing (install libpcap-dev: scripts/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill -CONT 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=42000

wait_for() { # file [pattern]: up to 60 s
  for _ in $(seq 1 6000); do
    if [ -z "${2:-}" ]; then [ -e "$1" ] && return 0; else grep -q "$2" "$1" 2>/dev/null && return 0; fi
    sleep 0.01
  done
  echo "raw bench: the receiver did not get ready" >&2; exit 1
}

one_run() { # mode size -> one result line
  local mode=$1 size=$2 ready="$work/ready.$port" sent t0 t1
  if [ "$mode" = tcpdump ]; then
    # tcpdump itself: its ring (-B, KiB) holds the whole flood while it is
    # stopped; timed from SIGCONT until it exits after COUNT datagrams (-c).
    local kib=$(( (COUNT * 2 * (size + 28 + 96)) / 1024 + 65536 ))
    tcpdump -i vb -n -s 0 -B "$kib" -c "$COUNT" -w /dev/null "ip dst $group" 2>"$work/td" &
    local pid=$!
    wait_for "$work/td" "listening on"
    kill -STOP "$pid"
    sent=$(nsenter --net="$S" "$flood" 198.51.100.1 va "$group" "$port" "$size" "$COUNT")
    sleep "${SETTLE:-0.3}"
    t0=$(date +%s.%N)
    kill -CONT "$pid"
    wait "$pid" || true
    t1=$(date +%s.%N)
    local got drops
    got=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/td")
    drops=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/td")
    echo "mode=tcpdump received=${got:-0} seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", b-a}') cpu=- drops=${drops:-?} size=$size $sent"
  else
    RAW_IFADDR=198.51.100.2 "$drain" "$mode" "$group" vb "$COUNT" "$size" "$ready" >"$work/out" &
    local pid=$!
    wait_for "$ready"
    sent=$(nsenter --net="$S" "$flood" 198.51.100.1 va "$group" "$port" "$size" "$COUNT")
    sleep "${SETTLE:-0.3}"
    kill -USR1 "$pid"
    wait "$pid"
    echo "$(cat "$work/out") size=$size $sent"
  fi
  port=$((port + 1))
}

results=${RAW:-$work/results}
: >"$results"
for _ in $(seq 1 "$REPS"); do
  for size in $SIZES; do
    for mode in $RAW_MODES; do one_run "$mode" "$size" >>"$results"; done
  done
done
COUNT=$COUNT SIZES=$SIZES RAW_MODES=$RAW_MODES "$(dirname "$0")/raw_report.sh" "$results" >"$OUT"
}

main "$@"
exit
