"""Send and receive for the four families, packet and metadata fields, batches."""
import select
import time

import pytest

import mcrx_core
from conftest import R_V4, R_V6, S_V4, S_V4_OTHER, S_V6, S_V6_OTHER


def wait_packet(recv, fd, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = recv()
        if item is not None:
            return item
        select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
    pytest.fail("no datagram within the deadline")


@pytest.mark.parametrize("group,source,interface,sender", [
    ("239.1.2.3", None, None, S_V4),
    ("232.1.2.3", S_V4, R_V4, S_V4),
    ("ff0e::8000:1", None, R_V6, S_V6),
    ("ff3e::8000:1234", S_V6, R_V6, S_V6),
])
def test_four_families_deliver_with_metadata(send, port, group, source, interface, sender):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription(group, port, source=source, interface=interface)
    assert sub.state() == "bound" and not sub.is_joined()
    sub.join()
    assert sub.is_joined() and sub.state() == "joined"
    assert sub.join_mode == ("ssm" if source else "asm")
    assert sub.group == group and sub.dst_port == port and sub.source == source
    send(sender, group, port, "hello")
    item = wait_packet(sub.recv_with_metadata_nowait, sub.fileno())
    p, m = item.packet, item.metadata
    assert isinstance(p, mcrx_core.Packet) and isinstance(m, mcrx_core.ReceiveMetadata)
    assert p.payload == b"hello" and p.payload_len() == 5 and not p.truncated
    assert p.source_addr == sender and p.source == (sender, p.source_port)
    assert p.group == group and p.dst_port == port and p.subscription_id == sub.id
    assert m.destination_local_ip == group
    assert m.ingress_interface_index is not None
    assert m.socket_local_addr == (group, port)
    assert m.configured_interface == interface
    assert sub.local_addr() == (group, port)


def test_ssm_never_delivers_another_source(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("ff3e::8000:7", port, source=S_V6, interface=R_V6)
    sub.join()
    send(S_V6_OTHER, "ff3e::8000:7", port, "foreign", 5)
    send(S_V6, "ff3e::8000:7", port, "mine")
    p = wait_packet(sub.recv_nowait, sub.fileno())
    assert p.payload == b"mine"
    time.sleep(0.15)
    assert sub.recv_nowait() is None


def test_context_receive_and_batches(send, port):
    ctx = mcrx_core.Context()
    a = ctx.add_subscription("239.1.2.10", port)
    b = ctx.add_subscription("239.1.2.11", port)
    a.join()
    b.join()
    for i in range(10):
        send(S_V4, "239.1.2.10" if i % 2 else "239.1.2.11", port, f"m{i}")
    time.sleep(0.15)
    assert len(ctx.recv_batch(4)) == 4
    rest = ctx.recv_batch_with_metadata(64)
    assert len(rest) == 6
    assert all(r.metadata.destination_local_ip in ("239.1.2.10", "239.1.2.11") for r in rest)
    assert ctx.recv_batch() == []
    assert ctx.recv_any_nowait() is None
    send(S_V4, "239.1.2.10", port, "one")
    assert ctx.wait(2.0) is True
    p = ctx.recv_any_nowait()
    assert p.payload == b"one" and p.subscription_id == a.id
    assert ctx.wait(0.05) is False
    with pytest.raises(ValueError):
        ctx.recv_batch(0)
    with pytest.raises(ValueError):
        ctx.recv_batch(mcrx_core.BATCH_MAX + 1)


def test_rcvbuf_is_applied_and_reported(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.12", port, rcvbuf=4 << 20)
    assert sub.rcvbuf() >= 4 << 20  # root in the namespace may exceed rmem_max
    plain = ctx.add_subscription("239.1.2.13", port)
    assert plain.rcvbuf() < 4 << 20


def test_metrics_count_traffic(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.14", port)
    sub.join()
    send(S_V4, "239.1.2.14", port, "abcd", 3)
    time.sleep(0.15)
    assert len(sub.recv_batch(16)) == 3
    m = sub.metrics()
    assert m["packets_received"] == 3 and m["bytes_received"] == 12 and m["join_count"] == 1
    assert m["kernel_drops"] == 0 and m["rcvbuf_bytes"] > 0
    c = ctx.metrics()
    assert c["total_packets_received"] == 3 and c["active_subscriptions"] == 1
    sub.remove()
    assert ctx.metrics()["total_packets_received"] == 3


def test_recv_batch_into_fills_the_callers_buffer(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.15", port)
    sub.join()
    for i in range(5):
        send(S_V4, "239.1.2.15", port, f"slot{i}")
    time.sleep(0.15)
    buf = bytearray(8 * 256)
    got = ctx.recv_batch_into(buf, slot_size=256)
    assert [bytes(p.payload) for p in got] == [f"slot{i}".encode() for i in range(5)]
    assert all(isinstance(p.payload, memoryview) for p in got)
    assert bytes(buf[:5]) in {f"slot{i}".encode() for i in range(5)}  # the data is in buf itself
    assert sub.recv_batch_into(buf, 256) == []
    with pytest.raises(ValueError):
        ctx.recv_batch_into(bytearray(10), slot_size=256)
    with pytest.raises(BufferError):
        ctx.recv_batch_into(b"read-only", slot_size=4)
