#!/usr/bin/env bash
# Per-call overhead of the Python layers (issue 25's goal: the torch backend
# within 20 us of the C++ API). On one host, 2 ranks under mpirun, in one
# run: strata-perf's 4-byte in-place allreduce (the C++ API), then
# benchmarks/torch/call_overhead.py (torch "strata", the NumPy module, gloo).
#   bash scripts/bench-torch-overhead.sh     (ITERS, default 2000; ROUNDS, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
ITERS=${ITERS:-2000} ROUNDS=${ROUNDS:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PYTHONPATH=$build/python
out=$build/bench-torch
mkdir -p "$out"
mpirun --oversubscribe -np 2 "$build/bin/strata-perf" -b 4 -e 4 -n "$ITERS" -w 100 --in-place \
  --json "$out/overhead-cpp.json" allreduce > "$out/overhead-cpp.txt"
mpirun --oversubscribe -np 2 -x PYTHONPATH /usr/bin/python3 -W ignore benchmarks/torch/call_overhead.py \
  --iters "$ITERS" --rounds "$ROUNDS" --json "$out/overhead-python.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
cpp = json.load(open(f"{out}/overhead-cpp.json"))["results"][0]["ip"]["time_us"]
py = json.load(open(f"{out}/overhead-python.json"))["median_us"]
print(f"C++ API (strata-perf) {cpp:9.1f} us")
for name, value in py.items():
    print(f"{name:21s} {value:9.1f} us   over C++: {value - cpp:+.1f} us")
PY
