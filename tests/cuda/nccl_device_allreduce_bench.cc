// AllReduce bandwidth with CUDA device buffers through the NCCL API, ranks
// fork()ed on one machine, all on GPU 0 (tests/support/fork_ranks.h). Built against our
// header but linked with RUNPATH, so LD_LIBRARY_PATH can swap in another
// libnccl.so.2 (NVIDIA's) for comparison.
// Usage: strata-cuda-allreduce-bench [nranks=4] [min_bytes=1M] [max_bytes=256M] [iters=5] [timeout_s=590] [host]
// `host` as the 6th argument: pageable host buffers instead (the same
// collective without the staging copies, to see what staging costs).
// Prints one line per size: bytes, time per call (us), algbw and busbw (GB/s),
// busbw = algbw * 2 (n-1)/n as in nccl-tests.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/support/fork_ranks.h"

namespace {

#define CHECK(cond, ...)                \
  do {                                  \
    if (!(cond)) {                      \
      fprintf(stderr, __VA_ARGS__);     \
      fprintf(stderr, "\n");            \
      exit(1);                          \
    }                                   \
  } while (0)
#define NCCL_OK(call)                                                                                    \
  do {                                                                                                   \
    ncclResult_t r_ = (call);                                                                            \
    CHECK(r_ == ncclSuccess, "%s: %s (%s)", #call, ncclGetErrorString(r_), ncclGetLastError(nullptr)); \
  } while (0)
#define CUDA_OK(call)                                                                          \
  do {                                                                                         \
    cudaError_t e_ = (call);                                                                   \
    CHECK(e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(e_));                         \
  } while (0)

size_t g_min = size_t{1} << 20, g_max = size_t{256} << 20;
int g_iters = 5;
bool g_host = false;

int body(int rank, int nranks, const ncclUniqueId& id, RankShared& shared) {
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, nranks, id, rank));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  float *send = nullptr, *recv = nullptr;
  if (g_host) {
    send = static_cast<float*>(calloc(1, g_max));
    recv = static_cast<float*>(calloc(1, g_max));
    CHECK(send != nullptr && recv != nullptr, "out of host memory");
  } else {
    CUDA_OK(cudaMalloc(&send, g_max));
    CUDA_OK(cudaMalloc(&recv, g_max));
    CUDA_OK(cudaMemset(send, 0, g_max));
  }
  int version = 0;
  ncclGetVersion(&version);
  if (rank == 0) {
    printf("# AllReduce float32 sum, %s buffers, %d ranks on GPU 0, nccl version %d, %d iters\n", g_host ? "host" : "device", nranks,
           version, g_iters);
    printf("# %12s %12s %10s %10s\n", "bytes", "time_us", "algbw_GBs", "busbw_GBs");
  }
  for (size_t bytes = g_min; bytes <= g_max; bytes *= 2) {
    const size_t count = bytes / sizeof(float);
    NCCL_OK(ncclAllReduce(send, recv, count, ncclFloat, ncclSum, comm, stream));  // warm-up
    CUDA_OK(cudaStreamSynchronize(stream));
    NCCL_OK(ncclAllReduce(send, recv, count, ncclFloat, ncclSum, comm, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < g_iters; ++i) NCCL_OK(ncclAllReduce(send, recv, count, ncclFloat, ncclSum, comm, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / g_iters;
    const double algbw = bytes / seconds / 1e9;
    const double busbw = algbw * 2.0 * (nranks - 1) / nranks;
    if (rank == 0) {
      printf("  %12zu %12.1f %10.2f %10.2f\n", bytes, seconds * 1e6, algbw, busbw);
      fflush(stdout);
    }
  }
  (void)shared;
  if (g_host) {
    free(send);
    free(recv);
  } else {
    cudaFree(send);
    cudaFree(recv);
  }
  NCCL_OK(ncclCommDestroy(comm));
  return 0;
}

int setup(int rank) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    if (rank == 0) printf("SKIP: no usable CUDA GPU\n");
    return 77;
  }
  return cudaSetDevice(0) == cudaSuccess ? 0 : 1;
}

size_t parse_size(const char* text) {
  char* end = nullptr;
  double value = strtod(text, &end);
  if (*end == 'K' || *end == 'k') value *= 1024;
  if (*end == 'M' || *end == 'm') value *= 1024 * 1024;
  if (*end == 'G' || *end == 'g') value *= 1024.0 * 1024 * 1024;
  return static_cast<size_t>(value);
}

}  // namespace

int main(int argc, char** argv) {
  const int nranks = argc > 1 ? atoi(argv[1]) : 4;
  if (argc > 2) g_min = parse_size(argv[2]);
  if (argc > 3) g_max = parse_size(argv[3]);
  if (argc > 4) g_iters = atoi(argv[4]);
  g_host = argc > 6 && strcmp(argv[6], "host") == 0;
  const int timeout_seconds = argc > 5 ? atoi(argv[5]) : 590;
  const int code = run_ranks(nranks, setup, body, timeout_seconds);
  printf("# exit %d\n", code);
  return code;
}
