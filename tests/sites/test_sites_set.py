#!/usr/bin/python3
"""`set` changes running links without restarting the emulator: TCP
throughput 0>1 follows a rate change from 1 Gbit/s to 250 Mbit/s, `status`
and the emulator's own stats show the new values, a TCP flow running across
a halving of one direction survives it, and a new RTT applies too.

Runs under its own prefix and management subnet, so it may run beside a
testbed of the default prefix or of the other sites tests."""

import json
import subprocess
import time

from sites_harness import check, main, within

PREFIX, MGMT_OCTET = "stset", "243"
SECONDS = 3   # after 2 s of warm-up; 10 ms RTT opens its window quickly


def link_rates(tb):
    """{(src, dst): rate_bps} recorded (status) and applied (emulator)."""
    recorded = {(l["src"], l["dst"]): l["rate_bps"]
                for l in tb.status()["links"]}
    applied = {(l["from"], l["to"]): l["rate_bps"]
               for l in tb.emulator_stats()["links"]}
    return recorded, applied


def tput_mbps(tb, rate_mbps, rel_tol):
    result = tb.measure_tput(
        ["0>1"], SECONDS,
        lambda r: within(r["total_bps"] / 1e6, rate_mbps, 0, rel_tol))
    return result["total_bps"] / 1e6


def check_usage(tb):
    before = tb.status()["links"]
    for spec, why in (("0-1:rate=fast", "a bad rate"),
                      ("0-7:rate=1gbit", "a missing site")):
        proc = tb.cli("set", "--link", spec, check_rc=False)
        check(proc.returncode == 2, f"set with {why} exits 2")
    check(tb.cli("set", check_rc=False).returncode == 2,
          "set without --link exits 2")
    check(tb.status()["links"] == before, "... and changes nothing")


def check_rate_change(tb, pid):
    started = time.monotonic()
    proc = tb.cli("set", "--link", "0-1:rate=250mbit")
    took_s = time.monotonic() - started
    print("  " + proc.stderr.strip().replace("\n", "\n  "))
    check(took_s < 1.0, f"set returned in {took_s * 1e3:.0f} ms, applied")
    recorded, applied = link_rates(tb)
    want = {(0, 1): 250_000_000, (1, 0): 250_000_000}
    check(recorded == want, f"status shows the new rate: {recorded}")
    check(applied == want, "the emulator's stats show it too")
    status = tb.status()
    check(status["emulator"]["pid"] == pid, "the emulator kept running")
    check(tb.link(0, 1, status)["delay_ns"] == 5_000_000,
          "fields not named keep their values (delay 5 ms)")
    check("250Mbit" in tb.cli("status").stdout, "status text shows 250Mbit")


def check_change_mid_flow(tb):
    """The benchmark case: halve one direction while a flow runs on it."""
    flow = subprocess.Popen(
        tb.cli_command("measure", "tput", "0>1", "--seconds", "4", "--omit",
                       "1", "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)   # about 1 s into the measured 4 s
        tb.cli("set", "--link", "0>1:rate=125mbit")
        out, err = flow.communicate(timeout=30)
    finally:
        if flow.poll() is None:
            flow.kill()
            flow.wait()
    check(flow.returncode == 0, "the flow survived the change"
          + (f" ({err.strip()})" if flow.returncode else ""))
    mbps = json.loads(out)["total_bps"] / 1e6
    # 250 Mbit/s for about a quarter of the run, 125 for the rest: ~160.
    check(125 * 1.1 < mbps < 250 * 0.9,
          f"mid-flow halving: {mbps:.1f} Mbit/s between 125 and 250")
    recorded, applied = link_rates(tb)
    check(recorded[(1, 0)] == applied[(1, 0)] == 250_000_000,
          "A>B changed one direction only")


def check_rtt_and_loss(tb):
    tb.cli("set", "--link", "0-1:rtt=30ms,loss=0.1%")
    rtt = tb.measure("rtt", "0>1", "--count", "20", "--interval", "0.02")
    median = rtt["rtt_ms"]["median"]
    check(within(median, 30, 1.0, 0.05), f"new RTT: median {median:.2f} ms")
    link = next(l for l in tb.emulator_stats()["links"] if l["from"] == 0)
    check(link["delay_us"] == 15000 and link["loss"] == 0.001,
          "the emulator applies delay 15 ms and loss 0.1%")


def test(tb, args):
    proc = tb.cli("set", "--link", "0-1:rate=1gbit", check_rc=False)
    check(proc.returncode == 3, "set with nothing up exits 3")
    tb.up("--sites", "2", "--link", "0-1:rtt=10ms,rate=1gbit")
    pid = tb.status()["emulator"]["pid"]
    check_usage(tb)
    first = tput_mbps(tb, 1000, 0.10)
    check(within(first, 1000, 0, 0.10), f"before: {first:.1f} Mbit/s ~ 1000")
    check_rate_change(tb, pid)
    second = tput_mbps(tb, 250, 0.15)
    check(within(second, 250, 0, 0.15),
          f"after set rate=250mbit: {second:.1f} Mbit/s within 15% of 250")
    check_change_mid_flow(tb)
    check_rtt_and_loss(tb)


if __name__ == "__main__":
    main(test, __doc__, prefix=PREFIX, mgmt_octet=MGMT_OCTET)
