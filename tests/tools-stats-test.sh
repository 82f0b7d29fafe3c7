#!/usr/bin/env bash
# mcrx_recv --stats / --pcap and mcrx_send --seq against real peers on the
# namespace link of scripts/netns-run.sh (runs on the receiver host):
# - iperf 2 as the sender, with a deterministic loss made by an nftables rule
#   on the receiver (every data datagram whose sequence number is 7 mod 16):
#   our loss equals iperf 2's own server report and the rule's count, jitter
#   within max(0.1 ms, 50 %) of iperf 2's;
# - a stopped receiver with a small buffer: loss from sequence gaps equals the
#   kernel's drop count (SO_RXQ_OVFL);
# - duplicates and reordering from a test sender, counted exactly;
# - the pcap opens in tshark with the right addresses, ports and payloads.
# usage: tools-stats-test.sh BIN_DIR
# Under CI=true a missing peer program fails the test.
set -uo pipefail
bin=$1
recv=$bin/mcrx_recv send=$bin/mcrx_send
S=$MCRX_TEST_SENDER_NS
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill -CONT 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; nft delete table inet mcrxstats 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
port=37000
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
on_sender() { nsenter --net="$S" "$@"; }
next_port() { port=$((port + 1)); }
need() {
  command -v "$1" >/dev/null && return 0
  bad "$1 is not installed (scripts/install-deps.sh installs it)"
  return 1
}
wait_ready() { for _ in $(seq 1 100); do grep -q "waiting for packets" "$1" 2>/dev/null && return; sleep 0.05; done; }

