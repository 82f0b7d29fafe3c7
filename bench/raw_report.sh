#!/usr/bin/env bash
# bench/raw_run.sh's lines as a markdown table (medians over the repetitions).
# usage: raw_report.sh RAW_FILE   (env: COUNT SIZES RAW_MODES as for raw_run.sh)
set -euo pipefail
results=$1
COUNT=${COUNT:-200000}
SIZES=${SIZES:-64 1200}
RAW_MODES=${RAW_MODES:-tcpdump pcap pkt-recvfrom pkt-recvmmsg pkt-ring raw-single raw-batch shared-single shared-batch}
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" | head -n 1; }
rate_of() { # mode size -> median datagrams/s
  { grep "^mode=$1 " "$results" | grep " size=$2 " || true; } | while read -r l; do
    r=$(echo " $l" | field received); s=$(echo " $l" | field seconds)
    awk -v r="$r" -v s="$s" 'BEGIN{ if (s > 0) printf "%.0f\n", r/s; else print 0 }'
  done | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }'; }

echo "| payload | mode | datagrams/s | received of $COUNT | kernel drops | CPU s per M | vs tcpdump | vs libpcap | vs recvfrom | vs recvmmsg |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for size in $SIZES; do
  td=$(rate_of tcpdump "$size"); pc=$(rate_of pcap "$size")
  rf=$(rate_of pkt-recvfrom "$size"); mm=$(rate_of pkt-recvmmsg "$size")
  for mode in $RAW_MODES; do
    rows=$(grep "^mode=$mode " "$results" | grep " size=$size " || true)
    [ -n "$rows" ] || continue
    rate=$(rate_of "$mode" "$size")
    got=$(echo "$rows" | while read -r l; do echo " $l" | field received; done | median)
    drops=$(echo "$rows" | while read -r l; do echo " $l" | field drops; done | median)
    if [ "$mode" = tcpdump ]; then
      cpu=- # its CPU is not measured (another process)
    else
      cpu=$(echo "$rows" | while read -r l; do r=$(echo " $l" | field received); c=$(echo " $l" | field cpu)
        awk -v r="$r" -v c="$c" 'BEGIN{ if (r > 0) printf "%.4f\n", c/r*1e6; else print 0 }'; done | median)
    fi
    echo "| $size | $mode | $rate | $got | $drops | $cpu | $(ratio "$rate" "$td") | $(ratio "$rate" "$pc") | $(ratio "$rate" "$rf") | $(ratio "$rate" "$mm") |"
  done
done
