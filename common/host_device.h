// Marks functions that compile for both the host and CUDA devices, so the
// reduction math is written once and unit-tested on the CPU.
#pragma once

#if defined(__CUDACC__)
#define STRATA_HD __host__ __device__ __forceinline__
#else
#define STRATA_HD inline
#endif
