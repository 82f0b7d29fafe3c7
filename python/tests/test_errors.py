"""The Rust package's exception mapping, with the library's messages; and
the precise kind: one class per kind of the C header, each a McrxError and
the built-in class of that mapping, raised for real where Python can."""
import copy
import errno
import gc
import os
import pathlib
import pickle
import re
import resource
import socket
import time

import pytest

import mcrx_core
from conftest import S_V4


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


# ---- the precise kind: one class per kind, also the seed's built-in class ----

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The Rust package's mapping of each kind that is not a RuntimeError.
SEED_BUILTIN = {
    "INVALID_DESTINATION_PORT": ValueError,
    "INVALID_MULTICAST_GROUP": ValueError,
    "SSM_GROUP_REQUIRES_SOURCE": ValueError,
    "INVALID_SOURCE_ADDRESS": ValueError,
    "SOURCE_ADDRESS_FAMILY_MISMATCH": ValueError,
    "INVALID_IPV4_SSM_GROUP": ValueError,
    "INVALID_IPV6_SSM_GROUP": ValueError,
    "INTERFACE_ADDRESS_FAMILY_MISMATCH": ValueError,
    "INVALID_INTERFACE_INDEX": ValueError,
    "INTERFACE_INDEX_REQUIRES_IPV6": ValueError,
    "IPV6_SSM_REQUIRES_INTERFACE": ValueError,
    "INVALID_ARGUMENT": ValueError,
    "INVALID_ADDRESS": ValueError,
    "INVALID_INTERFACE": ValueError,
    "SUBSCRIPTION_NOT_FOUND": LookupError,
    "SOCKET_CREATE_FAILED": OSError,
    "SOCKET_OPTION_FAILED": OSError,
    "SOCKET_BIND_FAILED": OSError,
    "SOCKET_LOCAL_ADDR_FAILED": OSError,
    "MULTICAST_JOIN_FAILED": OSError,
    "MULTICAST_LEAVE_FAILED": OSError,
    "RECEIVE_FAILED": OSError,
    "IO_FAILED": OSError,
    "RAW_SOCKET_CREATE_FAILED": OSError,
    "RAW_SOCKET_BIND_FAILED": OSError,
    "INTERFACE_DISCOVERY_FAILED": (OSError, RuntimeError),
    "OUT_OF_MEMORY": MemoryError,
    # Ours, beyond the Rust package: a bad source list is a config error, the
    # kernel's membership limit an OS one.
    "INVALID_SOURCE_FILTER": ValueError,
    "MEMBERSHIP_LIMIT_EXCEEDED": OSError,
}


def header_kinds():
    """(name, code) of every kind, in the order of MCRX_ERROR_MAP."""
    text = (ROOT / "include" / "mcrx" / "mcrx.h").read_text()
    block = text[text.index("#define MCRX_ERROR_MAP(X)"):text.index("typedef enum McrxError")]
    return [(name, code) for code, name in enumerate(re.findall(r"X\((\w+),", block))]


def class_name(kind):
    return "".join(part.capitalize() for part in kind.split("_")) + "Error"


def builtins_of(kind):
    b = SEED_BUILTIN.get(kind, RuntimeError)
    return b if isinstance(b, tuple) else (b,)


def test_every_kind_of_the_header_has_its_class_exported_and_stubbed():
    kinds = header_kinds()
    assert kinds[0] == ("NONE", 0) and len(kinds) > 30
    stub = (pathlib.Path(mcrx_core.__file__).parent / "_mcrx_core.pyi").read_text()
    made = {c for c in vars(mcrx_core._mcrx_core).values()
            if isinstance(c, type) and issubclass(c, mcrx_core.McrxError) and c is not mcrx_core.McrxError}
    assert {c.kind for c in made} == {name for name, _ in kinds[1:]}
    for name, code in kinds[1:]:
        cls = getattr(mcrx_core, class_name(name))
        assert cls in made
        assert (cls.kind, cls.code) == (name, code)
        assert cls.__module__ == "mcrx_core" and cls.__name__ == class_name(name)
        assert class_name(name) in mcrx_core.__all__
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        assert f"class {cls.__name__}({bases}): ..." in stub
    assert "McrxError" in mcrx_core.__all__
    assert not hasattr(mcrx_core, "NoneError")


def test_each_class_is_a_mcrx_error_and_the_seeds_builtin_class():
    for name, _ in header_kinds()[1:]:
        cls = getattr(mcrx_core, class_name(name))
        assert cls.__bases__ == (mcrx_core.McrxError, *builtins_of(name)), name
        assert issubclass(cls, Exception)
    assert mcrx_core.McrxError.__bases__ == (Exception,)


