#!/usr/bin/python3
"""Summarises scripts/bench-faults.sh: per fault kind, the jobs, hangs (a
survivor that never reported), errors that do not name the victim, and
the time from the fault to the last survivor's failed call.

    fault_summary.py <results dir> <ranks> <peer timeout s>
"""
import json
import pathlib
import statistics
import sys


def load(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main():
    folder, ranks, peer_timeout = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    control = load(folder / "control.jsonl") if (folder / "control.jsonl").exists() else []
    complete = sum(1 for line in control if line.get("completed"))
    print(f"control (no fault): {complete} of {ranks} ranks completed every call exactly")
    ok = complete == ranks
    for kind, bound in (("kill", 1.0), ("stop", peer_timeout + 1.0)):
        jobs = sorted(folder.glob(f"{kind}-*.jsonl"))
        if not jobs:
            continue
        hangs = misnamed = 0
        worst = []
        destroy = []
        for job in jobs:
            lines = [line for line in load(job) if "detect_s" in line]
            hangs += len(lines) < ranks - 1
            misnamed += sum(1 for line in lines if not line["named"] or line["detect_s"] < 0)
            if lines:
                worst.append(max(line["detect_s"] for line in lines))
                destroy.append(max(line["destroy_s"] for line in lines))
        worst.sort()
        within = sum(1 for value in worst if value <= bound)
        print(f"{kind}: {len(jobs)} jobs, {hangs} with a survivor that never reported, {misnamed} errors not naming "
              f"the victim; slowest survivor per job: median {statistics.median(worst):.3f} s, "
              f"max {worst[-1]:.3f} s ({within} of {len(worst)} within {bound:g} s); "
              f"destroy after it at most {max(destroy):.3f} s")
        ok &= hangs == 0 and misnamed == 0 and within == len(worst) == len(jobs)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
