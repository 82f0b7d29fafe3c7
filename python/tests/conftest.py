"""Runs on the receiver host of scripts/netns-run.sh (ctest starts it there).

Senders are the project's own helpers, run on the sender host: tsend (a few
datagrams, setns inside) and the benchmark flood (sendmmsg, via nsenter).
"""
import os
import subprocess

import pytest

S_V4, S_V4_OTHER, R_V4 = "198.51.100.1", "198.51.100.3", "198.51.100.2"
S_V6, S_V6_OTHER, R_V6 = "2001:db8:1::1", "2001:db8:1::3", "2001:db8:1::2"


def _need(var):
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run through ctest (scripts/netns-run.sh)")
    return value


@pytest.fixture(scope="session")
def send():
    tsend = _need("MCRX_TSEND")
    _need("MCRX_TEST_SENDER_NS")

    def _send(src, group, port, message, count=1):
        subprocess.run([tsend, src, "va", group, str(port), message, str(count)], check=True, timeout=10)

    return _send


@pytest.fixture(scope="session")
def flood():
    binary = _need("MCRX_FLOOD")
    ns = _need("MCRX_TEST_SENDER_NS")

    def _flood(group, port, size, count, src=S_V4):
        out = subprocess.run(["nsenter", f"--net={ns}", binary, src, "va", group, str(port), str(size), str(count)],
                             check=True, timeout=60, capture_output=True, text=True)
        return out.stdout

    return _flood


_port = [31000 + (os.getpid() % 500) * 10]


@pytest.fixture
def port():
    _port[0] += 1
    return _port[0]
