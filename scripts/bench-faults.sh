#!/usr/bin/env bash
# Fault drills (issue 19, docs/reliability.md) on strata-sites, 2 sites x 4
# ranks, RTT 20 ms, 1 Gbit/s: a rank is SIGKILLed or SIGSTOPped inside a
# 16 MiB AllReduce, and every survivor reports when its call failed and
# whether the error names that rank (build/bin/strata-fault-drill).
# STRATA_WATCH_LOCAL_PEERS=0, so that ranks of another emulated site are
# not looked at as processes of this machine: deaths are seen as they would
# be between hosts (connections, liveness, failure notices).
#
#   bash scripts/bench-faults.sh        (needs root)
#
# Environment: KILLS (50) STOPS (4) BUILD_DIR (build) PREFIX (bfault)
# MGMT_OCTET (243) STRATA_PEER_TIMEOUT (10). Results:
# $BUILD_DIR/bench-faults/*.jsonl and summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
bench_name=bench-faults bench_prefix=bfault
# shellcheck source=scripts/sites-bench-common.sh
source scripts/sites-bench-common.sh
kills=${KILLS:-50} stops=${STOPS:-4}
export STRATA_WATCH_LOCAL_PEERS=0 STRATA_PEER_TIMEOUT=${STRATA_PEER_TIMEOUT:-10}
drill=$PWD/$build/bin/strata-fault-drill
victims=(5 4 1 7 0)  # non-leaders and leaders of both sites

job() {  # job <name> <fault> <victim>; a job that outlives 90 s is a hang
  local record=/tmp/strata-fault-drill.$1
  rm -f "$record" "$record".*
  timeout -k 5 90 "${sites[@]}" run -k 4 --mca orte_enable_recovery 1 -- \
    "$drill" --fault "$2" --victim "$3" --bytes $((16 << 20)) --calls 8 --at 3 --record "$record" \
    2> "$out/$1.err" | grep '^{' > "$out/$1.jsonl" || true
  rm -f "$record" "$record".*
}

teardown
rm -f "$out"/*.jsonl "$out"/*.err
"${sites[@]}" up --mgmt-octet "${MGMT_OCTET:-243}" --sites 2 --default "rtt=20ms,rate=1gbit" > /dev/null
job control none 5
for ((i = 0; i < kills; i++)); do job "kill-$i" kill "${victims[i % ${#victims[@]}]}"; done
for ((i = 0; i < stops; i++)); do job "stop-$i" stop "${victims[i % ${#victims[@]}]}"; done
/usr/bin/python3 benchmarks/faults/fault_summary.py "$out" 8 "$STRATA_PEER_TIMEOUT" | tee "$out/summary.txt"
