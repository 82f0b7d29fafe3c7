"""SharedRawContext: one capture for many subscriptions, each datagram once
with every subscription it matches (Linux, CAP_NET_RAW: ctest runs this as
root, or in the user namespace of scripts/netns-run.sh)."""
import pytest

import mcrx_core
from conftest import R_V4, R_V6, S_V4, S_V4_OTHER, S_V6


def collect(sh, want, timeout=2.0):
    """Up to `want` RawPackets, waiting at most `timeout` seconds in all."""
    got = []
    while len(got) < want and sh.wait(timeout):
        got += sh.recv_batch(want - len(got))
    return got


def payload(p):
    return p.data[-16:].split(b"|")[-1]


def test_duplicates_and_sources_share_one_capture(send, port):
    sh = mcrx_core.SharedRawContext()
    a = sh.add("239.67.1.1", interface=R_V4)
    b = sh.add("239.67.1.1", interface=R_V4)  # a duplicate: its own id
    c = sh.add("232.67.1.2", S_V4, R_V4)
    d = sh.add("232.67.1.2", S_V4_OTHER, R_V4)
    assert [a, b, c, d] == [1, 2, 3, 4] and sh.subscription_count() == 4
    assert sh.state(a) == "bound" and sh.metrics()["capture_sockets"] == 0  # no socket before join
    for i in (a, b, c, d):
        sh.join(i)
        assert sh.state(i) == "joined" and sh.contains(i)
    m = sh.metrics()
    assert m["capture_sockets"] == 1 and m["active_memberships"] == 3
    send(S_V4, "239.67.1.1", port, "|dup", 2)
    send(S_V4, "232.67.1.2", port, "|ssm-s", 1)
    send(S_V4_OTHER, "232.67.1.2", port, "|ssm-o", 1)
    send(S_V4, "239.67.1.9", port, "|foreign", 1)  # on the wire, joined by nobody
    packets = collect(sh, 5, timeout=1.5)
    seen = sorted((payload(p), p.matching_subscription_ids, p.subscription_id) for p in packets)
    assert seen == [(b"dup", (a, b), a), (b"dup", (a, b), a), (b"ssm-o", (d,), d), (b"ssm-s", (c,), c)]
    for p in packets:
        assert p.protocol == 17 and p.data[0] >> 4 == 4
    m = sh.metrics()
    # The foreign group, and any IGMP report on the link: read, matched by nobody.
    assert m["unmatched_packets"] >= 1 and m["received_packets"] == 4 + m["unmatched_packets"]
    assert m["demultiplex_matches"] == 2 * 2 + 1 + 1 and m["pending_packets"] == 0


def test_leaving_one_duplicate_disturbs_no_other(send, port):
    sh = mcrx_core.SharedRawContext()
    a = sh.add("239.67.2.1", interface=R_V4)
    b = sh.add("239.67.2.1", interface=R_V4)
    sh.join(a)
    sh.join(b)
    sh.leave(a)
    assert sh.state(a) == "bound" and sh.metrics()["active_memberships"] == 1
    send(S_V4, "239.67.2.1", port, "|after", 2)
    packets = collect(sh, 3, timeout=1.0)
    assert [p.matching_subscription_ids for p in packets] == [(b,), (b,)]
    sh.remove(b)  # leaves first: the last membership and the capture go
    m = sh.metrics()
    assert m["active_memberships"] == 0 and m["capture_sockets"] == 0
    assert not sh.contains(b) and sh.subscription_count() == 1
    with pytest.raises(mcrx_core.SubscriptionNotJoinedError):
        sh.leave(a)


def test_ipv6_asm_duplicates(send, port):
    sh = mcrx_core.SharedRawContext()
    ids = [sh.add("ff0e::6701", interface=R_V6) for _ in range(2)]
    for i in ids:
        sh.join(i)
    send(S_V6, "ff0e::6701", port, "|six", 2)
    packets = collect(sh, 2)
    assert [p.matching_subscription_ids for p in packets] == [tuple(ids)] * 2
    assert all(p.group == "ff0e::6701" and p.source == S_V6 and p.data[0] >> 4 == 6 for p in packets)


def test_single_recv_reads_a_batch_and_queues_the_rest(send, port):
    sh = mcrx_core.SharedRawContext(max_pending_packets=4)
    assert sh.limits() == {"max_subscriptions": 4096, "max_pending_packets": 4}
    sid = sh.add("239.67.3.1", interface=R_V4)
    sh.join(sid)
    send(S_V4, "239.67.3.1", port, "|q", 10)
    assert sh.wait(2.0)
    first = sh.recv()
    assert first is not None and first.matching_subscription_ids == (sid,)
    # One system call read up to 1 + max_pending_packets datagrams: the
    # rest wait in the library's queue, never more than the limit.
    assert 0 < sh.metrics()["pending_packets"] <= 4
    rest = []
    while True:
        p = sh.recv()
        if p is None:
            break
        rest.append(p)
    assert len(rest) == 9 and sh.metrics()["pending_packets"] == 0


def test_limits_and_errors():
    with pytest.raises(mcrx_core.InvalidSharedRawCaptureLimitsError):
        mcrx_core.SharedRawContext(max_pending_packets=0)
    with pytest.raises(mcrx_core.InvalidSharedRawCaptureLimitsError):
        mcrx_core.SharedRawContext(max_subscriptions=0)
    with pytest.raises(TypeError):
        mcrx_core.SharedRawContext(8)  # keywords only
    sh = mcrx_core.SharedRawContext(max_subscriptions=2)
    a = sh.add("239.67.4.1", interface=R_V4)
    sh.add("239.67.4.1", interface=R_V4)
    with pytest.raises(mcrx_core.SharedRawCaptureSubscriptionLimitExceededError):
        sh.add("239.67.4.2", interface=R_V4)
    with pytest.raises(mcrx_core.SsmGroupRequiresSourceError):
        sh.add("232.67.4.1")
    with pytest.raises(ValueError):
        sh.add("198.51.100.9")
    sh.join(a)
    with pytest.raises(mcrx_core.SubscriptionAlreadyJoinedError):
        sh.join(a)
    sh.remove(a)
    for call in (sh.join, sh.leave, sh.remove, sh.state):
        with pytest.raises(LookupError, match="subscription not found"):
            call(a)
    assert sh.recv() is None and sh.recv_batch(8) == []
    assert isinstance(sh.fileno(), int) and sh.wait(0) is False
    with pytest.raises(ValueError):
        sh.recv_batch(0)
