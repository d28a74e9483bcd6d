#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz) for SECONDS each (default 600)
# from its seed corpus, keeping what each finds in build/tests/corpus/<name>.
# A crash leaves its input as build/tests/crash-* and fails the script.
#
#   bash scripts/fuzz.sh                 (after scripts/build.sh)
#   SECONDS_EACH=3600 bash scripts/fuzz.sh config_fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build}
seconds=${SECONDS_EACH:-600}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for source in tests/fuzz/*_fuzz.cc; do targets+=("$(basename "$source" .cc)"); done
fi
ninja -C "$build" "${targets[@]}"
for target in "${targets[@]}"; do
  mkdir -p "$build/tests/corpus/$target"
  echo "== $target: ${seconds} s"
  (cd "$build/tests" && "./$target" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 "corpus/$target" "$root/tests/fuzz/seeds/$target" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==.*ERROR|SUMMARY)")
done
