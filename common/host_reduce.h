// Host-memory reductions used by the executor and by tests' references.
#pragma once

#include <cstddef>

#include "common/datatype.h"

namespace strata {

// dst[i] = a[i] (op) b[i] for i < count. dst may alias a or b.
void host_reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count);

// Applies `finish` to data[0..count) in place.
void host_finish(DataType type, const Finish& finish, void* data, size_t count);

// dst[i] = finish(src[i]); dst may equal src.
void host_finish_copy(DataType type, const Finish& finish, void* dst, const void* src, size_t count);

// Whether a reduction's finish scales each rank's contribution before the
// sum instead of the result after it: for floating types, as NCCL does for
// ncclAvg and PreMulSum, so that 8 x fp16 10000 averages to 10000, not inf.
// Integers divide the exact sum (truncating), also as NCCL does.
bool finish_before_sum(DataType type, const Finish& finish);

}  // namespace strata
