#!/usr/bin/env bash
# The hierarchical-collectives benchmark (issue 6): for each testbed setup it
# brings up strata-sites, runs every contender on it and writes
# $BUILD_DIR/bench-wan/<setup>.{json,txt,png}: a table of times, the WAN lower
# bounds and the ratios the issue asks for. See docs/performance.md.
#
#   bash scripts/bench-wan.sh [A|B|C|all]        (default all; needs root)
#
# Setups: A 2 sites x 4 ranks, 1 Gbit/s, 20 ms RTT; B the same at 80 ms;
# C 3 sites x 2 ranks, 0-1 10 ms, 1-2 30 ms at 500 Mbit/s, 0-2 50 ms.
# Contenders: strata-perf --algo $ALGOS --compare-mpi (Open MPI ob1/TCP on the
# WAN) in one job, then strata-gloo-bench --algo $GLOO_ALGOS bound to wan0.
# Environment (defaults): MIN_BYTES (4: with FACTOR 4 the sweep hits 64K,
# 64M and 256M) MAX_BYTES (256M) FACTOR (4) ITERS (3) WARMUP (1)
# ALGOS (auto,ring,hier) GLOO_ALGOS (ring,halving_doubling) PREFIX (bench)
# MGMT_OCTET (240) BUILD_DIR (build) RUN_TIMEOUT (3600 s per job)
# SKIP_BUILD (0; 1 uses the binaries already in BUILD_DIR) NODE_SHARED (0; 1:
# Strata's and Open MPI's buffers are node-shared memory, strata-perf -R 1).
# Exit: 0 ok, 1 a contender failed or returned wrong results, 2 usage,
# 77 skipped (not root, or no network namespaces/TUN).
set -euo pipefail
cd "$(dirname "$0")/.."

choice=${1:-all}
case $choice in
  A|B|C) setups=("$choice") ;;
  all) setups=(A B C) ;;
  *) echo "usage: $0 [A|B|C|all]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-wan: SKIPPED: strata-sites needs root (network namespaces, TUN, bridge)" >&2
  exit 77
fi

MIN_BYTES=${MIN_BYTES:-4} MAX_BYTES=${MAX_BYTES:-256M} FACTOR=${FACTOR:-4}
ITERS=${ITERS:-3} WARMUP=${WARMUP:-1} ALGOS=${ALGOS:-auto,ring,hier}
GLOO_ALGOS=${GLOO_ALGOS:-ring,halving_doubling}
PREFIX=${PREFIX:-bench} MGMT_OCTET=${MGMT_OCTET:-240} RUN_TIMEOUT=${RUN_TIMEOUT:-3600}
NODE_SHARED=${NODE_SHARED:-0}
build=${BUILD_DIR:-build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  BUILD_DIR=$build bash scripts/build.sh
fi
out=$build/bench-wan
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites=("$build/bin/strata-sites" --prefix "$PREFIX")

teardown() { "${sites[@]}" down > /dev/null 2>&1 || true; }
trap teardown EXIT
trap 'exit 130' INT TERM  # still runs the EXIT trap

# up arguments, ranks per site and a title for each setup.
setup_args() {
  case $1 in
    A) echo "--sites 2 --default rtt=20ms,rate=1gbit" ;;
    B) echo "--sites 2 --default rtt=80ms,rate=1gbit" ;;
    C) echo "--sites 3 --link 0-1:rtt=10ms,rate=1gbit --link 1-2:rtt=30ms,rate=500mbit --link 0-2:rtt=50ms,rate=1gbit" ;;
  esac
}
ranks_per_site() { case $1 in C) echo 2 ;; *) echo 4 ;; esac; }
setup_title() {
  case $1 in
    A) echo "A: 2 sites x 4 ranks, 1 Gbit/s, RTT 20 ms" ;;
    B) echo "B: 2 sites x 4 ranks, 1 Gbit/s, RTT 80 ms" ;;
    C) echo "C: 3 sites x 2 ranks, RTT 0-1 10 ms, 1-2 30 ms (500 Mbit/s), 0-2 50 ms" ;;
  esac
}

