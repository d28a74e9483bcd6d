#!/usr/bin/python3
"""One rank's view of a link that changes mid-run: CALLS AllReduce calls of
SIZE bytes; before call CHANGE_AT, rank 0 runs COMMAND (e.g. `strata-sites
set --link 0-1:rate=400mbit`). Rank 0 prints one JSON line per call: its
time, and what the live link model believes of the WAN link then.
Run under `strata-sites run` with STRATA_METRICS=1 (scripts/bench-adaptation.sh).

    live_adaptation.py CALLS SIZE CHANGE_AT COMMAND...
"""
import json
import re
import subprocess
import sys
import time

import numpy as np
from mpi4py import MPI

import strata


def model(text):
    """(model changes so far, the WAN link's model MB/s) from this rank's metrics."""
    changes = re.search(r'^strata_link_model_changes_total\{[^}]*\} (\S+)$', text, re.M)
    rate = re.search(r'^strata_link_model_bytes_per_second\{[^}]*link="wan"[^}]*\} (\S+)$', text, re.M)
    return (int(float(changes.group(1))) if changes else 0, float(rate.group(1)) / 1e6 if rate else 0.0)


def main():
    calls, size, change_at, command = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    world = MPI.COMM_WORLD
    comm = strata.Communicator.from_mpi(name="adapt")
    data = np.ones(size // 4, np.float32)
    for call in range(calls):
        if call == change_at and command:
            if world.rank == 0:
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            world.Barrier()
        start = time.perf_counter()
        comm.all_reduce(data, op="avg")
        seconds = time.perf_counter() - start
        if world.rank == 0:
            changes, rate = model(strata.metrics_text())
            print(json.dumps({"call": call, "ms": round(seconds * 1e3, 1), "model_changes": changes,
                              "model_MBps": round(rate, 1)}), flush=True)
    # Everyone has finished every call before anyone tears down: over UCX a
    # rank that exits while a peer still receives its last data can look
    # dead to that peer (issue 19).
    world.Barrier()
    comm.destroy()


if __name__ == "__main__":
    main()