# ---- iperf 2 as the sender; iperf 2 and mcrx_recv receive the same stream ----
if need iperf && need nft; then
  next_port
  nft add table inet mcrxstats &&
    nft add chain inet mcrxstats in '{ type filter hook input priority 0; }' &&
    nft add rule inet mcrxstats in udp dport $port @th,64,8 == 0 @th,92,4 == 7 counter drop ||
    bad "nft rule for the iperf loss"
  "$recv" 239.1.4.1 $port --stats=0 --json --timeout 5 >"$work/r" 2>"$work/re" &
  rpid=$!
  timeout 6 iperf -s -u -B 239.1.4.1 -p $port >"$work/iperf-s" 2>&1 &
  ipid=$!
  wait_ready "$work/re"
  sleep 0.3
  on_sender iperf -c 239.1.4.1 -u -T 1 -t 2 -b 2M -l 500 -p $port -B 198.51.100.1 >"$work/iperf-c" 2>&1
  wait $rpid
  wait $ipid
  dropped=$(nft list table inet mcrxstats | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
  nft delete table inet mcrxstats
  if $PY - "$work/r" "$work/iperf-s" "$dropped" <<'EOF'; then ok "iperf 2 sender: loss and jitter agree with iperf 2's server report"; else bad "iperf 2 agreement"; cat "$work/r" "$work/iperf-s" "$work/iperf-c"; fi
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
s = [r for r in rows if r["type"] == "summary"]
assert len(s) == 1, rows
s = s[0]
lines = [l for l in open(sys.argv[2]) if re.search(r" ms +\d+/\d+ ", l)]
assert lines, "no iperf server report"
m = re.search(r"([\d.]+) ms +(\d+)/(\d+) ", lines[-1])
ij, il, it = float(m.group(1)), int(m.group(2)), int(m.group(3))
dropped = int(sys.argv[3])
print(f"iperf 2: jitter {ij} ms lost {il}/{it}; mcrx_recv: jitter {s['jitter_ms']:.4f} ms lost {s['lost']} "
      f"received {s['received']} sent {s['sent']}; nft dropped {dropped}")
assert s["format"] == "iperf2" and s["end_marker"] is True
assert dropped > 0 and s["lost"] == dropped == il, (s["lost"], dropped, il)
assert s["received"] + s["lost"] == s["sent"] == it - 1   # iperf 2's total counts its FIN
assert s["duplicates"] == 0 and s["reordered"] == 0 and s["kernel_drops"] == 0
assert abs(s["jitter_ms"] - ij) <= max(0.1, 0.5 * ij), (s["jitter_ms"], ij)
EOF
fi

# ---- overflow: a stopped receiver; loss from gaps == kernel drops ----
next_port
"$recv" 232.1.4.2 $port 198.51.100.1 --stats=0 --json --rcvbuf 4096 --timeout 5 >"$work/r" 2>"$work/re" &
rpid=$!
wait_ready "$work/re"
kill -STOP $rpid
on_sender "$send" 232.1.4.2 $port --seq --size 200 --burst 500 --pause 400 --count 3000 --source 198.51.100.1 >"$work/s" 2>&1 &
spid=$!
sleep 0.9
kill -CONT $rpid
wait $spid
wait $rpid
$PY - "$work/r" <<'EOF' && ok "overflow: loss from sequence gaps equals the kernel drop count" || { bad "overflow"; cat "$work/r" "$work/re" "$work/s"; }
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
print(f"overflow: received {s['received']} lost {s['lost']} kernel_drops {s['kernel_drops']} sent {s['sent']}")
assert s["type"] == "summary" and s["sent"] == 3000 and s["end_marker"] is True
assert s["lost"] > 0 and s["lost"] == s["kernel_drops"], s
assert s["received"] + s["lost"] == 3000 and s["duplicates"] == 0 and s["reordered"] == 0
EOF
grep -q "rcvbuf: asked 4096 bytes" "$work/re" && ok "--rcvbuf reported" || { bad "--rcvbuf reported"; cat "$work/re"; }

# ---- duplicates and reordering from a test sender, exactly; and the pcap ----
next_port
"$recv" 232.1.4.3 $port 198.51.100.1 --stats=0 --json --timeout 5 --pcap "$work/p.pcap" >"$work/r" 2>"$work/re" &
rpid=$!
wait_ready "$work/re"
on_sender $PY - $port <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.1", 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("198.51.100.1"))
def dg(seq, end=False, sent=0):
    hdr = struct.pack(">4sBBHQqQ", b"MCRX", 1, 1 if end else 0, 32, seq, time.time_ns(), sent)
    return hdr + (b"payload-%05d" % seq if not end else b"")
# 0..19 with: 3 twice, 7 three times (3 duplicates); 12 after 15 (distance 3),
# 18 after 19 (distance 1); 10 never sent (1 lost).
order = [0, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7, 8, 9, 11, 13, 14, 15, 12, 16, 17, 19, 18]
for q in order:
    s.sendto(dg(q), ("232.1.4.3", port))
    time.sleep(0.002)
for _ in range(3):
    s.sendto(dg(20, True, 20), ("232.1.4.3", port))
EOF
wait $rpid
$PY - "$work/r" <<'EOF' && ok "duplicates and reordering counted exactly" || { bad "duplicates and reordering"; cat "$work/r" "$work/re"; }
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
assert s["type"] == "summary" and s["format"] == "mcrx", s
assert (s["received"], s["duplicates"], s["reordered"], s["reorder_max"], s["lost"], s["late"]) == (22, 3, 2, 3, 1, 0), s
assert s["sent"] == 20 and s["ttl"] == 1 and s["ingress_interface"] == "vb" and s["kernel_drops"] == 0
assert s["first_datagram_ms"] > 0 and s["owd_min_ms"] is not None and s["jitter_ms"] >= 0
for k in ("type", "source", "group", "dst_port", "received", "lost", "duplicates", "reordered", "jitter_ms", "kernel_drops"):
    assert k in s, k
EOF
if need tshark; then
  tshark -r "$work/p.pcap" -T fields -e ip.src -e ip.dst -e ip.ttl -e udp.dstport -e udp.length -e data.data \
    -o udp.check_checksum:TRUE -e udp.checksum.status >"$work/t" 2>"$work/te"
  $PY - "$work/t" $port <<'EOF' && ok "pcap opens in tshark with addresses, ports, payloads" || { bad "pcap in tshark"; cat "$work/t" "$work/te"; }
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
port = sys.argv[2]
assert len(rows) == 23, len(rows)  # 22 data datagrams and the first end marker
for src, dst, ttl, dport, ulen, data, ck in rows:
    assert (src, dst, ttl, dport) == ("198.51.100.1", "232.1.4.3", "1", port), (src, dst, ttl, dport)
    assert ck in ("Good", "1"), ck  # checksum verified good
    assert int(ulen) == 8 + len(data) // 2
payloads = [bytes.fromhex(r[5])[32:] for r in rows]
assert payloads[0] == b"payload-00000" and payloads[4] == b"payload-00003", payloads[:5]
EOF
  # IPv6: our sender to our receiver, pcap of IPv6 records
  next_port
  "$recv" ff3e::8000:4 $port 2001:db8:1::1 --stats=0 --timeout 5 --pcap "$work/p6.pcap" >"$work/r" 2>"$work/re" &
  rpid=$!
  wait_ready "$work/r"
  on_sender "$send" ff3e::8000:4 $port --seq --count 50 --rate 1000 --source 2001:db8:1::1 >"$work/s" 2>&1
  wait $rpid
  n=$(tshark -r "$work/p6.pcap" -Y "ipv6.src == 2001:db8:1::1 && ipv6.dst == ff3e::8000:4 && udp.dstport == $port" 2>/dev/null | wc -l)
  grep -q "received: 50 datagrams" "$work/r" && grep -q "sent: 50 (from the end marker)" "$work/r" && [ "$n" = 51 ] &&
    ok "IPv6 SSM --seq stream, summary and pcap" || { bad "IPv6 --seq stream (pcap records $n)"; cat "$work/r" "$work/s"; }
fi

# ---- argument errors ----
"$recv" 239.1.2.3 5000 --stats=x >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "invalid --stats interval 'x'" "$work/e" && ok "bad --stats" || bad "bad --stats"
"$recv" 239.1.2.3 5000 --rcvbuf 0 >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "invalid --rcvbuf '0'" "$work/e" && ok "bad --rcvbuf" || bad "bad --rcvbuf"
"$recv" 239.1.2.3 5000 --pcap /nonexistent/x.pcap >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "cannot write --pcap" "$work/e" && ok "unwritable --pcap" || bad "unwritable --pcap"
"$send" 239.1.2.3 5000 --seq --size 10 >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "at least 32" "$work/e" && ok "--seq --size too small" || bad "--seq --size"
"$send" 239.1.2.3 5000 --seq --rate 10Q >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "invalid --rate" "$work/e" && ok "bad --rate" || bad "bad --rate"
"$send" 239.1.2.3 5000 --seq --rate 100 --pause 5 >/dev/null 2>"$work/e"; [ $? = 1 ] && grep -q "give one" "$work/e" && ok "--rate with --pause" || bad "--rate with --pause"

echo "tools-stats: $passed passed, $failed failed"
[ "$failed" = 0 ]
