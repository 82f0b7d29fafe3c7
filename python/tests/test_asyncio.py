"""asyncio: awaiting datagrams, add_reader delivery and closing, removal while
waiting, and the polling fallback for loops without add_reader."""
import asyncio
import sys
import threading
import time

import pytest

import mcrx_core
from conftest import S_V4


def joined(port, group="239.1.3.1"):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription(group, port)
    sub.join()
    return ctx, sub


def later(delay, fn, *args):
    t = threading.Timer(delay, fn, args)
    t.start()
    return t


def test_async_recv_and_recv_with_metadata(send, port):
    ctx, sub = joined(port)

    async def main():
        asub = mcrx_core.AsyncSubscription(sub)
        later(0.1, send, S_V4, "239.1.3.1", port, "first")
        p = await asyncio.wait_for(asub.recv(), 3)
        later(0.1, send, S_V4, "239.1.3.1", port, "second")
        pm = await asyncio.wait_for(asub.recv_with_metadata(), 3)
        later(0.1, send, S_V4, "239.1.3.1", port, "third", 3)
        batch = await asyncio.wait_for(asub.recv_batch(64), 3)
        return p, pm, batch

    p, pm, batch = asyncio.run(main())
    assert p.payload == b"first"
    assert pm.packet.payload == b"second" and pm.metadata.destination_local_ip == "239.1.3.1"
    assert 1 <= len(batch) <= 3 and all(b.payload == b"third" for b in batch)


def test_poll_interval_is_validated(port):
    ctx, sub = joined(port)
    for bad in (0, -1, -0.0, float("inf"), float("-inf"), float("nan"), 10 ** 400):
        with pytest.raises(ValueError, match="poll_interval must be a positive finite number of seconds"):
            mcrx_core.AsyncSubscription(sub, poll_interval=bad)
        with pytest.raises(ValueError, match="poll_interval"):
            mcrx_core.add_reader(sub, print, poll_interval=bad)
    for bad in (None, "0.1", b"1", [0.1]):
        with pytest.raises(TypeError, match="poll_interval"):
            mcrx_core.AsyncSubscription(sub, poll_interval=bad)
        with pytest.raises(TypeError, match="poll_interval"):
            mcrx_core.add_reader(sub, print, poll_interval=bad)


def test_huge_poll_intervals_do_not_overflow_the_wait(send, port):
    ctx, sub = joined(port, "239.1.3.6")

    async def main():
        asub = mcrx_core.AsyncSubscription(sub, poll_interval=sys.float_info.max)
        later(0.1, send, S_V4, "239.1.3.6", port, "huge")
        return await asyncio.wait_for(asub.recv(), 3)

    assert asyncio.run(main()).payload == b"huge"


def test_add_reader_needs_a_callable(port):
    ctx, sub = joined(port, "239.1.3.7")

    async def main():
        for bad in (None, 42, "print"):
            with pytest.raises(TypeError, match="callback must be callable"):
                mcrx_core.add_reader(sub, bad)

    asyncio.run(main())


def test_add_reader_delivers_then_closes_idempotently(send, port):
    ctx, sub = joined(port, "239.1.3.2")

    async def main():
        got = []
        done = asyncio.Event()

        def on_packet(p):
            got.append(p.payload)
            if len(got) == 3:
                done.set()

        with mcrx_core.add_reader(sub, on_packet) as handle:
            later(0.1, send, S_V4, "239.1.3.2", port, "r", 3)
            await asyncio.wait_for(done.wait(), 3)
            assert not handle.closed
        assert handle.closed
        handle.close()  # idempotent
        send(S_V4, "239.1.3.2", port, "after-close")
        await asyncio.sleep(0.2)
        return got

    assert asyncio.run(main()) == [b"r", b"r", b"r"]
    assert sub.recv_nowait().payload == b"after-close"  # left for the owner, not consumed


