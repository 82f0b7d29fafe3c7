#!/usr/bin/env bash
# mcrx_doctor on the namespace network of scripts/netns-run.sh (runs on the
# receiver host R; sender S has va 198.51.100.1 and va2 203.0.113.1; R's
# default route is via vb). Each broken situation is built, diagnosed and
# undone: the doctor must name its cause (finding id) and exit 1; on the
# healthy setup it reports no problem and exits 0.
# usage: doctor-test.sh BIN_DIR
set -uo pipefail
bin=$1
doctor=$bin/mcrx_doctor send=$bin/mcrx_send
S=$MCRX_TEST_SENDER_NS
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; nft delete table inet mcrxdoc 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
port=38000
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
on_sender() { nsenter --net="$S" "$@"; }
next_port() { port=$((port + 1)); }
command -v nft >/dev/null || bad "nft is not installed (scripts/install-deps.sh installs nftables)"

# sender GROUP SOURCE: our sender in the background until stop_sender. It
# runs for as long as a section's diagnoses take (a loaded or sanitized run
# is slow), bounded by --duration.
sender() { on_sender "$send" "$1" $port --seq --rate 200 --duration 60 --source "$2" >/dev/null 2>&1 & }
stop_sender() { jobs -p | xargs -r kill 2>/dev/null; wait; }

# diagnose NAME EXPECT_RC WANT_IDS(space separated, "" = no problem) DOCTOR_ARGS...
diagnose() {
  local name=$1 want_rc=$2 want=$3; shift 3
  "$doctor" "$@" --json >"$work/j" 2>"$work/e"
  local rc=$?
  if $PY - "$work/j" "$want" <<'EOF' && [ $rc = "$want_rc" ]; then ok "$name"; else bad "$name (rc=$rc)"; cat "$work/j" "$work/e"; "$doctor" "$@"; fi
import json, sys
d = json.load(open(sys.argv[1]))
problems = {f["id"] for f in d["findings"] if f["severity"] == "problem"}
want = set(sys.argv[2].split())
for f in d["findings"]:
    assert f["summary"], f
    if f["severity"] == "problem":
        assert f["fix"], f
if not want:
    assert not problems and d["healthy"] is True and d["traffic"]["datagrams"] > 0, d
else:
    assert want <= problems, (want, problems)
    assert d["healthy"] is False
assert any(f["id"] == "wire-check" for f in d["findings"])  # says what it cannot check
EOF
}

# ---- healthy: SSM from 198.51.100.1, delivered on vb ----
next_port
sender 232.1.5.1 198.51.100.1
sleep 0.2
diagnose "healthy SSM setup: nothing wrong, traffic seen, exit 0" 0 "" 232.1.5.1 198.51.100.1 --port $port --wait 1
"$doctor" 232.1.5.1 198.51.100.1 --port $port --wait 0.5 >"$work/t" 2>&1
grep -q "^result: healthy" "$work/t" && grep -q "raw capture" "$work/t" && ok "text report" || { bad "text report"; cat "$work/t"; }
stop_sender

# ---- no port: nothing wrong found, traffic not checked, exit 1 ----
"$doctor" 239.1.5.9 >"$work/t" 2>&1
[ $? = 1 ] && grep -q "traffic: not checked" "$work/t" && ok "without --port: traffic not checked, exit 1" || { bad "without --port"; cat "$work/t"; }

# ---- the wrong interface: the source is on vb2, a default join goes out vb ----
next_port
sender 232.1.5.2 203.0.113.1
diagnose "wrong interface" 1 "wrong-interface no-traffic" 232.1.5.2 203.0.113.1 --port $port --wait 0.5
diagnose "the right interface given: healthy" 0 "" 232.1.5.2 203.0.113.1 203.0.113.2 --port $port --wait 0.5
stop_sender

# ---- rp_filter: a source routed back through vb arrives on vb2 ----
next_port
on_sender ip addr add 192.0.2.1/32 dev va2
sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.vb2.rp_filter=1
sender 232.1.5.3 192.0.2.1
diagnose "rp_filter with an asymmetric route" 1 "rp_filter no-traffic" 232.1.5.3 192.0.2.1 203.0.113.2 --port $port --wait 0.5
sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vb2.rp_filter=0
diagnose "rp_filter off again: healthy" 0 "" 232.1.5.3 192.0.2.1 203.0.113.2 --port $port --wait 0.5
stop_sender
on_sender ip addr del 192.0.2.1/32 dev va2

# ---- IGMPv2 forced with an SSM subscription ----
next_port
sysctl -qw net.ipv4.conf.vb.force_igmp_version=2
sender 232.1.5.4 198.51.100.1
diagnose "IGMPv2 forced with SSM" 1 "igmp-version" 232.1.5.4 198.51.100.1 --port $port --wait 0.5
sysctl -qw net.ipv4.conf.vb.force_igmp_version=0
sysctl -qw net.ipv6.conf.vb.force_mld_version=1
diagnose "MLDv1 forced with IPv6 SSM" 1 "igmp-version" ff3e::8000:5 2001:db8:1::1 --port $port --wait 0.3
sysctl -qw net.ipv6.conf.vb.force_mld_version=0
stop_sender

# ---- a firewall rule ----
next_port
nft add table inet mcrxdoc && nft add chain inet mcrxdoc in '{ type filter hook input priority 0; }' &&
  nft add rule inet mcrxdoc in ip saddr 198.51.100.1 udp dport $port drop
sender 232.1.5.5 198.51.100.1
diagnose "firewall rule drops the traffic" 1 "firewall no-traffic" 232.1.5.5 198.51.100.1 --port $port --wait 0.5
grep -q "nft delete rule inet mcrxdoc in handle" "$work/j" && ok "firewall fix names the rule" || bad "firewall fix"
nft delete table inet mcrxdoc
nft add table inet mcrxdoc && nft add chain inet mcrxdoc in '{ type filter hook input priority 0; policy drop; }'
diagnose "input policy drop" 1 "firewall-policy" 232.1.5.5 198.51.100.1 --port $port --wait 0.3
nft delete table inet mcrxdoc
stop_sender

# ---- membership limits ----
next_port
sysctl -qw net.ipv4.igmp_max_memberships=0
diagnose "igmp_max_memberships reached" 1 "limit" 239.1.5.6 --port $port --wait 0.3
sysctl -qw net.ipv4.igmp_max_memberships=20 net.ipv4.igmp_max_msf=0
diagnose "igmp_max_msf reached" 1 "limit" 232.1.5.6 198.51.100.1 --port $port --wait 0.3
sysctl -qw net.ipv4.igmp_max_msf=10

# ---- no interface up and multicast-capable (a fresh namespace with only lo) ----
if unshare -n true 2>/dev/null; then
  unshare -n sh -c "ip link set dev lo up; '$doctor' 239.1.5.7 --json" >"$work/j" 2>&1
  $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "no-interface" in {f["id"] for f in d["findings"]}' "$work/j" &&
    ok "no multicast interface" || { bad "no multicast interface"; cat "$work/j"; }
fi

# ---- arguments ----
"$doctor" >/dev/null 2>"$work/e"; [ $? = 2 ] && grep -q "missing <group>" "$work/e" && ok "no arguments: exit 2" || bad "no arguments"
"$doctor" 198.51.100.9 >/dev/null 2>"$work/e"; [ $? = 2 ] && grep -q "not multicast" "$work/e" && ok "not multicast: exit 2" || bad "not multicast"
"$doctor" --help | grep -q "^usage: mcrx_doctor" && ok "--help" || bad "--help"

echo "doctor: $passed passed, $failed failed"
[ "$failed" = 0 ]
