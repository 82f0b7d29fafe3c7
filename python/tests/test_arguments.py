"""Arguments: an integer outside its C field's range raises ValueError naming
the parameter, its range and the value (never wrapped, masked or clamped);
a wrong type or None where a value is required raises TypeError; nothing
crashes, and a receive re-entered while one is in progress is refused."""
import gc
import time

import pytest

import mcrx_core
from conftest import S_V4

U64_MAX = 2 ** 64 - 1


def test_rcvbuf_must_fit_the_configs_uint32(port):
    ctx = mcrx_core.Context()
    for bad in (-1, -(2 ** 70), 2 ** 32, 2 ** 64, 2 ** 70):
        with pytest.raises(ValueError, match=r"rcvbuf must be between 0 and 4294967295, got -?\d+"):
            ctx.add_subscription("239.1.8.1", port, rcvbuf=bad)
    for bad in (1.5, "1024", None, b"1"):
        with pytest.raises(TypeError, match="rcvbuf"):
            ctx.add_subscription("239.1.8.1", port, rcvbuf=bad)
    assert ctx.subscription_count() == 0
    sub = ctx.add_subscription("239.1.8.1", port, rcvbuf=2 ** 32 - 1)  # the largest; the kernel clamps
    assert sub.rcvbuf() > 0
    assert ctx.add_subscription("239.1.8.2", port, rcvbuf=0).rcvbuf() > 0  # 0 = kernel default


def test_dst_port_must_fit_a_uint16(port):
    ctx = mcrx_core.Context()
    for bad in (-1, 65536, 2 ** 31, 2 ** 70, -(2 ** 70)):
        with pytest.raises(ValueError, match=r"dst_port must be between 0 and 65535, got -?\d+"):
            ctx.add_subscription("239.1.8.3", bad)
    for bad in (None, "5000", 5000.0):
        with pytest.raises(TypeError, match="dst_port"):
            ctx.add_subscription("239.1.8.3", bad)
    assert ctx.subscription_count() == 0
    assert ctx.add_subscription("239.1.8.3", dst_port=port).dst_port == port


def test_addresses_must_be_text(port):
    ctx = mcrx_core.Context()
    with pytest.raises(TypeError):
        ctx.add_subscription(None, port)
    with pytest.raises(TypeError):
        ctx.add_subscription(b"239.1.8.4", port)
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.8.4", port, source=5)
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.8.4", port, interface=object())
    with pytest.raises(ValueError):
        ctx.add_subscription("239.1.8.4\0junk", port)
    assert ctx.subscription_count() == 0


def receivers(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.8.5", port)
    sub.join()
    return [ctx.recv_batch, ctx.recv_batch_with_metadata, sub.recv_batch, sub.recv_batch_with_metadata]


def test_max_packets_range_type_and_keyword(port):
    for call in receivers(port):
        for bad in (0, -1, mcrx_core.BATCH_MAX + 1, 2 ** 63, 2 ** 70, -(2 ** 70)):
            with pytest.raises(ValueError, match=rf"max_packets must be between 1 and {mcrx_core.BATCH_MAX}"):
                call(bad)
        for bad in (None, 1.0, "3"):
            with pytest.raises(TypeError, match="max_packets"):
                call(bad)
        with pytest.raises(TypeError):
            call(1, 2)
        with pytest.raises(TypeError):
            call(max_packet=1)
        with pytest.raises(TypeError):
            call(1, max_packets=1)
        assert call(max_packets=2) == []
        assert call(mcrx_core.BATCH_MAX) == []
        assert call() == []


def test_slot_size_range_and_type(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.8.6", port)
    sub.join()
    buf = bytearray(1 << 17)
    for call in (ctx.recv_batch_into, sub.recv_batch_into):
        for bad in (0, -1, 65536, 2 ** 63, 2 ** 70, -(2 ** 70)):
            with pytest.raises(ValueError, match=r"slot_size must be between 1 and 65535, got -?\d+"):
                call(buf, bad)
        for bad in (None, 2.0, "8"):
            with pytest.raises(TypeError, match="slot_size"):
                call(buf, slot_size=bad)
        assert call(buf, slot_size=65535) == []
        assert call(buffer=buf) == []


def test_subscription_ids_must_fit_a_uint64(port):
    ctx = mcrx_core.Context()
    for call in (ctx.get_subscription, ctx.remove_subscription):
        for bad in (-1, 2 ** 64, 2 ** 70, -(2 ** 70)):
            with pytest.raises(ValueError, match=r"subscription id must be between 0 and 18446744073709551615"):
                call(bad)
        for bad in (None, "1", 1.0):
            with pytest.raises(TypeError, match="subscription id"):
                call(bad)
    with pytest.raises(LookupError):
        ctx.get_subscription(U64_MAX)
    assert ctx.remove_subscription(U64_MAX) is False
    sub = ctx.add_subscription("239.1.8.7", port)
    assert ctx.get_subscription(sub.id).id == sub.id


def test_objects_cannot_be_made_or_extended_from_python():
    for cls in (mcrx_core.Packet, mcrx_core.PacketWithMetadata, mcrx_core.ReceiveMetadata,
                mcrx_core.Subscription):
        with pytest.raises(TypeError):
            cls()
    with pytest.raises(TypeError):
        mcrx_core.Context(1)
    with pytest.raises(TypeError):
        mcrx_core.Context(x=1)


def test_a_released_payload_view_breaks_nothing(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.8.8", port)
    sub.join()
    send(S_V4, "239.1.8.8", port, "release-me")
    time.sleep(0.15)
    (p,) = ctx.recv_batch_into(bytearray(4096), 2048)
    p.payload.release()
    assert p.payload_len() == 10
    assert "payload_len=10" in repr(p)


def test_a_subscription_outlives_its_dropped_context(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.8.9", port)
    del ctx
    gc.collect()
    sub.join()  # the handle keeps its context alive
    assert sub.is_joined()
    assert sub.remove() is True
    with pytest.raises(LookupError):
        sub.join()


def test_a_receive_reentered_from_a_finalizer_cannot_corrupt_the_outer_one(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.8.10", port)
    sub.join()
    messages = [f"outer{i}".encode() for i in range(4)]
    for m in messages:
        send(S_V4, "239.1.8.10", port, m.decode())
    time.sleep(0.15)
    inner = []

    class Reenter:
        def __del__(self):
            try:
                inner.append(ctx.recv_batch(mcrx_core.BATCH_MAX))
            except RuntimeError as exc:
                inner.append(exc)

    old = gc.get_threshold()
    gc.disable()
    try:
        a = Reenter()
        a.cycle = a
        del a
        # Empty the list free list, so building the result list allocates a
        # new one and (on CPython before 3.12) runs a collection right there,
        # between the receive and the copies.
        keep = [[] for _ in range(200)]
        gc.set_threshold(1)
        gc.enable()
        got = ctx.recv_batch(8)
    finally:
        gc.set_threshold(*old)
        gc.enable()
    del keep
    gc.collect()
    assert [p.payload for p in got] == messages
    assert len(inner) == 1
    assert isinstance(inner[0], RuntimeError) or inner[0] == []
    if isinstance(inner[0], RuntimeError):
        assert "already receiving" in str(inner[0])
