#!/usr/bin/env bash
# The intra-node benchmark (issue 7): 2 ranks on this machine, AllReduce
# float32, in rounds, each round running every contender back to back so
# that ratios compare runs minutes apart at most (the VM's memory bandwidth
# moves with its neighbours' load):
#   one core's memcpy of the same sizes (heap and node-shared buffers),
#   strata-perf with heap buffers (-R 0) and node-shared buffers (-R 1),
#   each beside Open MPI's MPI_Allreduce on the same buffers (--compare-mpi),
#   Gloo (TCP on loopback; Debian's Gloo has no shared-memory transport).
# Writes $BUILD_DIR/bench-node/round<k>-*.json and summary.txt.
#
#   bash scripts/bench-node.sh        (env: ROUNDS (3) ITERS (20) BUILD_DIR (build) SKIP_BUILD (0))
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3} ITERS=${ITERS:-20}
build=${BUILD_DIR:-build}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  BUILD_DIR=$build bash scripts/build.sh
fi
out=$build/bench-node
rm -rf "$out" && mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --oversubscribe -np 2)
perf=("$build/bin/strata-perf" allreduce -c 1 --compare-mpi)

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for shared in 0 1; do
    "$build/bin/strata-memcpy-bench" -b 1M -e 64M -f 64 -n "$ITERS" -R "$shared" | tee "$out/round$round-memcpy-R$shared.txt"
  done
  for shared in 0 1; do
    "${mpi[@]}" "${perf[@]}" -R "$shared" -b 8 -e 8 -n 5000 -w 500 --json "$out/round$round-latency-R$shared.json"
    "${mpi[@]}" "${perf[@]}" -R "$shared" -b 1M -e 64M -f 64 -n "$ITERS" -w 5 --json "$out/round$round-busbw-R$shared.json"
  done
  if [ -x "$build/bin/strata-gloo-bench" ]; then
    "${mpi[@]}" "$build/bin/strata-gloo-bench" -b 8 -e 8 -n 2000 -w 100 --algo ring --json "$out/round$round-gloo-latency.json"
    "${mpi[@]}" "$build/bin/strata-gloo-bench" -b 1M -e 64M -f 64 -n 10 -w 2 --json "$out/round$round-gloo-busbw.json"
  fi
done
/usr/bin/python3 benchmarks/perf/node_summary.py "$out" | tee "$out/summary.txt"
