#!/usr/bin/env bash
# torch.distributed on the emulated WAN: the "strata" backend against "gloo"
# in one run. Brings up strata-sites (2 sites x 4 ranks, 20 ms RTT, 1 Gbit/s:
# setup A of scripts/bench-wan.sh), runs benchmarks/torch/torch_bench.py once
# per backend per repetition, alternating backends so drift hits both alike,
# prints a table with the strata/gloo ratios and tears the testbed down.
#
#   bash scripts/bench-torch.sh            (needs root)
#
# Ranks are placed like bench-wan.sh does: `strata-sites run -k 4` (mpirun as
# the launcher only; ranks 0-3 in site 0, 4-7 in site 1, each in its site's
# network, IPC and UTS namespaces). torch_bench takes its rank from Open MPI's
# OMPI_COMM_WORLD_RANK/SIZE and rendezvous via env:// at MASTER_ADDR = site
# 0's WAN address (reachable from every site only through the emulator).
# GLOO_SOCKET_IFNAME and STRATA_SOCKET_IFNAME pin both backends to wan0.
#
# Environment (defaults): BACKENDS ("gloo strata") REPS (1) SIZES
# (64K,1M,16M,64M) ITERS (10) WARMUP (2) LAT_ITERS (200) STEPS (10)
# DDP_WARMUP (2) HIDDEN (2048) LAYERS (4; about 16.8M parameters) BATCH (32)
# BUCKET_MB (25) RANKS_PER_SITE (4) RTT (20ms) RATE (1gbit) PREFIX (tbench)
# MGMT_OCTET (236) MASTER_PORT (29650; one more per job) BUILD_DIR (build)
# RUN_TIMEOUT (1800 s per job) SKIP_BUILD (0; 1 uses what BUILD_DIR has)
# EXTRA_ARGS (more torch_bench.py arguments).
# Writes $BUILD_DIR/bench-torch/: <rep>-<backend>.{json,txt} per job,
# testbed.{json,txt}, summary.{txt,json}.
# Exit: 0 ok, 1 a job failed or returned wrong results, 2 usage, 77 skipped
# (not root, or no network namespaces/TUN).
#
# What a backend must support here (traced with torch 1.13 on gloo): CPU
# float32 all_reduce SUM (one tensor, in place; the Work's wait() and, for
# DDP's reducer, getFuture()), all_reduce MAX (float32), barrier, broadcast
# of float32, int32 and int64 tensors and allgather of int64 (DDP's
# construction and bucket rebuild), destroy_process_group.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || { echo "usage: [VAR=value ...] $0   (see the header for the variables)" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-torch: SKIPPED: strata-sites needs root (network namespaces, TUN, bridge)" >&2
  exit 77
fi

BACKENDS=${BACKENDS:-gloo strata} REPS=${REPS:-1}
SIZES=${SIZES:-64K,1M,16M,64M} ITERS=${ITERS:-10} WARMUP=${WARMUP:-2}
LAT_ITERS=${LAT_ITERS:-200} STEPS=${STEPS:-10} DDP_WARMUP=${DDP_WARMUP:-2}
HIDDEN=${HIDDEN:-2048} LAYERS=${LAYERS:-4} BATCH=${BATCH:-32} BUCKET_MB=${BUCKET_MB:-25}
RANKS_PER_SITE=${RANKS_PER_SITE:-4} RTT=${RTT:-20ms} RATE=${RATE:-1gbit}
PREFIX=${PREFIX:-tbench} MGMT_OCTET=${MGMT_OCTET:-236} MASTER_PORT=${MASTER_PORT:-29650}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800} EXTRA_ARGS=${EXTRA_ARGS:-}
PYTHON=/usr/bin/python3  # Debian's, which has torch; not whatever is on PATH
for b in $BACKENDS; do
  case $b in gloo|strata) ;; *) echo "bench-torch: unknown backend '$b' in BACKENDS" >&2; exit 2 ;; esac
done
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  BUILD_DIR=$build bash scripts/build.sh
fi
out=$build/bench-torch
mkdir -p "$out"
rm -f "$out"/[0-9]*-*.json "$out"/[0-9]*-*.txt  # jobs of an earlier run would join the medians
bench=$PWD/benchmarks/torch/torch_bench.py
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites=("$build/bin/strata-sites" --prefix "$PREFIX")

teardown() { "${sites[@]}" down > /dev/null 2>&1 || true; }
trap teardown EXIT
trap 'exit 130' INT TERM  # still runs the EXIT trap

# Bytes the emulator has delivered on all links so far: proof that a job's
# traffic crossed the emulated WAN (the counters refresh every 200 ms).
wan_bytes() {
  sleep 0.5
  "${sites[@]}" status --json | "$PYTHON" -c \
    'import json, sys; print(sum(l.get("tx_bytes") or 0 for l in json.load(sys.stdin)["links"]))'
}

