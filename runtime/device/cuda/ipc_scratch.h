// CUDA device memory for the mapped-scratch collectives
// (runtime/device/mapped_scratch.h): a rank's scratch exported as a CUDA IPC
// handle, a peer's scratch opened from its handle, and the memory
// operations on a CUDA stream. Each call uses the CUDA context current on
// the calling thread.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/device/mapped_scratch.h"
#include "runtime/device/scratch_space.h"

namespace strata::cuda_ipc {

// Device memory that peers map through CUDA IPC, for runtime::ScratchSpace:
// allocate() is cudaMalloc on the current device, exported with
// cudaIpcGetMemHandle; open() is cudaIpcOpenMemHandle with peer access
// enabled when the peer's GPU is another one, and fails (Error(kCuda)) when
// the GPUs cannot reach each other or the handle was made by this process.
class DeviceScratchExporter final : public runtime::ScratchExporter {
 public:
  std::shared_ptr<void> allocate(uint64_t bytes, std::byte*& data, Handle& handle) override;
  std::shared_ptr<void> open(const Handle& handle, std::byte*& data) override;
};

// Copies and reductions enqueued on `stream` (the caller's: they follow its
// earlier work); wait() synchronises the stream.
class StreamMemory final : public runtime::ScratchMemory {
 public:
  // wait() gives up with Error(kTimeout) after `timeout_s` (STRATA_TIMEOUT).
  StreamMemory(cudaStream_t stream, double timeout_s) : stream_(stream), timeout_s_(timeout_s) {}
  void copy(void* dst, const void* src, uint64_t bytes) override;
  void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, uint64_t count) override;
  void finish(DataType type, const Finish& finish, void* data, uint64_t count) override;
  void wait() override;

 private:
  cudaStream_t stream_;
  double timeout_s_;
};

}  // namespace strata::cuda_ipc
