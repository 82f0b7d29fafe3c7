"""Python receivers for the drain benchmark (see drain.c for the protocol).

usage: py_drain.py MODE GROUP PORT COUNT K READY_FILE
  py-recvfrom  plain socket.recvfrom loop (the baseline)
  py-single    mcrx_core Subscription.recv_nowait loop
  py-batch     mcrx_core Context.recv_batch(64) loop
  py-batch-into  mcrx_core Context.recv_batch_into(bytearray, 2048): memoryview payloads
Prints the same key=value line as drain.c; allocs=-1 (not counted here).
"""
import os
import resource
import signal
import socket
import struct
import sys
import time

SO_RCVBUFFORCE = 33
RCVBUF = 1 << 30


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    mode, group, port, count, k, ready = sys.argv[1:7]
    port, count = int(port), int(count)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    received = 0
    if mode == "py-recvfrom":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("0.0.0.0")))
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        s.setblocking(False)
    else:
        import mcrx_core
        ctx = mcrx_core.Context()
        sub = ctx.add_subscription(group, port, rcvbuf=RCVBUF)
        sub.join()
    open(ready, "w").close()
    signal.sigwait({signal.SIGUSR1})
    c0, t0 = cpu(), time.monotonic()
    if mode == "py-recvfrom":
        recvfrom = s.recvfrom
        while True:
            try:
                recvfrom(2048)
            except BlockingIOError:
                break
            received += 1
    elif mode == "py-single":
        recv = sub.recv_nowait
        while recv() is not None:
            received += 1
    elif mode == "py-batch-into":
        into = ctx.recv_batch_into
        buf = bytearray(64 * 2048)
        while True:
            got = into(buf, 2048)
            if not got:
                break
            received += len(got)
    elif mode == "py-batch":
        batch = ctx.recv_batch
        while True:
            got = batch(64)
            if not got:
                break
            received += len(got)
    else:
        sys.exit(f"unknown mode {mode}")
    t1, c1 = time.monotonic(), cpu()
    print(f"mode={mode} k={k} received={received} seconds={t1 - t0:.6f} cpu={c1 - c0:.6f} "
          f"allocs=-1 join_s=0 leave_s=0")


if __name__ == "__main__":
    main()
