#!/usr/bin/python3
"""strata-topo on one host under mpirun. Two "hosts" are made with
STRATA_HOSTID (ranks 0,1 on host a, rank 2 on host b), so the node leaders
really probe each other over UCX:
  * automatic: one site (sub-millisecond RTT), probe within its 1 s budget;
  * STRATA_TOPO_FILE puts the hosts in two named sites and its link numbers
    stand where nothing was measured (STRATA_PROBE=0);
  * a bad file, different files on different ranks, and STRATA_SITE on
    some ranks only, fail on every rank with a message naming the file /
    the ranks;
  * every host reports its hardware (hwloc: >= 1 core, >= 1 NUMA node).
Usage: test_topology_mpi.py MPIRUN STRATA_TOPO"""

import json
import os
import subprocess
import sys
import tempfile

MPIRUN, TOPO = sys.argv[1], sys.argv[2]
FAILURES = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        FAILURES.append(message)


def run(extra_env=(), per_rank=("", "", ""), args=("--json",), timeout=60):
    # STRATA_UCX_SHM=0: hosts a and b share this machine, and UCX may then
    # pick its shared-memory transports between them, which no real pair
    # of hosts has. With them the leader stream read 2.0-2.7 Gbit/s or
    # 50-57 Gbit/s from run to run, and in about 1 run of 10 was not steady
    # twice in a row; over TCP alone it read 17-31 Gbit/s, 12 of 12 steady.
    cmd = [MPIRUN, "--oversubscribe", "--bind-to", "none", "-x", "STRATA_TIMEOUT=30", "-x", "STRATA_UCX_SHM=0"]
    for key in extra_env:
        cmd += ["-x", key]
    for i, (host, extra) in enumerate(zip(("a", "a", "b"), per_rank)):
        if i:
            cmd.append(":")
        cmd += ["-np", "1", "env", f"STRATA_HOSTID={host}"] + ([extra] if extra else []) + [TOPO, *args]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("STRATA_SITE", None)
    env.pop("STRATA_TOPO_FILE", None)
    env.update({k.split("=", 1)[0]: k.split("=", 1)[1] for k in extra_env})
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    return proc


def parse(proc):
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def main():
    proc = run()
    topo = parse(proc)
    check(proc.returncode == 0 and topo is not None, f"automatic: strata-topo ran (rc {proc.returncode})")
    if topo is None:
        print(proc.stdout, proc.stderr[-3000:])
        return
    print("  ", topo["site_source"], "|", topo["probe_note"])
    check(topo["ranks"] == 3 and topo["nodes"] == 2, "3 ranks on 2 hosts")
    check(len(topo["sites"]) == 1, "one site found by clustering")
    check("clustering" in topo["site_source"], "sites came from probed RTT clustering")
    check(topo["probe_seconds"] < 1.0, f"probe took {topo['probe_seconds'] * 1e3:.0f} ms (< 1000 ms budget)")
    link = topo["node_links"][0]
    check(link["rtt_measured"] and link["rtt_ms"] < 1.0, f"leader RTT measured: {link['rtt_ms']:.3f} ms")
    if not link["bandwidth_measured"]:
        # A stream that never settled (a rank off the CPU for most of its
        # 100 ms on a busy 2-core host) is reported as not measured rather
        # than guessed (docs/topology.md): once more.
        print("   leader bandwidth not steady; running once more")
        retry = parse(run())
        link = retry["node_links"][0] if retry else link
    check(link["bandwidth_measured"] and link["gbps"] > 0, f"leader bandwidth measured: {link['gbps']:.2f} Gbit/s")
    check(topo["intra_site"]["rtt_measured"], "intra-site distance is the measured one")

    hosts = [h for s in topo["sites"] for h in s["hosts"]]
    hardware = [h.get("hardware") or {} for h in hosts]
    check(all(hw.get("discovered") and hw["cores"] >= 1 and len(hw["numa"]) >= 1 for hw in hardware),
          f"hwloc: every host has >= 1 core and >= 1 NUMA node: {[hw.get('cores') for hw in hardware]}")

    text = run(args=())
    check(text.returncode == 0 and "site 0 'site0'" in text.stdout and "ranks 0,1" in text.stdout,
          "table output lists the site, its hosts and ranks")
    check(" NUMA, " in text.stdout and "numa 0" in text.stdout, "table output lists each host's NUMA domains")

    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "topo.json")
        with open(good, "w") as f:
            json.dump({"sites": [{"name": "west", "hosts": ["a"]}, {"name": "east", "hosts": ["b"]}],
                       "links": [{"a": "west", "b": "east", "rtt_ms": 42, "gbps": 5}]}, f)
        topo = parse(run(extra_env=(f"STRATA_TOPO_FILE={good}", "STRATA_PROBE=0")))
        check(topo is not None and [s["name"] for s in topo["sites"]] == ["west", "east"],
              "STRATA_TOPO_FILE: sites west and east")
        if topo:
            check(topo["site_links"][0]["rtt_ms"] == 42 and not topo["site_links"][0]["rtt_measured"],
                  "file link (42 ms) used, marked not measured, with STRATA_PROBE=0")
            check("disabled" in topo["probe_note"], "probe note says probing is disabled")

        # Same hosts, different contents on rank 2: caught by the hash, not used.
        other = os.path.join(tmp, "other.json")
        with open(other, "w") as f:
            json.dump({"sites": [{"name": "west", "hosts": ["a"]}, {"name": "east", "hosts": ["b"]}],
                       "links": [{"a": "west", "b": "east", "rtt_ms": 43, "gbps": 5}]}, f)
        proc = run(extra_env=("STRATA_PROBE=0",), per_rank=(f"STRATA_TOPO_FILE={good}", f"STRATA_TOPO_FILE={good}",
                                                            f"STRATA_TOPO_FILE={other}"))
        check(proc.returncode != 0 and "disagree on STRATA_TOPO_FILE" in proc.stderr
              and f"rank(s) 0,1 read {good}" in proc.stderr and f"rank(s) 2 read {other}" in proc.stderr,
              "different topology files: error names the files and the ranks")
        proc = run(extra_env=("STRATA_PROBE=0",), per_rank=(f"STRATA_TOPO_FILE={good}", "", ""))
        check(proc.returncode != 0 and "rank(s) 1,2 have it unset" in proc.stderr,
              "topology file on some ranks only: error names the ranks without it")

        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"sites": [{"name": "west", "hosts": ["a", 3]}]}')
        proc = run(extra_env=(f"STRATA_TOPO_FILE={bad}",))
        check(proc.returncode != 0 and f"topology file {bad}: sites[0].hosts[1]" in proc.stderr,
              "bad topology file: error names the file and the field")

    proc = run(per_rank=("STRATA_SITE=0", "STRATA_SITE=0", ""))
    check(proc.returncode != 0 and "unset on rank(s) 2" in proc.stderr,
          "STRATA_SITE on some ranks only: error names the ranks")
    proc = run(per_rank=("STRATA_SITE=0", "STRATA_SITE=1", "STRATA_SITE=1"))
    check(proc.returncode != 0 and "rank 1 on host 'a'" in proc.stderr,
          "ranks of one host in two sites: reported")
    topo = parse(run(per_rank=("STRATA_SITE=eu", "STRATA_SITE=eu", "STRATA_SITE=us")))
    check(topo is not None and [s["name"] for s in topo["sites"]] == ["eu", "us"], "STRATA_SITE names")


if __name__ == "__main__":
    main()
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)
