#!/usr/bin/env bash
# Live link model (issue 21, docs/telemetry.md "Live adaptation") on
# strata-sites, 2 sites x 2 ranks, RTT 20 ms: 64 MiB AllReduce calls with
# the user's opt-in policy "int8 on links slower than 0.7 Gbit/s"
# (STRATA_COMPRESSION=int8, STRATA_COMPRESSION_MAX_GBPS=0.7). The WAN link
# starts at 1 Gbit/s and drops to 400 Mbit/s before call CHANGE_AT:
#   adaptive  STRATA_ADAPT=1 (the default): the model follows the link
#   static    STRATA_ADAPT=0: the plan made at creation stays
#   fresh     a job started on the 400 Mbit/s link: the best plan for it
#   exact-*   the same without compression (no better plan exists there)
#
#   bash scripts/bench-adaptation.sh        (needs root)
#
# Environment: CALLS (24) CHANGE_AT (6) BUILD_DIR (build) PREFIX (badapt)
# MGMT_OCTET (244). Results: $BUILD_DIR/bench-adaptation/*.jsonl, summary.txt
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=bench-adaptation bench_prefix=badapt
# shellcheck source=scripts/sites-bench-common.sh
source scripts/sites-bench-common.sh
calls=${CALLS:-24} change_at=${CHANGE_AT:-6}
export STRATA_METRICS=1 STRATA_ALGO=allreduce=hier PYTHONPATH=$PWD/$build/python
slow=(--link 0-1:rate=400mbit) fast=(--link 0-1:rate=1gbit)

job() {  # job <name> <adapt> <compression> <change: 1|0>
  local name=$1 command=()
  [ "$4" = 1 ] && command=("$PWD/${sites[0]}" "${sites[@]:1}" set "${slow[@]}")
  STRATA_ADAPT=$2 STRATA_COMPRESSION=$3 STRATA_COMPRESSION_MAX_GBPS=0.7 "${sites[@]}" run -k 2 -- \
    /usr/bin/python3 benchmarks/telemetry/live_adaptation.py "$calls" $((64 << 20)) "$change_at" "${command[@]}" \
    | grep '^{' > "$out/$name.jsonl"
  echo "$name: $(wc -l < "$out/$name.jsonl") calls"
}

teardown
"${sites[@]}" up --mgmt-octet "${MGMT_OCTET:-244}" --sites 2 --default "rtt=20ms,rate=1gbit" > /dev/null
for mode in adaptive static; do
  adapt=1; [ $mode = static ] && adapt=0
  "${sites[@]}" set "${fast[@]}" > /dev/null
  job "$mode" $adapt int8 1
  "${sites[@]}" set "${fast[@]}" > /dev/null
  job "exact-$mode" $adapt none 1
done
"${sites[@]}" set "${slow[@]}" > /dev/null
job fresh 1 int8 0
job exact-fresh 1 none 0
/usr/bin/python3 benchmarks/telemetry/adaptation_summary.py "$out" "$change_at" | tee "$out/summary.txt"
