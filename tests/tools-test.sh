#!/usr/bin/env bash
# The command-line tools: argument rules and messages, interface forms, output
# formats, --count / --timeout / --json, signals, and real runs across the
# namespace link, including third-party peers (iperf 2 as sender, socat as
# receiver). Runs on the receiver host of scripts/netns-run.sh.
# usage: tools-test.sh BIN_DIR
# No "| grep -q" below: under pipefail grep closing the pipe early fails the
# producer (SIGPIPE); outputs are read whole first.
set -uo pipefail
bin=$1
recv=$bin/mcrx_recv meta=$bin/mcrx_recv_meta send=$bin/mcrx_send
S=$MCRX_TEST_SENDER_NS
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
port=36000

ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
on_sender() { nsenter --net="$S" "$@"; }
next_port() { port=$((port + 1)); }
vb=$(cat /sys/class/net/vb/ifindex)
va=$(on_sender ip -o link show dev va | cut -d: -f1)
s_ll=$(on_sender ip -6 addr show dev va scope link | sed -n 's/.*inet6 \(fe80[^/]*\).*/\1/p' | head -n 1)

# expect_fail NAME EXPECTED_TEXT CMD... : exit status 1, text on stderr, usage shown
expect_fail() {
  local name=$1 text=$2; shift 2
  "$@" >"$work/o" 2>"$work/e"
  local rc=$?
  if [ "$rc" = 1 ] && grep -qF -- "$text" "$work/e" && grep -q '^usage:' "$work/e"; then ok "$name"; else
    bad "$name (rc=$rc)"; cat "$work/e"; fi
}

# ---- argument rules and messages ----
expect_fail "no arguments" "mcrx_recv: missing <group> and <dst_port>" "$recv"
expect_fail "port 0" "mcrx_recv: dst_port must not be 0" "$recv" 239.1.2.3 0
expect_fail "bad port" "invalid dst_port '70000'" "$recv" 239.1.2.3 70000
expect_fail "not multicast" "group address 198.51.100.9 is not multicast" "$recv" 198.51.100.9 5000
expect_fail "unknown flag" "unexpected argument '--bogus'" "$recv" 239.1.2.3 5000 --bogus
expect_fail "flag without value" "missing value after --source" "$meta" 239.1.2.3 5000 --source
expect_fail "too many positionals" "invalid arguments" "$recv" 239.1.2.3 5000 a b c
expect_fail "bad --count" "invalid --count 'x'" "$recv" 239.1.2.3 5000 --count x
expect_fail "bad --timeout" "invalid --timeout '-1'" "$recv" 239.1.2.3 5000 --timeout -1
expect_fail "bad interface" "unknown interface name" "$recv" ff0e::1 5000 --interface fe80::1%nosuch0
expect_fail "sender not multicast" "group address 198.51.100.9 is not multicast" "$send" 198.51.100.9 5000 hi
expect_fail "sender missing args" "missing <group> <dst_port> <message>" "$send" 239.1.2.3
expect_fail "sender unknown flag" "unexpected argument '--nope'" "$send" 239.1.2.3 5000 hi --nope
"$recv" 232.1.2.3 5000 >"$work/o" 2>"$work/e"
if [ $? = 1 ] && grep -qF "mcrx_recv: failed to add subscription: MCRX: SSM-range multicast groups require a source address" "$work/e"; then
  ok "library errors are prefixed"; else bad "library errors are prefixed"; cat "$work/e"; fi
for t in "$recv" "$meta" "$send"; do
  if grep -q '^usage:' <<<"$("$t" --help)"; then ok "$(basename "$t") --help"; else bad "$(basename "$t") --help"; fi
done

