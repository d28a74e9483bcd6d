#!/usr/bin/python3
"""Aggregate throughput: three concurrent 1 Gbit/s flows around a 3-site
ring (0>1, 1>2, 2>0; data and ACKs on disjoint links) each get within 10%
of their rate, so the emulator carries >= 2.7 Gbit/s without becoming the
bottleneck (no queue drops before it reads, few late packets)."""

from sites_harness import check, main, within

RATE_MBPS = 1000
FLOWS = ("0>1", "1>2", "2>0")


def test(tb, args):
    tb.up("--sites", "3", "--default", f"rtt=10ms,rate={RATE_MBPS}mbit")
    result = tb.measure_tput(
        FLOWS, 4, lambda r: all(within(f["bps"] / 1e6, RATE_MBPS, 0, 0.10)
                                for f in r["flows"]), omit=1)
    for flow in result["flows"]:
        mbps = flow["bps"] / 1e6
        check(within(mbps, RATE_MBPS, 0, 0.10),
              f"{flow['src']}>{flow['dst']}: {mbps:.0f} Mbit/s within 10%")
    total = result["total_bps"] / 1e9
    check(total >= 2.7, f"aggregate {total:.2f} Gbit/s >= 2.7")
    tb.settle_stats()
    status = tb.status()
    late = sum(l["late_pkts"] for l in status["links"])
    sent = sum(l["tx_pkts"] for l in status["links"])
    check(late <= sent * 0.01, f"{late} of {sent} packets late (<= 1%)")
    dropped = sum((s["tun_kernel"] or {}).get("to_emulator_dropped", 0)
                  for s in status["sites"])
    check(dropped == 0, "no packet dropped before the emulator read it")


if __name__ == "__main__":
    main(test, __doc__)
