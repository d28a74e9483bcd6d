#include "runtime/cuda/ipc_scratch.h"

#include <cstring>

#include "runtime/cuda/cuda_error.h"
#include "runtime/cuda/device_reduce.h"

namespace strata::cuda_ipc {

DeviceScratch::DeviceScratch(uint64_t bytes) {
  void* data = nullptr;
  check_cuda(cudaMalloc(&data, bytes), "cudaMalloc (CUDA IPC scratch)");
  data_ = static_cast<std::byte*>(data);
}

DeviceScratch::~DeviceScratch() {
  cudaFree(data_);  // errors ignored: the driver may be shutting down
}

IpcHandle DeviceScratch::handle() const {
  cudaIpcMemHandle_t handle;
  check_cuda(cudaIpcGetMemHandle(&handle, data_), "cudaIpcGetMemHandle (CUDA IPC scratch)");
  IpcHandle bytes;
  std::memcpy(bytes.data(), &handle, bytes.size());
  return bytes;
}

PeerScratch::PeerScratch(const IpcHandle& bytes) {
  cudaIpcMemHandle_t handle;
  std::memcpy(&handle, bytes.data(), bytes.size());
  void* data = nullptr;
  check_cuda(cudaIpcOpenMemHandle(&data, handle, cudaIpcMemLazyEnablePeerAccess),
             "cudaIpcOpenMemHandle (a peer's CUDA IPC scratch)");
  data_ = static_cast<std::byte*>(data);
}

PeerScratch::~PeerScratch() {
  cudaIpcCloseMemHandle(data_);  // errors ignored, as for DeviceScratch
}

std::shared_ptr<void> DeviceScratchExporter::allocate(uint64_t bytes, std::byte*& data, Handle& handle) {
  auto scratch = std::make_shared<DeviceScratch>(bytes);
  data = scratch->data();
  handle = scratch->handle();
  return scratch;
}

std::shared_ptr<void> DeviceScratchExporter::open(const Handle& handle, std::byte*& data) {
  auto peer = std::make_shared<PeerScratch>(handle);
  data = peer->data();
  return peer;
}

void StreamMemory::copy(void* dst, const void* src, uint64_t bytes) {
  if (bytes == 0 || dst == src) return;
  // cudaMemcpyDefault: with unified addressing the driver tells which
  // device each side is on (a peer's memory may be on another GPU).
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream_), "cudaMemcpyAsync (CUDA IPC)");
}

void StreamMemory::reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, uint64_t count) {
  device_reduce(type, op, dst, a, b, count, stream_);
}

void StreamMemory::finish(DataType type, const Finish& finish, void* data, uint64_t count) {
  device_finish(type, finish, data, count, stream_);
}

void StreamMemory::wait() { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (CUDA IPC)"); }

}  // namespace strata::cuda_ipc
