#!/usr/bin/env bash
# make demo: a sender host and a receiver host on a private link (network
# namespaces, documentation addresses), mcrx_send on one and mcrx_recv_meta on
# the other, for IPv4 ASM, IPv4 SSM (with a second, foreign sender that the
# receiver never hears) and IPv6 SSM. Everything is removed afterwards.
# usage: demo.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
if [ -z "${MCRX_TEST_SENDER_NS:-}" ]; then
  exec "$here/netns-run.sh" "$here/demo.sh" "$build"
fi
recv=$build/tools/mcrx_recv_meta send=$build/tools/mcrx_send
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT

scene() { # title; receiver args; --; sender runs (each: args separated by ';')
  local title=$1; shift
  local rargs=()
  while [ "$1" != "--" ]; do rargs+=("$1"); shift; done
  shift
  echo
  echo "=== $title ==="
  echo "receiver host (198.51.100.2, 2001:db8:1::2)\$ mcrx_recv_meta ${rargs[*]} --count 3"
  "$recv" "${rargs[@]}" --count 3 --timeout 5 >"$work/r" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q "waiting for packets" "$work/r" && break; sleep 0.05; done
  for cmd in "$@"; do
    echo "sender host\$ mcrx_send $cmd"
    # shellcheck disable=SC2086
    nsenter --net="$S" "$send" $cmd | sed 's/^/    [sender] /'
  done
  if wait "$pid" && ! grep -q foreign-source "$work/r"; then status="received 3 datagrams"; else status="FAILED"; fi
  sed 's/^/    [receiver] /' "$work/r"
  echo "--> $status"
  [ "$status" != FAILED ]
}

echo "mcrx-core demo: two hosts in private network namespaces joined by a veth link."
scene "IPv4 ASM (*, 239.1.2.3)" 239.1.2.3 5000 -- \
  "239.1.2.3 5000 hello-any-source 100 198.51.100.1 --count 3"
scene "IPv4 SSM (198.51.100.1, 232.1.2.3): a second sender, 198.51.100.3, is never delivered" \
  232.1.2.3 5001 --source 198.51.100.1 -- \
  "232.1.2.3 5001 foreign-source 0 198.51.100.3 --count 3" \
  "232.1.2.3 5001 hello-source-specific 100 198.51.100.1 --count 3"
scene "IPv6 SSM (2001:db8:1::1, ff3e::8000:1234)" ff3e::8000:1234 5002 2001:db8:1::1 2001:db8:1::2 -- \
  "ff3e::8000:1234 5002 hello-ipv6-ssm 100 2001:db8:1::1 --count 3"
echo
echo "demo: all three scenarios delivered, and the foreign SSM source was filtered."
