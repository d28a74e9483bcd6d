#!/usr/bin/env bash
# Telemetry (issue 21, docs/telemetry.md) on strata-sites, 2 sites x 2 ranks,
# 1 Gbit/s, RTT 20 ms:
#   accuracy  Strata's WAN byte counters against the emulator's, over jobs of
#             2 and 6 calls of 64 MiB (the difference cancels the link probe)
#   overhead  hier AllReduce 1-64 MiB with telemetry off and on, jobs
#             alternating (off, on, off, on, ...), ROUNDS rounds
#   trace     one 16 MiB AllReduce traced, merged and drawn (docs/img/trace-allreduce.png)
#
#   bash scripts/bench-telemetry.sh [accuracy|overhead|trace|all]   (needs root; default all)
#
# Environment: ROUNDS (3) BUILD_DIR (build) PREFIX (btele) MGMT_OCTET (242).
# Results: $BUILD_DIR/bench-telemetry/*.txt
set -euo pipefail
cd "$(dirname "$0")/.."
choice=${1:-all}
case $choice in accuracy|overhead|trace|all) ;; *) echo "usage: $0 [accuracy|overhead|trace|all]" >&2; exit 2 ;; esac
bench_name=bench-telemetry bench_prefix=btele
# shellcheck source=scripts/sites-bench-common.sh
source scripts/sites-bench-common.sh
export STRATA_ALGO=allreduce=hier

# Sum over ranks of what Strata counted on WAN links (whole links), one direction.
strata_bytes() {
  cat "$1".rank* | /usr/bin/python3 -c '
import sys
print(int(sum(float(l.rsplit(" ", 1)[1]) for l in sys.stdin
              if l.startswith("strata_link_bytes_total{") and "link=\"wan\"" in l
              and "lane=\"all\"" in l and "direction=\"send\"" in l)))'
}

accuracy_job() {  # accuracy_job <calls> -> "emulator strata"
  local n=$1 before after
  rm -f "$out"/metrics.rank*
  before=$(emulator_bytes)
  "${sites[@]}" run -k 2 -- "$perf" allreduce -b 64M -e 64M -n "$n" -w 0 -c 0 --out-of-place \
    --metrics-out "$out/metrics" > /dev/null
  after=$(emulator_bytes)
  echo "$((after - before)) $(strata_bytes "$out/metrics")"
}

accuracy() {
  local few many
  few=($(accuracy_job 1))
  many=($(accuracy_job 5))
  /usr/bin/python3 - "${few[@]}" "${many[@]}" <<'EOF' | tee "$out/accuracy.txt"
import sys
e1, s1, e2, s2 = map(int, sys.argv[1:])
emulator, strata = e2 - e1, s2 - s1
print(f"4 more 64 MiB AllReduce calls: the emulator carried {emulator} bytes, Strata counted {strata} "
      f"WAN bytes sent; Strata/emulator = {strata / emulator:.4f}")
print(f"(jobs of 2 and 6 calls: emulator {e1} and {e2}, Strata {s1} and {s2})")
EOF
}

overhead() {
  : > "$out/overhead.txt"
  for round in $(seq "${ROUNDS:-3}"); do
    for mode in off on; do
      local metrics=0; [ $mode = on ] && metrics=1
      STRATA_METRICS=$metrics "${sites[@]}" run -k 2 -- env STRATA_METRICS=$metrics "$perf" allreduce -b 1M -e 64M -f 4 \
        -n 10 -w 2 -c 0 --out-of-place --json "$out/overhead.$mode.$round.json" > /dev/null
    done
  done
  /usr/bin/python3 - "$out" "${ROUNDS:-3}" <<'EOF' | tee "$out/overhead.txt"
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def times(mode, r):
    rows = json.load(open(f"{out}/overhead.{mode}.{r}.json"))["results"]
    return {row["bytes"]: row["oop"]["time_us"] for row in rows}
print("| size | telemetry off (us, median of rounds) | on | on/off per round | median on/off |")
print("|---|---|---|---|---|")
for size in sorted(times("off", 1)):
    off = [times("off", r)[size] for r in range(1, rounds + 1)]
    on = [times("on", r)[size] for r in range(1, rounds + 1)]
    ratios = [b / a for a, b in zip(off, on)]
    print(f"| {size >> 20} MiB | {statistics.median(off):.0f} | {statistics.median(on):.0f} | "
          f"{', '.join(f'{x:.3f}' for x in ratios)} | {statistics.median(ratios):.3f} |")
EOF
}

trace() {
  rm -f "$out"/trace.rank*.json
  "${sites[@]}" run -k 2 -- env STRATA_TRACE="$out/trace.json" "$perf" allreduce -b 16M -e 16M -n 3 -w 1 -c 0 \
    --out-of-place > /dev/null
  /usr/bin/python3 tools/strata-trace-merge "$out"/trace.rank*.json -o "$out/trace-merged.json"
  /usr/bin/python3 tools/strata-trace-plot "$out/trace-merged.json" -o docs/img/trace-allreduce.png \
    --title "hier AllReduce of 16 MiB, 2 sites x 2 ranks, 1 Gbit/s, RTT 20 ms (strata-sites)"
}

teardown
"${sites[@]}" up --mgmt-octet "${MGMT_OCTET:-242}" --sites 2 --default "rtt=20ms,rate=1gbit" > /dev/null
case $choice in
  accuracy) accuracy ;;
  overhead) overhead ;;
  trace) trace ;;
  all) accuracy; overhead; trace ;;
esac
