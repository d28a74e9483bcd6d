#!/usr/bin/env bash
# Checks the shape of libnccl.so.2 as a drop-in: its soname, that it exports
# only nccl*/pncclX symbols with a pncclX for every ncclX, and that it
# needs neither MPI nor CUDA libraries to load.
# Usage: check_library.sh <path to the built libnccl.so.X.Y.Z>
set -euo pipefail
library=$1
status=0
complain() { echo "FAIL: $*" >&2; status=1; }

soname=$(readelf -d "$library" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libnccl.so.2 ]] || complain "soname is '$soname', expected libnccl.so.2"
[[ $(basename "$library") == libnccl.so.2.28.9 ]] || complain "file is $(basename "$library"), expected libnccl.so.2.28.9"
[[ -e $(dirname "$library")/libnccl.so.2 ]] || complain "no libnccl.so.2 link beside $library"

needed=$(readelf -d "$library" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
for forbidden in libmpi libcuda libcudart libnccl; do
  if grep -q "^$forbidden" <<<"$needed"; then complain "needs $(grep "^$forbidden" <<<"$needed" | tr '\n' ' ')"; fi
done

exported=$(nm -D --defined-only "$library" | awk '$2 ~ /^[TWDBRV]$/ {print $3}' | sed 's/@.*//' | sort -u)
# strataNccl*: Strata's documented extensions (include/nccl.h, the end).
others=$(grep -v -E '^(p?nccl|strataNccl)[A-Z]' <<<"$exported" || true)
[[ -z $others ]] && echo "exports only nccl*/pnccl*/strataNccl*" || complain "exports non-NCCL symbols: $(head -5 <<<"$others" | tr '\n' ' ')"

functions=$(grep -E '^nccl[A-Z]' <<<"$exported")
for name in $functions; do
  grep -qx "p$name" <<<"$exported" || complain "p$name is missing"
done
for name in ncclGetVersion ncclGetUniqueId ncclCommInitRank ncclCommInitRankConfig ncclCommInitAll \
    ncclCommSplit ncclCommFinalize ncclCommDestroy ncclCommAbort ncclCommGetAsyncError ncclCommCount \
    ncclCommUserRank ncclCommCuDevice ncclGetErrorString ncclGetLastError ncclRedOpCreatePreMulSum \
    ncclRedOpDestroy ncclAllReduce ncclBroadcast ncclBcast ncclReduce ncclAllGather ncclReduceScatter \
    ncclAlltoAll ncclGather ncclScatter ncclSend ncclRecv ncclGroupStart ncclGroupEnd ncclMemAlloc \
    ncclMemFree ncclCommRegister ncclCommDeregister; do
  grep -qx "$name" <<<"$exported" || complain "$name is not exported"
done
echo "$(wc -l <<<"$functions") nccl functions, each with a pnccl twin"
exit $status
