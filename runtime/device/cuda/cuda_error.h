// Maps a failed CUDA runtime call to strata::Error(ErrorCode::kCuda), and
// says whether a GPU is there at all. Kept apart from common/error.h so .cu
// files need not compile fmt under nvcc.
#pragma once

#include <cuda_runtime_api.h>

namespace strata {

// Clears CUDA's last-error state and throws Error(kCuda) naming `what` and
// CUDA's own description of `status`.
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what);

inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw_cuda_error(status, what);
}

// Whether a CUDA driver and at least one GPU are usable (asked once per
// process; false on machines with no GPU or driver, never an error).
bool cuda_device_available();

}  // namespace strata
