#!/usr/bin/python3
"""The emulator never becomes the bottleneck silently: a full link queue
and an emulator that falls behind real time both show in the counters, in
the emulator's log and in `strata-sites status`."""

import os
import signal
import subprocess
import time

from sites_harness import check, main

STALL_S = 0.2


def check_queue_overflow(tb):
    tb.measure("tput", "0>1", "--seconds", "2", "--omit", "0")
    tb.settle_stats()
    link = tb.link(0, 1)
    check(link["drop_queue_pkts"] > 0,
          f"tiny queue on 0>1 dropped {link['drop_queue_pkts']} packets")
    check(link["backlog_max_bytes"] <= link["queue_bytes"],
          "backlog never exceeded the configured queue")
    check("WARNING link 0>1: queue full" in tb.emulator_log(),
          "emulator logged the queue overflow")


def wait_for_traffic(tb, src, dst, packets, timeout_s=10):
    start = tb.link(src, dst)["rx_pkts"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if tb.link(src, dst)["rx_pkts"] - start >= packets:
            return
        time.sleep(0.05)
    raise AssertionError(f"no traffic on {src}>{dst}")


def check_falling_behind(tb):
    """Stop the emulator mid-stream: packets due meanwhile leave late."""
    pid = tb.status()["emulator"]["pid"]
    # A packet every millisecond, so some are due throughout the stall.
    blaster = subprocess.Popen(
        [tb.cli_path, "--prefix", tb.prefix, "exec", "1", "--",
         "/usr/bin/python3", tb.probe(), "blast", "198.18.0.1", "9", "3000",
         "1000"], stdout=subprocess.DEVNULL)
    wait_for_traffic(tb, 1, 0, 100)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(STALL_S)
    os.kill(pid, signal.SIGCONT)
    blaster.wait(timeout=60)
    time.sleep(1.2)   # one warn interval
    status = tb.status()
    late = sum(l["late_pkts"] for l in status["links"])
    worst_ms = max(l["late_max_us"] for l in status["links"]) / 1000
    check(late > 0 and worst_ms > STALL_S * 1000 / 2,
          f"{late} packets counted late, worst {worst_ms:.0f} ms")
    check("falling behind real time" in tb.emulator_log(),
          "emulator logged that it fell behind")
    text = tb.cli("status").stdout
    check("emulator warnings" in text, "status shows the warnings")


def test(tb, args):
    tb.up("--link", "0>1:rtt=20ms,rate=100mbit,queue=200kb")
    check_queue_overflow(tb)
    check_falling_behind(tb)


if __name__ == "__main__":
    main(test, __doc__)