def test_errors_survive_pickle_and_copy_with_kind_message_and_errno():
    for name, code in header_kinds()[1:]:
        cls = getattr(mcrx_core, class_name(name))
        args = (errno.EBADF, f"MCRX: {name}") if issubclass(cls, OSError) else (f"MCRX: {name}",)
        e = cls(*args)
        for back in (pickle.loads(pickle.dumps(e)), copy.copy(e)):
            assert type(back) is cls
            assert back.args == args
            assert (back.kind, back.code) == (name, code)
            assert str(back) == f"MCRX: {name}"
            if issubclass(cls, OSError):
                assert (back.errno, back.strerror) == (errno.EBADF, f"MCRX: {name}")


def check(info, cls, os_errno=None):
    """The raised exception: its precise class, the seed's built-in class,
    kind, code, and a message for people."""
    e = info.value
    assert type(e) is cls
    assert isinstance(e, mcrx_core.McrxError)
    for builtin in builtins_of(cls.kind):
        assert isinstance(e, builtin)
    assert e.kind == cls.kind and e.code == cls.code
    assert str(e).startswith("MCRX: ")
    assert e.args[-1] == str(e)
    if isinstance(e, OSError):
        assert e.errno == os_errno
        assert e.strerror == (str(e) if os_errno is not None else None)
    return e


def test_invalid_configs_raise_their_kind():
    ctx = mcrx_core.Context()
    cases = [
        (("239.1.2.3", 0), {}, mcrx_core.InvalidDestinationPortError),
        (("198.51.100.1", 5000), {}, mcrx_core.InvalidMulticastGroupError),
        (("232.1.2.3", 5000), {}, mcrx_core.SsmGroupRequiresSourceError),
        (("232.1.2.3", 5000), {"source": "239.1.1.1"}, mcrx_core.InvalidSourceAddressError),
        (("232.1.2.3", 5000), {"source": "2001:db8::1"}, mcrx_core.SourceAddressFamilyMismatchError),
        (("239.1.2.3", 5000), {"source": "198.51.100.1"}, mcrx_core.InvalidIpv4SsmGroupError),
        (("ff0e::1", 5000), {"source": "2001:db8:1::1"}, mcrx_core.InvalidIpv6SsmGroupError),
        (("239.1.2.3", 5000), {"interface": "2001:db8:1::2"}, mcrx_core.InterfaceAddressFamilyMismatchError),
        (("ff0e::1", 5000), {"interface": "0"}, mcrx_core.InvalidInterfaceIndexError),
        (("not-an-ip", 5000), {}, mcrx_core.InvalidAddressError),
        (("232.1.2.3", 5000), {"source": "nope"}, mcrx_core.InvalidAddressError),
        (("239.1.2.3", 5000), {"interface": "7"}, mcrx_core.InvalidInterfaceError),
        (("ff0e::1", 5000), {"interface": "fe80::1%nosuch0"}, mcrx_core.InvalidInterfaceError),
        (("ff0e::1", 5000), {"interface": "fe80::1%0"}, mcrx_core.InvalidInterfaceError),
    ]
    for args, kw, cls in cases:
        with pytest.raises(cls) as info:
            ctx.add_subscription(*args, **kw)
        check(info, cls)
    assert ctx.subscription_count() == 0


def test_python_argument_checks_stay_plain_builtin_errors():
    ctx = mcrx_core.Context()
    with pytest.raises(ValueError) as info:
        ctx.add_subscription("239.1.2.3", 70000)
    assert not isinstance(info.value, mcrx_core.McrxError)
    with pytest.raises(TypeError) as info:
        ctx.add_subscription("239.1.2.3", None)
    assert not isinstance(info.value, mcrx_core.McrxError)


def test_a_missing_subscription_is_a_lookup_error_naming_the_id(port):
    ctx = mcrx_core.Context()
    with pytest.raises(mcrx_core.SubscriptionNotFoundError) as info:
        ctx.get_subscription(12345)
    e = check(info, mcrx_core.SubscriptionNotFoundError)
    assert str(e) == "MCRX: mcrx_core subscription not found: id 12345"
    assert not isinstance(e, KeyError)  # so str() is the message, not its repr
    sub = ctx.add_subscription("239.1.3.1", port)
    sub.remove()
    for call in (sub.join, sub.leave, sub.recv_nowait, sub.state, lambda: sub.group):
        with pytest.raises(mcrx_core.SubscriptionNotFoundError) as info:
            call()
        assert str(check(info, mcrx_core.SubscriptionNotFoundError)).endswith(f": id {sub.id}")


