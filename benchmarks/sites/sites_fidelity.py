#!/usr/bin/python3
"""strata-sites-fidelity: configured vs measured RTT and TCP throughput.

Brings up throwaway testbeds (prefix 'sfid', management subnet 198.19.249/24)
one configuration at a time, measures with `strata-sites measure`, and
prints the markdown tables of docs/testbed.md (plus JSON with --json FILE).
Needs root; takes about 3 minutes. Run it on an otherwise idle machine:
other load on the CPUs shows up as late packets and lower throughput.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

PREFIX = "sfid"
MGMT_OCTET = "249"
BIN = os.path.dirname(os.path.realpath(__file__))
CLI = os.path.join(BIN, "strata-sites")


def cli(*args, check=True):
    proc = subprocess.run([CLI, "--prefix", PREFIX] + list(args),
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        sys.exit(f"strata-sites {' '.join(args)} failed: {proc.stderr}")
    return proc


def up(*args):
    cli("down", check=False)
    cli("up", "--mgmt-octet", MGMT_OCTET, *args)


def late_share():
    """(late packets, delivered packets) over all links since `up`."""
    links = json.loads(cli("status", "--json").stdout)["links"]
    return (sum(l["late_pkts"] or 0 for l in links),
            sum(l["tx_pkts"] or 0 for l in links))


def measure(*args):
    return json.loads(cli("measure", *args, "--json").stdout)


def rtt_rows():
    rows = []
    for rtt in (0, 10, 20, 80):
        up("--default", f"rtt={rtt}ms,rate=1gbit")
        r = measure("rtt", "0>1", "--count", "50",
                    "--interval", "0.02")["rtt_ms"]
        rows.append({"rtt_ms": rtt, "median": r["median"], "min": r["min"],
                     "max": r["max"], "stdev": r["stdev"]})
    return rows


def tput_row(label, flows, seconds, *up_args):
    up(*up_args)
    result = measure("tput", *flows, "--seconds", str(seconds), "--omit", "2")
    late, sent = late_share()
    return {"label": label, "flows": [f["bps"] / 1e6 for f in result["flows"]],
            "total_mbps": result["total_bps"] / 1e6, "late_pkts": late,
            "pkts": sent, "retransmits": sum(f["retransmits"]
                                             for f in result["flows"])}


def tput_rows(seconds):
    rows = []
    for rtt in (10, 20, 80):
        for rate in (100, 500, 1000):
            row = tput_row(f"{rtt} ms, {rate} Mbit/s", ["0>1"], seconds,
                           "--default", f"rtt={rtt}ms,rate={rate}mbit")
            rows.append(dict(row, rtt_ms=rtt, rate_mbps=rate))
    return rows


def ceiling_rows(seconds):
    rows = []
    for rate in (2000, 5000, 10000):
        rows.append(dict(tput_row(f"1 flow, 20 ms, {rate} Mbit/s", ["0>1"],
                                  seconds, "--default",
                                  f"rtt=20ms,rate={rate}mbit"),
                         rate_mbps=rate))
    for rate in (1000, 2000, 3000):
        rows.append(dict(tput_row(f"3-site ring, 10 ms, 3 x {rate} Mbit/s",
                                  ["0>1", "1>2", "2>0"], seconds, "--sites",
                                  "3", "--default",
                                  f"rtt=10ms,rate={rate}mbit"),
                         rate_mbps=3 * rate))
    for rate in (1000, 2000):
        rows.append(dict(tput_row(f"MTU 1500, 1 flow, 20 ms, {rate} Mbit/s",
                                  ["0>1"], seconds, "--mtu", "1500",
                                  "--default", f"rtt=20ms,rate={rate}mbit"),
                         rate_mbps=rate))
    return rows


def print_tables(result):
    print(f"\nmachine: {result['machine']}\n")
    print("| configured RTT | measured median | min | max | stdev |")
    print("|---|---|---|---|---|")
    for r in result["rtt"]:
        print(f"| {r['rtt_ms']} ms | {r['median']:.2f} ms | {r['min']:.2f} | "
              f"{r['max']:.2f} | {r['stdev']:.2f} |")
    print("\n| RTT, rate | measured TCP | % of rate | late pkts |")
    print("|---|---|---|---|")
    for r in result["throughput"] + result["ceiling"]:
        share = 100 * r["total_mbps"] / r["rate_mbps"]
        print(f"| {r['label']} | {r['total_mbps']:.0f} Mbit/s "
              f"({' + '.join(f'{f:.0f}' for f in r['flows'])}) | "
              f"{share:.1f}% | {r['late_pkts']} of {r['pkts']} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root")
        return 77
    machine = (f"{os.cpu_count()} CPUs, {platform.processor() or 'x86_64'}, "
               f"kernel {platform.release()}, load {os.getloadavg()[0]:.2f}")
    try:
        result = {"machine": machine, "rtt": rtt_rows(),
                  "throughput": tput_rows(args.seconds),
                  "ceiling": ceiling_rows(args.seconds)}
    finally:
        cli("down", check=False)
    result["load_after"] = os.getloadavg()[0]
    print_tables(result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
