"""asyncio integration: await a datagram, or get a callback per datagram.

AsyncSubscription wraps a Subscription; AsyncRawContext wraps a RawContext or
a SharedRawContext (whole IP datagrams, docs/raw.md).

On selector loops the subscription's socket (a raw context's readiness
descriptor) is watched with loop.add_reader;
loops without add_reader (the Windows proactor) fall back to a polling timer
over the same non-blocking receive calls.
"""
from __future__ import annotations

import asyncio
import math
import numbers
import os
from typing import Any, Callable, Optional

__all__ = ["AsyncRawContext", "AsyncSubscription", "ReaderHandle", "add_reader"]


def _check_interval(poll_interval: float) -> float:
    """A polling period in seconds: a positive finite number. Unlike a timeout
    it has no "forever": None, 0, inf and NaN would mean never polling or
    polling without pause."""
    if not isinstance(poll_interval, numbers.Real):
        raise TypeError(f"poll_interval must be a number of seconds, not {type(poll_interval).__name__}")
    try:
        value = float(poll_interval)
    except OverflowError:  # an int beyond a float: not finite either
        value = math.inf
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"poll_interval must be a positive finite number of seconds, got {poll_interval!r}")
    return value


def _has_reader(loop: asyncio.AbstractEventLoop, sub: Any) -> bool:
    return hasattr(loop, "add_reader") and hasattr(sub, "fileno")


class AsyncSubscription:
    """Awaitable receive over a Subscription (one consumer at a time)."""

    def __init__(self, subscription: Any, *, loop: Optional[asyncio.AbstractEventLoop] = None,
                 poll_interval: float = 0.01) -> None:
        self.subscription = subscription
        self._loop = loop
        self._poll_interval = _check_interval(poll_interval)

    async def recv(self) -> Any:
        return await self._recv(self.subscription.recv_nowait)

    async def recv_with_metadata(self) -> Any:
        return await self._recv(self.subscription.recv_with_metadata_nowait)

    async def recv_batch(self, max_packets: int = 64) -> list:
        """Waits for data, then returns everything available now (up to max_packets)."""
        return await self._recv(lambda: self.subscription.recv_batch(max_packets) or None)

    def add_reader(self, callback: Callable[[Any], Any], with_metadata: bool = False) -> "ReaderHandle":
        return add_reader(self.subscription, callback, with_metadata=with_metadata,
                          loop=self._loop, poll_interval=self._poll_interval)

    async def _recv(self, receive: Callable[[], Any]) -> Any:
        return await _recv_async(self._loop, self.subscription, receive, self._poll_interval)


class AsyncRawContext:
    """Awaitable receive over a RawContext or a SharedRawContext (one consumer at a time).

    recv() and recv_batch() return RawPackets; add_reader(callback) calls back
    per datagram. The context's readiness descriptor is what the loop watches,
    and the receive calls drain the library's queue before waiting again.
    """

    def __init__(self, context: Any, *, loop: Optional[asyncio.AbstractEventLoop] = None,
                 poll_interval: float = 0.01) -> None:
        if not (hasattr(context, "recv") and hasattr(context, "recv_batch")):
            raise TypeError(f"AsyncRawContext wraps a RawContext or SharedRawContext, not {type(context).__name__}")
        self.context = context
        self._loop = loop
        self._poll_interval = _check_interval(poll_interval)

    async def recv(self) -> Any:
        return await _recv_async(self._loop, self.context, self.context.recv, self._poll_interval)

    async def recv_batch(self, max_packets: int = 64) -> list:
        """Waits for data, then returns everything available now (up to max_packets)."""
        return await _recv_async(self._loop, self.context,
                                 lambda: self.context.recv_batch(max_packets) or None, self._poll_interval)

    def add_reader(self, callback: Callable[[Any], Any]) -> "ReaderHandle":
        """callback(raw_packet) for every datagram until the handle is closed."""
        loop = self._loop or asyncio.get_event_loop()
        return _reader(loop, self.context, self.context.recv, None, callback, self._poll_interval)


async def _recv_async(loop: Optional[asyncio.AbstractEventLoop], source: Any,
                      receive: Callable[[], Any], poll_interval: float) -> Any:
    loop = loop or asyncio.get_running_loop()
    while True:
        item = receive()  # LookupError once a subscription is removed
        if item is not None:
            return item
        if not _has_reader(loop, source):
            await asyncio.sleep(poll_interval)
            continue
        # A duplicate fd: the loop's registration must not outlive or
        # collide with the source's own descriptor.
        fd = os.dup(source.fileno())
        ready = loop.create_future()
        try:
            try:
                loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            except NotImplementedError:
                await asyncio.sleep(poll_interval)
                continue
            try:
                # Bounded wait, so a removal is noticed without traffic.
                await asyncio.wait({ready}, timeout=poll_interval * 10)
            finally:
                loop.remove_reader(fd)
        finally:
            os.close(fd)


class ReaderHandle:
    """Returned by add_reader: close() stops delivery (idempotent); also a context manager."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._closed = False
        self._fd: Optional[int] = None
        self._timer: Optional[asyncio.TimerHandle] = None

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._fd is not None:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ReaderHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def add_reader(subscription: Any, callback: Callable[[Any], Any], *, with_metadata: bool = False,
               loop: Optional[asyncio.AbstractEventLoop] = None, poll_interval: float = 0.01) -> ReaderHandle:
    """Calls callback(packet) for every datagram as it arrives, until the handle is closed.

    An awaitable returned by the callback is scheduled as a task. A removed
    subscription closes the handle; another exception from the callback goes
    to the loop's exception handler and closes the handle.
    """
    interval = _check_interval(poll_interval)
    loop = loop or asyncio.get_event_loop()
    receive = subscription.recv_with_metadata_nowait if with_metadata else subscription.recv_nowait
    return _reader(loop, subscription, receive, subscription.state, callback, interval)


def _reader(loop: asyncio.AbstractEventLoop, source: Any, receive: Callable[[], Any],
            alive: Optional[Callable[[], Any]], callback: Callable[[Any], Any],
            interval: float) -> ReaderHandle:
    """Delivers receive()'s items to callback on readiness of source.fileno();
    alive() raising LookupError (a removed subscription) closes the handle."""
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    handle = ReaderHandle(loop)

    def drain() -> None:
        while not handle.closed:
            try:
                item = receive()
            except LookupError:
                handle.close()
                return
            if item is None:
                return
            try:
                result = callback(item)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    asyncio.ensure_future(result, loop=loop)
            except Exception as exc:  # noqa: BLE001 - reported to the loop
                loop.call_exception_handler({"message": "mcrx_core reader callback failed",
                                             "exception": exc})
                handle.close()
                return

    def watch_removal() -> None:
        # Notices a removal while no traffic flows.
        if handle.closed:
            return
        try:
            if alive is not None:
                alive()
        except LookupError:
            handle.close()
            return
        handle._timer = loop.call_later(interval, watch_removal)

    def poll() -> None:
        if handle.closed:
            return
        drain()
        if not handle.closed:
            handle._timer = loop.call_later(interval, poll)

    try:
        if not _has_reader(loop, source):
            raise NotImplementedError
        handle._fd = os.dup(source.fileno())
        loop.add_reader(handle._fd, drain)
        if alive is not None:
            handle._timer = loop.call_later(interval, watch_removal)
    except (NotImplementedError, OSError):
        if handle._fd is not None:
            os.close(handle._fd)
            handle._fd = None
        handle._timer = loop.call_soon(poll)
    return handle
