// CUDA device memory for the mapped-scratch collectives
// (runtime/mapped_scratch.h): a rank's scratch exported as a CUDA IPC
// handle, a peer's scratch opened from its handle, and the memory
// operations on a CUDA stream. Each call uses the CUDA context current on
// the calling thread.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "runtime/mapped_scratch.h"
#include "runtime/scratch_space.h"

namespace strata::cuda_ipc {

// The bytes of a cudaIpcMemHandle_t, to send to peers.
using IpcHandle = runtime::ScratchExporter::Handle;
static_assert(sizeof(cudaIpcMemHandle_t) == sizeof(IpcHandle));

// Device memory of this rank that peers may map. Throws Error(kCuda).
class DeviceScratch {
 public:
  explicit DeviceScratch(uint64_t bytes);
  ~DeviceScratch();
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  std::byte* data() const { return data_; }
  IpcHandle handle() const;

 private:
  std::byte* data_ = nullptr;
};

// A peer's DeviceScratch mapped into this process (peer access enabled when
// the peer's GPU is another one); unmapped on destruction. Throws
// Error(kCuda) when the handle cannot be opened (no P2P between the GPUs, or
// a handle made by this same process).
class PeerScratch {
 public:
  explicit PeerScratch(const IpcHandle& handle);
  ~PeerScratch();
  PeerScratch(const PeerScratch&) = delete;
  PeerScratch& operator=(const PeerScratch&) = delete;

  std::byte* data() const { return data_; }

 private:
  std::byte* data_ = nullptr;
};

// Scratch for runtime::ScratchSpace: DeviceScratch, opened as PeerScratch.
class DeviceScratchExporter final : public runtime::ScratchExporter {
 public:
  std::shared_ptr<void> allocate(uint64_t bytes, std::byte*& data, Handle& handle) override;
  std::shared_ptr<void> open(const Handle& handle, std::byte*& data) override;
};

// Copies and reductions enqueued on `stream` (the caller's: they follow its
// earlier work); wait() synchronises the stream.
class StreamMemory final : public runtime::ScratchMemory {
 public:
  explicit StreamMemory(cudaStream_t stream) : stream_(stream) {}
  void copy(void* dst, const void* src, uint64_t bytes) override;
  void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, uint64_t count) override;
  void finish(DataType type, const Finish& finish, void* data, uint64_t count) override;
  void wait() override;

 private:
  cudaStream_t stream_;
};

}  // namespace strata::cuda_ipc
