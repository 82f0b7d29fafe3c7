"""recv_batch_into(buffer, slot_size) over the buffer protocol: any writable,
C-contiguous buffer is taken as bytes whatever its item type or shape, slots
and payload views are counted in bytes, and read-only or non-contiguous
buffers are refused before anything is received."""
import array
import ctypes
import mmap
import time

import pytest

import mcrx_core
from conftest import S_V4

SLOT = 256
SLOTS = 8
SIZE = SLOT * SLOTS


def buffers():
    """(name, factory) for writable C-contiguous buffers of SIZE bytes."""
    return [
        ("bytearray", lambda: bytearray(SIZE)),
        ("array-B", lambda: array.array("B", bytes(SIZE))),
        ("array-i", lambda: array.array("i", bytes(SIZE))),
        ("array-d", lambda: array.array("d", bytes(SIZE))),
        ("memoryview-B", lambda: memoryview(bytearray(SIZE))),
        ("memoryview-cast-I", lambda: memoryview(bytearray(SIZE)).cast("I")),
        ("memoryview-cast-2d", lambda: memoryview(bytearray(SIZE)).cast("B", [SLOTS, SLOT])),
        ("memoryview-cast-2d-H", lambda: memoryview(bytearray(SIZE)).cast("H", [SLOTS, SLOT // 2])),
        ("ctypes-uint16", lambda: (ctypes.c_uint16 * (SIZE // 2))()),
        ("mmap", lambda: mmap.mmap(-1, SIZE)),
    ]


def as_bytes(buf):
    return memoryview(buf).cast("B")


@pytest.fixture
def queued(send, port):
    """A joined subscription with five datagrams of different sizes queued."""
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.7.1", port)
    sub.join()
    messages = [b"a", b"bb-", b"ccccc", b"d" * 100, b"e" * 7]
    for m in messages:
        send(S_V4, "239.1.7.1", port, m.decode())
    time.sleep(0.15)
    return ctx, sub, messages


@pytest.mark.parametrize("name,make", buffers(), ids=[n for n, _ in buffers()])
@pytest.mark.parametrize("on", ["context", "subscription"])
def test_any_writable_buffer_is_filled_in_bytes(queued, name, make, on):
    ctx, sub, messages = queued
    buf = make()
    receiver = ctx if on == "context" else sub
    got = receiver.recv_batch_into(buf, slot_size=SLOT)
    assert [bytes(p.payload) for p in got] == messages
    raw = as_bytes(buf)
    for i, p in enumerate(got):
        view = p.payload
        assert isinstance(view, memoryview)
        assert view.format == "B" and view.itemsize == 1 and view.ndim == 1
        assert len(view) == p.payload_len() == len(messages[i]) == p.wire_len
        assert not p.truncated
        # Slot i starts i * slot_size bytes into the buffer, whatever its item size.
        assert bytes(raw[i * SLOT:i * SLOT + len(messages[i])]) == messages[i]


def test_slot_arithmetic_is_in_bytes_for_wide_items(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.7.2", port)
    sub.join()
    for i in range(3):
        send(S_V4, "239.1.7.2", port, f"wide{i}" * 10)
    time.sleep(0.15)
    # 3 slots of 64 bytes in 48 four-byte items: exactly three slots, no more.
    buf = array.array("i", bytes(3 * 64))
    got = ctx.recv_batch_into(buf, 64)
    assert [bytes(p.payload) for p in got] == [(f"wide{i}" * 10).encode() for i in range(3)]
    assert [p.payload_len() for p in got] == [50, 50, 50]


def test_a_datagram_larger_than_its_slot_is_cut_and_flagged(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.7.3", port)
    sub.join()
    send(S_V4, "239.1.7.3", port, "0123456789abcdef")
    time.sleep(0.15)
    buf = array.array("I", bytes(16))  # 16 bytes = 2 slots of 8 bytes, 4 items
    (p,) = ctx.recv_batch_into(buf, 8)
    assert bytes(p.payload) == b"01234567" and p.truncated and p.wire_len == 16


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: b"\0" * SIZE, id="bytes"),
    pytest.param(lambda: memoryview(bytearray(SIZE)).toreadonly(), id="readonly-memoryview"),
    pytest.param(lambda: memoryview(bytearray(SIZE)).cast("I").toreadonly(), id="readonly-cast"),
    pytest.param(lambda: memoryview(bytearray(2 * SIZE))[::2], id="strided"),
    pytest.param(lambda: memoryview(array.array("i", bytes(2 * SIZE)))[::2], id="strided-i"),
    pytest.param(lambda: memoryview(bytearray(2 * SIZE)).cast("I")[::2], id="strided-cast-I"),
])
def test_read_only_and_non_contiguous_buffers_raise_and_receive_nothing(queued, bad):
    ctx, sub, messages = queued
    with pytest.raises(BufferError):
        ctx.recv_batch_into(bad(), SLOT)
    with pytest.raises(BufferError):
        sub.recv_batch_into(bad(), SLOT)
    # Nothing was taken from the socket by the refused calls.
    assert [p.payload for p in ctx.recv_batch(64)] == messages


@pytest.mark.parametrize("bad", [None, 42, "text", object(), [0] * 64])
def test_non_buffers_are_type_errors(port, bad):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.7.4", port)
    sub.join()
    with pytest.raises(TypeError):
        ctx.recv_batch_into(bad, 8)
    with pytest.raises(TypeError):
        sub.recv_batch_into(bad)


def test_buffer_smaller_than_one_slot_is_a_value_error(port):
    ctx = mcrx_core.Context()
    with pytest.raises(ValueError, match="smaller than one slot"):
        ctx.recv_batch_into(array.array("i", [0]), 8)  # 4 bytes, one item
    with pytest.raises(ValueError, match="smaller than one slot"):
        ctx.recv_batch_into(bytearray(0), 1)


def test_payload_views_pin_the_buffer(queued):
    ctx, sub, messages = queued
    buf = bytearray(SIZE)
    got = ctx.recv_batch_into(buf, SLOT)
    assert got
    with pytest.raises(BufferError):
        buf.extend(b"resizing would free the memory the views show")
    del got
    buf.extend(b"fine once the views are gone")
