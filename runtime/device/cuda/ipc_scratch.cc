#include "runtime/device/cuda/ipc_scratch.h"

#include <cstring>

#include "common/bounded_poll.h"
#include "common/error.h"

#include "runtime/device/cuda/cuda_error.h"
#include "runtime/device/cuda/device_reduce.h"

namespace strata::cuda_ipc {

static_assert(sizeof(cudaIpcMemHandle_t) == sizeof(runtime::ScratchExporter::Handle));

// Frees and unmaps ignore errors: the driver may be shutting down.
std::shared_ptr<void> DeviceScratchExporter::allocate(uint64_t bytes, std::byte*& data, Handle& handle) {
  void* memory = nullptr;
  check_cuda(cudaMalloc(&memory, bytes), "cudaMalloc (CUDA IPC scratch)");
  std::shared_ptr<void> owner(memory, [](void* m) { cudaFree(m); });
  cudaIpcMemHandle_t exported;
  check_cuda(cudaIpcGetMemHandle(&exported, memory), "cudaIpcGetMemHandle (CUDA IPC scratch)");
  std::memcpy(handle.data(), &exported, handle.size());
  data = static_cast<std::byte*>(memory);
  return owner;
}

std::shared_ptr<void> DeviceScratchExporter::open(const Handle& handle, std::byte*& data) {
  cudaIpcMemHandle_t imported;
  std::memcpy(&imported, handle.data(), handle.size());
  void* memory = nullptr;
  check_cuda(cudaIpcOpenMemHandle(&memory, imported, cudaIpcMemLazyEnablePeerAccess),
             "cudaIpcOpenMemHandle (a peer's CUDA IPC scratch)");
  data = static_cast<std::byte*>(memory);
  return std::shared_ptr<void>(memory, [](void* m) { cudaIpcCloseMemHandle(m); });
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

// cudaStreamSynchronize with a limit.
void StreamMemory::wait() {
  cudaError_t status = cudaSuccess;
  if (!poll_until([&] { return (status = cudaStreamQuery(stream_)) != cudaErrorNotReady; }, timeout_s_))
    fail(ErrorCode::kTimeout, {}, "the CUDA IPC stream did not finish within STRATA_TIMEOUT={}s", timeout_s_);
  check_cuda(status, "cudaStreamQuery (CUDA IPC)");
}

}  // namespace strata::cuda_ipc
