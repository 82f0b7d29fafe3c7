#!/usr/bin/env bash
# Receive-capacity benchmark. Runs on the receiver host of scripts/netns-run.sh;
# the flood runs on the sender host. See bench/README.md.
# usage: run.sh BUILD_DIR   (env: COUNT SIZES REPS MODES KS OUT)
set -euo pipefail
build=$1
drain=$build/bench/mcrx_bench_drain
flood=$build/bench/mcrx_bench_flood
COUNT=${COUNT:-300000}
SIZES=${SIZES:-64 1200}
REPS=${REPS:-3}
MODES=${MODES:-naive recvmmsg sub ctx batch thread}
KS=${KS:-1 100 1000 10000}
OUT=${OUT:-/dev/stdout}
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
port=41000

one_run() { # mode size k -> prints drain's result line plus the sender's
  local mode=$1 size=$2 k=$3 ready="$work/ready.$port"
  "$drain" "$mode" 239.1.1.1 "$port" "$COUNT" "$k" "$ready" >"$work/out" &
  local pid=$!
  for _ in $(seq 1 6000); do [ -e "$ready" ] && break; sleep 0.01; done
  [ -e "$ready" ] || { echo "drain did not get ready" >&2; exit 1; }
  local sent
  sent=$(nsenter --net="$S" "$flood" 198.51.100.1 va 239.1.1.1 "$port" "$size" "$COUNT")
  sleep ${SETTLE:-0.3}
  kill -USR1 "$pid"
  wait "$pid"
  echo "$(cat "$work/out") size=$size $sent"
  port=$((port + 1))
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" | head -n 1; }

echo "# mcrx-core receive benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), COUNT=$COUNT, REPS=$REPS" >"$OUT.raw" 2>/dev/null || true
results="$work/results"
: >"$results"
# Modes are interleaved within each repetition, so drift on a shared machine
# spreads over all of them instead of biasing one.
for _ in $(seq 1 "$REPS"); do
  for size in $SIZES; do
    for mode in $MODES; do one_run "$mode" "$size" 1 >>"$results"; done
  done
  for k in $KS; do
    for mode in ctx batch; do one_run "$mode" 64 "$k" >>"$results"; done
  done
done

# Table: medians per (size, mode, k).
{
  echo "| payload | mode | K | datagrams/s | loss | CPU s per M datagrams | vs naive | vs recvmmsg | allocs/datagram | join K s | leave K s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for size in $SIZES; do
    naive_rate=""; mmsg_rate=""
    for mode in $MODES; do
      rows=$(grep "mode=$mode k=1 " "$results" | grep "size=$size ")
      rate=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); s=$(echo " $l" | field seconds); awk -v r="$r" -v s="$s" 'BEGIN{printf "%.0f\n", r/s}'; done | median)
      cpu=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); c=$(echo " $l" | field cpu); awk -v r="$r" -v c="$c" 'BEGIN{printf "%.4f\n", c/r*1e6}'; done | median)
      loss=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); awk -v r="$r" -v n="$COUNT" 'BEGIN{printf "%d\n", n-r}'; done | median)
      al=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); a=$(echo " $l" | field allocs); awk -v r="$r" -v a="$a" 'BEGIN{printf "%.6f\n", a/r}'; done | median)
      [ "$mode" = naive ] && naive_rate=$rate
      [ "$mode" = recvmmsg ] && mmsg_rate=$rate
      vs_n=$(awk -v a="$rate" -v b="${naive_rate:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
      vs_m=$(awk -v a="$rate" -v b="${mmsg_rate:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
      echo "| $size | $mode | 1 | $rate | $loss | $cpu | $vs_n | $vs_m | $al | - | - |"
    done
  done
  for k in $KS; do
    for mode in ctx batch; do
      rows=$(grep "mode=$mode k=$k " "$results" | grep "size=64 ")
      rate=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); s=$(echo " $l" | field seconds); awk -v r="$r" -v s="$s" 'BEGIN{printf "%.0f\n", r/s}'; done | median)
      cpu=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); c=$(echo " $l" | field cpu); awk -v r="$r" -v c="$c" 'BEGIN{printf "%.4f\n", c/r*1e6}'; done | median)
      loss=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); awk -v r="$r" -v n="$COUNT" 'BEGIN{printf "%d\n", n-r}'; done | median)
      al=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); a=$(echo " $l" | field allocs); awk -v r="$r" -v a="$a" 'BEGIN{printf "%.6f\n", a/r}'; done | median)
      js=$(echo "$rows" | field join_s | median)
      js=$(echo "$rows" | while read -r l; do echo " $l" | field join_s; done | median)
      ls=$(echo "$rows" | while read -r l; do echo " $l" | field leave_s; done | median)
      echo "| 64 | $mode | $k | $rate | $loss | $cpu | - | - | $al | $js | $ls |"
    done
  done
} >"$work/table"
cat "$work/table" >"$OUT"
cp "$results" "${RAW:-/dev/null}" 2>/dev/null || true
