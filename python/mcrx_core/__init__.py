"""mcrx_core: receive IPv4/IPv6 ASM and SSM UDP multicast (bindings of libmcrx-core).

    ctx = Context()
    sub = ctx.add_subscription("232.1.2.3", 5000, source="198.51.100.1")
    sub.join()
    packet = sub.recv_nowait()          # Packet or None, never blocks
    packets = ctx.recv_batch(64)        # many per call, one recvmmsg per turn

Every failure the library reports raises a subclass of McrxError, one per
kind, that is also the built-in exception the Rust package raises for it:

    try:
        sub.join()
    except SubscriptionAlreadyJoinedError:  # also a RuntimeError
        pass
    except McrxError as e:
        print(e.kind, e)  # MULTICAST_JOIN_FAILED MCRX: failed to join multicast group: ...
"""
from ._mcrx_core import (
    BATCH_MAX,
    AlreadyRunningError,
    BusyError,
    Context,
    DuplicateSubscriptionError,
    ExistingSocketAddressFamilyMismatchError,
    ExistingSocketPortMismatchError,
    InterfaceAddressFamilyMismatchError,
    InterfaceDiscoveryFailedError,
    InterfaceIndexRequiresIpv6Error,
    InvalidAddressError,
    InvalidArgumentError,
    InvalidDestinationPortError,
    InvalidInterfaceError,
    InvalidInterfaceIndexError,
    InvalidIpv4SsmGroupError,
    InvalidIpv6SsmGroupError,
    InvalidMulticastGroupError,
    InvalidSharedRawCaptureLimitsError,
    InvalidSourceAddressError,
    IoFailedError,
    Ipv6SsmRequiresInterfaceError,
    McrxError,
    MulticastJoinFailedError,
    MulticastLeaveFailedError,
    NonIpSocketAddressError,
    NotSupportedError,
    OutOfMemoryError,
    Packet,
    PacketWithMetadata,
    RawSocketBindFailedError,
    RawSocketCreateFailedError,
    ReceiveFailedError,
    ReceiveMetadata,
    SharedRawCaptureSubscriptionLimitExceededError,
    SocketBindFailedError,
    SocketCreateFailedError,
    SocketLocalAddrFailedError,
    SocketOptionFailedError,
    SourceAddressFamilyMismatchError,
    SourceSpecificMulticastUnsupportedError,
    SsmGroupRequiresSourceError,
    Subscription,
    SubscriptionAlreadyJoinedError,
    SubscriptionNotFoundError,
    SubscriptionNotJoinedError,
    __version__,
)
from .asyncio import AsyncSubscription, ReaderHandle, add_reader

__all__ = [
    "BATCH_MAX",
    "AlreadyRunningError",
    "AsyncSubscription",
    "BusyError",
    "Context",
    "DuplicateSubscriptionError",
    "ExistingSocketAddressFamilyMismatchError",
    "ExistingSocketPortMismatchError",
    "InterfaceAddressFamilyMismatchError",
    "InterfaceDiscoveryFailedError",
    "InterfaceIndexRequiresIpv6Error",
    "InvalidAddressError",
    "InvalidArgumentError",
    "InvalidDestinationPortError",
    "InvalidInterfaceError",
    "InvalidInterfaceIndexError",
    "InvalidIpv4SsmGroupError",
    "InvalidIpv6SsmGroupError",
    "InvalidMulticastGroupError",
    "InvalidSharedRawCaptureLimitsError",
    "InvalidSourceAddressError",
    "IoFailedError",
    "Ipv6SsmRequiresInterfaceError",
    "McrxError",
    "MulticastJoinFailedError",
    "MulticastLeaveFailedError",
    "NonIpSocketAddressError",
    "NotSupportedError",
    "OutOfMemoryError",
    "Packet",
    "PacketWithMetadata",
    "RawSocketBindFailedError",
    "RawSocketCreateFailedError",
    "ReaderHandle",
    "ReceiveFailedError",
    "ReceiveMetadata",
    "SharedRawCaptureSubscriptionLimitExceededError",
    "SocketBindFailedError",
    "SocketCreateFailedError",
    "SocketLocalAddrFailedError",
    "SocketOptionFailedError",
    "SourceAddressFamilyMismatchError",
    "SourceSpecificMulticastUnsupportedError",
    "SsmGroupRequiresSourceError",
    "Subscription",
    "SubscriptionAlreadyJoinedError",
    "SubscriptionNotFoundError",
    "SubscriptionNotJoinedError",
    "__version__",
    "add_reader",
]
