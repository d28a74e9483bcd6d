#include "runtime/cuda/memory_kind.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

namespace strata {
namespace {

TEST(MemoryKind, HostPointersAreHostWithOrWithoutGpu) {
  int on_stack = 0;
  std::vector<double> on_heap(1000);
  EXPECT_EQ(memory_kind(&on_stack), MemoryKind::kHost);
  EXPECT_EQ(memory_kind(on_heap.data()), MemoryKind::kHost);
  EXPECT_EQ(memory_kind(nullptr), MemoryKind::kHost);
  // With a GPU, asking leaves no CUDA error behind. Without a driver there is
  // nothing to clear: CUDA reports its failed initialisation on every call.
  if (cuda_device_available()) EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(MemoryKind, AvailabilityIsStable) { EXPECT_EQ(cuda_device_available(), cuda_device_available()); }

TEST(MemoryKind, CudaAllocationsAreClassified) {
  if (!cuda_device_available()) GTEST_SKIP() << "no usable CUDA GPU or driver: only host pointers checked";
  void* device = nullptr;
  void* managed = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(cudaMalloc(&device, 1 << 20), cudaSuccess);
  ASSERT_EQ(cudaMallocManaged(&managed, 1 << 20), cudaSuccess);
  ASSERT_EQ(cudaMallocHost(&pinned, 1 << 20), cudaSuccess);
  EXPECT_EQ(memory_kind(device), MemoryKind::kDevice);
  EXPECT_EQ(memory_kind(static_cast<char*>(device) + 12345), MemoryKind::kDevice);
  EXPECT_EQ(memory_kind(managed), MemoryKind::kManaged);
  EXPECT_EQ(memory_kind(pinned), MemoryKind::kHost);
  cudaFree(device);
  cudaFree(managed);
  cudaFreeHost(pinned);
}

}  // namespace
}  // namespace strata
