"""Context.wait(timeout): None and +inf wait until data, finite seconds bound
the wait however large they are, negative and NaN are refused. Signal
handlers run during a wait (the GIL is released); the wait goes on for the
time left unless a handler raised, so Ctrl-C ends it with KeyboardInterrupt."""
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import mcrx_core
from conftest import S_V4


def joined(port, group):
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription(group, port)
    sub.join()
    return ctx, sub


@pytest.fixture
def later():
    """later(delay, fn, *args) on a timer thread; every timer ends with the test."""
    timers = []

    def _later(delay, fn, *args):
        t = threading.Timer(delay, fn, args)
        t.daemon = True
        t.start()
        timers.append(t)

    yield _later
    for t in timers:
        t.cancel()
        t.join(15)


@pytest.fixture
def alarm():
    """alarm(delay, handler): SIGALRM after delay seconds; the old handler is restored."""
    old = signal.getsignal(signal.SIGALRM)

    def _alarm(delay, handler):
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, delay)

    yield _alarm
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def test_none_and_inf_wait_until_data_arrives(send, port, later):
    ctx, sub = joined(port, "239.1.6.1")
    for how in ({}, {"timeout": None}, {"timeout": math.inf}):
        later(0.2, send, S_V4, "239.1.6.1", port, "x")
        start = time.monotonic()
        assert ctx.wait(**how) is True
        assert time.monotonic() - start < 5
        assert sub.recv_nowait().payload == b"x"


def test_negative_and_nan_timeouts_are_value_errors(send, port, later):
    ctx, sub = joined(port, "239.1.6.2")
    # A datagram ends a wait that wrongly blocks, so a regression fails, not hangs.
    later(1.0, send, S_V4, "239.1.6.2", port, "backstop")
    for bad in (-1, -0.001, -math.inf, math.nan, -(2 ** 2000)):
        with pytest.raises(ValueError, match="timeout must be a non-negative number of seconds or None"):
            ctx.wait(bad)
    with pytest.raises(ValueError):
        ctx.wait(timeout=-5)


def test_non_numbers_are_type_errors(port):
    ctx, sub = joined(port, "239.1.6.3")
    for bad in ("1", [], object(), b"1"):
        with pytest.raises(TypeError):
            ctx.wait(bad)
    with pytest.raises(TypeError):
        ctx.wait(1, 2)
    with pytest.raises(TypeError):
        ctx.wait(timeot=1)


def test_huge_timeouts_neither_overflow_nor_end_early(send, port, later):
    ctx, sub = joined(port, "239.1.6.4")
    for huge in (1e9, 2 ** 31, 2 ** 64, 1e300, sys.float_info.max, 2 ** 2000):
        later(0.1, send, S_V4, "239.1.6.4", port, "h")
        start = time.monotonic()
        assert ctx.wait(huge) is True
        assert time.monotonic() - start < 5
        assert sub.recv_nowait().payload == b"h"


def test_finite_timeouts_end_on_time_without_data(port):
    ctx, sub = joined(port, "239.1.6.5")
    for t in (0, 0.0, 1e-9, 0.001):
        assert ctx.wait(t) is False
    start = time.monotonic()
    assert ctx.wait(0.2) is False
    assert 0.19 <= time.monotonic() - start < 2


def test_a_signal_runs_its_handler_and_the_wait_goes_on(port, alarm):
    ctx, sub = joined(port, "239.1.6.6")
    seen = []
    alarm(0.1, lambda signum, frame: seen.append(time.monotonic()))
    start = time.monotonic()
    assert ctx.wait(0.5) is False
    end = time.monotonic()
    assert len(seen) == 1 and seen[0] - start < 0.4  # ran during the wait, not after it
    assert end - start >= 0.49  # the full timeout, not cut at the signal


def test_a_signal_during_an_unbounded_wait_does_not_end_it(send, port, later, alarm):
    ctx, sub = joined(port, "239.1.6.7")
    seen = []
    alarm(0.1, lambda signum, frame: seen.append(1))
    later(0.4, send, S_V4, "239.1.6.7", port, "after-signal")
    assert ctx.wait(None) is True
    assert seen == [1]
    assert sub.recv_nowait().payload == b"after-signal"


class Interrupted(Exception):
    pass


def test_an_exception_from_a_signal_handler_ends_the_wait(send, port, later, alarm):
    ctx, sub = joined(port, "239.1.6.8")

    def handler(signum, frame):
        raise Interrupted()

    alarm(0.1, handler)
    later(3.0, send, S_V4, "239.1.6.8", port, "backstop")
    start = time.monotonic()
    with pytest.raises(Interrupted):
        ctx.wait(None)
    assert time.monotonic() - start < 2


def test_ctrl_c_interrupts_a_wait_forever():
    # A child process, so a stray SIGINT can never reach this pytest run.
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import mcrx_core, sys\n"
         "ctx = mcrx_core.Context()\n"
         "print('waiting', flush=True)\n"
         "ctx.wait()\n"
         "print('returned', flush=True)\n"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.2)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert "returned" not in out
    assert "KeyboardInterrupt" in err
    assert child.returncode != 0


def test_other_threads_run_while_waiting(port):
    ctx, sub = joined(port, "239.1.6.9")
    stamps = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=tick)
    t.start()
    try:
        time.sleep(0.02)
        start = time.monotonic()
        assert ctx.wait(0.3) is False
        end = time.monotonic()
    finally:
        stop.set()
        t.join()
    inside = [s for s in stamps if start + 0.05 < s < end - 0.05]
    assert len(inside) >= 5
