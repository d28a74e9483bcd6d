#!/usr/bin/env bash
# The main job: installs what is missing, builds, and benchmarks AllReduce on
# an emulated two-site network (2 sites x 2 ranks, 20 ms RTT, 1 Gbit/s):
# Strata's automatic choice, Strata forced to the flat ring, and Open MPI
# over TCP on the WAN, side by side in one mpirun job. Without root or
# network namespaces it says why and runs the same comparison on one site.
# Results: build/main-job/allreduce.json, .txt and .png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build=${BUILD_DIR:-build}
out="$build/main-job"
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites="$build/bin/strata-sites"
perf=("$PWD/$build/bin/strata-perf" allreduce -b 4 -e "${MAX_BYTES:-64M}" -f 4 -n 3 -w 1 -c 1
      --algo auto,ring --compare-mpi --json "$PWD/$out/allreduce.json")

status=0
"$sites" down > /dev/null 2>&1 || true
if "$sites" up --sites 2 --default rtt=20ms,rate=1gbit; then
  trap '"$sites" down > /dev/null 2>&1 || true' EXIT
  setup="2 sites x 2 ranks, 20 ms RTT, 1 Gbit/s (strata-sites)"
  "$sites" run --ranks-per-site 2 --mpi-baseline -- "${perf[@]}" | tee "$out/allreduce.txt" || status=$?
else
  echo "main-job: no emulated sites (see the message above); running on one site instead" >&2
  setup="1 site x 4 ranks, shared memory"
  mpirun --oversubscribe --bind-to none -np 4 "${perf[@]}" | tee "$out/allreduce.txt" || status=$?
fi
/usr/bin/python3 benchmarks/plot_allreduce.py "$out/allreduce.json" "$out/allreduce.png" --title "AllReduce float32, $setup"
exit $status
