#!/usr/bin/env bash
# What the kernel tells the network when the library joins and leaves, read
# by tshark on the receiver's link: IGMPv3 and MLDv2 reports with the right
# record types, group and source. Runs on the receiver host of netns-run.sh.
# usage: reports-test.sh TJOIN
set -euo pipefail
tjoin=$1
command -v tshark >/dev/null || { echo "reports-test: tshark missing (apt-get install tshark)"; exit 1; }
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT

capture() { # probe-group capture-filter display-filter fields...
  local probe=$1 filter=$2 display=$3; shift 3
  local args=(-Y "$display") deadline
  for f in "$@"; do args+=(-e "$f"); done
  tshark -i vb -f "$filter" -l -T fields -E separator='|' -E aggregator=',' "${args[@]}" \
    >"$work/cap" 2>"$work/err" &
  # tshark says "Capturing on" before it captures, and on a loaded machine
  # well before: the capture counts as live once a probe join on another
  # group shows up in its output.
  for _ in $(seq 1 200); do grep -q "Capturing on" "$work/err" && break; sleep 0.05; done
  deadline=$((SECONDS + 40))
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$tjoin" "$probe" 35099 - - 50
    for _ in $(seq 1 20); do grep -qF "$probe" "$work/cap" && return 0; sleep 0.1; done
  done
  cat "$work/err"; echo "reports-test: tshark never showed the probe join on $probe"; return 1
}
# Stops the capture once what the case waits for (an extended regex) has been
# printed, or after 10 s: on a loaded machine tshark prints well after the
# report went out, and a fixed pause killed it before it had.
finish() {
  for _ in $(seq 1 100); do grep -Eq "$1" "$work/cap" && break; sleep 0.1; done
  kill %1 2>/dev/null || true; wait %1 2>/dev/null || true
}

# IPv4 SSM: ALLOW_NEW_SOURCES (5) for 232.7.0.1 from 198.51.100.1 on join,
# BLOCK_OLD_SOURCES (6) on leave.
capture 239.7.9.9 igmp igmp igmp.version igmp.record_type igmp.maddr igmp.saddr
"$tjoin" 232.7.0.1 35000 198.51.100.1 198.51.100.2 1200
finish '^3\|([0-9,]*,)?6(,[0-9]+)*\|.*232\.7\.0\.1'
cat "$work/cap"
grep -Eq '^3\|([0-9,]*,)?5(,[0-9]+)*\|.*232\.7\.0\.1.*\|.*198\.51\.100\.1' "$work/cap" ||
  { echo "FAIL: no IGMPv3 ALLOW_NEW_SOURCES for (198.51.100.1, 232.7.0.1)"; exit 1; }
grep -Eq '^3\|([0-9,]*,)?6(,[0-9]+)*\|.*232\.7\.0\.1' "$work/cap" ||
  { echo "FAIL: no IGMPv3 BLOCK_OLD_SOURCES on leave"; exit 1; }
echo "ok: IGMPv3 SSM join and leave"

# IPv4 ASM: CHANGE_TO_EXCLUDE (4) with no source.
capture 239.7.9.9 igmp igmp igmp.version igmp.record_type igmp.maddr igmp.saddr
"$tjoin" 239.7.0.1 35001 - - 1200
finish '^3\|([0-9,]*,)?4(,[0-9]+)*\|.*239\.7\.0\.1'
grep -Eq '^3\|([0-9,]*,)?4(,[0-9]+)*\|.*239\.7\.0\.1' "$work/cap" ||
  { cat "$work/cap"; echo "FAIL: no IGMPv3 CHANGE_TO_EXCLUDE for 239.7.0.1"; exit 1; }
echo "ok: IGMPv3 ASM join"

# IPv6 SSM: MLDv2 ALLOW_NEW_SOURCES for ff3e::8000:701 from 2001:db8:1::1.
# MLD reports carry a hop-by-hop header, so BPF's "icmp6" misses them: capture
# IPv6 and select the reports with a display filter.
capture ff0e::7:99 ip6 "icmpv6.type == 143" icmpv6.type icmpv6.mldr.mar.record_type \
  icmpv6.mldr.mar.multicast_address icmpv6.mldr.mar.source_address
"$tjoin" ff3e::8000:701 35002 2001:db8:1::1 2001:db8:1::2 1200
finish '^143\|([0-9,]*,)?5(,[0-9]+)*\|.*ff3e::8000:701.*\|.*2001:db8:1::1'
cat "$work/cap"
grep -Eq '^143\|([0-9,]*,)?5(,[0-9]+)*\|.*ff3e::8000:701.*\|.*2001:db8:1::1' "$work/cap" ||
  { echo "FAIL: no MLDv2 ALLOW_NEW_SOURCES for (2001:db8:1::1, ff3e::8000:701)"; exit 1; }
echo "ok: MLDv2 SSM join"
echo "reports-test: passed"
