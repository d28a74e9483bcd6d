#include "nccl/device_memory.h"

#include <dlfcn.h>

#include <cstdint>

#include "nccl/cuda_driver.h"

namespace strata::nccl {
namespace {

// Pointer attributes from cuda.h (stable since CUDA 4).
constexpr int kPointerAttributeMemoryType = 2;  // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kPointerAttributeIsManaged = 8;   // CU_POINTER_ATTRIBUTE_IS_MANAGED
constexpr unsigned kMemoryTypeDevice = 2;       // CU_MEMORYTYPE_DEVICE

}  // namespace

bool is_device_memory(const void* pointer) {
  // No driver loaded: no pointer can be device memory.
  const Driver* loaded = loaded_driver();
  if (loaded == nullptr || loaded->pointer_get_attribute == nullptr) return false;
  const Driver& driver = *loaded;
  unsigned memory_type = 0;
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  if (driver.pointer_get_attribute(&memory_type, kPointerAttributeMemoryType, address) != kCudaSuccess) {
    return false;  // not memory the driver knows: plain host memory
  }
  if (memory_type != kMemoryTypeDevice) return false;
  // Managed memory reports as device memory but the host may read it.
  unsigned managed = 0;
  return driver.pointer_get_attribute(&managed, kPointerAttributeIsManaged, address) != kCudaSuccess ||
         managed == 0;
}

int current_cuda_device() {
  // The program's own CUDA runtime knows the device it selected with
  // cudaSetDevice even before a context exists; found only when the runtime
  // is a shared library (a statically linked one is invisible to dlsym).
  using GetDevice = int (*)(int*);
  if (auto get_device = reinterpret_cast<GetDevice>(dlsym(RTLD_DEFAULT, "cudaGetDevice"))) {
    int device = 0;
    if (get_device(&device) == 0) return device;
  }
  const Driver* loaded = loaded_driver();
  int device = 0;
  if (loaded && loaded->ctx_get_device && loaded->ctx_get_device(&device) == kCudaSuccess) return device;
  return 0;
}

}  // namespace strata::nccl
