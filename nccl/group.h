// Communicator creation that NCCL allows inside a group: one thread may
// call ncclCommInitRank (or ncclCommSplit) for several ranks between
// ncclGroupStart and ncclGroupEnd. Each of those calls blocks until all
// its ranks arrive, so they cannot run one after another on the caller's
// thread; they run together, one thread each, at the outermost ncclGroupEnd.
#pragma once

#include <functional>

#include "nccl/comm_handle.h"

namespace strata::nccl {

using CreateWork = std::function<CommParts()>;

// Outside a group: runs `work` and returns a live handle (nullptr when
// `wants_handle` is false, e.g. a split with NCCL_SPLIT_NOCOLOR). Inside a
// group: returns a pending handle at once and runs `work` at the outermost
// ncclGroupEnd, which reports its failure.
ncclComm* create_comm(CreateWork work, bool wants_handle, int rank, int size, int cuda_device);

// Tears down what a destroyed handle owned: at once outside a group, else
// after the outermost ncclGroupEnd has run the group's operations (which
// refer to the communicator), together with everything else the group
// released, each on its own thread, so ranks whose teardown waits for one
// another can all be destroyed from one thread.
void release_when_idle(CommParts parts);

}  // namespace strata::nccl
