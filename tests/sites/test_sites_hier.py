#!/usr/bin/python3
"""3 sites x 2 ranks: every hierarchical collective gives correct results
under `strata-perf -c 1` across the emulated WAN (UCX between sites, shared
memory inside each), and the planner picks a hierarchical algorithm for
AllReduce without being told."""

import os
import subprocess

from sites_harness import check, main

COLLECTIVES = ["allreduce", "broadcast", "reduce", "allgather", "reducescatter", "alltoall"]


def perf(tb, args, collective, algo, extra_env=""):
    perf_bin = os.path.join(args.bin, "strata-perf")
    cmd = ["env"] + ([extra_env] if extra_env else []) + [
        perf_bin, collective, "-b", "4", "-e", "1M", "-f", "16", "-n", "2", "-w", "1", "-c", "1",
        "--algo", algo]
    proc = tb.cli("run", "-k", "2", "--", *cmd, check_rc=False, timeout=170)
    out = proc.stdout + proc.stderr
    return proc.returncode, out


def test(tb, args):
    tb.up("--sites", "3", "--default", "rtt=4ms,rate=1gbit")
    for collective in COLLECTIVES:
        rc, out = perf(tb, args, collective, "hier")
        wrong = [l for l in out.splitlines() if "Wrong elements" in l]
        check(rc == 0 and wrong and wrong[-1].split(":")[1].strip().startswith("0"),
              f"{collective} hier across 3 sites: exit {rc}, {wrong[-1] if wrong else out[-1500:]}")
    rc, out = perf(tb, args, "allreduce", "auto", "STRATA_DEBUG=INFO")
    chosen = [l for l in out.splitlines() if "allreduce" in l and "->" in l]
    check(rc == 0 and chosen and all("-> hier" in l for l in chosen),
          "planner chose a hierarchical AllReduce: " + (chosen[0] if chosen else out[-1500:]))


if __name__ == "__main__":
    main(test, __doc__)
