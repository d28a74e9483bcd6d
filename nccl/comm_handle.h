// What an ncclComm_t points at, and how entry points find out whether the
// pointer a caller passed is a communicator they may use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "nccl.h"
#include "runtime/communicator/communicator.h"
#include "nccl/redop.h"

namespace strata::runtime {
class Bootstrap;
}

namespace strata::nccl {

enum class CommState {
  kPending,    // created inside a group; becomes kLive or kFailed at ncclGroupEnd
  kLive,
  kFailed,     // its deferred creation failed; only destroy/abort are allowed
  kFinalized,  // ncclCommFinalize ran; only queries and destroy are allowed
  kDestroyed,  // ncclCommDestroy ran (the shell stays; see comm_handle.cc)
  kAborted,    // ncclCommAbort ran
};

// A communicator in the making: the bootstrap (kept until the communicator
// is gone, in case the communicator still refers to it) and the result.
struct CommParts {
  std::unique_ptr<runtime::Bootstrap> bootstrap;
  std::shared_ptr<runtime::Communicator> comm;
  ~CommParts();  // destroys comm before bootstrap
  CommParts();
  CommParts(CommParts&&) noexcept;
  CommParts& operator=(CommParts&&) noexcept;
};

// A usable view of a handle, taken under the registry lock. Holding `comm`
// keeps the communicator alive even if another thread destroys the handle.
struct CommRef {
  ncclComm* handle = nullptr;
  std::shared_ptr<runtime::Communicator> comm;  // null unless kLive or kFinalized
  CommState state = CommState::kLive;
  int rank = -1;
  int size = 0;
  int cuda_device = 0;
  ncclResult_t failure = ncclSuccess;  // kFailed: why
  ErrorContext context;                // rank and entry point, for errors
};

// Registers a new handle. `parts.comm` null: a pending handle (rank/size
// known or -1/0) that complete_comm() or fail_comm() settles later.
ncclComm* register_comm(CommParts parts, int rank, int size, int cuda_device);
// Settle a pending handle. When the program destroyed it meanwhile,
// complete_comm leaves `parts` with the caller (to tear down) and returns false.
bool complete_comm(ncclComm* handle, CommParts& parts);
void fail_comm(ncclComm* handle, ncclResult_t result);

// Finds `handle` for entry point `function`. Throws kInvalidArgument for
// NULL or a pointer this library never returned, kInvalidUsage for a
// destroyed or aborted handle; any other state is returned to the caller.
CommRef lookup_comm(ncclComm_t handle, const char* function);

// lookup_comm, then requires kLive: collectives, split, redops.
CommRef usable_comm(ncclComm_t handle, const char* function);

// lookup_comm, then requires kLive or kFinalized: rank/size queries.
CommRef queryable_comm(ncclComm_t handle, const char* function);

void finalize_comm(ncclComm* handle);

// Marks the handle dead (kDestroyed or kAborted) and hands back what it
// owned, so the caller can tear it down outside the registry lock.
CommParts retire_comm(ncclComm* handle, CommState why);

// The PreMulSum operators of a handle (valid for the process lifetime).
RedOpTable& redops_of(ncclComm* handle);

}  // namespace strata::nccl
