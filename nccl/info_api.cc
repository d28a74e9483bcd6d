// Version, error text, communicator queries and the memory entry points.
#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "nccl/api_guard.h"
#include "nccl/argument_check.h"
#include "nccl/comm_handle.h"
#include "nccl/profiling_alias.h"

using namespace strata;
using namespace strata::nccl;

ncclResult_t ncclGetVersion(int* version) {
  return guard("ncclGetVersion", [&] {
    check_out_pointer(version, "version", {-1, -1, "ncclGetVersion"});
    *version = NCCL_VERSION_CODE;
  });
}

const char* ncclGetErrorString(ncclResult_t result) {
  switch (raw_enum(result)) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "a CUDA call failed";
    case ncclSystemError: return "a system call or library outside Strata failed";
    case ncclInternalError: return "internal error in Strata (please report it)";
    case ncclInvalidArgument: return "an argument is invalid";
    case ncclInvalidUsage: return "the call is not allowed in this state (wrong order, or a dead or aborted communicator)";
    case ncclRemoteError: return "a remote rank failed, went away or timed out";
    case ncclInProgress: return "the operation is still in progress";
    case ncclNumResults: break;
  }
  return "unknown ncclResult_t value";
}

// Per thread, not per communicator: the text of the last failed call on
// this thread, whatever communicator it used ("" if none failed yet).
const char* ncclGetLastError(ncclComm_t /*comm*/) { return last_error_text(); }

void ncclResetDebugInit() {
  guard("ncclResetDebugInit", [] { runtime::reload_config(); });
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
  static constexpr const char* kName = "ncclCommGetAsyncError";
  return guard(kName, [&] {
    const CommRef ref = lookup_comm(comm, kName);
    check_out_pointer(asyncError, "asyncError", ref.context);
    if (ref.state == CommState::kPending) {
      *asyncError = ncclInProgress;
    } else if (ref.state == CommState::kFailed) {
      *asyncError = ref.failure;
    } else if (const std::optional<Error> error = ref.comm->async_error()) {
      set_last_error_text(error->what());
      *asyncError = to_nccl_result(error->code());
    } else {
      *asyncError = ncclSuccess;
    }
  });
}

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  return guard("ncclCommCount", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommCount");
    check_out_pointer(count, "count", ref.context);
    *count = ref.size;
  });
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  return guard("ncclCommUserRank", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommUserRank");
    check_out_pointer(rank, "rank", ref.context);
    *rank = ref.rank;
  });
}

// The device the program had selected when it created the communicator
// (cudaGetDevice, when CUDA is loaded), the devlist entry for
// ncclCommInitAll, or 0 in a process without CUDA.
ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int* device) {
  return guard("ncclCommCuDevice", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommCuDevice");
    check_out_pointer(device, "device", ref.context);
    *device = ref.cuda_device;
  });
}

// ncclMemAlloc hands out CUDA memory for zero-copy transfers; handing out
// host memory instead would break a program that copies into it with CUDA.
ncclResult_t ncclMemAlloc(void** ptr, size_t size) {
  return guard("ncclMemAlloc", [&] {
    const ErrorContext context{-1, -1, "ncclMemAlloc"};
    check_out_pointer(ptr, "ptr", context);
    *ptr = nullptr;
    fail(ErrorCode::kInvalidUsage, context,
         "cannot allocate {} bytes: ncclMemAlloc returns CUDA memory, and the CUDA path is not implemented yet; "
         "use host memory (malloc) with Strata",
         size);
  });
}

ncclResult_t ncclMemFree(void* ptr) {
  return guard("ncclMemFree", [&] {
    if (ptr != nullptr) {
      fail(ErrorCode::kInvalidArgument, {-1, -1, "ncclMemFree"}, "ptr {} was not returned by ncclMemAlloc", ptr);
    }
  });
}

// Registration only speeds up NCCL's zero-copy paths; host buffers need
// none, so it succeeds without doing anything and hands back a NULL handle.
ncclResult_t ncclCommRegister(const ncclComm_t comm, void* buff, size_t size, void** handle) {
  return guard("ncclCommRegister", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommRegister");
    check_out_pointer(handle, "handle", ref.context);
    check_buffer(buff, "buff", size, ref.context);
    *handle = nullptr;
  });
}

ncclResult_t ncclCommDeregister(const ncclComm_t comm, void* handle) {
  return guard("ncclCommDeregister", [&] {
    const CommRef ref = queryable_comm(comm, "ncclCommDeregister");
    if (handle != nullptr) {
      fail(ErrorCode::kInvalidArgument, ref.context, "handle {} was not returned by ncclCommRegister", handle);
    }
  });
}

STRATA_NCCL_PROFILING_ALIAS(ncclGetVersion)
STRATA_NCCL_PROFILING_ALIAS(ncclGetErrorString)
STRATA_NCCL_PROFILING_ALIAS(ncclGetLastError)
STRATA_NCCL_PROFILING_ALIAS(ncclResetDebugInit)
STRATA_NCCL_PROFILING_ALIAS(ncclCommGetAsyncError)
STRATA_NCCL_PROFILING_ALIAS(ncclCommCount)
STRATA_NCCL_PROFILING_ALIAS(ncclCommUserRank)
STRATA_NCCL_PROFILING_ALIAS(ncclCommCuDevice)
STRATA_NCCL_PROFILING_ALIAS(ncclMemAlloc)
STRATA_NCCL_PROFILING_ALIAS(ncclMemFree)
STRATA_NCCL_PROFILING_ALIAS(ncclCommRegister)
STRATA_NCCL_PROFILING_ALIAS(ncclCommDeregister)
