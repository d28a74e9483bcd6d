#!/usr/bin/env bash
# libstrata-mpi.so against plain Open MPI, one unchanged MPI program
# (benchmarks/mpi/mpi_allreduce_bench.c), side by side in one run:
#   1. strata-sites, 2 sites x 4 ranks, 20 ms RTT, 1 Gbit/s (Open MPI ob1/TCP
#      over the WAN, as strata-sites run --mpi-baseline sets it up), with and
#      without LD_PRELOAD, alternating REPS times;
#   2. one host, 2 ranks (shared memory), the same (up to 8 KiB timed back
#      to back, larger sizes call by call);
#   3. the shim's cost on a call it hands back to MPI: 8-byte MPI_BAND
#      allreduces back to back (--loop), ROUNDS alternating rounds.
#   bash scripts/bench-mpi-shim.sh     (root; REPS 2, ROUNDS 5, ITERS 7, WARMUP 20, BUILD_DIR build)
# Writes $BUILD_DIR/bench-mpi-shim/{sites,host,fallback}-<variant>-<rep>.txt and summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
REPS=${REPS:-2} ROUNDS=${ROUNDS:-5} ITERS=${ITERS:-7} WARMUP=${WARMUP:-20}
bench=$build/bin/mpi-allreduce-bench shim=$build/lib/libstrata-mpi.so
out=$build/bench-mpi-shim
mkdir -p "$out" && rm -f "$out"/*.txt
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites=("$build/bin/strata-sites" --prefix mshim)
teardown() { "${sites[@]}" down > /dev/null 2>&1 || true; }
trap teardown EXIT
trap 'exit 130' INT TERM

# variant_prefix plain|strata: what goes before the program.
variant_prefix() { [ "$1" = strata ] && echo "env LD_PRELOAD=$shim STRATA_MPI_STATS=1" || echo "env"; }
order() { if [ $(($1 % 2)) -eq 1 ]; then echo "plain strata"; else echo "strata plain"; fi; }

if [ "$(id -u)" -eq 0 ] && "${sites[@]}" up --sites 2 --default rtt=20ms,rate=1gbit --mgmt-octet 234 > "$out/up.log" 2>&1; then
  for rep in $(seq 1 "$REPS"); do
    for variant in $(order "$rep"); do
      echo "=== sites, $variant, rep $rep"
      # shellcheck disable=SC2046
      timeout 900 "${sites[@]}" run -k 4 --mpi-baseline -- $(variant_prefix "$variant") "$bench" -b 8 -e 32M -f 4 \
        -n "$ITERS" -w 3 | tee "$out/sites-$variant-$rep.txt"
    done
  done
  teardown
else
  echo "bench-mpi-shim: no multi-site testbed (needs root and namespaces); one host only" >&2
fi
for rep in $(seq 1 "$REPS"); do
  for variant in $(order "$rep"); do
    echo "=== one host, $variant, rep $rep"
    # Up to 8 KiB back to back (osu style: one call is too short to time
    # alone), larger sizes one timed call after each barrier.
    # shellcheck disable=SC2046
    { mpirun --oversubscribe -np 2 $(variant_prefix "$variant") "$bench" --loop 1 -b 8 -e 8K -f 4 -n 20000 -w 1000
      mpirun --oversubscribe -np 2 $(variant_prefix "$variant") "$bench" -b 32K -e 32M -f 4 -n 30 -w "$WARMUP"
    } | tee "$out/host-$variant-$rep.txt"
  done
done
for round in $(seq 1 "$ROUNDS"); do
  for variant in $(order "$round"); do
    # shellcheck disable=SC2046
    mpirun --oversubscribe -np 2 $(variant_prefix "$variant") "$bench" --op band --loop 1 -b 8 -e 8 -n 100000 -w 1000 \
      > "$out/fallback-$variant-$round.txt"
  done
done
/usr/bin/python3 - "$out" <<'PY' | tee "$out/summary.txt"
import glob, statistics, sys
out = sys.argv[1]
def table(kind):
    rows = {}
    for path in sorted(glob.glob(f"{out}/{kind}-*.txt")):
        variant = path.rsplit("/", 1)[1].split("-")[1]
        for line in open(path):
            parts = line.split()
            if len(parts) == 3 and parts[0].isdigit():
                rows.setdefault(int(parts[0]), {}).setdefault(variant, []).append(float(parts[1]))
                if parts[2] != "0":
                    print(f"WRONG RESULTS in {path}: {line.strip()}")
    return rows
for kind, title in (("sites", "2 sites x 4 ranks, 20 ms, 1 Gbit/s"), ("host", "one host, 2 ranks"),
                    ("fallback", "fallback call (8 B MPI_BAND), one host, 2 ranks")):
    rows = table(kind)
    if not rows:
        continue
    print(f"# {title}: median us over repetitions (plain Open MPI | under libstrata-mpi.so | plain/strata)")
    for size, by in sorted(rows.items()):
        plain, strata = statistics.median(by.get("plain", [0])), statistics.median(by.get("strata", [0]))
        ratio = plain / strata if strata else float("nan")
        print(f"{size:>10} {plain:12.2f} {strata:12.2f} {ratio:8.2f}x   (plain {by.get('plain')}, strata {by.get('strata')})")
PY
