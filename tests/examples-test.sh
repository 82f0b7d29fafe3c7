#!/usr/bin/env bash
# Runs every example of docs/event-loops.md against a real sender.
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
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
