#!/usr/bin/env bash
# mcrx_raw_recv: banner, per-packet lines, --json, --count, --timeout,
# SIGTERM, argument errors. Runs on the receiver host of scripts/netns-run.sh.
# usage: raw-tool-test.sh BIN_DIR
set -uo pipefail
bin=$1
raw=$bin/mcrx_raw_recv send=$bin/mcrx_send
S=$MCRX_TEST_SENDER_NS
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
on_sender() { nsenter --net="$S" "$@"; }
# waits up to 5 s for TEXT in FILE
wait_for() { for _ in $(seq 50); do grep -qF -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# banner and two datagrams, then --count ends it
"$raw" 232.88.1.1 198.51.100.1 198.51.100.2 --count 2 --timeout 5 >"$work/o" 2>"$work/e" &
pid=$!
wait_for "$work/o" "waiting for raw multicast IP datagrams" || bad "banner"
on_sender "$send" 232.88.1.1 4000 hello-raw 0 198.51.100.1 >/dev/null
on_sender "$send" 232.88.1.1 4000 hello-raw 0 198.51.100.1 >/dev/null
wait "$pid"; rc=$?
out=$(cat "$work/o")
if [ "$rc" = 0 ] && grep -q '^mcrx-raw-recv ready$' <<<"$out" && grep -q '^  source: 198.51.100.1$' <<<"$out" &&
   grep -q '^  interface: 198.51.100.2$' <<<"$out" &&
   [ "$(grep -c '^received 37 raw bytes source=Some(198.51.100.1) group=Some(232.88.1.1) protocol=Some(17) ingress_if=Some(' <<<"$out")" = 2 ] &&
   grep -q '^  first bytes: \[45, 00, 00, 25' <<<"$out"; then ok "banner, lines, --count"; else
  bad "banner, lines, --count (rc=$rc)"; cat "$work/o" "$work/e"; fi

# --json: the banner on stderr, one object per datagram
"$raw" ff0e::8801 --interface "$(cat /sys/class/net/vb/ifindex)" --json --count 1 --timeout 5 >"$work/o" 2>"$work/e" &
pid=$!
wait_for "$work/e" "waiting for raw" || bad "json banner"
on_sender "$send" ff0e::8801 4000 hi 0 "$(on_sender ip -o link show dev va | cut -d: -f1)" >/dev/null
wait "$pid"; rc=$?
if [ "$rc" = 0 ] && grep -q '"protocol":17' "$work/o" && grep -q '"len":50' "$work/o" &&
   grep -q '"first_bytes":"60' "$work/o"; then ok "--json"; else bad "--json (rc=$rc)"; cat "$work/o" "$work/e"; fi

# --timeout without data: exit 2
"$raw" 239.88.1.3 --timeout 0.3 >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] && ok "--timeout exits 2" || bad "--timeout (rc=$rc)"

# SIGTERM: leaves, says so, exits 0
"$raw" 239.88.1.4 >"$work/o" 2>&1 &
pid=$!
wait_for "$work/o" "waiting for raw" || bad "sigterm banner"
kill -TERM "$pid"; wait "$pid"; rc=$?
[ "$rc" = 0 ] && grep -q '^shutting down$' "$work/o" && ok "SIGTERM" || { bad "SIGTERM (rc=$rc)"; cat "$work/o"; }

# argument errors
"$raw" >/dev/null 2>"$work/e"; rc=$?
[ "$rc" = 1 ] && grep -q 'missing <group>' "$work/e" && grep -q '^usage:' "$work/e" && ok "no group" || bad "no group"
"$raw" 198.51.100.9 >/dev/null 2>"$work/e"; rc=$?
[ "$rc" = 1 ] && grep -q 'is not multicast' "$work/e" && ok "not multicast" || bad "not multicast"
"$raw" 239.1.1.1 --bogus >/dev/null 2>"$work/e"; rc=$?
[ "$rc" = 1 ] && grep -q "unexpected argument '--bogus'" "$work/e" && ok "unknown flag" || bad "unknown flag"
"$raw" 232.1.1.1 >/dev/null 2>"$work/e"; rc=$?
[ "$rc" = 1 ] && grep -q 'failed to add subscription: MCRX: SSM-range' "$work/e" && ok "SSM without source" ||
  { bad "SSM without source"; cat "$work/e"; }

# without CAP_NET_RAW: the error names it
if command -v setpriv >/dev/null; then
  setpriv --bounding-set=-net_raw --inh-caps=-net_raw "$raw" 239.88.1.5 >/dev/null 2>"$work/e"; rc=$?
  [ "$rc" = 1 ] && grep -q 'CAP_NET_RAW' "$work/e" && ok "no CAP_NET_RAW named" || { bad "no CAP_NET_RAW (rc=$rc)"; cat "$work/e"; }
fi

echo "raw tool: $passed passed, $failed failed"
[ "$failed" = 0 ]