# ---- banner: interface forms, flags in any order ----
banner() { # expected-interface-line args...
  local want=$1; shift
  timeout 5 "$recv" "$@" --timeout 0.2 >"$work/o" 2>"$work/e"
  if grep -qx "  interface: $want" "$work/o" && grep -qx "mcrx-recv ready" "$work/o"; then ok "banner interface $want"; else
    bad "banner interface $want"; cat "$work/o" "$work/e"; fi
}
next_port; banner default 239.1.2.3 $port
next_port; banner 198.51.100.2 239.1.2.3 $port --interface 198.51.100.2
next_port; banner 198.51.100.2 --interface 198.51.100.2 239.1.2.3 $port
next_port; banner "ifindex:$vb" ff0e::8000:31 $port --interface "$vb"
next_port; banner "fe80::1%$vb" ff0e::8000:31 $port --interface "fe80::1%vb"
next_port
timeout 5 "$recv" 232.1.2.3 $port 198.51.100.1 198.51.100.2 --timeout 0.2 >"$work/o" 2>&1
if grep -qx "  source: 198.51.100.1" "$work/o" && grep -qx "  interface: 198.51.100.2" "$work/o"; then
  ok "positional source and interface"; else bad "positional source and interface"; cat "$work/o"; fi

# ---- --timeout: exit 2 when nothing arrives ----
next_port
start=$(date +%s%N)
"$recv" 239.1.2.40 $port --timeout 0.5 >/dev/null 2>"$work/e"
rc=$? el=$((($(date +%s%N) - start) / 1000000))
if [ $rc = 2 ] && [ $el -ge 450 ] && [ $el -lt 3000 ]; then ok "--timeout exits 2 after ${el} ms"; else
  bad "--timeout (rc=$rc, ${el} ms)"; cat "$work/e"; fi

# run_pair NAME RECEIVER-ARGS... -- SENDER-ARGS... : receiver with --count 3, sender sends 3
run_pair() {
  local name=$1; shift
  local rargs=() sargs=()
  while [ "$1" != "--" ]; do rargs+=("$1"); shift; done
  shift; sargs=("$@")
  "${rargs[@]}" --count 3 --timeout 5 >"$work/r" 2>"$work/re" &
  local pid=$!
  for _ in $(seq 1 100); do grep -q "waiting for packets" "$work/r" "$work/re" 2>/dev/null && break; sleep 0.05; done
  on_sender "${sargs[@]}" >"$work/s" 2>&1
  wait $pid
  local rc=$?
  if [ $rc = 0 ]; then ok "$name"; else bad "$name (receiver rc=$rc)"; cat "$work/r" "$work/re" "$work/s"; fi
  return $rc
}

# ---- our sender to our receivers, every family ----
next_port
if run_pair "IPv4 ASM send/recv" "$recv" 239.1.2.50 $port -- "$send" 239.1.2.50 $port hello-asm 50 198.51.100.1 --count 3; then
  grep -q "^\[recv\] sub=1 src=198.51.100.1:[0-9]* group=239.1.2.50 dst_port=$port len=9$" "$work/r" &&
    grep -q "^       payload: hello-asm$" "$work/r" && ok "human format" || { bad "human format"; cat "$work/r"; }
  [ "$(grep -c '^\[recv\]' "$work/r")" = 3 ] && ok "--count 3 stops after 3" || bad "--count 3"
  grep -q "^sent 9 bytes to 239.1.2.50:$port$" "$work/s" && ok "sender output" || { bad "sender output"; cat "$work/s"; }
fi
next_port
run_pair "IPv4 SSM send/recv" "$meta" 232.1.2.51 $port --source 198.51.100.1 -- "$send" 232.1.2.51 $port ssm 50 198.51.100.1 --count 3 &&
  { grep -q "meta: socket_local_addr=Some(232.1.2.51:$port) configured_interface=None configured_interface_index=None destination_local_ip=Some(232.1.2.51) ingress_ifindex=Some($vb)" "$work/r" &&
    ok "metadata line" || { bad "metadata line"; cat "$work/r"; }; }
next_port
run_pair "IPv6 SSM send/recv" "$meta" ff3e::8000:52 $port 2001:db8:1::1 2001:db8:1::2 -- "$send" ff3e::8000:52 $port v6 50 2001:db8:1::1 --count 3 &&
  { grep -q "src=\[2001:db8:1::1\]:[0-9]* group=ff3e::8000:52" "$work/r" && ok "IPv6 source format" || { bad "IPv6 source format"; cat "$work/r"; }; }
