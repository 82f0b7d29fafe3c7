#!/usr/bin/env bash
# TOOLS HOOK: the Windows tools (mcrx_recv.exe, mcrx_recv_meta.exe,
# mcrx_send.exe) under wine, against tests/tsend on the sender host. Run by
# tests/windows-test.sh inside the receiver's namespace, with WINEPREFIX set.
#
# usage: tools-hook.sh WORK_DIR TSEND
#
# Where the tools come from: $MCRX_WINDOWS_TOOLS_DIR, else the cross build's
# bin/ (tests/windows/CMakeLists.txt builds them once tools/ builds for
# Windows: turn MCRX_BUILD_TOOLS on there, the line marked TOOLS HOOK).
# When they are not built: said so, and a pass while tools/CMakeLists.txt does
# not know Windows (nothing to run); once it does, a missing tool is a failure.
set -uo pipefail
work=$1 tsend=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
wine=${MCRX_WINE:-/usr/lib/wine/wine64}
dir=${MCRX_WINDOWS_TOOLS_DIR:-$work/build/bin}
vb=$(cat /sys/class/net/vb/ifindex)
passed=0 failed=0
ok() { echo "ok tools: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL tools: $*"; failed=$((failed + 1)); }

echo "== tools"
if [ ! -f "$dir/mcrx_recv.exe" ] || [ ! -f "$dir/mcrx_recv_meta.exe" ] || [ ! -f "$dir/mcrx_send.exe" ]; then
  if grep -qs 'WIN32' "$src/tools/CMakeLists.txt"; then
    echo "FAIL tools: tools/CMakeLists.txt builds for Windows, but $dir has no mcrx_recv.exe," \
      "mcrx_recv_meta.exe, mcrx_send.exe (turn the TOOLS HOOK on in tests/windows/CMakeLists.txt)"
    exit 1
  fi
  echo "tools: not built for Windows in this tree (tools/ is Linux-only here): nothing to run"
  exit 0
fi

out=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$out"' EXIT

# run_recv NAME PORT GROUP SENDER EXE ARGS... : receiver with --count 3, tsend sends 3
run_recv() {
  local name=$1 port=$2 group=$3 from=$4 ifname=va; shift 4
  (cd "$dir" && exec "$wine" "$@" --count 3 --timeout 10) >"$out/r" 2>"$out/re" &
  local pid=$!
  for _ in $(seq 1 200); do grep -qs "waiting for packets" "$out/r" "$out/re" && break; sleep 0.05; done
  "$tsend" "$from" "$ifname" "$group" "$port" "from-linux" 3
  wait $pid
  local rc=$?
  tr -d '\r' <"$out/r" >"$out/r.txt"
  if [ $rc = 0 ]; then ok "$name"; else bad "$name (rc=$rc)"; cat "$out/r" "$out/re"; fi
  return $rc
}

if run_recv "mcrx_recv.exe IPv4 ASM" 46001 239.6.0.1 198.51.100.1 mcrx_recv.exe 239.6.0.1 46001; then
  grep -q "^\[recv\] sub=1 src=198.51.100.1:[0-9]* group=239.6.0.1 dst_port=46001 len=10$" "$out/r.txt" &&
    grep -q "^       payload: from-linux$" "$out/r.txt" && ok "mcrx_recv.exe human format" ||
    { bad "mcrx_recv.exe human format"; cat "$out/r.txt"; }
fi
if run_recv "mcrx_recv_meta.exe IPv6 ASM" 46002 ff0e::8000:601 2001:db8:1::1 mcrx_recv_meta.exe ff0e::8000:601 46002 --interface "$vb"; then
  grep -q "destination_local_ip=Some(ff0e::8000:601) ingress_ifindex=Some($vb)" "$out/r.txt" &&
    ok "mcrx_recv_meta.exe pktinfo" || { bad "mcrx_recv_meta.exe pktinfo"; cat "$out/r.txt"; }
fi
(cd "$dir" && "$wine" mcrx_send.exe 239.6.0.3 46003 hi 10 198.51.100.2 --count 2) >"$out/s" 2>&1
tr -d '\r' <"$out/s" >"$out/s.txt"
grep -q "^sent 2 bytes to 239.6.0.3:46003$" "$out/s.txt" && ok "mcrx_send.exe output" ||
  { bad "mcrx_send.exe output"; cat "$out/s.txt"; }

echo "tools: $passed passed, $failed failed"
[ "$failed" = 0 ]
