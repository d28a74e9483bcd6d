#!/usr/bin/env bash
# Configures and builds Strata into ${BUILD_DIR:-build} with two parallel jobs
# (CI machines have 2 cores) and ccache when present.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build_dir" -j "${BUILD_JOBS:-2}"
