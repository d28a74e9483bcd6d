# Sourced by the strata-sites benchmarks (bench-compression.sh,
# bench-telemetry.sh, bench-adaptation.sh) once `bench_name` and
# `bench_prefix` are set: exits 77 unless root, and defines `build`
# ($BUILD_DIR or build), `out` ($build/$bench_name, made), `sites` (the
# strata-sites command for this benchmark's testbed), `perf`, `teardown`
# (run at exit) and `emulator_bytes` (bytes every emulated WAN link has
# carried so far).
if [ "$(id -u)" -ne 0 ]; then echo "$bench_name: SKIPPED: strata-sites needs root" >&2; exit 77; fi
build=${BUILD_DIR:-build}
out=$build/$bench_name
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
sites=("$build/bin/strata-sites" --prefix "${PREFIX:-$bench_prefix}")
perf=$build/bin/strata-perf
teardown() { "${sites[@]}" down > /dev/null 2>&1 || true; }
trap teardown EXIT
trap 'exit 130' INT TERM

emulator_bytes() {
  sleep 0.5
  "${sites[@]}" status --json | /usr/bin/python3 -c \
    'import json, sys; print(sum(l.get("tx_bytes") or 0 for l in json.load(sys.stdin)["links"]))'
}
