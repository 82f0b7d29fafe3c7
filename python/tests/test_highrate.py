"""A sendmmsg flood into a subscription, received with the batch call while it
arrives: every sequence number exactly once, in order."""
import struct
import threading
import time

import mcrx_core


def test_flood_arrives_once_each_in_order(flood, port):
    count = 50000
    ctx = mcrx_core.Context()
    sub = ctx.add_subscription("239.1.4.1", port, rcvbuf=64 << 20)
    sub.join()
    sender = threading.Thread(target=flood, args=("239.1.4.1", port, 64, count))
    sender.start()
    seqs = []
    deadline = time.monotonic() + 30
    while len(seqs) < count and time.monotonic() < deadline:
        batch = ctx.recv_batch(256)
        if not batch:
            ctx.wait(0.5)
            continue
        seqs.extend(struct.unpack_from("<Q", p.payload)[0] for p in batch)
    sender.join()
    assert len(seqs) == count
    assert seqs == list(range(count))
