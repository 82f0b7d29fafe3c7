#!/usr/bin/env bash
# Runs every example of docs/event-loops.md, and the shared raw capture of
# docs/raw.md, against a real sender.
# Runs on the receiver host of scripts/netns-run.sh.
# usage: examples-test.sh EXAMPLES_DIR TSEND
set -uo pipefail
dir=$1 tsend=$2
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0 port=37000
for ex in wait_loop poll_loop epoll_loop thread_callback uv_loop; do
  prog=$dir/example_$ex
  [ -x "$prog" ] || { echo "FAIL: $ex not built"; failed=$((failed + 1)); continue; }
  for mode in asm ssm; do
    port=$((port + 1))
    if [ $mode = asm ]; then group=239.7.1.1; src=-; else group=232.7.1.1; src=198.51.100.1; fi
    "$prog" "$group" "$port" "$src" 3 >"$work/o" 2>"$work/e" &
    pid=$!
    for _ in $(seq 1 100); do grep -q '^ready' "$work/o" && break; sleep 0.05; done
    [ $mode = ssm ] && "$tsend" 198.51.100.3 va "$group" "$port" from-foreign-source 2 # must be ignored
    "$tsend" 198.51.100.1 va "$group" "$port" hello-$ex 3
    if wait $pid && [ "$(grep -c "hello-$ex" "$work/o")" = 3 ] &&
      { [ $mode = asm ] || ! grep -q from-foreign "$work/o"; }; then
      echo "ok: $ex ($mode)"; passed=$((passed + 1))
    else
      echo "FAIL: $ex ($mode)"; cat "$work/o" "$work/e"; failed=$((failed + 1))
    fi
  done
done

# The shared raw capture (Linux, CAP_NET_RAW: root or the user namespace of
# netns-run.sh). Subscriptions 1 and 2 are duplicates (239.7.2.1, any
# source); 3 and 4 are SSM on 232.7.2.1 from two sources, and share the one
# IPv4 capture on vb with the ASM pair. Each datagram must be reported once,
# with every id it matches; 239.7.2.9 is nobody's.
prog=$dir/example_raw_shared
if [ -x "$prog" ]; then
  "$prog" 198.51.100.2 8 239.7.2.1 239.7.2.1 232.7.2.1@198.51.100.1 232.7.2.1@198.51.100.3 \
    >"$work/o" 2>"$work/e" &
  pid=$!
  for _ in $(seq 1 100); do grep -q '^ready' "$work/o" && break; sleep 0.05; done
  "$tsend" 198.51.100.1 va 239.7.2.9 38001 not-subscribed 2
  "$tsend" 198.51.100.1 va 239.7.2.1 38001 asm 3
  "$tsend" 198.51.100.1 va 232.7.2.1 38001 ssm-a 3
  "$tsend" 198.51.100.3 va 232.7.2.1 38001 ssm-b 2
  wait $pid; rc=$?
  out=$(cat "$work/o")
  if [ "$rc" = 0 ] && [ "$(grep -c '^received ' <<<"$out")" = 8 ] &&
    [ "$(grep -c '^received 31 raw bytes source=198.51.100.1 group=239.7.2.1 protocol=17 matching \[1, 2\]$' <<<"$out")" = 3 ] &&
    [ "$(grep -c '^received 33 raw bytes source=198.51.100.1 group=232.7.2.1 protocol=17 matching \[3\]$' <<<"$out")" = 3 ] &&
    [ "$(grep -c '^received 33 raw bytes source=198.51.100.3 group=232.7.2.1 protocol=17 matching \[4\]$' <<<"$out")" = 2 ] &&
    grep -q '^captures=1 memberships=3 received=[0-9]* unmatched=[0-9]* matches=11$' <<<"$out" &&
    # read = matched + unmatched (IGMP reports and 239.7.2.9 included)
    [ $(( $(sed -n 's/^captures=.* received=\([0-9]*\) unmatched=\([0-9]*\) .*/\1 - \2/p' <<<"$out") )) = 8 ]; then
    echo "ok: raw_shared (duplicates, ASM and SSM on one capture, each datagram once)"; passed=$((passed + 1))
  elif grep -q 'CAP_NET_RAW' "$work/e"; then
    echo "FAIL: raw_shared: no CAP_NET_RAW here"; cat "$work/e"; failed=$((failed + 1))
  else
    echo "FAIL: raw_shared (rc=$rc)"; cat "$work/o" "$work/e"; failed=$((failed + 1))
  fi
elif [ "$(uname -s)" = Linux ]; then
  echo "FAIL: raw_shared not built"; failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
