"""Interface sets from Python: interfaces=[...] and "all", the ingress index of
each datagram, Subscription.interfaces(), and rejoin seen through
Context.next_interface_event() when vb2 goes down and comes back up."""
import os
import select
import subprocess
import time

import pytest

import mcrx_core
from conftest import S_V4

S_V4_L2 = "203.0.113.1"


def ifindex(name):
    with open(f"/sys/class/net/{name}/ifindex") as f:
        return int(f.read())


def send_on(link, src, group, port, message, count=1):
    subprocess.run([os.environ["MCRX_TSEND"], src, link, group, str(port), message, str(count)],
                   check=True, timeout=10)


def receive(ctx, want, timeout=2.0):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        item = ctx.recv_any_with_metadata_nowait()
        if item is None:
            ctx.wait(0.02)
            continue
        got.append(item)
    return got


def wait_event(ctx, kind, name, timeout=2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = ctx.next_interface_event()
        if ev is None:
            ctx.recv_any_nowait()  # receiving is what processes link changes
            ctx.wait(0.02)
            continue
        if ev["kind"] == kind and ev["interface_name"] == name:
            return ev
    pytest.fail(f"no {kind} event for {name}")


def test_a_set_delivers_from_both_links_with_the_ingress_index(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.14.1", port, interfaces=["vb", "vb2"])
    sub.join()
    assert sorted((i["name"], i["index"], i["joined"]) for i in sub.interfaces()) == [
        ("vb", ifindex("vb"), True), ("vb2", ifindex("vb2"), True)]
    send_on("va", S_V4, "239.1.14.1", port, "one", 3)
    send_on("va2", S_V4_L2, "239.1.14.1", port, "two", 3)
    got = receive(ctx, 6)
    by_if = {}
    for item in got:
        by_if.setdefault(item.metadata.ingress_interface_index, []).append(item.packet.payload)
    assert by_if == {ifindex("vb"): [b"one"] * 3, ifindex("vb2"): [b"two"] * 3}


def test_all_takes_every_multicast_link_but_loopback(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.14.2", port, interfaces="all")
    sub.join()
    names = {i["name"] for i in sub.interfaces()}
    assert {"vb", "vb2"} <= names and "lo" not in names


def test_bad_sets_are_refused():
    ctx = mcrx_core.Context()
    with pytest.raises(TypeError):
        ctx.add_subscription("239.1.14.3", 5000, interfaces=[7])
    with pytest.raises(ValueError, match="not a valid interface name"):
        ctx.add_subscription("239.1.14.3", 5000, interfaces=["a/b"])
    with pytest.raises(ValueError, match="exclude each other"):
        ctx.add_subscription("239.1.14.3", 5000, interface="198.51.100.2", interfaces=["vb"])


def test_down_and_up_is_lost_then_joined_and_delivery_resumes(port):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.14.4", port, interfaces=["vb", "vb2"])
    sub.join()
    try:
        subprocess.run(["ip", "link", "set", "dev", "vb2", "down"], check=True)
        ev = wait_event(ctx, "lost", "vb2")
        assert ev["subscription_id"] == sub.id and ev["interface_index"] == ifindex("vb2")
        assert ev["error"] is None
        assert [i["joined"] for i in sub.interfaces() if i["name"] == "vb2"] == [False]
    finally:
        subprocess.run(["ip", "link", "set", "dev", "vb2", "up"], check=True)
    wait_event(ctx, "joined", "vb2")
    deadline = time.monotonic() + 2.0
    got = []
    while not got and time.monotonic() < deadline:
        send_on("va2", S_V4_L2, "239.1.14.4", port, "back")
        got = receive(ctx, 1, 0.1)
    assert got and got[0].metadata.ingress_interface_index == ifindex("vb2")
    m = sub.metrics()
    assert m["interface_losses"] == 1 and m["interface_rejoins"] == 1
    assert ctx.metrics()["interface_events_dropped"] == 0
