#include "runtime/device/cuda/cuda_error.h"

#include "common/error.h"

namespace strata {

void throw_cuda_error(cudaError_t status, const char* what) {
  // A non-sticky error would otherwise resurface at the next unrelated
  // cudaGetLastError() and be blamed on that call.
  cudaGetLastError();
  fail(ErrorCode::kCuda, {}, "{}: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status));
}

bool cuda_device_available() {
  static const bool available = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // no device or driver (CI): clear it for the next caller
      return false;
    }
    return count > 0;
  }();
  return available;
}

}  // namespace strata