# Bytes the emulator has delivered on all links so far: proof that a job's
# traffic crossed the emulated WAN (the counters refresh every 200 ms).
wan_bytes() {
  sleep 0.5
  "${sites[@]}" status --json | /usr/bin/python3 -c \
    'import json, sys; print(sum(l.get("tx_bytes") or 0 for l in json.load(sys.stdin)["links"]))'
}

# Runs one contender under the testbed with the Open MPI TCP baseline wiring;
# prints how many bytes crossed the WAN meanwhile to stderr and the log.
run_job() {
  local name=$1 log=$2 before after status=0
  shift 2
  before=$(wan_bytes)
  timeout --kill-after=30 "$RUN_TIMEOUT" "${sites[@]}" run -k "$k" --mpi-baseline -- "$@" | tee "$log" || status=$?
  after=$(wan_bytes)
  echo "# $name: $((after - before)) bytes crossed the emulated WAN (exit $status)" | tee -a "$log" >&2
  return $status
}

bench_setup() {
  local setup=$1 status=0
  k=$(ranks_per_site "$setup")
  local sweep=(-b "$MIN_BYTES" -e "$MAX_BYTES" -f "$FACTOR" -n "$ITERS" -w "$WARMUP" -c 1)
  teardown  # a testbed of ours left over from an interrupted run
  local up_status=0
  # shellcheck disable=SC2046  # the setup's arguments are meant to split
  "${sites[@]}" up --mgmt-octet "$MGMT_OCTET" $(setup_args "$setup") || up_status=$?
  if [ $up_status -ne 0 ]; then
    [ $up_status -eq 77 ] && echo "bench-wan: SKIPPED: no emulated sites on this machine (see above)" >&2
    return $up_status
  fi
  "${sites[@]}" status --json > "$out/$setup.testbed.json"
  run_job "strata-perf --algo $ALGOS --interleave --compare-mpi" "$out/$setup.perf.txt" \
    "$build/bin/strata-perf" allreduce "${sweep[@]}" --out-of-place -R "$NODE_SHARED" --algo "$ALGOS" --interleave --compare-mpi \
    --json "$out/$setup.perf.json" || status=1
  run_job "strata-gloo-bench --algo $GLOO_ALGOS" "$out/$setup.gloo.txt" \
    "$build/bin/strata-gloo-bench" "${sweep[@]}" --algo "$GLOO_ALGOS" --iface wan0 \
    --json "$out/$setup.gloo.json" || status=1
  "${sites[@]}" status > "$out/$setup.testbed.txt"  # counters and emulator warnings, for the record
  teardown
  tabulate "$setup" || status=1
  # Late or dropped packets mean the numbers include emulator error: say so
  # beside the table, not only on the console.
  if grep -q "emulator warnings" "$out/$setup.testbed.txt"; then
    sed -n '/emulator warnings/,$p' "$out/$setup.testbed.txt" | sed 's/^/# /' | tee -a "$out/$setup.txt" >&2
  fi
  return $status
}

tabulate() {
  local setup=$1 gloo=()
  [ -s "$out/$setup.gloo.json" ] && gloo=(--gloo "$out/$setup.gloo.json")
  [ -s "$out/$setup.perf.json" ] || { echo "bench-wan: $setup: strata-perf wrote no results" >&2; return 1; }
  /usr/bin/python3 benchmarks/plot_allreduce.py "$out/$setup.perf.json" "$out/$setup.png" "${gloo[@]}" \
    --testbed "$out/$setup.testbed.json" --ranks-per-site "$k" --setup "$setup" \
    --title "AllReduce float32, $(setup_title "$setup")" --table-json "$out/$setup.json" | tee "$out/$setup.txt"
  return "${PIPESTATUS[0]}"
}

overall=0
for setup in "${setups[@]}"; do
  echo "=== bench-wan setup $(setup_title "$setup")"
  bench_setup "$setup" || { code=$?; [ $code -eq 77 ] && exit 77; overall=1; }
done
echo "bench-wan: results in $out/{$(IFS=,; echo "${setups[*]}")}.{json,txt,png}"
exit $overall
