// Argument checks for one operation, before anything is queued or sent.
#pragma once

#include "runtime/communicator/communicator.h"

namespace strata::runtime {

// Throws Error(kInvalidArgument) naming the bad argument and `rank`. Sets
// op.request.nranks and op.request.in_place.
void check_operation(Operation& op, int rank, int nranks);
// The same checks less the buffers' (for plans of operations not yet given memory).
void check_request(Operation& op, int rank, int nranks);

}  // namespace strata::runtime
