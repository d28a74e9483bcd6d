#!/usr/bin/python3
"""2 sites x 2 ranks under `strata-sites run`: ranks land in their sites
(own hostname, STRATA_SITE), and the job's inter-site bytes cross the
emulated WAN, both for Open MPI's ob1/TCP baseline and for UCX (which would
use shared memory between sites if they shared an IPC namespace)."""

import json
import subprocess

from sites_harness import check, main

MIB = 4


def pml_ucx_available():
    out = subprocess.run(["ompi_info", "--param", "pml", "ucx"],
                         capture_output=True, text=True).stdout
    return "pml ucx" in out.lower() or "MCA pml: ucx" in out


def run_job(tb, args, mode, *run_args):
    before = {(l["src"], l["dst"]): l["tx_bytes"] for l in tb.status()["links"]}
    proc = tb.cli("run", "-k", "2", *run_args, "--", args.mpi_prog, str(MIB),
                  check_rc=False, timeout=180)
    print(proc.stdout + proc.stderr[-2000:])
    check(proc.returncode == 0, f"{mode}: MPI job exited 0")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    check(result["ranks"] == 4 and result["placement_ok"],
          f"{mode}: 4 ranks, 2 per site, one hostname per site")
    check(result["allreduce_ok"], f"{mode}: allreduce of {MIB} MiB correct")
    tb.settle_stats()
    after = {(l["src"], l["dst"]): l["tx_bytes"] for l in tb.status()["links"]}
    for pair in ((0, 1), (1, 0)):
        moved = after[pair] - before[pair]
        # The ping-pong alone moves MIB MiB each way between the sites.
        check(moved >= MIB << 20, f"{mode}: {moved / 2**20:.1f} MiB crossed "
              f"{pair[0]}>{pair[1]} through the emulator (>= {MIB} MiB)")
    # Over a 20 ms RTT, 1 Gbit/s link the ping-pong cannot beat physics;
    # shared memory would take a few milliseconds.
    check(result["pingpong_s"] > 0.02 + 2 * (MIB << 20) * 8 / 1e9,
          f"{mode}: ping-pong took {result['pingpong_s'] * 1e3:.0f} ms")


def test(tb, args):
    check(args.mpi_prog is not None, "--mpi-prog given")
    tb.up()
    run_job(tb, args, "ob1/tcp baseline", "--mpi-baseline")
    if pml_ucx_available():
        run_job(tb, args, "pml ucx", "--mca", "pml", "ucx", "--mca",
                "pml_ucx_tls", "any", "--mca", "pml_ucx_devices", "any")
    else:
        print("  (Open MPI without pml ucx: UCX case skipped)")


if __name__ == "__main__":
    main(test, __doc__)
