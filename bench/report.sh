#!/usr/bin/env bash
# Turns bench/run.sh's raw lines into the markdown tables of bench/results.md.
# usage: report.sh RAW_FILE   (env: COUNT SIZES MODES KS KERNEL_KS as for run.sh)
set -euo pipefail
results=$1
COUNT=${COUNT:-300000}
SIZES=${SIZES:-64 1200}
MODES=${MODES:-naive recvmsg-pktinfo recvmmsg sub sub-lean ctx ctx-lean batch batch-lean thread poll uv}
KS=${KS:-1 100 1000 10000}
KERNEL_KS=${KERNEL_KS:-1 100 1000}
PY_MODES=${PY_MODES:-py-recvfrom py-single py-batch py-batch-into}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" | head -n 1; }

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
      [ -n "$rows" ] || continue
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
  if [ -n "$PY_MODES" ]; then
    echo
    echo "Python (/usr/bin/python3), the same drain:"
    echo
    echo "| payload | mode | datagrams/s | loss | CPU s per M datagrams | vs py-recvfrom | vs C batch (same run) |"
    echo "|---|---|---|---|---|---|---|"
    for size in $SIZES; do
      base=""
      # The C ceiling of recv_batch: drain.c's batch mode at this size, same run.
      crows=$(grep "mode=batch k=1 " "$results" | grep "size=$size ")
      cbase=$(echo "$crows" | while read -r l; do [ -n "$l" ] || continue; r=$(echo " $l" | field received); s=$(echo " $l" | field seconds); awk -v r="$r" -v s="$s" 'BEGIN{printf "%.0f\n", r/s}'; done | median)
      for mode in $PY_MODES; do
        rows=$(grep "mode=$mode k=1 " "$results" | grep "size=$size ")
        rate=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); s=$(echo " $l" | field seconds); awk -v r="$r" -v s="$s" 'BEGIN{printf "%.0f\n", r/s}'; done | median)
        cpu=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); c=$(echo " $l" | field cpu); awk -v r="$r" -v c="$c" 'BEGIN{printf "%.4f\n", c/r*1e6}'; done | median)
        loss=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); awk -v r="$r" -v n="$COUNT" 'BEGIN{printf "%d\n", n-r}'; done | median)
        [ "$mode" = py-recvfrom ] && base=$rate
        vs=$(awk -v a="$rate" -v b="${base:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
        vc=$(awk -v a="$rate" -v b="${cbase:-0}" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "-"}')
        echo "| $size | $mode | $rate | $loss | $cpu | $vs | $vc |"
      done
    done
  fi
  echo
  echo "Kernel delivery with K sockets on one port (one joined group each, traffic to one):"
  echo
  echo "| layout | K | delivered datagrams/s (sender-limited) | loss |"
  echo "|---|---|---|---|"
  for k in $KERNEL_KS; do
    for mode in kernel-wild kernel-group; do
      rows=$(grep "mode=$mode k=$k " "$results")
      rate=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); s=$(echo " $l" | field send_seconds); awk -v r="$r" -v s="$s" 'BEGIN{printf "%.0f\n", r/s}'; done | median)
      loss=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); awk -v r="$r" -v n="$COUNT" 'BEGIN{printf "%d\n", n-r}'; done | median)
      echo "| ${mode#kernel-} | $k | $rate | $loss |"
    done
  done
}
