#!/usr/bin/env bash
# Raw capture without root: `unshare --user --map-root-user --net` gives a
# process CAP_NET_RAW over the network namespace it creates (only lo).
# usage: raw-userns-test.sh TEST_RAW
set -u
skip_or_fail() {
  echo "raw-userns: $*" >&2
  [ "${CI:-}" = "true" ] && { echo "raw-userns: CI=true, so a skip is a failure" >&2; exit 1; }
  exit 77
}
command -v unshare >/dev/null 2>&1 || skip_or_fail "no unshare(1)"
unshare --user --map-root-user --net true 2>/dev/null || skip_or_fail "user namespaces unavailable"
exec timeout 60 unshare --user --map-root-user --net bash -c \
  'ip link set dev lo up && ip link set dev lo multicast on && exec "$0" lo' "$1"
