#!/usr/bin/python3
"""Plots and tabulates a strata-perf JSON file made with --algo auto,ring --compare-mpi.

Series: Strata's automatic choice (rows the planner chose), Strata forced to
the flat ring (rows whose plan_reason is "forced"), and Open MPI (the "mpi"
columns of the automatic pass). Times are out-of-place, in microseconds.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def series(results):
    auto, forced, mpi = {}, {}, {}
    for row in results:
        target = forced if row.get("plan_reason") == "forced" else auto
        if row["oop"]:
            target[row["bytes"]] = row["oop"]["time_us"]
        if row["mpi"] and row.get("plan_reason") != "forced":
            mpi[row["bytes"]] = row["mpi"]["time_us"]
    return auto, forced, mpi


def print_table(auto, forced, mpi):
    print(f"{'bytes':>12} {'strata auto us':>15} {'flat ring us':>13} {'open mpi us':>12} "
          f"{'ring/auto':>10} {'mpi/auto':>9}")
    for size in sorted(auto):
        a, r, m = auto[size], forced.get(size), mpi.get(size)
        ratio = lambda other: f"{other / a:.2f}" if other else "-"  # noqa: E731
        print(f"{size:>12} {a:>15.1f} {r or float('nan'):>13.1f} {m or float('nan'):>12.1f} "
              f"{ratio(r):>10} {ratio(m):>9}")


def plot(auto, forced, mpi, path, title):
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, data, style in (("Strata (auto)", auto, "o-"), ("Strata flat ring", forced, "s--"),
                              ("Open MPI", mpi, "^:")):
        if data:
            sizes = sorted(data)
            ax.plot(sizes, [data[s] / 1e3 for s in sizes], style, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("time per AllReduce (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json_file")
    parser.add_argument("png_file")
    parser.add_argument("--title", default="AllReduce float32")
    args = parser.parse_args()
    with open(args.json_file) as handle:
        results = json.load(handle)["results"]
    auto, forced, mpi = series(results)
    print_table(auto, forced, mpi)
    plot(auto, forced, mpi, args.png_file, args.title)
    print(f"plot: {args.png_file}")


if __name__ == "__main__":
    main()
