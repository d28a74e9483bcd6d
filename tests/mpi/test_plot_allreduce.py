#!/usr/bin/python3
"""benchmarks/plot_allreduce.py and wan_bounds.py on small synthetic results:
the --algo passes and Open MPI are told apart, Gloo rows join the table, the
WAN bounds follow docs/performance.md, and a PNG plus table JSON come out.
Run by CTest (perf_plot_allreduce) with Debian's /usr/bin/python3; exits 77
(skipped) when matplotlib is missing."""

import json
import os
import sys
import tempfile
import unittest

BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks")
sys.path.insert(0, BENCHMARKS)
try:
    import matplotlib  # noqa: F401
except ImportError:
    print("skipped: matplotlib is not installed for", sys.executable)
    sys.exit(77)
import plot_allreduce  # noqa: E402
import wan_bounds  # noqa: E402

MIB = 1 << 20


def timing(us, wrong=0):
    return {"time_us": us, "algbw_gbps": 0.0, "busbw_gbps": 0.0, "wrong": wrong}


def strata_doc(wrong=0):
    """--algo auto,ring --compare-mpi --out-of-place, two sizes."""
    rows = []
    for name, times, mpi in (("auto", (10e3, 50e3), (12e3, 80e3)), ("ring", (30e3, 90e3), None)):
        for size, us, i in zip((8, MIB), times, range(2)):
            rows.append({"bytes": size, "algorithm": "ring" if name == "ring" else "recursive_doubling",
                         "plan_reason": "forced" if name == "ring" else "predicted", "oop": timing(us, wrong),
                         "ip": None, "mpi": timing(mpi[i]) if mpi else None})
    return {"collective": "allreduce", "nranks": 8, "algo": "auto,ring", "results": rows}


def gloo_doc():
    rows = [{"bytes": size, "algorithm": algo, "plan_reason": "forced", "oop": None, "ip": timing(us), "mpi": None}
            for algo, times in (("ring", (140e3, 200e3)), ("halving_doubling", (40e3, 100e3)))
            for size, us in zip((8, MIB), times)]
    return {"collective": "allreduce", "library": "gloo", "algo": "ring,halving_doubling", "results": rows}


def link(src, dst, rtt_ms, mbit):
    return {"src": src, "dst": dst, "delay_ns": int(rtt_ms * 1e6 / 2), "rate_bps": int(mbit * 1e6)}


def both_ways(a, b, rtt_ms, mbit):
    return [link(a, b, rtt_ms, mbit), link(b, a, rtt_ms, mbit)]


SETUP_A = {"links": both_ways(0, 1, 20, 1000)}
SETUP_C = {"links": both_ways(0, 1, 10, 1000) + both_ways(1, 2, 30, 500) + both_ways(0, 2, 50, 1000)}


class Bounds(unittest.TestCase):
    def test_two_sites(self):
        bed = wan_bounds.Testbed.from_status(SETUP_A, ranks_per_site=4)
        rate = 125e6  # 1 Gbit/s in bytes/s
        self.assertAlmostEqual(wan_bounds.hier_bound(bed, MIB), MIB / rate + 0.020)
        self.assertAlmostEqual(wan_bounds.ring_bound(bed, MIB), 2 * 7 / 8 * MIB / rate)
        self.assertAlmostEqual(wan_bounds.latency_floor(bed), 0.010)
        self.assertAlmostEqual(wan_bounds.mesh_bound(bed, MIB), MIB / rate + 0.010)

    def test_three_unequal_sites(self):
        bed = wan_bounds.Testbed.from_status(SETUP_C, ranks_per_site=2)
        slow = 62.5e6  # the 500 Mbit/s link limits both the bound and the ring
        self.assertAlmostEqual(wan_bounds.hier_bound(bed, MIB), 4 / 3 * MIB / slow + 0.050)
        self.assertAlmostEqual(wan_bounds.ring_bound(bed, MIB), 2 * 5 / 6 * MIB / slow)
        # 0 -> 2 through site 1 (5 + 15 ms) beats the 25 ms direct link
        self.assertAlmostEqual(wan_bounds.latency_floor(bed), 0.020)
        # 2(S-1) x bytes over 5 Gbit/s of links in all, plus the 5 ms link
        self.assertAlmostEqual(wan_bounds.mesh_bound(bed, 64 * MIB), 4 * 64 * MIB / 625e6 + 0.005)


class Table(unittest.TestCase):
    def test_series_and_ratios(self):
        series = plot_allreduce.strata_series(strata_doc())
        series.update(plot_allreduce.gloo_series(gloo_doc()))
        self.assertEqual(list(series), ["Strata auto", "Strata ring", "Open MPI", "Gloo ring",
                                        "Gloo halving_doubling"])
        bed = wan_bounds.Testbed.from_status(SETUP_A, ranks_per_site=4)
        small, large = plot_allreduce.table_rows(series, bed)
        self.assertAlmostEqual(small["ring_over_auto"], 3.0)
        self.assertAlmostEqual(small["mpi_over_auto"], 1.2)
        self.assertAlmostEqual(small["best_gloo_over_auto"], 4.0)
        self.assertAlmostEqual(large["auto_fraction_of_hier_bound"], wan_bounds.hier_bound(bed, MIB) / 50e-3)
        self.assertAlmostEqual(large["ring_fraction_of_ring_bound"], wan_bounds.ring_bound(bed, MIB) / 90e-3)

    def test_rows_name_their_pass(self):
        # Passes named by requested_algo on each row, not by their order.
        doc = strata_doc()
        for row, name in zip(doc["results"], ("hier", "hier", "ring", "ring")):
            row["requested_algo"] = name
        del doc["algo"]
        self.assertEqual(list(plot_allreduce.strata_series(doc)), ["Strata hier", "Strata ring", "Open MPI"])

    def run_main(self, folder, strata):
        paths = {name: os.path.join(folder, name) for name in ("s.json", "g.json", "t.json", "out.json", "p.png")}
        for name, doc in (("s.json", strata), ("g.json", gloo_doc()), ("t.json", SETUP_C)):
            with open(paths[name], "w") as handle:
                json.dump(doc, handle)
        code = plot_allreduce.main([paths["s.json"], paths["p.png"], "--gloo", paths["g.json"], "--testbed",
                                    paths["t.json"], "--ranks-per-site", "2", "--table-json", paths["out.json"]])
        return code, paths

    def test_main_writes_png_and_json(self):
        with tempfile.TemporaryDirectory() as folder:
            code, paths = self.run_main(folder, strata_doc())
            self.assertEqual(code, 0)
            with open(paths["p.png"], "rb") as handle:
                self.assertEqual(handle.read(8), b"\x89PNG\r\n\x1a\n")
            with open(paths["out.json"]) as handle:
                table = json.load(handle)
            self.assertEqual(table["sites"], 3)
            self.assertEqual([row["bytes"] for row in table["rows"]], [8, MIB])
            self.assertIn("mesh_bound_us", table["rows"][0])

    def test_wrong_elements_fail(self):
        with tempfile.TemporaryDirectory() as folder:
            code, _ = self.run_main(folder, strata_doc(wrong=3))
            self.assertEqual(code, 1)


if __name__ == "__main__":
    unittest.main(verbosity=1)
