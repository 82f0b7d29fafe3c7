"""RawContext: whole IP datagrams of a group (Linux, CAP_NET_RAW: ctest runs
this as root, or in the user namespace of scripts/netns-run.sh)."""
import struct

import pytest

import mcrx_core
from conftest import R_V4, R_V6, S_V4, S_V4_OTHER, S_V6


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def collect(ctx, want, timeout=2.0):
    """Up to `want` RawPackets, waiting at most `timeout` seconds in all."""
    got = []
    while len(got) < want and ctx.wait(timeout):
        got += ctx.recv_batch(want - len(got))
    return got


@pytest.mark.parametrize("group,source,interface,sender,header", [
    ("239.66.1.1", None, R_V4, S_V4, 20),
    ("232.66.1.2", S_V4, None, S_V4, 20),
    ("ff0e::6601", None, R_V6, S_V6, 40),
    ("ff3e::6602", S_V6, R_V6, S_V6, 40),
])
def test_raw_packets_are_whole_ip_datagrams(send, port, group, source, interface, sender, header):
    ctx = mcrx_core.RawContext()
    sid = ctx.add(group, source=source, interface=interface)
    assert ctx.state(sid) == "bound" and ctx.subscription_count() == 1
    ctx.join(sid)
    assert ctx.state(sid) == "joined"
    send(sender, group, port, "raw-hello", 3)
    packets = collect(ctx, 3)
    assert len(packets) == 3
    for p in packets:
        assert isinstance(p, mcrx_core.RawPacket)
        assert p.subscription_id == sid
        assert p.source == sender and p.group == group
        assert p.protocol == 17  # UDP
        assert 1 <= p.ttl <= 255
        assert p.ingress_interface_index == ifindex("vb")
        assert isinstance(p.data, bytes) and len(p.data) == header + 8 + 9 == p.wire_len
        assert p.data[0] >> 4 == (4 if header == 20 else 6)
        assert p.data.endswith(b"raw-hello")
        assert struct.unpack("!H", p.data[header + 2:header + 4])[0] == port  # UDP dst port
        assert not p.truncated
        assert isinstance(p.checksum_not_ready, bool) and isinstance(p.checksum_valid, bool)
        assert "RawPacket(subscription_id=" in repr(p)
    assert ctx.recv() is None
    m = ctx.metrics()
    assert m["packets_received"] == 3 and m["joined_subscriptions"] == 1


def test_raw_ssm_ignores_a_foreign_source_and_leave_stops(send, port):
    ctx = mcrx_core.RawContext()
    sid = ctx.add("232.66.2.1", S_V4, R_V4)
    ctx.join(sid)
    send(S_V4_OTHER, "232.66.2.1", port, "foreign", 2)
    send(S_V4, "232.66.2.1", port, "ours", 1)
    packets = collect(ctx, 2, timeout=1.0)
    assert [p.data.endswith(b"ours") for p in packets] == [True]
    assert packets[0].source == S_V4
    ctx.leave(sid)
    assert ctx.state(sid) == "bound"
    send(S_V4, "232.66.2.1", port, "after-leave", 1)
    assert collect(ctx, 1, timeout=0.3) == []
    ctx.remove(sid)
    assert ctx.subscription_count() == 0


def test_raw_recv_single_and_fileno(send, port):
    ctx = mcrx_core.RawContext()
    sid = ctx.add("239.66.3.1")
    ctx.join(sid)
    assert isinstance(ctx.fileno(), int) and ctx.fileno() >= 0
    assert ctx.recv() is None
    send(S_V4, "239.66.3.1", port, "one", 1)
    assert ctx.wait(2.0)
    p = ctx.recv()
    assert p is not None and p.data.endswith(b"one") and p.subscription_id == sid


def test_raw_errors():
    ctx = mcrx_core.RawContext()
    with pytest.raises(ValueError):
        ctx.add("198.51.100.9")  # not multicast
    with pytest.raises(mcrx_core.SsmGroupRequiresSourceError):
        ctx.add("232.66.4.1")
    with pytest.raises(mcrx_core.InvalidAddressError):
        ctx.add("not-an-address")
    sid = ctx.add("239.66.4.1", interface=R_V4)
    with pytest.raises(mcrx_core.DuplicateSubscriptionError):
        ctx.add("239.66.4.1", interface=R_V4)
    with pytest.raises(mcrx_core.SubscriptionNotJoinedError):
        ctx.leave(sid)
    ctx.join(sid)
    with pytest.raises(mcrx_core.SubscriptionAlreadyJoinedError):
        ctx.join(sid)
    ctx.remove(sid)
    for call in (ctx.join, ctx.leave, ctx.remove, ctx.state):
        with pytest.raises(LookupError, match="subscription not found"):
            call(sid)
    with pytest.raises(ValueError):
        ctx.recv_batch(0)
    with pytest.raises(TypeError):
        mcrx_core.RawContext(1)


def test_raw_packet_names_its_subscription(send, port):
    ctx = mcrx_core.RawContext()
    sid = ctx.add("239.66.5.1", interface=R_V4)
    ctx.join(sid)
    send(S_V4, "239.66.5.1", port, "ids", 1)
    packets = collect(ctx, 1)
    assert [p.matching_subscription_ids for p in packets] == [(sid,)]
