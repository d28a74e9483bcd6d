#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test suite.
# Suites are CTest labels: unit, collectives, runtime, mpi, nccl, perf,
# sites (needs root and network namespaces; skips itself otherwise), cuda
# (skips itself without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2 --timeout 600 "$@"
