#!/usr/bin/env bash
# Runs a command on the receiver host of a private two-host network:
#
#   sender host S  va  198.51.100.1, .3   2001:db8:1::1, ::3  ---- vb  198.51.100.2  2001:db8:1::2  receiver host R
#                  va2 203.0.113.1        2001:db8:2::1       ---- vb2 203.0.113.2   2001:db8:2::2
#
# The command runs inside R; MCRX_TEST_SENDER_NS names S's namespace file so a
# test can open sender sockets there (setns). Nothing touches the host's own
# interfaces, and both namespaces are deleted on every exit path.
#
# As root it uses named namespaces; otherwise it re-runs itself inside a user
# namespace (unshare -rnm) where `ip netns` works. Where neither is possible it
# exits 77 (skipped), or 1 under CI=true.
set -u

skip_or_fail() {
  echo "netns-run: $*" >&2
  if [ "${CI:-}" = "true" ]; then
    echo "netns-run: CI=true, so a skip is a failure" >&2
    exit 1
  fi
  exit 77
}

command -v ip >/dev/null 2>&1 || skip_or_fail "iproute2 'ip' is missing (apt-get install iproute2)"

if [ "$(id -u)" != 0 ] && [ -z "${MCRX_NETNS_INNER:-}" ]; then
  command -v unshare >/dev/null 2>&1 || skip_or_fail "not root and no unshare(1)"
  export MCRX_NETNS_INNER=1
  exec unshare -rnm --propagation private bash -c \
    'mount -t tmpfs none /run 2>/dev/null && mkdir -p /run/netns && exec "$0" "$@"' "$0" "$@" ||
    skip_or_fail "user namespaces unavailable"
fi

tag="mcrxt$$"
S="${tag}s"
R="${tag}r"

cleanup() {
  ip netns del "$S" 2>/dev/null
  ip netns del "$R" 2>/dev/null
  ip link del "${tag}a" 2>/dev/null
  ip link del "${tag}c" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Namespaces left by runners killed with SIGKILL (no trap ran).
. "$(dirname "$0")/netns-sweep.sh"
mcrx_sweep_stale_netns

setup() {
  ip netns add "$S" && ip netns add "$R" || return 1
  for ns in "$S" "$R"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
      net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
    ip -n "$ns" link set dev lo up || return 1
  done
  ip link add name "${tag}a" type veth peer name "${tag}b" || return 1
  ip link add name "${tag}c" type veth peer name "${tag}d" || return 1
  ip link set dev "${tag}a" netns "$S" && ip -n "$S" link set dev "${tag}a" name va || return 1
  ip link set dev "${tag}c" netns "$S" && ip -n "$S" link set dev "${tag}c" name va2 || return 1
  ip link set dev "${tag}b" netns "$R" && ip -n "$R" link set dev "${tag}b" name vb || return 1
  ip link set dev "${tag}d" netns "$R" && ip -n "$R" link set dev "${tag}d" name vb2 || return 1
  ip -n "$S" addr add 198.51.100.1/24 dev va && ip -n "$S" addr add 198.51.100.3/24 dev va &&
    ip -n "$S" addr add 2001:db8:1::1/64 dev va nodad && ip -n "$S" addr add 2001:db8:1::3/64 dev va nodad &&
    ip -n "$S" addr add 203.0.113.1/24 dev va2 && ip -n "$S" addr add 2001:db8:2::1/64 dev va2 nodad &&
    ip -n "$R" addr add 198.51.100.2/24 dev vb && ip -n "$R" addr add 2001:db8:1::2/64 dev vb nodad &&
    ip -n "$R" addr add 203.0.113.2/24 dev vb2 && ip -n "$R" addr add 2001:db8:2::2/64 dev vb2 nodad || return 1
  for l in va va2; do ip -n "$S" link set dev "$l" up || return 1; done
  for l in vb vb2; do ip -n "$R" link set dev "$l" up || return 1; done
  # Receiver default route toward the first link, so joins without an
  # interface choose vb (as a host's default route would).
  ip -n "$R" route add default via 198.51.100.1 dev vb || return 1
  ip -n "$R" -6 route add default via 2001:db8:1::1 dev vb || return 1
  # Link-local addresses appear once the links are up; wait for them.
  for _ in $(seq 1 50); do
    if ip -n "$S" -6 addr show dev va scope link | grep -q fe80 &&
      ip -n "$R" -6 addr show dev vb scope link | grep -q fe80; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

setup || skip_or_fail "could not build the test network (need CAP_NET_ADMIN or user namespaces)"

export MCRX_TEST_SENDER_NS="/run/netns/$S"
export MCRX_TEST_RECEIVER_NS="/run/netns/$R"
ip netns exec "$R" "$@"
rc=$?
exit $rc
