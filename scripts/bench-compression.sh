#!/usr/bin/env bash
# Compressed inter-site leg (issue 22, docs/compression.md): on strata-sites,
# 2 sites x 4 ranks at 1 Gbit/s, RTT 20 ms (A) and 80 ms (B), every wire
# format side by side with the flat ring and uncompressed hier in one job
# (strata-perf --algo name@format), small messages against uncompressed,
# and the bytes the emulator carried for uncompressed, bf16 and int8 runs.
#
#   bash scripts/bench-compression.sh [A|B|all]     (needs root; default all)
#
# Environment: ITERS (3) WARMUP (1) BUILD_DIR (build) PREFIX (bcomp)
# MGMT_OCTET (241) WAN_ONLY (0; 1: only the WAN byte counts). Results: $BUILD_DIR/bench-compression/<setup>.*.txt|json.
set -euo pipefail
cd "$(dirname "$0")/.."
choice=${1:-all}
case $choice in A|B) setups=("$choice") ;; all) setups=(A B) ;; *) echo "usage: $0 [A|B|all]" >&2; exit 2 ;; esac
ITERS=${ITERS:-3} WARMUP=${WARMUP:-1}
bench_name=bench-compression bench_prefix=bcomp
# shellcheck source=scripts/sites-bench-common.sh
source scripts/sites-bench-common.sh

# The bytes that cross the WAN per 64 MiB AllReduce: two jobs of 2 and 6
# calls (1 untimed + n timed), so that what a job spends besides the calls
# (the link probe at creation) cancels out.
job_bytes() {
  local algo=$1 n=$2 before after
  before=$(emulator_bytes)
  "${sites[@]}" run -k 4 -- "$perf" allreduce -b 64M -e 64M -n "$n" -w 0 -c 0 --out-of-place --algo "$algo" > /dev/null
  after=$(emulator_bytes)
  echo $((after - before))
}
wan_job() {
  local setup=$1 algo=$2 few many
  few=$(job_bytes "$algo" 1)
  many=$(job_bytes "$algo" 5)
  echo "$setup $algo: $(( (many - few) / 4 )) bytes crossed the emulated WAN per 64 MiB call (jobs of 2 and 6 calls: $few, $many bytes)" \
    | tee -a "$out/$setup.wan.txt"
}

for setup in "${setups[@]}"; do
  rtt=20ms; [ "$setup" = B ] && rtt=80ms
  teardown
  "${sites[@]}" up --mgmt-octet "${MGMT_OCTET:-241}" --sites 2 --default "rtt=$rtt,rate=1gbit"
  : > "$out/$setup.wan.txt"
  [ "${WAN_ONLY:-0}" = 1 ] || {
  "${sites[@]}" run -k 4 -- "$perf" allreduce -b 64M -e 256M -f 4 -n "$ITERS" -w "$WARMUP" --out-of-place \
    --algo ring,hier,hier@bf16,hier@int8,hier@fp8-e4m3,hier@int4,hier@bf16+zstd --interleave \
    --json "$out/$setup.large.json" | tee "$out/$setup.large.txt"
  "${sites[@]}" run -k 4 -- "$perf" allreduce -b 256K -e 1M -f 4 -n 10 -w 2 --out-of-place \
    --algo hier,hier@int8,hier@bf16 --interleave --json "$out/$setup.small.json" | tee "$out/$setup.small.txt"
  }
  for algo in hier hier@bf16 hier@int8; do wan_job "$setup" "$algo"; done
  "${sites[@]}" status > "$out/$setup.testbed.txt"
  teardown
done
