"""Source filters (RFC 3678): include= / exclude= lists at add time, changed
with set_sources while joined, the filter in force read back, errors."""
import select
import time

import pytest

import mcrx_core
from conftest import S_V4, S_V4_OTHER, S_V6, S_V6_OTHER


def drain(sub, settle=0.3):
    """Every datagram that arrives until settle seconds pass without one."""
    got = []
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        p = sub.recv_nowait()
        if p is None:
            select.select([sub.fileno()], [], [], max(0.0, deadline - time.monotonic()))
            continue
        got.append(p.source_addr)
        deadline = time.monotonic() + settle
    return got


@pytest.mark.parametrize("group,a,b", [
    ("239.1.9.1", S_V4, S_V4_OTHER),
    ("ff0e::8000:91", S_V6, S_V6_OTHER),
])
def test_include_exclude_and_changes_by_source(send, port, group, a, b):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription(group, port, exclude=[a])
    assert sub.source_filter == ("exclude", [a])
    assert sub.join_mode == "asm"
    sub.join()
    send(a, group, port, "a", 5)
    send(b, group, port, "b", 5)
    assert drain(sub) == [b] * 5
    sub.set_sources(include=[b, a, b])  # repeats dropped, sorted
    assert sub.source_filter == ("include", sorted([a, b]))
    send(a, group, port, "a", 3)
    send(b, group, port, "b", 3)
    assert sorted(drain(sub)) == sorted([a] * 3 + [b] * 3)
    ctx.set_sources(sub.id, include=[a])
    send(b, group, port, "b", 3)
    send(a, group, port, "a", 3)
    assert drain(sub) == [a] * 3
    sub.set_sources()  # any source
    assert sub.source_filter == ("exclude", [])
    send(b, group, port, "b", 2)
    assert drain(sub) == [b] * 2


def test_ssm_group_with_two_sources(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("232.1.9.2", port, sources=[S_V4_OTHER, S_V4])
    assert sub.join_mode == "ssm"
    sub.join()
    send(S_V4, "232.1.9.2", port, "x", 2)
    send(S_V4_OTHER, "232.1.9.2", port, "y", 2)
    assert sorted(drain(sub)) == sorted([S_V4] * 2 + [S_V4_OTHER] * 2)


def test_filter_errors(port):
    ctx = mcrx_core.Context()
    with pytest.raises(mcrx_core.InvalidSourceFilterError):
        ctx.add_subscription("239.1.9.3", port, sources=[S_V4], exclude=[S_V4_OTHER])
    with pytest.raises(mcrx_core.InvalidSourceFilterError):
        ctx.add_subscription("239.1.9.3", port, sources=[])
    with pytest.raises(mcrx_core.InvalidSourceFilterError):
        ctx.add_subscription("232.1.9.3", port, S_V4, sources=[S_V4_OTHER])
    with pytest.raises(mcrx_core.SsmGroupRequiresSourceError):
        ctx.add_subscription("232.1.9.3", port, exclude=[S_V4])
    with pytest.raises(mcrx_core.SourceAddressFamilyMismatchError):
        ctx.add_subscription("239.1.9.3", port, exclude=[S_V6])
    with pytest.raises(mcrx_core.InvalidAddressError):
        ctx.add_subscription("239.1.9.3", port, exclude=["not an address"])
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.9.3", port, exclude=S_V4)  # one string, not a list
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.9.3", port, exclude=[7])
    sub = ctx.add_subscription("232.1.9.3", port, S_V4)
    assert sub.source_filter == ("include", [S_V4])
    with pytest.raises(mcrx_core.DuplicateSubscriptionError):  # S is INCLUDE{S}
        ctx.add_subscription("232.1.9.3", port, sources=[S_V4])
    with pytest.raises(mcrx_core.SsmGroupRequiresSourceError):
        sub.set_sources()
    assert sub.source_filter == ("include", [S_V4])  # unchanged
    with pytest.raises(mcrx_core.SubscriptionNotFoundError):
        ctx.set_sources(sub.id + 100, include=[S_V4])
    with pytest.raises(TypeError):
        ctx.set_sources(sub.id, [S_V4])
