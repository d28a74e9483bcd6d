#!/usr/bin/python3
"""strata-top's parsing and its late/behind verdicts, on hand-made scrapes."""
import importlib.machinery
import importlib.util
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in tools/

path = os.path.join(os.path.dirname(__file__), "../../tools/strata-top")
loader = importlib.machinery.SourceFileLoader("strata_top", path)
spec = importlib.util.spec_from_loader("strata_top", loader)
top = importlib.util.module_from_spec(spec)
loader.exec_module(top)


def scrape(rank, calls, running):
    labels = f'comm="world",comm_id="0",rank="{rank}"'
    return top.parse(f"""# TYPE strata_collective_calls_total counter
strata_collective_calls_total{{{labels},collective="allreduce",algorithm="hier"}} {calls}
strata_collective_seconds_sum{{{labels},collective="allreduce",algorithm="hier"}} {calls * 0.01}
strata_collective_running_seconds{{{labels}}} {running}
strata_link_bytes_total{{{labels},link="wan",peer_site="1",lane="all",direction="send"}} {calls * 1e6}
strata_link_messages_total{{{labels},link="wan",peer_site="1",lane="all",direction="send"}} {calls}
strata_link_bytes_total{{{labels},link="wan",peer_site="1",lane="0",direction="send"}} 5
""")


def main():
    samples = scrape(0, 100, 0.5)
    assert ("strata_collective_running_seconds", {"comm": "world", "comm_id": "0", "rank": "0"}, 0.5) in samples
    links = top.links(samples)
    assert list(links) == [("world", "0", 0, "wan", "1")], links  # lanes are left to the whole link
    everyone = scrape(0, 100, 0.5) + scrape(1, 100, 0.4) + scrape(2, 99, 0.0)
    notes = top.late_ranks(top.calls(everyone), 0.1)
    assert notes == ["LATE: comm world#0: rank(s) [2] not in a call while rank(s) [0, 1] have waited up to 0.50 s"], notes
    assert top.late_ranks(top.calls(scrape(0, 100, 0.05) + scrape(1, 100, 0.0)), 0.1) == []  # not waited long
    behind = top.late_ranks(top.calls(scrape(0, 500, 0) + scrape(1, 420, 0)), 0.1)
    assert behind == ["BEHIND: comm world#0: rank(s) [1] completed fewer calls than the others"], behind
    rows = top.link_rows(top.links(scrape(0, 200, 0)), top.links(scrape(0, 100, 0)), 1.0)
    assert "100.0" in rows[1], rows  # 100 calls x 1 MB in 1 s = 100 MB/s
    print("strata-top checks passed")


if __name__ == "__main__":
    sys.exit(main())
