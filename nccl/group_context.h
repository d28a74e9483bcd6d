// What an open NCCL group holds on this thread, in one object. The
// runtime's group (runtime/communicator/group.cc) queues the operations; the
// ABI adds what only NCCL has: communicator creations deferred to the group's
// end, communicators destroyed inside it, the first error of the group, and
// the device buffers staged by its calls. ncclGroupEnd (group_api.cc) settles
// them in one order: creations, the runtime's operations, staged copies back,
// teardown, then the error.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "common/error.h"
#include "nccl.h"
#include "nccl/comm_handle.h"
#include "nccl/cuda_driver.h"

namespace strata::nccl {

struct StagingPool;  // device_staging.cc

struct DeferredCreation {
  ncclComm* handle = nullptr;  // nullptr: run for its side effect only
  std::function<CommParts()> work;
  CommParts parts;             // the result
  std::exception_ptr failure;  // or why it failed
};

// A staged result to copy back to the device at the group's end.
struct PendingCopy {
  void* device = nullptr;
  const void* host = nullptr;
  uint64_t bytes = 0;
  cudaStream_t stream = nullptr;
  CuContext context = nullptr;
  ErrorContext error_context;
};

// Staging buffers a call of the group holds until the group's end.
struct HeldBuffers {
  std::shared_ptr<StagingPool> pool;
  std::vector<void*> taken;
};

struct GroupContext {
  std::vector<DeferredCreation> deferred_creations;
  std::vector<CommParts> released;  // destroyed inside the group; torn down after it
  ncclResult_t first_error = ncclSuccess;
  std::vector<PendingCopy> pending_copies;
  std::vector<HeldBuffers> held_buffers;
};

// This thread's group context (empty while no group is open).
GroupContext& this_thread_group();

}  // namespace strata::nccl
