#!/usr/bin/python3
"""Tabulates and plots AllReduce results: strata-perf JSON (--algo list,
optionally --compare-mpi), optionally strata-gloo-bench JSON and the WAN
lower bounds of a strata-sites testbed.

Series: one per strata-perf --algo pass ("Strata auto", "Strata ring", ...),
"Open MPI" (the mpi columns, measured in the first pass) and one per Gloo
algorithm. Strata times are out-of-place (Gloo's are in place, the only way
it runs). With --testbed, the table adds the bounds of benchmarks/wan_bounds.py
and the ratios issue 6 asks for; --table-json writes the same as JSON.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import wan_bounds  # noqa: E402


def timing(row):
    """Out-of-place time when measured, else in-place (Gloo), in us."""
    variant = row.get("oop") or row.get("ip")
    return variant["time_us"] if variant else None


def pass_names(document):
    names = [name.strip() or "auto" for name in (document.get("algo") or "auto").split(",")]
    return names or ["auto"]


def strata_series(document):
    """{"Strata <algo>": {bytes: us}, "Open MPI": {...}}. Each row names its
    --algo pass (requested_algo); files from before that field existed are
    read by pass order: strata-perf writes the passes one after the other,
    each an increasing size sweep, so a size that does not grow starts the
    next pass."""
    names, series, mpi = pass_names(document), {}, {}
    index, previous = 0, -1
    for row in document["results"]:
        if row["bytes"] <= previous:
            index += 1
        previous = row["bytes"]
        name = row.get("requested_algo") or (names[index] if index < len(names) else f"pass{index}")
        if timing(row) is not None:
            series.setdefault(f"Strata {name}", {})[row["bytes"]] = timing(row)
        if row.get("mpi"):
            mpi.setdefault(row["bytes"], row["mpi"]["time_us"])
    if mpi:
        series["Open MPI"] = mpi
    return series


def gloo_series(document):
    series = {}
    for row in document["results"]:
        if timing(row) is not None:
            series.setdefault(f"Gloo {row['algorithm']}", {})[row["bytes"]] = timing(row)
    return series


def wrong_elements(*documents):
    total = 0
    for document in documents:
        for row in document["results"]:
            for key in ("oop", "ip", "mpi"):
                total += (row.get(key) or {}).get("wrong") or 0
    return total


def ratio(numerator, denominator):
    return numerator / denominator if numerator and denominator else None


def table_rows(series, bed):
    """Per size: every contender's time, the issue's ratios and the bounds."""
    rows = []
    gloo = [name for name in series if name.startswith("Gloo")]
    for size in sorted({size for data in series.values() for size in data}):
        times = {name: data.get(size) for name, data in series.items()}
        auto = times.get("Strata auto")
        best_gloo = min((times[name] for name in gloo if times[name]), default=None)
        row = {"bytes": size, "time_us": times,
               "ring_over_auto": ratio(times.get("Strata ring"), auto),
               "mpi_over_auto": ratio(times.get("Open MPI"), auto),
               "best_gloo_over_auto": ratio(best_gloo, auto)}
        if bed:
            row.update(wan_bounds.bounds(bed, size))
            row["auto_fraction_of_hier_bound"] = ratio(row["hier_bound_us"], auto)
            row["ring_fraction_of_ring_bound"] = ratio(row["ring_bound_us"], times.get("Strata ring"))
        rows.append(row)
    return rows


def format_time(us):
    if us is None:
        return "-"
    return f"{us / 1e3:.2f}ms" if us >= 1e3 else f"{us:.1f}us"


def format_ratio(value):
    return "-" if value is None else f"{value:.2f}"


def format_table(rows, names, with_mesh):
    """Times, then bounds, then ratios: (ring, MPI, best Gloo) / auto, hier
    bound / auto and ring bound / ring (fractions of the bound reached)."""
    columns = [("bytes", lambda r: str(r["bytes"]))]
    columns += [(name, lambda r, n=name: format_time(r["time_us"].get(n))) for name in names]
    if rows and "hier_bound_us" in rows[0]:
        columns += [("hier bound", lambda r: format_time(r["hier_bound_us"])),
                    ("ring bound", lambda r: format_time(r["ring_bound_us"])),
                    ("floor", lambda r: format_time(r["latency_floor_us"]))]
        if with_mesh:
            columns.append(("mesh bound", lambda r: format_time(r["mesh_bound_us"])))
    columns += [("ring/auto", lambda r: format_ratio(r["ring_over_auto"])),
                ("mpi/auto", lambda r: format_ratio(r["mpi_over_auto"])),
                ("gloo/auto", lambda r: format_ratio(r["best_gloo_over_auto"]))]
    if rows and "hier_bound_us" in rows[0]:
        columns += [("hbound/auto", lambda r: format_ratio(r["auto_fraction_of_hier_bound"])),
                    ("rbound/ring", lambda r: format_ratio(r["ring_fraction_of_ring_bound"]))]
    cells = [[title for title, _ in columns]] + [[cell(row) for _, cell in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(text.rjust(width) for text, width in zip(line, widths)) for line in cells)


def plot(series, rows, path, title):
    fig, ax = plt.subplots(figsize=(9, 5.5))
    styles = ["o-", "s--", "D-", "^:", "v-.", "<-.", ">:"]
    for index, (name, data) in enumerate(series.items()):
        sizes = sorted(data)
        ax.plot(sizes, [data[s] / 1e3 for s in sizes], styles[index % len(styles)], label=name, markersize=4)
    sizes = [row["bytes"] for row in rows]
    if rows and "hier_bound_us" in rows[0]:
        for key, label, style in (("hier_bound_us", "hierarchical bound", "k-"),
                                  ("ring_bound_us", "flat-ring bound (bytes only)", "k--"),
                                  ("latency_floor_us", "latency floor", "k:")):
            ax.plot(sizes, [row[key] / 1e3 for row in rows], style, label=label, linewidth=1, alpha=0.7)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    # The bytes-only ring bound is microseconds for small sizes: cut the axis
    # near the measurements so the contenders stay readable.
    measured = [us / 1e3 for data in series.values() for us in data.values() if us]
    if measured:
        ax.set_ylim(bottom=min(measured) / 4)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("time per AllReduce (ms)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def load(path):
    with open(path) as handle:
        return json.load(handle)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json_file", help="strata-perf --json output")
    parser.add_argument("png_file")
    parser.add_argument("--title", default="AllReduce float32")
    parser.add_argument("--gloo", help="strata-gloo-bench --json output of the same testbed")
    parser.add_argument("--testbed", help="`strata-sites status --json` of the testbed: adds the WAN bounds")
    parser.add_argument("--ranks-per-site", type=int, default=1)
    parser.add_argument("--setup", default="", help="a name recorded in --table-json")
    parser.add_argument("--table-json", help="also write the table (times, bounds, ratios) as JSON")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    documents = [load(args.json_file)]
    series = strata_series(documents[0])
    if args.gloo:
        documents.append(load(args.gloo))
        series.update(gloo_series(documents[-1]))
    bed = wan_bounds.Testbed.from_status(load(args.testbed), args.ranks_per_site) if args.testbed else None
    rows = table_rows(series, bed)
    print(format_table(rows, list(series), with_mesh=bool(bed and bed.sites > 2)))
    wrong = wrong_elements(*documents)
    print(f"wrong elements (all contenders): {wrong}")
    if args.table_json:
        with open(args.table_json, "w") as handle:
            json.dump({"setup": args.setup, "title": args.title, "contenders": list(series),
                       "sites": bed.sites if bed else None, "ranks": bed.ranks if bed else None,
                       "wrong_elements": wrong, "rows": rows}, handle, indent=1)
    plot(series, rows, args.png_file, args.title)
    print(f"plot: {args.png_file}")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
