#!/usr/bin/python3
"""UDP round-trip probe, run inside a site by `strata-sites measure rtt`.

  udp_probe.py echo ADDR PORT         reflect datagrams until 'bye' or idle
  udp_probe.py ping ADDR PORT COUNT INTERVAL_S   print RTT stats as JSON
  udp_probe.py blast ADDR PORT COUNT PPS   send COUNT datagrams, no replies
Stand-alone (stdlib only, no package imports) because it runs under
`ip netns exec`. One probe in flight at a time, so a sample is one clean
round trip and never queues behind its predecessor.
"""

import json
import socket
import statistics
import struct
import sys
import time

IDLE_EXIT_S = 30.0
REPLY_TIMEOUT_S = 2.0


def echo(addr, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, port))
    sock.settimeout(IDLE_EXIT_S)
    print("ready", flush=True)
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            return
        if data == b"bye":
            return
        sock.sendto(data, peer)


def _one_round_trip(sock, seq):
    sent = time.perf_counter_ns()
    sock.send(struct.pack("!Qq", seq, sent))
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = sock.recv(2048)
        except socket.timeout:
            return None
        got_seq, got_sent = struct.unpack("!Qq", data[:16])
        if got_seq == seq:   # stale replies of timed-out probes are skipped
            return (time.perf_counter_ns() - got_sent) / 1e6
    return None


def ping(addr, port, count, interval_s):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((addr, port))
    samples = []
    for seq in range(count):
        started = time.monotonic()
        rtt = _one_round_trip(sock, seq)
        if rtt is not None:
            samples.append(rtt)
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    sock.send(b"bye")
    result = {"sent": count, "received": len(samples), "samples_ms": samples}
    if samples:
        result["rtt_ms"] = {
            "min": min(samples), "avg": statistics.fmean(samples),
            "median": statistics.median(samples), "max": max(samples),
            "stdev": statistics.pstdev(samples)}
    print(json.dumps(result))


def blast(addr, port, count, pps):
    """Fire-and-forget datagrams at a steady rate (loss counters, load)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for seq in range(count):
        try:
            sock.sendto(struct.pack("!Q", seq), (addr, port))
        except OSError:
            pass   # ICMP port unreachable from an earlier datagram
        time.sleep(max(0.0, start + (seq + 1) / pps - time.monotonic()))
    print(json.dumps({"sent": count, "seconds": time.monotonic() - start}))


def main(argv):
    if len(argv) == 4 and argv[1] == "echo":
        echo(argv[2], int(argv[3]))
    elif len(argv) == 6 and argv[1] == "ping":
        ping(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    elif len(argv) == 6 and argv[1] == "blast":
        blast(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