next_port
run_pair "IPv6 link-scope SSM, scoped interface" "$meta" ff32::8000:53 $port --source "$s_ll" --interface "$vb" -- "$send" ff32::8000:53 $port ll 50 "$s_ll%va" --count 3
next_port
run_pair "IPv6 ASM, sender by interface index" "$recv" ff0e::8000:54 $port --interface "fe80::1%vb" -- "$send" ff0e::8000:54 $port byidx 50 "$va" --count 3

# ---- interface sets: --interface repeated, or all ----
next_port; banner "vb,vb2" 239.1.2.3 $port --interface vb --interface vb2
next_port; banner "all" 239.1.2.3 $port --interface all
expect_fail "set and positional interface" "exclude each other" "$recv" 239.1.2.3 5000 198.51.100.9 198.51.100.2 --interface all
"$recv" 239.1.2.3 5000 --interface vb --interface 'a/b' >"$work/o" 2>"$work/e"
if [ $? = 1 ] && grep -qF "interface set entry 'a/b' is not a valid interface name" "$work/e"; then
  ok "bad set entry is named"; else bad "bad set entry is named"; cat "$work/e"; fi
next_port
vb2=$(cat /sys/class/net/vb2/ifindex)
"$meta" 239.1.2.56 $port --interface vb --interface vb2 --count 4 --timeout 5 >"$work/r" 2>"$work/re" &
pid=$!
for _ in $(seq 1 100); do grep -q "waiting for packets" "$work/r" 2>/dev/null && break; sleep 0.05; done
on_sender "$send" 239.1.2.56 $port on-va 0 198.51.100.1 --count 2 >/dev/null
on_sender "$send" 239.1.2.56 $port on-va2 0 203.0.113.1 --count 2 >/dev/null
wait $pid
rc=$?
if [ $rc = 0 ] && [ "$(grep -c "ingress_ifindex=Some($vb)$" "$work/r")" = 2 ] &&
  [ "$(grep -c "ingress_ifindex=Some($vb2)$" "$work/r")" = 2 ]; then
  ok "--interface vb --interface vb2: two from each link, each with its ingress index"; else
  bad "interface set run (rc=$rc)"; cat "$work/r" "$work/re"; fi

# ---- --json ----
next_port
if run_pair "--json run" "$meta" 232.1.2.55 $port 198.51.100.1 --json -- "$send" 232.1.2.55 $port '{"q":"x\"y"}' 50 198.51.100.1 --count 3; then
  if $PY - "$work/r" $port "$vb" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
port, vb = int(sys.argv[2]), int(sys.argv[3])
assert len(rows) == 3, rows
for r in rows:
    assert r["subscription_id"] == 1 and r["source"] == "198.51.100.1" and r["group"] == "232.1.2.55"
    assert r["dst_port"] == port and r["len"] == 12 and r["truncated"] is False
    assert r["payload_text"] == '{"q":"x' + chr(92) + '"y"}', r["payload_text"]
    assert bytes.fromhex(r["payload_hex"]).decode() == r["payload_text"]
    assert r["destination_local_ip"] == "232.1.2.55" and r["ingress_ifindex"] == vb
    assert r["socket_local_ip"] == "232.1.2.55" and r["socket_local_port"] == port
EOF
  then ok "--json rows"; else bad "--json rows"; cat "$work/r"; fi
  grep -q "mcrx-recv-meta ready" "$work/re" && ok "--json banner on stderr" || bad "--json banner on stderr"
fi

# ---- per-datagram kernel reports in the JSON rows ----
$PY - "$work/r" <<'EOF' && ok "--json rx_timestamp_ns, ttl, drops" || { bad "--json rx_timestamp_ns, ttl, drops"; cat "$work/r"; }
import json, sys, time
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert isinstance(r["rx_timestamp_ns"], int) and abs(r["rx_timestamp_ns"] / 1e9 - time.time()) < 60
    assert r["ttl"] == 1 and r["drops"] == 0
