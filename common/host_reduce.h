// Host-memory reductions used by the executor and by tests' references.
#pragma once

#include <cstddef>

#include "common/datatype.h"

namespace strata {

// dst[i] = a[i] (op) b[i] for i < count. dst may alias a or b.
void host_reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count);

// Applies `finish` to data[0..count) in place.
void host_finish(DataType type, const Finish& finish, void* data, size_t count);

}  // namespace strata
