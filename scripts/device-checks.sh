#!/usr/bin/env bash
# The GPU checks of the CUDA paths, for a lent GPU machine that has no apt
# and no network (see the device tool's README).
#
#   bash scripts/device-checks.sh prepare   # here, after scripts/build.sh: fills .device/ (git-ignored)
#                                           # with the CUDA test programs, libnccl.so.2 and the Debian
#                                           # libraries they load
#   bash scripts/device-checks.sh run       # on the GPU machine, with .device carried; logs to $OUT
#
# `run` checks every collective with device buffers for 2 and 4 ranks on
# GPU 0, host-staged and through CUDA IPC (STRATA_NCCL_CUDA_IPC=1), then
# alternates the AllReduce busbw of the two paths for 4 ranks, 1-256 MiB,
# and runs the reduction kernels' test.
set -u
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
dest=.device

prepare() {
  rm -rf "$dest" && mkdir -p "$dest/bin" "$dest/lib"
  local programs=("$build/tests/strata-nccl-device-buffers-test" "$build/bin/strata-cuda-allreduce-bench"
                  "$build/tests/cuda_reduce_test" "$build/bin/strata-cuda-reduce-bench")
  cp "${programs[@]}" "$dest/bin/"
  cp -L "$build/nccl/lib/libnccl.so.2" "$dest/lib/"
  # Every shared library outside glibc and the compiler's runtime, plus UCX's
  # transport modules (UCX finds them beside libucs).
  { for f in "${programs[@]}" "$dest/lib/libnccl.so.2"; do ldd "$f"; done; } |
    awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux-x86-64|libgcc_s)\.so' |
    while read -r lib; do cp -L "$lib" "$dest/lib/"; done
  if [ -d /usr/lib/x86_64-linux-gnu/ucx ]; then cp -rL /usr/lib/x86_64-linux-gnu/ucx "$dest/lib/"; fi
  # The device tool carries at most 64 MiB: no debug information.
  find "$dest" -type f \( -name '*.so*' -o -path "$dest/bin/*" \) -exec strip --strip-debug {} +
  du -sh "$dest"
}

run() {
  : "${OUT:?set OUT to the folder for the logs}"
  export LD_LIBRARY_PATH=$PWD/$dest/lib:${LD_LIBRARY_PATH:-}
  export STRATA_SOCKET_IFNAME=${STRATA_SOCKET_IFNAME:-lo}
  local bin=$dest/bin
  { date -u; nvidia-smi -L; nproc; ldd $bin/strata-nccl-device-buffers-test | grep -i "not found"; } > "$OUT/env.log" 2>&1
  step() {  # step <log name> <timeout s> <command...>
    local name=$1 limit=$2; shift 2
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    echo "rc=$?" >> "$OUT/$name.log"
  }
  step reduce_test 120 $bin/cuda_reduce_test
  for np in 2 4; do
    step staged_np$np 120 $bin/strata-nccl-device-buffers-test $np
    STRATA_NCCL_CUDA_IPC=1 STRATA_DEBUG=INFO step ipc_np$np 120 $bin/strata-nccl-device-buffers-test $np
  done
  for round in 1 2; do
    step bench_staged_$round 200 $bin/strata-cuda-allreduce-bench 4 1M 256M 5 190
    STRATA_NCCL_CUDA_IPC=1 step bench_ipc_$round 200 $bin/strata-cuda-allreduce-bench 4 1M 256M 5 190
  done
  tail -n 25 "$OUT"/*.log
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
