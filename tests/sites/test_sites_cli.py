#!/usr/bin/python3
"""strata-sites lifecycle and CLI contract: idempotent up/down, exit codes,
status JSON, the mpirun command line, and exit 77 for a non-root user."""

import json
import os
import shutil
import subprocess

from sites_harness import check, main


def check_down_when_nothing_up(tb):
    proc = tb.down()
    check(proc.returncode == 0, "down with nothing up exits 0")
    check("nothing to take down" in proc.stderr, "... and says so")
    proc = tb.cli("status", check_rc=False)
    check(proc.returncode == 3, "status with nothing up exits 3")


def check_usage_errors(tb):
    proc = tb.cli("up", "--link", "0-7:rtt=1ms", check_rc=False)
    check(proc.returncode == 2 and "no site '7'" in proc.stderr,
          "a link to a missing site is a usage error (2)")
    proc = tb.cli("up", "--link", "0-1:rtt=fast", check_rc=False)
    check(proc.returncode == 2, "a bad duration is a usage error (2)")
    plan = json.loads(tb.cli("up", "--sites", "3", "--link",
                             "0>2:delay=30ms,rate=200mbit", "--dry-run").stdout)
    l02 = next(l for l in plan["links"] if l["src"] == 0 and l["dst"] == 2)
    l20 = next(l for l in plan["links"] if l["src"] == 2 and l["dst"] == 0)
    check(l02["delay_ns"] == 30_000_000 and l02["rate_bps"] == 200_000_000,
          "A>B sets one direction")
    check(l20["delay_ns"] == 10_000_000 and l20["rate_bps"] == 1_000_000_000,
          "... and leaves the other at the defaults (rtt 20ms, 1gbit)")
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                           "..", "benchmarks", "sites", "example-3sites.json")
    plan = json.loads(tb.cli("up", "--config", example, "--dry-run").stdout)
    delays = {(l["src"], l["dst"]): l["delay_ns"] // 10**6
              for l in plan["links"]}
    check([s["name"] for s in plan["sites"]] == ["eu", "us", "asia"] and
          delays[(0, 2)] == 80 and delays[(2, 0)] == 90,
          "JSON config: named sites, rtt pairs and a one-way override")


def check_non_root(tb):
    if not shutil.which("setpriv"):
        print("  (setpriv missing: non-root check skipped)")
        return
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                           "--clear-groups", tb.cli_path, "--prefix",
                           "nobody", "up"], capture_output=True, text=True)
    check(proc.returncode == 77 and "root" in proc.stderr,
          "non-root up exits 77 with a message naming root")


def check_up_twice(tb):
    tb.up()
    proc = tb.up()
    check("already up" in proc.stderr, "up twice is harmless (exit 0)")
    proc = tb.cli("up", "--mgmt-octet", "250", "--sites", "3",
                  check_rc=False)
    check(proc.returncode == 4, "up with another config exits 4")


def check_status(tb):
    status = tb.status()
    check(len(status["sites"]) == 2 and len(status["links"]) == 2,
          "status --json lists 2 sites and 2 links")
    check(status["emulator"]["alive"], "emulator alive")
    check(status["links"][0]["delay_ns"] == 10_000_000,
          "default rtt 20ms = 10ms each way")
    text = tb.cli("status").stdout
    check("0>1" in text and "sitest-site1" in text, "status text has links")


def check_mpirun_line(tb):
    out = tb.cli("run", "-k", "2", "--mpi-baseline", "--dry-run", "--",
                 "/bin/true", "x").stdout
    for piece in ("PMIX_MCA_ptl_tcp_if_include=sitest-mgmt",
                  "PMIX_MCA_ptl_tcp_remote_connections=1",
                  "OMPI_ALLOW_RUN_AS_ROOT=1", "--oversubscribe",
                  "--mca pml ob1", "--mca btl self,tcp",
                  "--mca btl_tcp_if_include 198.18.0.0/16",
                  "-np 2 ip netns exec sitest-site0",
                  "STRATA_SITE=1 STRATA_HOSTID=site1 UCX_NET_DEVICES=wan0 "
                  "/bin/true x"):
        check(piece in out, f"mpirun line has '{piece}'")


def check_exec(tb):
    out = tb.exec_in(1, "sh", "-c", "hostname; echo $STRATA_SITE; "
                     "ip -br addr show wan0").stdout.split("\n")
    check(out[0] == "sitest-site1", "exec: site 1 has its own hostname")
    check(out[1] == "1", "exec: STRATA_SITE=1")
    check("198.18.1.1/16" in out[2], "exec: wan0 has 198.18.1.1/16")


def test(tb, args):
    check_down_when_nothing_up(tb)
    check_usage_errors(tb)
    check_non_root(tb)
    check_up_twice(tb)
    check_status(tb)
    check_mpirun_line(tb)
    check_exec(tb)
    proc = tb.down()
    check(proc.returncode == 0 and "removed" in proc.stderr, "down removes")
    check(not tb.leftovers(), "nothing left after down")
    check(tb.down().returncode == 0, "down again exits 0")


if __name__ == "__main__":
    main(test, __doc__)
