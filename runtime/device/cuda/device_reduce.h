// Element-wise reductions on CUDA device memory. The kernels run the same
// functors as host_reduce (common/reduce_functors.h), so on identical inputs
// both produce identical bits (NaN payloads aside).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "common/datatype.h"

namespace strata {

// dst[i] = a[i] (op) b[i] for i < count, enqueued on `stream`. All three
// pointers are device (or managed) memory; dst may alias a or b exactly.
// count == 0 enqueues nothing. Throws Error(kCuda) if the launch fails.
void device_reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count,
                   cudaStream_t stream);

// Applies `finish` to data[0..count) in place, enqueued on `stream`, as
// host_finish does. FinishKind::kNone enqueues nothing.
void device_finish(DataType type, const Finish& finish, void* data, size_t count, cudaStream_t stream);

}  // namespace strata