EOF

# ---- metrics: JSONL files (heimdall-jsonl-v1) and the text summary ----
next_port
mdir="$work/metrics/node42"
MCRX_METRICS_SUMMARY_SECS=1 MCRX_METRICS_SUMMARY_FILE="$mdir/net.jsonl" MCRX_METRICS_FLAGS_JSON='{"run":"t1","role":"ignored"}' \
  "$recv" 232.1.2.65 $port 198.51.100.1 --timeout 3.5 >"$work/r" 2>"$work/e" &
pid=$!
sleep 0.3
on_sender "$send" 232.1.2.65 $port m 100 198.51.100.1 --count 20 >/dev/null
wait $pid
if $PY - "$mdir/net.jsonl" "$mdir/net_hardware.jsonl" $port <<'EOF'; then ok "metrics JSONL files"; else bad "metrics JSONL files"; cat "$mdir"/*.jsonl "$work/e"; fi
import json, sys
net = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hw = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
h = net[0]
assert list(h) == ["schema", "artifact_type", "node_id", "producer", "created_at", "flags"], list(h)
assert h["schema"] == "heimdall-jsonl-v1" and h["artifact_type"] == "mcrx-network"
assert h["node_id"] == "node42" and h["producer"] == "mcrx-core/mcrx_recv"
f = h["flags"]
assert list(f) == sorted(f)
assert f["role"] == "receiver" and f["run"] == "t1" and f["transport"] == "udp-multicast"
assert f["multicast_group"] == "232.1.2.65" and f["multicast_port"] == int(sys.argv[3])
assert f["join_mode"] == "ssm" and f["source_filter"] == "source-specific" and f["source_addr"] == "198.51.100.1"
assert f["batch_receive_enabled"] is False
keys = ["ts", "interval_secs", "active_subscriptions", "joined_subscriptions", "packets_received_total",
        "bytes_received_total", "packets_received_delta", "bytes_received_delta", "would_block_count_total",
        "would_block_count_delta", "receive_errors_total", "receive_errors_delta", "join_count_total",
        "join_count_delta", "leave_count_total", "leave_count_delta", "batch_calls_total", "batch_calls_delta",
        "batch_packets_received_total", "batch_packets_received_delta", "packets_per_sec", "bytes_per_sec",
        "would_block_per_sec", "receive_errors_per_sec"]
assert len(net) >= 3, net
for r in net[1:]:
    assert list(r) == keys, list(r)
assert net[-1]["packets_received_total"] == 20 and net[-1]["join_count_total"] == 1
assert sum(r["packets_received_delta"] for r in net[1:]) == 20
assert hw[0]["artifact_type"] == "process-hardware" and len(hw) >= 2
assert list(hw[1]) == ["ts", "interval_secs", "cpu_user_secs", "cpu_system_secs", "cpu_total_secs",
                       "cpu_util_percent", "rss_bytes", "virtual_memory_bytes", "thread_count", "open_fds",
                       "page_faults_minor", "page_faults_major", "ctx_switches_voluntary",
                       "ctx_switches_involuntary"]
assert hw[1]["thread_count"] >= 1 and hw[1]["rss_bytes"] > 0
EOF
next_port
MCRX_METRICS_SUMMARY_SECS=1 "$recv" 239.1.2.66 $port --timeout 1.6 >"$work/r" 2>&1
grep -q '^\[metrics\]' "$work/r" && grep -q '^  packets_per_sec: ' "$work/r" && grep -q '^\[hardware\]' "$work/r" &&
  ok "metrics text summary" || { bad "metrics text summary"; cat "$work/r"; }
MCRX_METRICS_SUMMARY_SECS=1 MCRX_METRICS_SUMMARY_FILE="$work/m2.jsonl" MCRX_METRICS_FLAGS_JSON='[1]' \
  "$recv" 239.1.2.66 $port --timeout 0.2 >/dev/null 2>"$work/e"
[ $? = 1 ] && grep -q "MCRX_METRICS_FLAGS_JSON must be a JSON object" "$work/e" && ok "bad metrics flags" || { bad "bad metrics flags"; cat "$work/e"; }
MCRX_METRICS_SUMMARY_SECS=abc "$recv" 239.1.2.66 $port --timeout 0.2 >/dev/null 2>"$work/e"
[ $? = 1 ] && grep -q "MCRX_METRICS_SUMMARY_SECS must be" "$work/e" && ok "bad metrics interval" || bad "bad metrics interval"

# ---- binary payload preview ----
next_port
"$recv" 239.1.2.56 $port --count 1 --timeout 5 >"$work/r" 2>&1 &
pid=$!
sleep 0.3
"$bin/../tests/tsend" 198.51.100.1 va 239.1.2.56 $port "$(printf 'caf\xc3')" >/dev/null 2>&1
wait $pid
grep -q "payload: 0x63 61 66 c3" "$work/r" && ok "binary payload as hex" || { bad "binary payload as hex"; cat "$work/r"; }

# ---- signals: leave, close, exit 0 ----
next_port
"$recv" 239.1.2.57 $port >"$work/r" 2>"$work/e" &
pid=$!
sleep 0.3
grep -q 239.1.2.57 <<<"$(ip maddr show dev vb)"
joined=$?
kill -TERM $pid
wait $pid
rc=$?
left=1
grep -q 239.1.2.57 <<<"$(ip maddr show dev vb)" && left=0
if [ $rc = 0 ] && [ $joined = 0 ] && [ $left = 1 ] && grep -q "shutting down" "$work/e"; then ok "SIGTERM: leave and exit 0"; else
  bad "SIGTERM (rc=$rc joined=$joined left=$left)"; cat "$work/e"; fi
next_port
"$meta" 239.1.2.58 $port >"$work/r" 2>"$work/e" &
pid=$!
sleep 0.3
kill -INT $pid
wait $pid && ok "SIGINT exits 0" || bad "SIGINT"

# ---- mcrx_uv_recv: the same tool on libuv ----
uvrecv=$bin/mcrx_uv_recv
if [ -x "$uvrecv" ]; then
  next_port
  run_pair "mcrx_uv_recv IPv4 SSM" "$uvrecv" 232.1.2.59 $port --source 198.51.100.1 -- "$send" 232.1.2.59 $port via-uv 50 198.51.100.1 --count 3 &&
    { grep -qx "mcrx-uv-recv ready" "$work/r" && grep -qx "waiting for packets with libuv ..." "$work/r" &&
      [ "$(grep -c '^       payload: via-uv$' "$work/r")" = 3 ] && grep -q "meta: socket_local_addr=Some(232.1.2.59:$port)" "$work/r" &&
      ok "mcrx_uv_recv output" || { bad "mcrx_uv_recv output"; cat "$work/r"; }; }
  next_port
  "$uvrecv" 239.1.2.59 $port >"$work/r" 2>"$work/e" &
  pid=$!
  sleep 0.3
  kill -INT $pid
  wait $pid && grep -q "shutting down" "$work/e" && ok "mcrx_uv_recv Ctrl-C" || { bad "mcrx_uv_recv Ctrl-C"; cat "$work/e"; }
  next_port
  "$uvrecv" 239.1.2.59 $port --timeout 0.3 >/dev/null 2>&1
  [ $? = 2 ] && ok "mcrx_uv_recv --timeout" || bad "mcrx_uv_recv --timeout"
  next_port
  MCRX_METRICS_SUMMARY_SECS=1 "$uvrecv" 239.1.2.59 $port --timeout 1.6 >"$work/r" 2>&1
  grep -q '^\[metrics\]' "$work/r" && ok "mcrx_uv_recv metrics summary" || { bad "mcrx_uv_recv metrics summary"; cat "$work/r"; }
else
  bad "mcrx_uv_recv not built (libuv missing?)"
fi

# ---- third-party peers ----
if command -v iperf >/dev/null; then
  next_port
  run_pair "iperf 2 sender to mcrx_recv (ASM)" "$recv" 239.1.2.60 $port -- iperf -c 239.1.2.60 -u -T 1 -t 1 -b 200K -l 200 -p $port -B 198.51.100.1 &&
    { grep -q "src=198.51.100.1:[0-9]* group=239.1.2.60 dst_port=$port len=200" "$work/r" && ok "iperf datagrams seen" || { bad "iperf datagrams"; cat "$work/r"; }; }
  next_port
  run_pair "iperf 2 sender to mcrx_recv (SSM)" "$recv" 232.1.2.61 $port 198.51.100.1 -- iperf -c 232.1.2.61 -u -T 1 -t 1 -b 200K -l 200 -p $port -B 198.51.100.1
else
  bad "iperf (version 2) is not installed"
fi
if command -v socat >/dev/null; then
  next_port
  timeout 5 socat -u "UDP4-RECVFROM:$port,ip-add-membership=239.1.2.62:vb,reuseaddr" STDOUT >"$work/r" 2>"$work/e" &
  pid=$!
  sleep 0.4
  on_sender "$send" 239.1.2.62 $port to-socat 0 198.51.100.1 >/dev/null
  wait $pid
  [ "$(cat "$work/r")" = to-socat ] && ok "mcrx_send to socat (IPv4)" || { bad "mcrx_send to socat (IPv4)"; cat "$work/r" "$work/e"; }
  next_port
  timeout 5 socat -u "UDP6-RECVFROM:$port,ipv6-join-group=[ff0e::8000:63]:vb,reuseaddr" STDOUT >"$work/r" 2>"$work/e" &
  pid=$!
  sleep 0.4
  on_sender "$send" ff0e::8000:63 $port to-socat6 0 2001:db8:1::1 >/dev/null
  wait $pid
  [ "$(cat "$work/r")" = to-socat6 ] && ok "mcrx_send to socat (IPv6)" || { bad "mcrx_send to socat (IPv6)"; cat "$work/r" "$work/e"; }
else
  bad "socat is not installed"
fi

# ---- source filters: --source repeated (INCLUDE), --exclude (EXCLUDE) ----
expect_fail "--source with --exclude" "--source and --exclude together" "$recv" 239.1.2.3 5000 --source 198.51.100.1 --exclude 198.51.100.3
expect_fail "bad --exclude" "invalid source IP address 'x'" "$recv" 239.1.2.3 5000 --exclude x
next_port
timeout 10 "$recv" 239.1.2.70 $port --exclude 198.51.100.3 --json --count 3 >"$work/r" 2>"$work/re" &
pid=$!
sleep 0.4
on_sender "$send" 239.1.2.70 $port from-excluded 10 198.51.100.3 --count 5 >/dev/null
on_sender "$send" 239.1.2.70 $port from-kept 10 198.51.100.1 --count 3 >/dev/null
wait $pid
if [ "$(grep -c '"source":"198.51.100.1"' "$work/r")" = 3 ] && ! grep -q 198.51.100.3 "$work/r" &&
  grep -qx "  source: exclude{198.51.100.3}" "$work/re"; then
  ok "--exclude: only the other sources, banner says exclude"; else bad "--exclude"; cat "$work/r" "$work/re"; fi
next_port
timeout 10 "$meta" 232.1.2.71 $port --source 198.51.100.1 --source 198.51.100.3 --json --count 4 >"$work/r" 2>"$work/re" &
pid=$!
sleep 0.4
on_sender "$send" 232.1.2.71 $port one 10 198.51.100.1 --count 2 >/dev/null
on_sender "$send" 232.1.2.71 $port two 10 198.51.100.3 --count 2 >/dev/null
wait $pid
if [ "$(grep -c '"source":"198.51.100.1"' "$work/r")" = 2 ] && [ "$(grep -c '"source":"198.51.100.3"' "$work/r")" = 2 ] &&
  grep -qx "  source: include{198.51.100.1, 198.51.100.3}" "$work/re"; then
  ok "--source twice: INCLUDE of both"; else bad "--source twice"; cat "$work/r" "$work/re"; fi

echo "tools: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
