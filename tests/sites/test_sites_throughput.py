#!/usr/bin/python3
"""Sustained TCP throughput through each link of a 3-site matrix is within
10% of its configured rate, and the emulator's byte counters agree."""

from sites_harness import check, main, within

SECONDS = 4   # after 2 s of warm-up (the 80 ms link opens its window slowly)
# (src, dst, rate Mbit/s); the links differ in RTT too (10 / 80 / 20 ms).
FLOWS = ((0, 1, 1000), (0, 2, 500), (1, 2, 100))
LINKS = ("0-1:rtt=10ms,rate=1gbit", "0-2:rtt=80ms,rate=500mbit",
         "1-2:rtt=20ms,rate=100mbit")


def test(tb, args):
    tb.up("--sites", "3", *[x for l in LINKS for x in ("--link", l)])
    for src, dst, rate in FLOWS:
        before = tb.link(src, dst)
        result = tb.measure_tput(
            [f"{src}>{dst}"], SECONDS,
            lambda r, rate=rate: within(r["total_bps"] / 1e6, rate, 0, 0.10))
        mbps = result["total_bps"] / 1e6
        check(within(mbps, rate, 0, 0.10),
              f"{src}>{dst}: {mbps:.1f} Mbit/s within 10% of {rate}")
        tb.settle_stats()
        after = tb.link(src, dst)
        sent_mbit = (after["tx_bytes"] - before["tx_bytes"]) * 8 / 1e6
        # iperf3 ran SECONDS plus the omitted warm-up (per attempt).
        check(sent_mbit >= 0.9 * rate * SECONDS,
              f"{src}>{dst}: emulator counted {sent_mbit:.0f} Mbit through")
    status = tb.status()
    late = sum(l["late_pkts"] for l in status["links"])
    total = sum(l["tx_pkts"] for l in status["links"])
    check(late <= total * 0.01, f"late packets {late} of {total} <= 1%")
    dropped = sum((s["tun_kernel"] or {}).get("to_emulator_dropped", 0)
                  for s in status["sites"])
    check(dropped == 0, "no packet dropped before the emulator read it")


if __name__ == "__main__":
    main(test, __doc__)
