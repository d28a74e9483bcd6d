// What kind of memory a caller's pointer is, asked of the CUDA driver only
// when the program itself already loaded it, so libnccl.so.2 neither links
// CUDA nor pays for starting it in programs that never use a GPU.
#pragma once

namespace strata::nccl {

// True when the CUDA driver says `pointer` is device memory that the host
// cannot dereference. False for host memory (pageable, pinned or managed),
// when CUDA is not loaded in this process, or when the driver cannot tell
// (a pointer unknown to the driver is host memory).
bool is_device_memory(const void* pointer);

// The CUDA device the calling thread uses, when the program's CUDA runtime
// or driver can tell us; 0 otherwise (no CUDA in this process).
int current_cuda_device();

}  // namespace strata::nccl
