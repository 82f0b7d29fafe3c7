#!/usr/bin/env bash
# Raw capture on a host with a bridge: a subscription sees each datagram
# once, although the datagram crosses three interfaces there (in on port p1,
# up through br0, flooded out of port p2) and a capture bound to every
# interface (tcpdump -i any) sees it once per interface.
#
#   host S  s1 198.51.100.1 ---- p1 ┐
#                                    br0 198.51.100.2  (host H: the receivers)
#   host X  x1 198.51.100.3 ---- p2 ┘
#
# usage: raw-bridge-test.sh TOOLS_DIR EXAMPLES_DIR FLOOD
set -uo pipefail
skip_or_fail() {
  echo "raw-bridge: $*" >&2
  [ "${CI:-}" = "true" ] && { echo "raw-bridge: CI=true, so a skip is a failure" >&2; exit 1; }
  exit 77
}
if [ "$(id -u)" != 0 ] && [ -z "${MCRX_BRIDGE_INNER:-}" ]; then
  command -v unshare >/dev/null 2>&1 || skip_or_fail "not root and no unshare(1)"
  export MCRX_BRIDGE_INNER=1
  # A user namespace of its own (CAP_NET_RAW over the namespaces it makes),
  # with a private /run so `ip netns add` can make its files.
  exec unshare -rnm --propagation private bash -c \
    'mount -t tmpfs none /run 2>/dev/null && mkdir -p /run/netns && exec bash "$0" "$@"' "$0" "$@" ||
    skip_or_fail "user namespaces unavailable"
fi
command -v ip >/dev/null 2>&1 || skip_or_fail "no ip(8) (iproute2)"
command -v tcpdump >/dev/null 2>&1 || skip_or_fail "no tcpdump (scripts/install-deps.sh)"
raw=$1/mcrx_raw_recv shared=$2/example_raw_shared flood=$3
[ -x "$raw" ] && [ -x "$shared" ] && [ -x "$flood" ] || { echo "raw-bridge: programs missing" >&2; exit 1; }

. "$(dirname "$0")/../scripts/netns-sweep.sh"
mcrx_sweep_stale_netns # of runs killed with SIGKILL
tag=mcrxbr$$
H=$tag-h S=$tag-s X=$tag-x
work=$(mktemp -d)
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null
  wait 2>/dev/null
  for n in "$H" "$S" "$X"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
set -e
for n in "$H" "$S" "$X"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n "$H" link add br0 type bridge
ip -n "$H" link add p1 type veth peer name s1 netns "$S"
ip -n "$H" link add p2 type veth peer name x1 netns "$X"
ip -n "$H" link set p1 master br0
ip -n "$H" link set p2 master br0
for i in br0 p1 p2; do ip -n "$H" link set "$i" up; done
ip -n "$H" addr add 198.51.100.2/24 dev br0
ip -n "$H" route add 224.0.0.0/4 dev br0 # the kernel's choice for "any interface"
ip -n "$S" addr add 198.51.100.1/24 dev s1
ip -n "$S" link set s1 up
ip -n "$X" addr add 198.51.100.3/24 dev x1
ip -n "$X" link set x1 up
set +e
# Let the bridge ports reach forwarding (no STP: immediately) and DAD pass.
sleep 1

on_h() { ip netns exec "$H" "$@"; }
group=239.77.20.1 n=5
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
wait_for() { for _ in $(seq 50); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# Three receivers on H at once: the tool on br0's address, the shared
# capture with two duplicate subscriptions on the kernel's interface, and
# tcpdump on every interface.
on_h "$raw" "$group" --interface 198.51.100.2 --json --timeout 1.5 >"$work/raw" 2>"$work/raw.e" &
on_h "$shared" - 100 "$group" "$group" >"$work/sh" 2>"$work/sh.e" &
# (ip netns exec execs tcpdump, so $! is tcpdump; -Z root: it writes into $work.
# In a user namespace tcpdump cannot change its user at all: not measured there.)
tdpid=
if [ -z "${MCRX_BRIDGE_INNER:-}" ]; then
  ip netns exec "$H" tcpdump -Z root -i any -n -p -U -w "$work/any.pcap" "udp and dst $group" 2>"$work/td.e" &
  tdpid=$!
fi
wait_for "$work/raw.e" "waiting for raw" || bad "mcrx_raw_recv did not start"
wait_for "$work/sh" "ready" || bad "raw_shared did not start"
[ -z "$tdpid" ] || wait_for "$work/td.e" "listening on" || { bad "tcpdump did not start"; cat "$work/td.e"; }
ip netns exec "$S" "$flood" 198.51.100.1 s1 "$group" 4000 16 "$n" >/dev/null || bad "the flood failed"
sleep 2
[ -z "$tdpid" ] || kill -INT "$tdpid"
wait

got=$(grep -c '"protocol":17' "$work/raw")
[ "$got" = "$n" ] && ok "mcrx_raw_recv on br0: each of $n datagrams once" ||
  { bad "mcrx_raw_recv on br0: $got lines for $n datagrams"; cat "$work/raw" "$work/raw.e"; }
got=$(grep -c "matching \[1, 2\]" "$work/sh")
lines=$(grep -c "^received" "$work/sh")
[ "$got" = "$n" ] && [ "$lines" = "$n" ] && grep -q "captures=1 memberships=1" "$work/sh" &&
  ok "shared capture (kernel's interface): each datagram once, for both duplicates" ||
  { bad "shared capture: $lines lines, $got with both ids"; cat "$work/sh" "$work/sh.e"; }
if [ -z "$tdpid" ]; then
  echo "raw-bridge: bound to all interfaces: not measured (user namespace: tcpdump cannot drop privileges)"
  echo "raw-bridge: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
fi
# What the library avoids: bound to every interface, one datagram is seen
# once per interface it crosses (p1 and br0 as multicast in, p2 out).
# (read in H: the file names interfaces by index)
copies=$(on_h tcpdump -r "$work/any.pcap" -n 2>/dev/null | wc -l)
ifaces=$(on_h tcpdump -r "$work/any.pcap" -n 2>/dev/null | awk '{print $2 "/" $3}' | sort | uniq -c | tr -s ' \n' ' ')
echo "raw-bridge: tcpdump -i any saw $copies copies of $n datagrams (interfaces: $ifaces)"
[ "$copies" -ge $((2 * n)) ] && ok "bound to all interfaces: $copies copies of $n datagrams" ||
  bad "bound to all interfaces: only $copies copies of $n (the duplication this guards against was not reproduced)"

echo "raw-bridge: $passed passed, $failed failed"
[ "$failed" = 0 ]
