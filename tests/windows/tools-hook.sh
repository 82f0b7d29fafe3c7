#!/usr/bin/env bash
# TOOLS HOOK: the Windows tools (mcrx_recv.exe, mcrx_recv_meta.exe,
# mcrx_send.exe) under wine, against tests/tsend on the sender host and
# against each other (mcrx_send.exe's loopback on the receiver host): the
# human and JSON rows, pktinfo, --rcvbuf, and issue 16's load generator
# (--seq, --rate, --burst) read by mcrx_recv.exe --stats (text and JSON) and
# --pcap. Run by tests/windows-test.sh inside the receiver's namespace, with
# WINEPREFIX set.
#
# usage: tools-hook.sh WORK_DIR TSEND
#
# Where the tools come from: $MCRX_WINDOWS_TOOLS_DIR (ctest: the windows-build
# tree's bin/), else the cross build's bin/ (tests/windows/CMakeLists.txt
# builds them when it builds the library itself).
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


# bg_recv OUT ERR EXE ARGS... : a receiver in the background ($bg), started
# once its banner says it waits.
bg_recv() {
  local o=$1 e=$2; shift 2
  (cd "$dir" && exec "$wine" "$@") >"$o" 2>"$e" &
  bg=$!
  for _ in $(seq 1 200); do grep -qs "waiting for packets" "$o" "$e" && break; sleep 0.05; done
}
# expect NAME FILE PATTERN... : every grep -E pattern has a line in FILE.
expect() {
  local name=$1 f=$2 pat; shift 2
  tr -d '\r' <"$f" >"$f.txt"
  for pat in "$@"; do
    grep -Eq -- "$pat" "$f.txt" || { bad "$name: no line matches '$pat'"; cat "$f.txt"; return 1; }
  done
  ok "$name"
}

# mcrx_send.exe to mcrx_recv.exe --json on this host: Windows has no kernel
# receive time nor drop count (null), the TTL is there; --rcvbuf is granted as
# asked (Windows keeps the request; Linux would show twice it).
bg_recv "$out/j" "$out/je" mcrx_recv.exe 239.6.0.7 46007 --json --count 1 --timeout 10 --rcvbuf 262144
(cd "$dir" && "$wine" mcrx_send.exe 239.6.0.7 46007 hello 0 198.51.100.2) >"$out/js" 2>&1
wait $bg && ok "mcrx_send.exe to mcrx_recv.exe --json" || bad "mcrx_send.exe to mcrx_recv.exe --json (rc=$?)"
expect "mcrx_recv.exe JSON row" "$out/j" \
  '^\{"subscription_id":1,"source":"198\.51\.100\.2","source_port":[0-9]+,"group":"239\.6\.0\.7","dst_port":46007,"len":5,"wire_len":5,"truncated":false,"payload_text":"hello","payload_hex":"68656c6c6f","rx_timestamp_ns":null,"ttl":1,"drops":null\}$'
expect "mcrx_recv.exe --rcvbuf" "$out/je" '^rcvbuf: asked 262144 bytes, Windows has 262144$'

# The load generator and the statistics: 50 sequenced datagrams at 1000/s,
# the end marker ends the receiver; the capture holds the 50 and one marker.
bg_recv "$out/st" "$out/ste" mcrx_recv.exe 239.6.0.5 46005 --stats=0 --timeout 10 --pcap "$out/stats.pcap"
(cd "$dir" && "$wine" mcrx_send.exe 239.6.0.5 46005 --seq --count 50 --rate 1000 --interface 198.51.100.2) >"$out/ss" 2>&1 ||
  bad "mcrx_send.exe --seq (rc=$?)"
wait $bg && ok "mcrx_recv.exe --stats ends at the end marker" || bad "mcrx_recv.exe --stats (rc=$?)"
expect "mcrx_send.exe --seq --rate" "$out/ss" '^  seq: on$' '^  rate: 1000\.0 datagrams/s$' \
  '^sent 50 datagrams, 3200 bytes in [0-9.]+ s .*; end marker sent$'
expect "mcrx_recv.exe --stats summary" "$out/st" \
  '^\[summary\] 198\.51\.100\.2:[0-9]+ -> 239\.6\.0\.5:46005 \(sequence format: mcrx\)$' \
  '^  received: 50 datagrams, 3200 bytes in ' '^  sent: 50 \(from the end marker\)$' \
  '^  lost: 0 \(0\.00%\) from sequence gaps; kernel drops \(socket buffer\): unknown$' \
  '^  duplicates: 0  reordered: 0 ' '^  one-way delay: min [0-9.]+ avg [0-9.]+ max [0-9.]+ ms$' \
  '^  ttl: 1  ingress: [^ ]+ \(ifindex '"$vb"'\)$'
expect "mcrx_recv.exe --pcap" "$out/ste" '^mcrx_recv: wrote 51 datagrams to .*/stats\.pcap$'
# 24-byte file header; per record 16 + IPv4 20 + UDP 8 + payload (64, the marker 32).
size=$(stat -c %s "$out/stats.pcap" 2>/dev/null || echo 0)
[ "$size" = $((24 + 50 * (16 + 28 + 64) + 16 + 28 + 32)) ] && ok "--pcap file size" ||
  bad "--pcap file size $size"
if command -v tshark >/dev/null 2>&1; then
  n=$(tshark -r "$out/stats.pcap" -Y 'udp.dstport == 46005 && ip.dst == 239.6.0.5' 2>/dev/null | wc -l)
  [ "$n" = 51 ] && ok "--pcap read by tshark" || bad "--pcap read by tshark: $n packets"
fi

# --stats --json with bursts, paced in bits per second.
bg_recv "$out/sj" "$out/sje" mcrx_recv.exe 239.6.0.6 46006 --stats --json --timeout 10
(cd "$dir" && "$wine" mcrx_send.exe 239.6.0.6 46006 --seq --count 20 --rate 64k --burst 4 --interface 198.51.100.2) >"$out/sb" 2>&1 ||
  bad "mcrx_send.exe --burst (rc=$?)"
wait $bg && ok "mcrx_recv.exe --stats --json" || bad "mcrx_recv.exe --stats --json (rc=$?)"
expect "mcrx_send.exe --rate 64k --burst 4" "$out/sb" '^  rate: 125\.0 datagrams/s$' '^  burst: 4$' \
  '^sent 20 datagrams, 1280 bytes in '
expect "mcrx_recv.exe --stats --json summary" "$out/sj" \
  '^\{"type":"summary","source":"198\.51\.100\.2",.*"group":"239\.6\.0\.6","dst_port":46006,"format":"mcrx",.*"received":20,"bytes":1280,.*"lost":0,.*"kernel_drops":null,"sent":20,"end_marker":true,.*"ttl":1,"ingress_ifindex":'"$vb"','

# mcrx_doctor reads Linux's own state: not built for Windows.
[ ! -e "$dir/mcrx_doctor.exe" ] && ok "no mcrx_doctor.exe (Linux only)" || bad "mcrx_doctor.exe was built"

echo "tools: $passed passed, $failed failed"
[ "$failed" = 0 ]
