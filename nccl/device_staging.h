// CUDA device buffers for the NCCL entry points, staged through pinned host
// memory: device -> host copy on the caller's stream, the host collective on
// the staging buffers, host -> device copy back on the caller's stream.
//
// Two ways to run it:
//  - synchronous (the default): the caller waits for the stream
//    (cuStreamSynchronize) before the collective and after the copy back,
//    so the call has completed when it returns (inside a group: the copies
//    back happen at the outermost ncclGroupEnd).
//  - asynchronous, EXPERIMENTAL, only with STRATA_NCCL_ASYNC_STAGING=1 and
//    outside groups: the caller queues the device -> host copy and an event
//    on its stream, hands the collective to the communicator's proxy
//    thread, and queues cuStreamWaitValue32 on a pinned host-mapped
//    sequence word plus the host -> device copy; the caller never blocks.
//    Passed with 2 ranks on one H100 but hung with 4 ranks sharing it.
// The driver is reached through dlopen(RTLD_NOLOAD), as in device_memory.cc,
// so libnccl.so.2 still links no CUDA library.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/error.h"
#include "nccl.h"
#include "nccl/comm_handle.h"

namespace strata::nccl {

struct StagingPool;  // a communicator's pinned buffers and proxy (device_staging.cc)

// The collective, given the (possibly staged) send and receive buffers.
using StagedWork = std::function<void(const void* send, void* recv)>;

// One call's buffers. Host buffers pass through untouched; a device buffer
// is swapped for a pinned staging buffer of the communicator.
class StagedCall {
 public:
  // `send_bytes` are read by the collective from `send`, `recv_bytes`
  // written to `recv` (0: not used on this rank). A send region inside the
  // receive region (or the other way round: in-place calls) shares one
  // staging buffer. Fails with kInvalidUsage when `stream` is capturing a
  // CUDA graph. Any call (host buffers too) first waits until the
  // communicator's proxy has run everything queued before it, and fails
  // with the error of a queued operation that failed.
  StagedCall(const CommRef& ref, const void* send, uint64_t send_bytes, void* recv, uint64_t recv_bytes,
             cudaStream_t stream);
  ~StagedCall();
  StagedCall(const StagedCall&) = delete;
  StagedCall& operator=(const StagedCall&) = delete;

  // Runs (or queues, in a group) `work` on the staged buffers and arranges
  // the copy back. `work` must own what it refers to (it may run later, on
  // the proxy thread).
  void run(StagedWork work);

 private:
  std::shared_ptr<StagingPool> pool_;  // null: nothing staged
  const void* send_;
  void* recv_;
  void* device_recv_ = nullptr;  // where the result goes, when recv is device memory
  const void* staged_recv_ = nullptr;
  uint64_t recv_bytes_ = 0;
  cudaStream_t stream_ = nullptr;
  bool in_group_ = false;
  bool async_ = false;
  void* ready_event_ = nullptr;  // async: recorded after the device -> host copy
  void* cu_context_ = nullptr;   // the CUDA context of the device buffers
  std::vector<void*> taken_;     // staging buffers this call holds
  ErrorContext context_;
};

// At the outermost ncclGroupEnd, after the group's operations ran: copies
// every staged result of this thread's group back to the device, waits,
// and gives the staging buffers back. Throws on a CUDA failure (after
// giving everything back).
// With `copy_results` false (a simulated group end), nothing ran: only gives
// the staging buffers back.
void finish_group_staging(bool copy_results = true);

// Fails with kInvalidUsage when `stream` is capturing a CUDA graph. The
// context of the call's device buffers must be current.
void check_not_capturing(cudaStream_t stream, const ErrorContext& context);

// Waits until the proxy of `comm` (if any) ran everything queued, and
// rethrows the error of a queued call that failed.
void settle_queued_staging(const runtime::Communicator* comm);

// Waits until the proxy of `comm` (if any) ran everything queued. With
// `stop`, also ends the proxy and frees the staging buffers (destroy, abort).
void drain_staging(const runtime::Communicator* comm, bool stop = false);

}  // namespace strata::nccl
