#!/usr/bin/env bash
# Pins two house rules: layers include only downwards (common <- compression, topology <-
# collectives <- runtime <- nccl, mpi, tools, python-bindings), and only runtime/config reads
# STRATA_* variables.
set -u
cd "$(dirname "$0")/.."
status=0
check() {  # check <layer> <forbidden include prefixes...>
  local layer=$1; shift
  for prefix in "$@"; do
    if grep -rnE "#include \"${prefix}/" "$layer" --include='*.h' --include='*.cc' --include='*.cu'; then
      echo "layering: $layer must not include $prefix/ headers" >&2
      status=1
    fi
  done
}
check common compression topology collectives runtime nccl tools
check compression topology collectives runtime nccl tools
check topology collectives runtime nccl tools
check collectives runtime nccl tools
check runtime nccl mpi tools benchmarks python-bindings
check nccl tools benchmarks mpi python-bindings
check mpi nccl tools benchmarks python-bindings
if grep -rnE 'getenv\("STRATA_' common compression topology collectives runtime nccl mpi tools include python-bindings/src --include='*.h' --include='*.cc' --include='*.cu' \
     | grep -v '^runtime/config/'; then
  echo "config: STRATA_* variables must be declared in runtime/config/config.cc and read through config()" >&2
  status=1
fi
[ $status -eq 0 ] && echo "layering and configuration rules hold"
exit $status
