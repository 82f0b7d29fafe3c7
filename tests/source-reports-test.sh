#!/usr/bin/env bash
# What the kernel tells the network as a source filter changes (RFC 3376 /
# 3810 state-change records), read by tshark on the receiver's link, for
# IPv4 (IGMPv3) and IPv6 (MLDv2): one subscription, driven by tsources
# through INCLUDE, EXCLUDE and the switches between them; each change's
# records must be exactly the ones the RFCs give for it. Runs on the
# receiver host of netns-run.sh.
# usage: source-reports-test.sh TSOURCES TJOIN
set -euo pipefail
tsources=$1
tjoin=$2
command -v tshark >/dev/null || { echo "source-reports-test: tshark missing (apt-get install tshark)"; exit 1; }
command -v python3 >/dev/null || { echo "source-reports-test: python3 missing"; exit 1; }
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT

# Retransmissions of a state change (robustness 2) within 100 ms, so each
# change's reports are done before the next change.
sysctl -qw net.ipv4.conf.vb.igmpv3_unsolicited_report_interval=100 \
  net.ipv6.conf.vb.mldv2_unsolicited_report_interval=100

# run FAMILY GROUP PORT IFACE CAPTURE-FILTER DISPLAY-FILTER FIELDS... -- then
# steps on stdin: "<command>|<expected record type, - for none>|<expected sources>"
run() {
  local fam=$1 group=$2 port=$3 iface=$4 filter=$5 display=$6; shift 6
  local fields=(-e frame.time_epoch) f
  while [ "$1" != "--" ]; do fields+=(-e "$1"); shift; done
  shift
  tshark -i vb -f "$filter" -Y "$display" -l -T fields -E separator='|' -E aggregator=';' \
    "${fields[@]}" >"$work/cap.$fam" 2>"$work/err.$fam" &
  local cap=$!
  for _ in $(seq 1 200); do grep -q "Capturing on" "$work/err.$fam" && break; sleep 0.05; done
  # tshark says "Capturing on" before it captures (on a loaded machine, long
  # before): the capture is live once a probe join on another group shows.
  local probe=239.7.9.8 live='' deadline=$((SECONDS + 40))
  case $group in *:*) probe=ff0e::7:98 ;; esac
  while [ -z "$live" ] && [ "$SECONDS" -lt "$deadline" ]; do
    "$tjoin" "$probe" 35098 - - 50
    for _ in $(seq 1 20); do grep -qF "$probe" "$work/cap.$fam" && { live=1; break; }; sleep 0.1; done
  done
  [ -n "$live" ] || { cat "$work/err.$fam"; echo "FAIL: tshark never showed the probe join"; exit 1; }
  sleep 0.3 # the probe's leave records, before the first step
  coproc T { "$tsources" "$group" "$port" "$iface"; }
  : >"$work/steps.$fam"
  local line cmd ans
  while IFS= read -r line; do
    cmd=${line%%|*}
    echo "$(date +%s.%N)|$line" >>"$work/steps.$fam"
    echo "$cmd" >&"${T[1]}"
    read -r ans <&"${T[0]}"
    [ "$ans" = ok ] || { echo "FAIL: $fam '$cmd': $ans"; exit 1; }
    sleep 0.6
  done
  eval "exec ${T[1]}>&-"
  wait "$T_PID" 2>/dev/null || true
  sleep 0.5
  kill "$cap" 2>/dev/null || true; wait "$cap" 2>/dev/null || true
  python3 - "$fam" "$group" "$work/steps.$fam" "$work/cap.$fam" <<'PY'
import sys
fam, group, steps_file, cap_file = sys.argv[1:]
names = {1: "IS_IN", 2: "IS_EX", 3: "TO_IN", 4: "TO_EX", 5: "ALLOW", 6: "BLOCK"}
steps = []
for line in open(steps_file):
    t, cmd, rtype, srcs = line.rstrip("\n").split("|")
    steps.append((float(t), cmd, None if rtype == "-" else int(rtype), sorted(srcs.split())))
records = []  # (time, type, group, sources) for every record of every report
for line in open(cap_file):
    cols = line.rstrip("\n").split("|")
    if len(cols) < 5 or not cols[0]:
        continue
    t = float(cols[0])
    types = [int(x) for x in cols[1].split(";") if x]
    groups = cols[2].split(";")
    counts = [int(x) for x in cols[3].split(";") if x]
    srcs = [x for x in cols[4].split(";") if x]
    for i, rt in enumerate(types):
        n = counts[i] if i < len(counts) else 0
        records.append((t, rt, groups[i] if i < len(groups) else "", sorted(srcs[:n])))
        srcs = srcs[n:]
records = [r for r in records if r[2] == group]
bad = 0
for i, (t0, cmd, rtype, srcs) in enumerate(steps):
    t1 = steps[i + 1][0] if i + 1 < len(steps) else float("inf")
    got = [(names.get(r[1], r[1]), r[3]) for r in records if t0 <= r[0] < t1]
    if rtype is None:  # a change while not joined: nothing on the wire
        if got:
            print(f"FAIL: {fam} '{cmd}': expected no record, saw {got}")
            bad = 1
        else:
            print(f"ok: {fam} '{cmd}' -> nothing")
        continue
    want = (names[rtype], srcs)
    if not got or any(g != want for g in got):
        print(f"FAIL: {fam} '{cmd}': expected {want[0]}{{{','.join(want[1])}}}, saw {got}")
        bad = 1
    else:
        print(f"ok: {fam} '{cmd}' -> {want[0]}{{{','.join(want[1])}}} x{len(got)}")
if len(records) == 0:
    print(f"FAIL: {fam}: no report for {group} captured")
    bad = 1
sys.exit(bad)
PY
}

A4=198.51.100.1 B4=198.51.100.3 C4=203.0.113.1 X4=192.0.2.9
run v4 239.77.0.9 35100 198.51.100.2 igmp igmp \
  igmp.record_type igmp.maddr igmp.num_src igmp.saddr -- <<EOF2
include $A4 $B4|5|$A4 $B4
include $A4 $B4 $C4|5|$C4
include $A4|6|$B4 $C4
exclude $C4|4|$C4
exclude $C4 $X4|6|$X4
exclude $X4|5|$C4
asm|5|$X4
include $B4|3|$B4
exclude $C4|4|$C4
include $A4 $B4|3|$A4 $B4
leave|6|$A4 $B4
exclude $C4 $X4|-|
join|4|$C4 $X4
leave|3|
EOF2

# MLD reports carry a hop-by-hop header, so BPF's "icmp6" misses them:
# capture IPv6 and select the reports (type 143) with a display filter.
A6=2001:db8:1::1 B6=2001:db8:1::3 C6=2001:db8:2::1 X6=2001:db8:9::9
vb=$(cat /sys/class/net/vb/ifindex)
run v6 ff0e::77:9 35101 "$vb" ip6 "icmpv6.type == 143" \
  icmpv6.mldr.mar.record_type icmpv6.mldr.mar.multicast_address icmpv6.mldr.mar.nb_sources \
  icmpv6.mldr.mar.source_address -- <<EOF2
include $A6 $B6|5|$A6 $B6
include $A6 $B6 $C6|5|$C6
include $A6|6|$B6 $C6
exclude $C6|4|$C6
exclude $C6 $X6|6|$X6
exclude $X6|5|$C6
asm|5|$X6
include $B6|3|$B6
exclude $C6|4|$C6
include $A6 $B6|3|$A6 $B6
leave|6|$A6 $B6
exclude $C6 $X6|-|
join|4|$C6 $X6
leave|3|
EOF2
echo "source-reports-test: passed"