def test_add_reader_with_metadata_and_async_callbacks(send, port):
    ctx, sub = joined(port, "239.1.3.3")

    async def main():
        done = asyncio.Event()
        seen = []

        async def on_packet(pm):
            seen.append(pm.metadata.destination_local_ip)
            done.set()

        handle = mcrx_core.add_reader(sub, on_packet, with_metadata=True)
        later(0.1, send, S_V4, "239.1.3.3", port, "m")
        await asyncio.wait_for(done.wait(), 3)
        handle.close()
        return seen

    assert asyncio.run(main()) == ["239.1.3.3"]


def test_removal_while_waiting(port):
    ctx, sub = joined(port, "239.1.3.4")

    async def main():
        handle = mcrx_core.add_reader(sub, lambda p: None)
        asub = mcrx_core.AsyncSubscription(sub)
        waiter = asyncio.ensure_future(asub.recv())
        await asyncio.sleep(0.05)
        ctx.remove_subscription(sub.id)
        with pytest.raises(LookupError):
            await asyncio.wait_for(waiter, 3)
        deadline = time.monotonic() + 3
        while not handle.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return handle.closed

    assert asyncio.run(main()) is True


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop without add_reader, like Windows' proactor."""

    def add_reader(self, *args, **kwargs):
        raise NotImplementedError


def test_polling_fallback_without_add_reader(send, port):
    ctx, sub = joined(port, "239.1.3.5")
    loop = NoReaderLoop()
    try:
        got = []
        done = asyncio.Event()

        def on_packet(p):
            got.append(p.payload)
            done.set()

        async def main():
            handle = mcrx_core.add_reader(sub, on_packet, loop=loop, poll_interval=0.005)
            later(0.1, send, S_V4, "239.1.3.5", port, "polled")
            await asyncio.wait_for(done.wait(), 3)
            handle.close()
            asub = mcrx_core.AsyncSubscription(sub, loop=loop, poll_interval=0.005)
            later(0.1, send, S_V4, "239.1.3.5", port, "awaited")
            return await asyncio.wait_for(asub.recv(), 3)

        p = loop.run_until_complete(main())
        assert got == [b"polled"] and p.payload == b"awaited"
    finally:
        loop.close()


def test_async_raw_context_recv_and_batch(send, port):
    ctx = mcrx_core.RawContext()
    sid = ctx.add("239.1.3.20")
    ctx.join(sid)

    async def main():
        actx = mcrx_core.AsyncRawContext(ctx)
        later(0.1, send, S_V4, "239.1.3.20", port, "raw-one")
        p = await asyncio.wait_for(actx.recv(), 3)
        later(0.1, send, S_V4, "239.1.3.20", port, "raw-many", 3)
        batch = await asyncio.wait_for(actx.recv_batch(64), 3)
        return p, batch

    p, batch = asyncio.run(main())
    assert isinstance(p, mcrx_core.RawPacket) and p.data.endswith(b"raw-one") and p.subscription_id == sid
    assert 1 <= len(batch) <= 3 and all(b.data.endswith(b"raw-many") for b in batch)


def test_async_shared_raw_reader_and_recv(send, port):
    sh = mcrx_core.SharedRawContext()
    ids = [sh.add("239.1.3.21"), sh.add("239.1.3.21")]
    for i in ids:
        sh.join(i)
    got = []

    async def main():
        actx = mcrx_core.AsyncRawContext(sh)
        later(0.1, send, S_V4, "239.1.3.21", port, "shared-await")
        first = await asyncio.wait_for(actx.recv(), 3)
        done = asyncio.get_running_loop().create_future()

        def on_packet(p):
            got.append(p)
            if len(got) == 3 and not done.done():
                done.set_result(None)

        with actx.add_reader(on_packet) as handle:
            later(0.1, send, S_V4, "239.1.3.21", port, "shared-reader", 3)
            await asyncio.wait_for(done, 3)
        assert handle.closed
        return first

    first = asyncio.run(main())
    assert first.data.endswith(b"shared-await") and first.matching_subscription_ids == tuple(ids)
    assert [p.matching_subscription_ids for p in got] == [tuple(ids)] * 3
    assert all(p.data.endswith(b"shared-reader") for p in got)


def test_async_raw_context_needs_a_raw_context():
    with pytest.raises(TypeError, match="RawContext or SharedRawContext"):
        mcrx_core.AsyncRawContext(object())
