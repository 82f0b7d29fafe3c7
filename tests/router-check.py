#!/usr/bin/python3
"""Checks for tests/router-test.sh: what a receiver got through the router, and
which membership reports the router's side of the link saw.

  router-check.py datagrams FILE COUNT TTL SOURCE GROUP IFINDEX
      FILE holds mcrx_recv_meta --json rows of an mcrx_send --seq stream of
      COUNT datagrams: every sequence number 0..COUNT-1 exactly once, the end
      marker, and on every row the source, group, ingress interface and TTL /
      hop limit given.
  router-check.py reports FILE REPORTER GROUP:MODE[:SOURCE] ...
      FILE is `tshark -T json --no-duplicate-keys` of IGMP or MLD packets.
      Each GROUP needs an IGMPv3 / MLDv2 report from REPORTER (an address, or
      "fe80::" for any IPv6 link-local source) with a record for it: MODE
      "include" is ALLOW, IS_IN or TO_IN (5, 1, 3) listing SOURCE; "exclude"
      is TO_EX or IS_EX (4, 2) with no source.
Prints what it found; exits 1 on the first mismatch.
"""
import json
import sys

INCLUDE = {"1", "3", "5"}
EXCLUDE = {"2", "4"}
NAMES = {"1": "IS_IN", "2": "IS_EX", "3": "TO_IN", "4": "TO_EX", "5": "ALLOW", "6": "BLOCK"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def datagrams(path, count, ttl, source, group, ifindex):
    seqs, ends = [], 0
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in rows:
        for key, want in (("source", source), ("group", group), ("ttl", ttl),
                          ("ingress_ifindex", ifindex)):
            if r.get(key) != want:
                fail("%s %s: %s is %r, expected %r" % (group, r.get("payload_hex", "")[:48], key,
                                                       r.get(key), want))
        p = bytes.fromhex(r["payload_hex"])
        if len(p) < 32 or p[0:4] != b"MCRX":
            fail("%s: a datagram without the mcrx_send --seq header: %s" % (group, r["payload_hex"][:64]))
        if p[5] & 1:
            ends += 1
            if int.from_bytes(p[8:16], "big") != count:
                fail("%s: end marker says %d sent, expected %d" % (group, int.from_bytes(p[8:16], "big"), count))
        else:
            seqs.append(int.from_bytes(p[8:16], "big"))
    missing = sorted(set(range(count)) - set(seqs))
    if missing or len(seqs) != count or ends == 0:
        drops = rows[-1].get("drops") if rows else None
        fail("%s: %d datagrams, %d distinct, %d end markers; missing %s%s; the receiving socket's "
             "kernel drop count (SO_RXQ_OVFL) %s" % (group, len(seqs), len(set(seqs)), ends, missing[:20],
                                                      " ..." if len(missing) > 20 else "", drops))
    print("ok: %s: %d/%d datagrams, sequence 0..%d each once, end marker, ttl %d, from %s, ingress ifindex %d"
          % (group, len(seqs), count, count - 1, ttl, source, ifindex))


def walk(node, out):
    """Collects every group record of a tshark JSON tree (IGMPv3 and MLDv2)."""
    if isinstance(node, list):
        for n in node:
            walk(n, out)
    elif isinstance(node, dict):
        if "igmp.record_type" in node:
            out.append((node["igmp.record_type"], node.get("igmp.maddr"), node.get("igmp.saddr", [])))
        elif "icmpv6.mldr.mar.record_type" in node:
            out.append((node["icmpv6.mldr.mar.record_type"], node.get("icmpv6.mldr.mar.multicast_address"),
                        node.get("icmpv6.mldr.mar.source_address", [])))
        else:
            for v in node.values():
                walk(v, out)


def reports(path, reporter, wants):
    with open(path) as f:
        packets = json.load(f)
    found = []  # (reporter address, record type, group, [sources])
    for pkt in packets:
        layers = pkt["_source"]["layers"]
        if "igmp" in layers:
            if layers["igmp"].get("igmp.version") != "3" or layers["igmp"].get("igmp.type") != "0x22":
                continue
            src = layers["ip"]["ip.src"]
            body = layers["igmp"]
        elif "icmpv6" in layers:
            if layers["icmpv6"].get("icmpv6.type") != "143":
                continue
            src = layers["ipv6"]["ipv6.src"]
            body = layers["icmpv6"]
        else:
            continue
        recs = []
        walk(body, recs)
        for rtype, group, srcs in recs:
            found.append((src, rtype, group, srcs if isinstance(srcs, list) else [srcs]))
    for w in wants:
        # An IPv6 group holds colons: GROUP is everything before ":include" / ":exclude".
        for mode in ("include", "exclude"):
            if ":" + mode in w:
                group, after = w.split(":" + mode, 1)
                source = after[1:] if after.startswith(":") else None
                break
        else:
            fail("bad expectation " + w)
        ok = None
        for src, rtype, g, srcs in found:
            if g != group:
                continue
            if reporter == "fe80::" and not src.startswith("fe80:"):
                continue
            if reporter != "fe80::" and src != reporter:
                continue
            if mode == "include" and rtype in INCLUDE and source in srcs:
                ok = (src, rtype, srcs)
            if mode == "exclude" and rtype in EXCLUDE and not srcs:
                ok = (src, rtype, srcs)
            if ok:
                break
        if ok is None:
            seen = ["%s %s %s {%s}" % (s, NAMES.get(t, t), g, ",".join(ss)) for s, t, g, ss in found]
            fail("no %s record for %s%s from %s; records seen: %s" %
                 (mode.upper(), group, " source " + source if source else "", reporter, "; ".join(seen)))
        print("ok: report from %s: %s %s {%s}" % (ok[0], NAMES[ok[1]], group, ",".join(ok[2])))


def main(argv):
    if len(argv) >= 8 and argv[1] == "datagrams":
        datagrams(argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6], int(argv[7]))
    elif len(argv) >= 5 and argv[1] == "reports":
        reports(argv[2], argv[3], argv[4:])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