def test_state_errors_raise_their_kind(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.3.2", port)
    with pytest.raises(mcrx_core.DuplicateSubscriptionError) as info:
        ctx.add_subscription("239.1.3.2", port)
    check(info, mcrx_core.DuplicateSubscriptionError)
    for call in (sub.leave, sub.recv_nowait, sub.recv_batch):
        with pytest.raises(mcrx_core.SubscriptionNotJoinedError) as info:
            call()
        check(info, mcrx_core.SubscriptionNotJoinedError)
    sub.join()
    with pytest.raises(mcrx_core.SubscriptionAlreadyJoinedError) as info:
        sub.join()
    check(info, mcrx_core.SubscriptionAlreadyJoinedError)


def test_a_join_the_kernel_refuses_carries_its_errno(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.3.3", port, interface="203.0.113.99")
    with pytest.raises(mcrx_core.MulticastJoinFailedError) as info:
        sub.join()
    e = check(info, mcrx_core.MulticastJoinFailedError, errno.ENODEV)
    assert not str(e).startswith("[Errno")
    assert sub.state() == "bound"


def test_an_unknown_interface_is_both_os_and_runtime_error(port):
    ctx = mcrx_core.Context()
    with pytest.raises(mcrx_core.InterfaceDiscoveryFailedError) as info:
        ctx.add_subscription("ff0e::1", port, interface="99")  # no interface has index 99
    check(info, mcrx_core.InterfaceDiscoveryFailedError, errno.ENXIO)
    with pytest.raises(mcrx_core.InterfaceDiscoveryFailedError) as info:
        ctx.add_subscription("ff0e::1", port, interface="2001:db8:99::1")  # no system call failed
    check(info, mcrx_core.InterfaceDiscoveryFailedError)


def test_a_port_held_without_reuse_is_a_bind_failure(port):
    ctx = mcrx_core.Context()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("239.1.3.4", port))
        with pytest.raises(mcrx_core.SocketBindFailedError) as info:
            ctx.add_subscription("239.1.3.4", port)
    check(info, mcrx_core.SocketBindFailedError, errno.EADDRINUSE)


def test_no_free_descriptor_is_a_socket_create_failure(port):
    ctx = mcrx_core.Context()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest_free = os.dup(0)
    os.close(lowest_free)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        with pytest.raises(mcrx_core.SocketCreateFailedError) as info:
            ctx.add_subscription("239.1.3.5", port)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "RLIMIT_NOFILE" in str(check(info, mcrx_core.SocketCreateFailedError, errno.EMFILE))


def replace_socket(sub):
    """Puts a non-socket on the subscription's descriptor behind the
    library's back (the number stays taken, so nothing else gets it)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, sub.fileno())
    os.close(null)


def test_a_socket_replaced_behind_the_librarys_back_fails_with_the_kernels_errno(port):
    ctx = mcrx_core.Context()
    joined = ctx.add_subscription("239.1.3.6", port)
    joined.join()
    bound = ctx.add_subscription("239.1.3.7", port)
    replace_socket(joined)
    replace_socket(bound)
    for call, cls in ((joined.recv_nowait, mcrx_core.ReceiveFailedError),
                      (joined.local_addr, mcrx_core.SocketLocalAddrFailedError),
                      (joined.rcvbuf, mcrx_core.SocketOptionFailedError),
                      (joined.leave, mcrx_core.MulticastLeaveFailedError),
                      (bound.join, mcrx_core.MulticastJoinFailedError)):
        with pytest.raises(cls) as info:
            call()
        check(info, cls, errno.ENOTSOCK)
    assert joined.remove() and bound.remove()


def test_a_receive_reentered_while_copying_out_is_busy(send, port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.3.8", port)
    sub.join()
    for i in range(4):
        send(S_V4, "239.1.3.8", port, f"m{i}")
    time.sleep(0.15)
    inner = []

    class Reenter:
        def __del__(self):
            try:
                inner.append(ctx.recv_batch(mcrx_core.BATCH_MAX))
            except mcrx_core.McrxError as exc:
                inner.append(exc)

    old = gc.get_threshold()
    gc.disable()
    try:
        a = Reenter()
        a.cycle = a
        del a
        keep = [[] for _ in range(200)]  # empties the list free list (see test_arguments)
        gc.set_threshold(1)
        gc.enable()
        got = ctx.recv_batch(8)
    finally:
        gc.set_threshold(*old)
        gc.enable()
    del keep
    gc.collect()
    assert len(got) == 4 and len(inner) == 1
    if inner[0] == []:
        why = "this Python collected outside the copy-out (3.12+ collects at eval breaks)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + ": the BUSY path was not exercised")
        pytest.skip(why)
    e = inner[0]
    assert type(e) is mcrx_core.BusyError and isinstance(e, RuntimeError)
    assert e.kind == "BUSY" and str(e).startswith("MCRX: busy: ")