# One torch_bench job of backend $1 (repetition $2, MASTER_PORT $3), every
# rank in its site; its table goes to the console and <rep>-<backend>.txt.
run_job() {
  local backend=$1 rep=$2 port=$3 before after status=0
  local log=$out/$rep-$backend.txt json=$out/$rep-$backend.json
  rm -f "$json"
  echo "=== rep $rep, backend $backend"
  before=$(wan_bytes)
  # shellcheck disable=SC2086  # EXTRA_ARGS is meant to split
  timeout --kill-after=30 "$RUN_TIMEOUT" "${sites[@]}" run -k "$RANKS_PER_SITE" -- \
    env MASTER_ADDR="$master" MASTER_PORT="$port" \
        GLOO_SOCKET_IFNAME=wan0 STRATA_SOCKET_IFNAME=wan0 \
        PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" "$bench" --backend "$backend" --sizes "$SIZES" --iters "$ITERS" \
      --warmup "$WARMUP" --latency-iters "$LAT_ITERS" --steps "$STEPS" \
      --ddp-warmup "$DDP_WARMUP" --hidden "$HIDDEN" --layers "$LAYERS" --batch "$BATCH" \
      --bucket-cap-mb "$BUCKET_MB" --timeout "$RUN_TIMEOUT" --json "$json" $EXTRA_ARGS \
    2>&1 | tee "$log" || status=$?
  after=$(wan_bytes)
  echo "# $backend: $((after - before)) bytes crossed the emulated WAN (exit $status)" | tee -a "$log" >&2
  [ -s "$json" ] || { echo "bench-torch: $backend (rep $rep) wrote no results" >&2; status=1; }
  return $status
}

teardown  # a testbed of ours left over from an interrupted run
up_status=0
"${sites[@]}" up --mgmt-octet "$MGMT_OCTET" --sites 2 --default "rtt=$RTT,rate=$RATE" || up_status=$?
if [ $up_status -ne 0 ]; then
  [ $up_status -eq 77 ] && echo "bench-torch: SKIPPED: no emulated sites on this machine (see above)" >&2
  exit $up_status
fi
"${sites[@]}" status --json > "$out/testbed.json"
master=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sites"][0]["wan_addr"])' \
  "$out/testbed.json")
echo "bench-torch: 2 sites x $RANKS_PER_SITE ranks, RTT $RTT, $RATE; MASTER_ADDR $master; backends $BACKENDS; $REPS rep(s)"

overall=0 job=0
for rep in $(seq 1 "$REPS"); do
  # Alternate the order too: the backend that runs first is not always the same.
  order=$BACKENDS
  [ $((rep % 2)) -eq 0 ] && order=$(echo "$BACKENDS" | tr ' ' '\n' | tac | tr '\n' ' ')
  for backend in $order; do
    run_job "$backend" "$rep" $((MASTER_PORT + job)) || overall=1
    job=$((job + 1))
  done
done
"${sites[@]}" status > "$out/testbed.txt"  # counters and emulator warnings, for the record
teardown

# Medians over the repetitions per backend, and strata/gloo ratios (times:
# below 1 means strata is faster; busbw: above 1 does).
"$PYTHON" - "$out" "$REPS" "$BACKENDS" <<'PY' | tee "$out/summary.txt" || overall=1
import glob, json, os, statistics, sys
out, reps, backends = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
runs = {b: [json.load(open(p)) for p in sorted(glob.glob(f"{out}/*-{b}.json"))] for b in backends}
missing = [b for b, r in runs.items() if not r]
runs = {b: r for b, r in runs.items() if r}
if not runs:
    sys.exit("bench-torch: no results")
human = lambda n: next((f"{n >> s}{u}" for s, u in ((30, "G"), (20, "M"), (10, "K"))
                        if n >= 1 << s and n % (1 << s) == 0), f"{n}")
med = lambda xs: statistics.median(xs) if xs else None
table = {}  # metric -> backend -> median over reps
for b, rs in runs.items():
    table.setdefault("all_reduce 4 B, ms", {})[b] = med([r["latency"]["median_us"] / 1e3 for r in rs])
    for row in rs[0]["allreduce"]:
        key = row["bytes"]
        vals = [x["median_us"] / 1e3 for r in rs for x in r["allreduce"] if x["bytes"] == key]
        table.setdefault(f"all_reduce {human(key)}B, ms", {})[b] = med(vals)
        bus = [x["busbw_gbps"] for r in rs for x in r["allreduce"] if x["bytes"] == key]
        table.setdefault(f"all_reduce {human(key)}B, busbw GB/s", {})[b] = med(bus)
    steps = [r["ddp"]["median_step_ms"] for r in rs if r.get("ddp")]
    if steps:
        d = rs[0]["ddp"]
        table.setdefault(f"DDP step ({d['params'] / 1e6:.1f}M params), ms", {})[b] = med(steps)
ok = all(r["ok"] for rs in runs.values() for r in rs)
names = list(runs)
both = "gloo" in runs and "strata" in runs
print(f"# bench-torch: medians over {reps} rep(s); world size "
      f"{next(iter(runs.values()))[0]['world_size']}; results {'OK' if ok else 'WRONG'}")
if missing:
    print(f"# no results from: {' '.join(missing)}")
if both:
    print("# strata/gloo: for times below 1 means strata is faster, for busbw above 1")
print(f"{'metric':<40}" + "".join(f"{n:>12}" for n in names) + ("  strata/gloo" if both else ""))
summary = []
for metric, vals in table.items():
    line = f"{metric:<40}" + "".join(f"{vals[n]:>12.4g}" if vals.get(n) is not None else f"{'-':>12}" for n in names)
    ratio = None
    if both and vals.get("gloo") and vals.get("strata") is not None:
        ratio = vals["strata"] / vals["gloo"]
        line += f"  {ratio:>11.3f}"
    print(line)
    summary.append({"metric": metric, **vals, "strata_over_gloo": ratio})
json.dump({"reps": reps, "ok": ok, "missing": missing, "rows": summary}, open(f"{out}/summary.json", "w"), indent=1)
sys.exit(0 if ok and not missing else 1)
PY
if grep -q "emulator warnings" "$out/testbed.txt"; then
  sed -n '/emulator warnings/,$p' "$out/testbed.txt" | sed 's/^/# /' | tee -a "$out/summary.txt" >&2
fi
echo "bench-torch: results in $out"
exit $overall
