"""mcrx_core: receive IPv4/IPv6 ASM and SSM UDP multicast (bindings of libmcrx-core).

    ctx = Context()
    sub = ctx.add_subscription("232.1.2.3", 5000, source="198.51.100.1")
    sub.join()
    packet = sub.recv_nowait()          # Packet or None, never blocks
    packets = ctx.recv_batch(64)        # many per call, one recvmmsg per turn
"""
from ._mcrx_core import (
    BATCH_MAX,
    Context,
    Packet,
    PacketWithMetadata,
    ReceiveMetadata,
    Subscription,
    __version__,
)
from .asyncio import AsyncSubscription, ReaderHandle, add_reader

__all__ = [
    "BATCH_MAX",
    "AsyncSubscription",
    "Context",
    "Packet",
    "PacketWithMetadata",
    "ReaderHandle",
    "ReceiveMetadata",
    "Subscription",
    "__version__",
    "add_reader",
]
