#!/usr/bin/python3
"""Summarise scripts/bench-adaptation.sh: per mode, time per call after the
link changed against the fresh job's (the best plan for the new link), how
many calls it took to come within 15% of it, and a plot of time per call.

    adaptation_summary.py RESULTS_DIR CHANGE_AT [PNG]
"""
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(directory, name):
    path = os.path.join(directory, f"{name}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def settle(rows, change_at, best):
    """(n, within, of): the n-th call after the change is the first within 15% of
    `best` (None: none is), and `within` of the `of` calls from it on are."""
    after = [r["ms"] for r in rows if r["call"] >= change_at]
    for i, ms in enumerate(after):
        if ms <= 1.15 * best:
            rest = after[i:]
            return i + 1, sum(1 for x in rest if x <= 1.15 * best), len(rest)
    return None, 0, 0


def summarise(directory, change_at, prefix):
    fresh = load(directory, f"{prefix}fresh")
    if len(fresh) < 3:
        return [f"{prefix}fresh: no results"]
    best = statistics.median(r["ms"] for r in fresh[1:])
    lines = [f"{prefix or 'int8 below 0.7 Gbit/s, '}fresh job on the 400 Mbit/s link: median {best:.0f} ms per call"]
    for mode in ("adaptive", "static"):
        rows = load(directory, prefix + mode)
        before = [r["ms"] for r in rows if 1 <= r["call"] < change_at]
        late = [r["ms"] for r in rows if r["call"] >= change_at + 5]
        if not before or not late:
            lines.append(f"{prefix}{mode}: no results")
            continue
        first, within, of = settle(rows, change_at, best)
        lines.append(
            f"  {prefix}{mode:8s}: before the change {statistics.median(before):.0f} ms; from the 6th call after it "
            f"{statistics.median(late):.0f} ms = {statistics.median(late) / best:.2f} x the fresh job; within 15% "
            + (f"first at call {first} after the change ({within} of the {of} calls from it)" if first else "never")
            + f"; model changes {rows[-1]['model_changes']}, WAN model {rows[-1]['model_MBps']} MB/s at the end")
    return lines


def plot(directory, change_at, output):
    figure, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, prefix, title in ((axes[0], "", "int8 opt-in below 0.7 Gbit/s"), (axes[1], "exact-", "exact (no compression)")):
        for mode, style in (("adaptive", "-o"), ("static", "-s"), ("fresh", ":")):
            rows = load(directory, prefix + mode)
            if rows:
                ax.plot([r["call"] for r in rows], [r["ms"] for r in rows], style, markersize=3, label=mode)
        ax.axvline(change_at - 0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{title}; 1 Gbit/s -> 400 Mbit/s before call {change_at}", fontsize=9)
        ax.set_xlabel("call")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("ms per 64 MiB AllReduce (rank 0)")
    figure.tight_layout()
    figure.savefig(output, dpi=110)


def main():
    directory, change_at = sys.argv[1], int(sys.argv[2])
    output = sys.argv[3] if len(sys.argv) > 3 else "docs/img/live-adaptation.png"
    for prefix in ("", "exact-"):
        print("\n".join(summarise(directory, change_at, prefix)))
    plot(directory, change_at, output)
    print(f"plot: {output}")


if __name__ == "__main__":
    main()
