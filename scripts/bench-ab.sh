#!/usr/bin/env bash
# Two builds side by side in one run, alternating, so that the shared
# machine's drift hits both alike: the main job's AllReduce on the emulated
# two-site network (2 sites x 2 ranks, 20 ms RTT, 1 Gbit/s) and the
# intra-node AllReduce (2 ranks, node-shared buffers), ROUNDS times each.
#
#   bash scripts/bench-ab.sh <before-bin-dir> <after-bin-dir>   (env: ROUNDS (2), OUT (build/bench-ab))
# Each bin dir holds strata-perf (copy build/bin aside before rebuilding).
# Writes OUT/<round>-<a|b>-{wan,node}.json and prints the medians per size.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 <before-bin-dir> <after-bin-dir>" >&2; exit 2; }
before=$(realpath "$1") after=$(realpath "$2")
out=${OUT:-build/bench-ab}
rounds=${ROUNDS:-2}
mkdir -p "$out"
out=$(realpath "$out")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites=build/bin/strata-sites
wan_args=(allreduce -b 64K -e 64M -f 4 -n 5 -w 1 -c 1)
node_args=(allreduce -b 8 -e 64M -f 8 -n 50 -w 5 -c 1 -R 1)

"$sites" down > /dev/null 2>&1 || true
have_sites=0
if "$sites" up --sites 2 --default rtt=20ms,rate=1gbit > /dev/null; then
  have_sites=1
  trap '"$sites" down > /dev/null 2>&1 || true' EXIT
fi
for round in $(seq 1 "$rounds"); do
  for side in a b; do
    bin=$before; [ $side = b ] && bin=$after
    echo "== round $round, build $side ($bin)"
    if [ $have_sites = 1 ]; then
      "$sites" run --ranks-per-site 2 -- "$bin/strata-perf" "${wan_args[@]}" --json "$out/$round-$side-wan.json" > /dev/null
    fi
    mpirun --oversubscribe -np 2 "$bin/strata-perf" "${node_args[@]}" --json "$out/$round-$side-node.json" > /dev/null
  done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys, os
out, rounds = sys.argv[1], int(sys.argv[2])
for kind in ("wan", "node"):
    times = {}
    for side in "ab":
        for r in range(1, rounds + 1):
            path = f"{out}/{r}-{side}-{kind}.json"
            if not os.path.exists(path): continue
            for row in json.load(open(path))["results"]:
                times.setdefault(row["bytes"], {}).setdefault(side, []).append(row["oop"]["time_us"])
    if not times: continue
    print(f"# {kind}: median out-of-place time (us) over {rounds} rounds; b/a")
    for size in sorted(times):
        a, b = statistics.median(times[size]["a"]), statistics.median(times[size]["b"])
        print(f"{size:>10}  a {a:>12.1f}  b {b:>12.1f}  b/a {b / a:.3f}")
PY
