"""The Rust package's exception mapping, with the library's messages."""
import pytest

import mcrx_core


def test_config_errors_are_value_errors():
    ctx = mcrx_core.Context()
    with pytest.raises(ValueError, match="MCRX: group must be a multicast IP address"):
        ctx.add_subscription("198.51.100.1", 5000)
    with pytest.raises(ValueError, match="MCRX: invalid destination port"):
        ctx.add_subscription("239.1.2.3", 0)
    with pytest.raises(ValueError, match="SSM-range multicast groups require a source"):
        ctx.add_subscription("232.1.2.3", 5000)
    with pytest.raises(ValueError, match="invalid group IP address"):
        ctx.add_subscription("not-an-ip", 5000)
    with pytest.raises(ValueError, match="unknown interface name"):
        ctx.add_subscription("ff0e::1", 5000, interface="fe80::1%nosuch0")
    with pytest.raises(ValueError):
        ctx.add_subscription("239.1.2.3", 70000)
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.2.3")
    assert ctx.subscription_count() == 0


def test_removed_subscription_raises_lookup_error(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.20", port)
    assert ctx.get_subscription(sub.id).id == sub.id
    assert sub.remove() is True
    assert sub.remove() is False
    assert ctx.remove_subscription(sub.id) is False
    for call in (sub.join, sub.leave, sub.recv_nowait, sub.fileno, sub.state, sub.is_joined):
        with pytest.raises(LookupError, match="mcrx_core subscription not found"):
            call()
    with pytest.raises(LookupError):
        ctx.get_subscription(sub.id)


def test_state_errors_are_runtime_errors(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.21", port)
    with pytest.raises(RuntimeError, match="MCRX: subscription is not joined"):
        sub.leave()
    with pytest.raises(RuntimeError, match="not joined"):
        sub.recv_nowait()
    sub.join()
    with pytest.raises(RuntimeError, match="already joined"):
        sub.join()
    with pytest.raises(RuntimeError, match="duplicate subscription"):
        ctx.add_subscription("239.1.2.21", port)


def test_kernel_refusals_are_os_errors(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.2.22", port, interface="203.0.113.99")
    with pytest.raises(OSError) as info:
        sub.join()
    assert info.value.errno != 0
    assert "MCRX: failed to join multicast group" in str(info.value)
    assert sub.state() == "bound"
