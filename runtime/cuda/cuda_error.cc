#include "runtime/cuda/cuda_error.h"

#include "common/error.h"

namespace strata {

void throw_cuda_error(cudaError_t status, const char* what) {
  // A non-sticky error would otherwise resurface at the next unrelated
  // cudaGetLastError() and be blamed on that call.
  cudaGetLastError();
  fail(ErrorCode::kCuda, {}, "{}: {} ({})", what, cudaGetErrorString(status), cudaGetErrorName(status));
}

}  // namespace strata
