"""Summarises scripts/bench-node.sh: per round, Strata's AllReduce on heap
(-R 0) and node-shared (-R 1) buffers against Open MPI, Gloo and one core's
memcpy measured in the same round, then the range of each figure over the
rounds. Usage: python3 node_summary.py OUT_DIR"""
import glob
import json
import os
import re
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def perf_rows(path):
    """{bytes: result} of a strata-perf or strata-gloo-bench JSON file."""
    if not os.path.exists(path):
        return {}
    rows = {}
    for result in load(path)["results"]:
        rows.setdefault(result["bytes"], []).append(result)
    return rows


def memcpy_gbps(path):
    """{bytes: copy GB/s} of a strata-memcpy-bench output."""
    found = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 3 and not line.startswith("#"):
                found[int(fields[0])] = float(fields[2])
    return found


def one_round(out, k):
    r = {}
    for shared in (0, 1):
        mem = memcpy_gbps(f"{out}/round{k}-memcpy-R{shared}.txt")
        for size in (1 << 20, 64 << 20):
            r[f"memcpy R{shared} {size >> 20} MiB GB/s"] = mem[size]
        lat = perf_rows(f"{out}/round{k}-latency-R{shared}.json")[8][0]
        r[f"strata R{shared} 8 B oop us"] = lat["oop"]["time_us"]
        r[f"strata R{shared} 8 B ip us"] = lat["ip"]["time_us"]
        r[f"mpi (R{shared} run) 8 B us"] = lat["mpi"]["time_us"]
        bw = perf_rows(f"{out}/round{k}-busbw-R{shared}.json")
        for size in (1 << 20, 64 << 20):
            row = bw[size][0]
            r[f"strata R{shared} {size >> 20} MiB oop busbw"] = row["oop"]["busbw_gbps"]
            r[f"strata R{shared} {size >> 20} MiB ip busbw"] = row["ip"]["busbw_gbps"]
            r[f"mpi (R{shared} run) {size >> 20} MiB busbw"] = row["mpi"]["busbw_gbps"]
    gloo_lat = perf_rows(f"{out}/round{k}-gloo-latency.json")
    if gloo_lat:
        r["gloo ring 8 B us"] = gloo_lat[8][0]["ip"]["time_us"]
    for size, rows in perf_rows(f"{out}/round{k}-gloo-busbw.json").items():
        for row in rows:
            r[f"gloo {row['algorithm']} {size >> 20} MiB busbw"] = row["ip"]["busbw_gbps"]
    # The ratios, within this round.
    for shared in (0, 1):
        for variant in ("oop", "ip"):
            busbw = r[f"strata R{shared} 64 MiB {variant} busbw"]
            r[f"memcpy / strata R{shared} 64 MiB {variant}"] = r[f"memcpy R{shared} 64 MiB GB/s"] / busbw
            for size in (1, 64):
                r[f"strata / mpi R{shared} {size} MiB {variant}"] = (
                    r[f"strata R{shared} {size} MiB {variant} busbw"] / r[f"mpi (R{shared} run) {size} MiB busbw"])
        r[f"strata / mpi R{shared} 8 B ip time"] = r[f"strata R{shared} 8 B ip us"] / r[f"mpi (R{shared} run) 8 B us"]
    return r


def main():
    out = sys.argv[1]
    rounds = sorted(int(m.group(1)) for p in glob.glob(f"{out}/round*-busbw-R1.json")
                    if (m := re.search(r"round(\d+)-", p)))
    results = [one_round(out, k) for k in rounds]
    print(f"# {len(results)} rounds; busbw in GB/s, times in us; min - max over rounds")
    for key in results[0]:
        values = [r[key] for r in results if key in r]
        print(f"{key:40s} {min(values):9.3f} - {max(values):9.3f}   " + " ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
