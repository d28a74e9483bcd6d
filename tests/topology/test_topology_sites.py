#!/usr/bin/python3
"""strata-topo on the emulated testbed: 3 sites, 1 rank each, links 0-1
10 ms / 1 Gbit/s, 0-2 30 ms / 1 Gbit/s, 1-2 50 ms / 500 Mbit/s.
  * without STRATA_SITE (unset inside the site, `env -u`), probed RTT
    clustering finds the 3 sites the testbed made (one host each), and every
    measured site-pair RTT is within 10% of the configured one;
  * with STRATA_SITE (as `strata-sites run` exports it) the sites are the
    configured ones by index;
  * in the default 1 s budget (the probe's 16 connections per pair open
    their TCP windows together) every link's bandwidth is measured, within
    20% of the configured rate, and the probe takes at most 1.1 s
    (docs/topology.md, Measured); with STRATA_SITE, a bandwidth reported
    as measured is within 20%;
  * with STRATA_PROBE_MS=3000 every link's bandwidth is measured, within 20%.
Needs root; exits 77 otherwise. Always takes the testbed down.
Usage: test_topology_sites.py STRATA_SITES STRATA_TOPO"""

import json
import os
import subprocess
import sys

SITES, TOPO = sys.argv[1], os.path.abspath(sys.argv[2])
# STRATA_TOPOTEST_PREFIX / _OCTET let an engineer run this beside another
# testbed on a shared machine; ctest uses the defaults.
PREFIX = ["--prefix", os.environ.get("STRATA_TOPOTEST_PREFIX", "topotest")]
MGMT_OCTET = os.environ.get("STRATA_TOPOTEST_OCTET", "246")
LINKS = {(0, 1): (10.0, 1.0), (0, 2): (30.0, 1.0), (1, 2): (50.0, 0.5)}  # rtt ms, Gbit/s
FAILURES = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        FAILURES.append(message)


def sites(*args, timeout=120):
    return subprocess.run([SITES, *PREFIX, *args], capture_output=True, text=True, timeout=timeout)


def run_topo(*env_prefix):
    proc = sites("run", "-k", "1", "--", *env_prefix, TOPO, "--json")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return None
    return json.loads(lines[-1])


def site_of_host(topo):
    """host name ("site0") -> index of the site strata-topo put it in."""
    return {h["host"]: i for i, s in enumerate(topo["sites"]) for h in s["hosts"]}


def check_rtts(topo, label, need_bandwidth=False, check_rtt=True):
    where = site_of_host(topo)
    by_pair = {(l["a"], l["b"]): l for l in topo["site_links"]}
    names = [s["name"] for s in topo["sites"]]
    for (a, b), (rtt_ms, gbps) in LINKS.items():
        sa, sb = names[where[f"site{a}"]], names[where[f"site{b}"]]
        link = by_pair.get((sa, sb)) or by_pair.get((sb, sa))
        if link is None:
            check(False, f"{label}: site pair {a}-{b} present")
            continue
        ok = link["rtt_measured"] and abs(link["rtt_ms"] - rtt_ms) <= 0.1 * rtt_ms
        if check_rtt:
            check(ok, f"{label}: site{a}-site{b} RTT {link['rtt_ms']:.2f} ms vs {rtt_ms:.0f} ms configured (10%)")
        if link["bandwidth_measured"]:
            error = link["gbps"] / gbps - 1
            check(abs(error) <= 0.2, f"{label}: site{a}-site{b} bandwidth {link['gbps']:.2f} Gbit/s measured vs "
                  f"{gbps} Gbit/s configured ({error:+.0%}, 20%)")
        else:
            check(not need_bandwidth, f"{label}: site{a}-site{b} bandwidth not measured ({gbps} Gbit/s configured)")


def test():
    up = sites("up", "--mgmt-octet", MGMT_OCTET, "--sites", "3",
               *[a for (x, y), (r, g) in LINKS.items() for a in ("--link", f"{x}-{y}:rtt={r:g}ms,rate={g * 1000:g}mbit")])
    if up.returncode == 77:
        print(up.stderr)
        sys.exit(77)
    check(up.returncode == 0, f"testbed up (rc {up.returncode}) {up.stderr.strip()[-300:]}")
    if up.returncode != 0:
        return

    topo = run_topo("env", "-u", "STRATA_SITE")
    check(topo is not None, "strata-topo ran without STRATA_SITE")
    if topo:
        print("  ", topo["site_source"], "|", topo["probe_note"], f"| created in {topo['create_seconds']:.2f} s")
        check("clustering" in topo["site_source"], "sites came from probed RTT clustering")
        groups = sorted(sorted(h["host"] for h in s["hosts"]) for s in topo["sites"])
        check(groups == [["site0"], ["site1"], ["site2"]], f"auto-detected sites equal configured ones: {groups}")
        check(topo["probe_seconds"] < 1.1, f"probe took {topo['probe_seconds'] * 1e3:.0f} ms (budget 1000 ms, +10% slack)")
        check_rtts(topo, "clustered", need_bandwidth=True)
        hardware = [h.get("hardware") or {} for s in topo["sites"] for h in s["hosts"]]
        check(all(hw.get("discovered") and hw["cores"] >= 1 for hw in hardware), "every site's host reports hwloc data")

    topo = run_topo()
    check(topo is not None, "strata-topo ran with STRATA_SITE")
    if topo:
        check(topo["site_source"] == "STRATA_SITE", "sites came from STRATA_SITE")
        where = site_of_host(topo)
        check(all(where[f"site{i}"] == i for i in range(3)), "STRATA_SITE=i puts host site<i> in site i")
        check_rtts(topo, "STRATA_SITE")

    # A longer budget measures every link too (the streams last longer).
    topo = run_topo("env", "STRATA_PROBE_MS=3000")
    check(topo is not None, "strata-topo ran with STRATA_PROBE_MS=3000")
    if topo:
        print("  ", topo["probe_note"])
        check_rtts(topo, "3 s budget", need_bandwidth=True, check_rtt=False)  # RTT: checked above


def main():
    if os.geteuid() != 0:
        print("needs root: skipped")
        sys.exit(77)
    try:
        test()
    finally:
        down = sites("down")
        check(down.returncode == 0, "testbed down")
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        check(PREFIX[1] + "-" not in netns, f"no {PREFIX[1]} namespace left")
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
