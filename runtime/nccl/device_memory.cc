#include "runtime/nccl/device_memory.h"

#include <dlfcn.h>
#include <link.h>

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace strata::nccl {
namespace {

// The few driver API values used here, from cuda.h (stable since CUDA 4).
using CuResult = int;
constexpr CuResult kCudaSuccess = 0;
constexpr int kPointerAttributeMemoryType = 2;  // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kPointerAttributeIsManaged = 8;   // CU_POINTER_ATTRIBUTE_IS_MANAGED
constexpr unsigned kMemoryTypeDevice = 2;       // CU_MEMORYTYPE_DEVICE

struct Driver {
  CuResult (*pointer_get_attribute)(void* data, int attribute, uintptr_t pointer) = nullptr;
  CuResult (*context_get_device)(int* device) = nullptr;
};

// RTLD_NOLOAD: only a driver the program already loaded. A device pointer
// can only exist after the program initialised CUDA, which loads the
// driver, so not finding it means every pointer is host memory.
Driver load_driver() {
  Driver driver;
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (library == nullptr) return driver;
  driver.pointer_get_attribute =
      reinterpret_cast<decltype(driver.pointer_get_attribute)>(dlsym(library, "cuPointerGetAttribute"));
  driver.context_get_device = reinterpret_cast<decltype(driver.context_get_device)>(dlsym(library, "cuCtxGetDevice"));
  return driver;  // the handle stays open for the process lifetime on purpose
}

// How many shared objects this process has loaded so far (glibc counts).
unsigned long long objects_loaded() {
  unsigned long long adds = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t size, void* out) {
        if (size >= offsetof(dl_phdr_info, dlpi_adds) + sizeof(info->dlpi_adds)) {
          *static_cast<unsigned long long*>(out) = info->dlpi_adds;
        }
        return 1;  // every entry carries the same counter: one is enough
      },
      &adds);
  return adds;
}

// A program may start CUDA after its first NCCL call, so a miss is not
// final; but dlopen(RTLD_NOLOAD) searches the file system (~10 us), too
// slow for every buffer of every call. It is retried only when the process
// has loaded another shared object since the last try (~50 ns to ask).
Driver driver_if_loaded() {
  static std::mutex mutex;
  static Driver cached;
  static unsigned long long loaded_at_last_try = ~0ull;
  std::lock_guard lock(mutex);
  if (cached.pointer_get_attribute != nullptr) return cached;
  const unsigned long long loaded = objects_loaded();
  if (loaded != loaded_at_last_try || loaded == 0) {
    loaded_at_last_try = loaded;
    cached = load_driver();
  }
  return cached;
}

}  // namespace

bool is_device_memory(const void* pointer) {
  const Driver driver = driver_if_loaded();
  if (driver.pointer_get_attribute == nullptr) return false;
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
  const Driver driver = driver_if_loaded();
  int device = 0;
  if (driver.context_get_device != nullptr && driver.context_get_device(&device) == kCudaSuccess) return device;
  return 0;
}

}  // namespace strata::nccl
