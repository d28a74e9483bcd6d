// ncclGroupStart / ncclGroupEnd, and creation deferred to the group's end.
#include <exception>
#include <thread>
#include <vector>

#include "runtime/communicator/communicator.h"
#include "nccl/api_guard.h"
#include "nccl/device_staging.h"
#include "nccl/group.h"
#include "nccl/group_context.h"
#include "nccl/profiling_alias.h"

namespace strata::nccl {
namespace {


void run_one(DeferredCreation& job) {
  try {
    job.parts = job.work();
  } catch (...) {
    job.failure = std::current_exception();
  }
}

// Every job runs on a thread of its own, never on the caller's: the
// caller's thread has a group open, and creation must not be queued in it.
void run_all(std::vector<DeferredCreation>& jobs) {
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (DeferredCreation& job : jobs) {
    try {
      threads.emplace_back(run_one, std::ref(job));
    } catch (...) {
      job.failure = std::current_exception();
    }
  }
  for (std::thread& thread : threads) thread.join();
}

// Settles each pending handle; failures are recorded on this thread, so
// the group's end returns the first of them.
void settle(std::vector<DeferredCreation>& jobs) {
  for (DeferredCreation& job : jobs) {
    if (!job.failure && job.handle != nullptr && !job.parts.comm) {
      job.failure = std::make_exception_ptr(Error(ErrorCode::kInternal, "creation returned no communicator"));
    }
    if (job.failure) {
      ncclResult_t result = ncclInternalError;
      try {
        std::rethrow_exception(job.failure);
      } catch (...) {
        result = record_current_exception("ncclGroupEnd");
      }
      if (job.handle != nullptr) fail_comm(job.handle, result);
    } else if (job.handle != nullptr) {
      complete_comm(job.handle, job.parts);  // if the program destroyed it meanwhile, parts die here
    }
  }
}

void run_deferred_creations() {
  std::vector<DeferredCreation> jobs = std::move(this_thread_group().deferred_creations);
  this_thread_group().deferred_creations.clear();
  if (jobs.empty()) return;
  run_all(jobs);
  settle(jobs);
}

// Tears down what was released inside the group, all at once: one
// communicator's teardown may wait for its peers' teardown, and those peers
// may be other ranks this thread destroyed in the same group.
void tear_down_together(std::vector<CommParts>& released) noexcept {
  std::vector<std::thread> threads;
  for (CommParts& parts : released) {
    try {
      threads.emplace_back([&parts] { CommParts doomed = std::move(parts); });
    } catch (...) {
      CommParts doomed = std::move(parts);  // no thread to spare: tear it down here
    }
  }
  for (std::thread& thread : threads) thread.join();
  released.clear();
}

// Holds what the group released until the group's operations have run (or
// failed), then tears it down.
class ReleasedInGroup {
 public:
  ReleasedInGroup() : released_(std::move(this_thread_group().released)) { this_thread_group().released.clear(); }
  ~ReleasedInGroup() { tear_down_together(released_); }
  ReleasedInGroup(const ReleasedInGroup&) = delete;
  ReleasedInGroup& operator=(const ReleasedInGroup&) = delete;

 private:
  std::vector<CommParts> released_;
};

}  // namespace

GroupContext& this_thread_group() {
  thread_local GroupContext context;
  return context;
}

ncclComm* create_comm(CreateWork work, bool wants_handle, int rank, int size, int cuda_device) {
  if (runtime::group_depth() > 0) {
    ncclComm* handle = wants_handle ? register_comm(CommParts{}, rank, size, cuda_device) : nullptr;
    this_thread_group().deferred_creations.push_back(DeferredCreation{handle, std::move(work), {}, {}});
    return handle;
  }
  CommParts parts = work();
  if (!wants_handle) return nullptr;
  if (!parts.comm) fail(ErrorCode::kInternal, {rank, -1, "communicator creation"}, "creation returned no communicator");
  return register_comm(std::move(parts), rank, size, cuda_device);
}

void release_when_idle(CommParts parts) {
  if (runtime::group_depth() > 0) this_thread_group().released.push_back(std::move(parts));
}

}  // namespace strata::nccl

using namespace strata;
using namespace strata::nccl;

ncclResult_t ncclGroupStart() {
  return guard("ncclGroupStart", [] {
    if (runtime::group_depth() == 0) clear_group_error();
    runtime::group_start();
  });
}

ncclResult_t ncclGroupEnd() {
  return guard("ncclGroupEnd", []() -> ncclResult_t {
    const int depth = runtime::group_depth();
    if (depth == 0) {
      fail(ErrorCode::kInvalidUsage, {-1, -1, "ncclGroupEnd"}, "ncclGroupEnd without a matching ncclGroupStart");
    }
    if (depth > 1) {
      runtime::group_end();
      return ncclSuccess;
    }
    // Deferred creation before the queued operations: NCCL forbids mixing the
    // two in one group, so only a program's error would notice the order.
    run_deferred_creations();
    const ReleasedInGroup released;
    {
      // Device buffers staged by the group's calls go back to the device
      // (and the staging is given back) even when an operation failed.
      struct FinishStaging {
        bool done = false;
        ~FinishStaging() {
          if (!done) {
            try {
              finish_group_staging();
            } catch (...) {
            }
          }
        }
      } staging;
      runtime::group_end();
      staging.done = true;
      finish_group_staging();
    }
    return take_group_error();
  });
}

// Ends the group as ncclGroupEnd does, but runs none of its operations:
// simInfo->estimatedTime gets the planner's prediction, in microseconds.
// Communicator creations queued in the group do run.
ncclResult_t ncclGroupSimulateEnd(ncclSimInfo_t* simInfo) {
  return guard("ncclGroupSimulateEnd", [&]() -> ncclResult_t {
    const int depth = runtime::group_depth();
    if (depth == 0) {
      fail(ErrorCode::kInvalidUsage, {-1, -1, "ncclGroupSimulateEnd"},
           "ncclGroupSimulateEnd without a matching ncclGroupStart");
    }
    // The group ends either way, a NULL simInfo included.
    if (depth == 1) run_deferred_creations();
    const ReleasedInGroup released;
    const double seconds = runtime::group_end_simulated();
    if (depth == 1) finish_group_staging(/*copy_results=*/false);
    if (simInfo == nullptr)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "ncclGroupSimulateEnd"}, "argument simInfo is NULL");
    simInfo->estimatedTime = static_cast<float>(seconds * 1e6);
    return depth == 1 ? take_group_error() : ncclSuccess;
  });
}

STRATA_NCCL_PROFILING_ALIAS(ncclGroupStart)
STRATA_NCCL_PROFILING_ALIAS(ncclGroupEnd)
STRATA_NCCL_PROFILING_ALIAS(ncclGroupSimulateEnd)
