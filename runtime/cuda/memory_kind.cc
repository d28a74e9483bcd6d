#include "runtime/cuda/memory_kind.h"

#include <cuda_runtime_api.h>

namespace strata {

bool cuda_device_available() {
  static const bool available = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      // cudaErrorNoDevice, cudaErrorInsufficientDriver, ...: CI machines.
      // Clear it so the next CUDA caller does not inherit it.
      cudaGetLastError();
      return false;
    }
    return count > 0;
  }();
  return available;
}

MemoryKind memory_kind(const void* ptr) {
  if (ptr == nullptr || !cuda_device_available()) return MemoryKind::kHost;
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, ptr) != cudaSuccess) {
    // Memory CUDA cannot describe is memory it did not allocate: host.
    cudaGetLastError();
    return MemoryKind::kHost;
  }
  switch (attributes.type) {
    case cudaMemoryTypeDevice: return MemoryKind::kDevice;
    case cudaMemoryTypeManaged: return MemoryKind::kManaged;
    default: return MemoryKind::kHost;  // registered/pinned or unregistered host memory
  }
}

}  // namespace strata
