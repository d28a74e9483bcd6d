// libnccl.so.2 with CUDA device buffers: every collective, in-place and out
// of place, send/recv and grouped calls, on a non-default stream, with all
// ranks (fork()ed, see tests/support/fork_ranks.h) sharing GPU 0. Also: a call on a stream
// that captures a CUDA graph fails with ncclInvalidUsage.
// Usage: strata-nccl-device-buffers-test [nranks]   (exit 77: no GPU)
#include <cuda_runtime.h>
#include <nccl.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/fork_ranks.h"

namespace {

int g_rank = 0;
int g_failures = 0;

#define CUDA_OK(call)                                                                                      \
  do {                                                                                                     \
    cudaError_t e_ = (call);                                                                               \
    if (e_ != cudaSuccess) {                                                                               \
      fprintf(stderr, "rank %d: %s:%d %s: %s\n", g_rank, __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                                             \
    }                                                                                                      \
  } while (0)

#define NCCL_OK(call)                                                                                   \
  do {                                                                                                  \
    ncclResult_t r_ = (call);                                                                           \
    if (r_ != ncclSuccess) {                                                                            \
      fprintf(stderr, "rank %d: %s:%d %s: %s (%s)\n", g_rank, __FILE__, __LINE__, #call,                \
              ncclGetErrorString(r_), ncclGetLastError(nullptr));                                       \
      exit(1);                                                                                          \
    }                                                                                                   \
  } while (0)

// Small integers: exact in float whatever the order of the sum.
float value(int rank, size_t i) { return static_cast<float>(rank + 1 + static_cast<int>(i % 7)); }

struct Device {
  float* ptr = nullptr;
  size_t count = 0;
  explicit Device(size_t n) : count(n) { CUDA_OK(cudaMalloc(&ptr, n * sizeof(float) + 1)); }
  ~Device() { cudaFree(ptr); }
  // cudaMemcpy from pageable memory may return before the data reached the
  // device, and the test's stream does not wait for the legacy stream
  // (cudaStreamNonBlocking): wait for the device, as a program must.
  void fill(const std::vector<float>& host) const {
    CUDA_OK(cudaMemcpy(ptr, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaDeviceSynchronize());
  }
  void fill_with(float x) const { fill(std::vector<float>(count, x)); }
  std::vector<float> read(size_t n, size_t offset = 0) const {
    std::vector<float> host(n);
    CUDA_OK(cudaMemcpy(host.data(), ptr + offset, n * sizeof(float), cudaMemcpyDeviceToHost));
    return host;
  }
};

void expect(const char* what, const std::vector<float>& got, const std::function<float(size_t)>& want) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want(i)) {
      fprintf(stderr, "rank %d: %s: element %zu is %g, expected %g\n", g_rank, what, i, got[i], want(i));
      ++g_failures;
      return;
    }
  }
}

std::vector<float> values_of(int rank, size_t n, size_t shift = 0) {
  std::vector<float> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = value(rank, i + shift);
  return host;
}

int body(int rank, int nranks, const ncclUniqueId& id, RankShared&) {
  g_rank = rank;
  ncclComm_t comm;
  NCCL_OK(ncclCommInitRank(&comm, nranks, id, rank));
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  const size_t n = (size_t{1} << 18) + 7;  // ~1 MiB of floats, not a round size
  const auto sum_of = [&](size_t i) {
    float s = 0;
    for (int r = 0; r < nranks; ++r) s += value(r, i);
    return s;
  };
  const auto done = [&] { CUDA_OK(cudaStreamSynchronize(stream)); };

  {  // AllReduce out of place, after work queued on the stream (ordering)
    Device send(n), recv(n);
    send.fill_with(-1.0f);
    std::vector<float> mine = values_of(rank, n);
    float* staging_src;
    CUDA_OK(cudaMallocHost(&staging_src, n * sizeof(float)));
    memcpy(staging_src, mine.data(), n * sizeof(float));
    CUDA_OK(cudaMemcpyAsync(send.ptr, staging_src, n * sizeof(float), cudaMemcpyHostToDevice, stream));
    NCCL_OK(ncclAllReduce(send.ptr, recv.ptr, n, ncclFloat, ncclSum, comm, stream));
    done();
    expect("AllReduce", recv.read(n), sum_of);
    expect("AllReduce sendbuff unchanged", send.read(n), [&](size_t i) { return value(rank, i); });
    CUDA_OK(cudaFreeHost(staging_src));
  }
  {  // AllReduce in place, max
    Device buf(n);
    buf.fill(values_of(rank, n));
    NCCL_OK(ncclAllReduce(buf.ptr, buf.ptr, n, ncclFloat, ncclMax, comm, stream));
    done();
    expect("AllReduce in place (max)", buf.read(n), [&](size_t i) { return value(nranks - 1, i); });
  }
  {  // Broadcast out of place and Bcast in place
    const int root = nranks - 1;
    Device send(n), recv(n), buf(n);
    send.fill(values_of(rank, n));
    recv.fill_with(-1.0f);
    buf.fill(values_of(rank, n));
    NCCL_OK(ncclBroadcast(send.ptr, recv.ptr, n, ncclFloat, root, comm, stream));
    NCCL_OK(ncclBcast(buf.ptr, n, ncclFloat, root, comm, stream));
    done();
    expect("Broadcast", recv.read(n), [&](size_t i) { return value(root, i); });
    expect("Bcast in place", buf.read(n), [&](size_t i) { return value(root, i); });
  }
  {  // Reduce to root 0
    Device send(n), recv(n);
    send.fill(values_of(rank, n));
    recv.fill_with(-1.0f);
    NCCL_OK(ncclReduce(send.ptr, recv.ptr, n, ncclFloat, ncclSum, 0, comm, stream));
    done();
    if (rank == 0) expect("Reduce", recv.read(n), sum_of);
    else expect("Reduce non-root recvbuff untouched", recv.read(n), [](size_t) { return -1.0f; });
  }
  {  // AllGather out of place and in place
    Device send(n), recv(n * nranks), inplace(n * nranks);
    send.fill(values_of(rank, n));
    inplace.fill_with(-1.0f);
    CUDA_OK(cudaMemcpy(inplace.ptr + rank * n, send.ptr, n * sizeof(float), cudaMemcpyDeviceToDevice));
    CUDA_OK(cudaDeviceSynchronize());
    NCCL_OK(ncclAllGather(send.ptr, recv.ptr, n, ncclFloat, comm, stream));
    NCCL_OK(ncclAllGather(inplace.ptr + rank * n, inplace.ptr, n, ncclFloat, comm, stream));
    done();
    const auto want = [&](size_t i) { return value(static_cast<int>(i / n), i % n); };
    expect("AllGather", recv.read(n * nranks), want);
    expect("AllGather in place", inplace.read(n * nranks), want);
  }
  {  // ReduceScatter out of place and in place
    Device send(n * nranks), recv(n), inplace(n * nranks);
    send.fill(values_of(rank, n * nranks));
    inplace.fill(values_of(rank, n * nranks));
    NCCL_OK(ncclReduceScatter(send.ptr, recv.ptr, n, ncclFloat, ncclSum, comm, stream));
    NCCL_OK(ncclReduceScatter(inplace.ptr, inplace.ptr + rank * n, n, ncclFloat, ncclSum, comm, stream));
    done();
    const auto want = [&](size_t i) { return sum_of(rank * n + i); };
    expect("ReduceScatter", recv.read(n), want);
    expect("ReduceScatter in place", inplace.read(n, rank * n), want);
  }
  {  // AlltoAll: block b of rank r goes to rank b
    Device send(n * nranks), recv(n * nranks);
    send.fill(values_of(rank, n * nranks));
    NCCL_OK(ncclAlltoAll(send.ptr, recv.ptr, n, ncclFloat, comm, stream));
    done();
    expect("AlltoAll", recv.read(n * nranks),
           [&](size_t i) { return value(static_cast<int>(i / n), rank * n + i % n); });
  }
  {  // Gather to root 1 % nranks, Scatter from root 0
    const int groot = 1 % nranks;
    Device send(n), gathered(n * nranks), scatter_send(n * nranks), scattered(n);
    send.fill(values_of(rank, n));
    scatter_send.fill(values_of(rank, n * nranks));
    NCCL_OK(ncclGather(send.ptr, gathered.ptr, n, ncclFloat, groot, comm, stream));
    NCCL_OK(ncclScatter(scatter_send.ptr, scattered.ptr, n, ncclFloat, 0, comm, stream));
    done();
    if (rank == groot) {
      expect("Gather", gathered.read(n * nranks), [&](size_t i) { return value(static_cast<int>(i / n), i % n); });
    }
    expect("Scatter", scattered.read(n), [&](size_t i) { return value(0, rank * n + i); });
  }
  {  // Send/Recv ring in a group
    const int next = (rank + 1) % nranks, prev = (rank + nranks - 1) % nranks;
    Device send(n), recv(n);
    send.fill(values_of(rank, n));
    NCCL_OK(ncclGroupStart());
    NCCL_OK(ncclSend(send.ptr, n, ncclFloat, next, comm, stream));
    NCCL_OK(ncclRecv(recv.ptr, n, ncclFloat, prev, comm, stream));
    NCCL_OK(ncclGroupEnd());
    done();
    expect("Send/Recv ring (group)", recv.read(n), [&](size_t i) { return value(prev, i); });
  }
  {  // Several collectives in one group, one in place, on two streams
    cudaStream_t other;
    CUDA_OK(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
    Device a(n), b(n), c(n);
    a.fill(values_of(rank, n));
    c.fill(values_of(rank, n));
    NCCL_OK(ncclGroupStart());
    NCCL_OK(ncclAllReduce(a.ptr, b.ptr, n, ncclFloat, ncclSum, comm, stream));
    NCCL_OK(ncclAllReduce(c.ptr, c.ptr, n, ncclFloat, ncclSum, comm, other));
    NCCL_OK(ncclGroupEnd());
    done();
    CUDA_OK(cudaStreamSynchronize(other));
    expect("group AllReduce #1", b.read(n), sum_of);
    expect("group AllReduce #2 in place", c.read(n), sum_of);
    CUDA_OK(cudaStreamDestroy(other));
  }
  {  // Host send buffer, device receive buffer
    std::vector<float> host = values_of(rank, n);
    Device recv(n);
    NCCL_OK(ncclAllReduce(host.data(), recv.ptr, n, ncclFloat, ncclSum, comm, stream));
    done();
    expect("AllReduce host send, device recv", recv.read(n), sum_of);
  }
  {  // With STRATA_NCCL_ASYNC_STAGING=1 not blocking: the calls return while the stream is still held up by
     // earlier work (a 300 ms host function); several calls back to back,
     // then a host-buffer call that must come after them.
    Device buf(n);
    buf.fill(values_of(rank, n));
    CUDA_OK(cudaLaunchHostFunc(stream, [](void*) { usleep(300 * 1000); }, nullptr));
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) NCCL_OK(ncclAllReduce(buf.ptr, buf.ptr, n, ncclFloat, ncclSum, comm, stream));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    float host_value = static_cast<float>(rank + 1), host_sum = 0;
    NCCL_OK(ncclAllReduce(&host_value, &host_sum, 1, ncclFloat, ncclSum, comm, stream));
    done();
    const float scale = static_cast<float>(nranks * nranks);
    expect("3 AllReduce in place, back to back", buf.read(n), [&](size_t i) { return sum_of(i) * scale; });
    expect("host AllReduce after queued device calls", {host_sum},
           [&](size_t) { return static_cast<float>(nranks * (nranks + 1) / 2); });
    const char* async = getenv("STRATA_NCCL_ASYNC_STAGING");
    const bool expect_async = async != nullptr && *async != '\0' && strcmp(async, "0") != 0;
    if (rank == 0) printf("3 calls behind a 300 ms stream wait returned after %.1f ms (%s)\n", ms, expect_async ? "asynchronous" : "synchronous");
    if (expect_async && ms > 150) {
      fprintf(stderr, "rank %d: the calls blocked the caller for %.1f ms\n", rank, ms);
      ++g_failures;
    }
  }
  {  // Graph capture is refused, clearly (every rank fails alike, nothing is sent)
    Device buf(n);
    cudaGraph_t graph = nullptr;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
    const ncclResult_t result = ncclAllReduce(buf.ptr, buf.ptr, n, ncclFloat, ncclSum, comm, stream);
    const std::string message = ncclGetLastError(nullptr);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (result != ncclInvalidUsage || message.find("graph") == std::string::npos) {
      fprintf(stderr, "rank %d: capture: got %d (%s), expected ncclInvalidUsage naming the graph\n", rank, result,
              message.c_str());
      ++g_failures;
    } else if (rank == 0) {
      printf("capture refused as expected: %s\n", message.c_str());
    }
  }
  {  // The communicator still works after the refused call
    Device buf(n);
    buf.fill(values_of(rank, n));
    NCCL_OK(ncclAllReduce(buf.ptr, buf.ptr, n, ncclFloat, ncclSum, comm, stream));
    done();
    expect("AllReduce after refused capture", buf.read(n), sum_of);
  }
  CUDA_OK(cudaStreamDestroy(stream));
  NCCL_OK(ncclCommDestroy(comm));
  if (g_failures == 0) printf("rank %d/%d: all device-buffer checks passed\n", rank, nranks);
  return g_failures == 0 ? 0 : 1;
}

int setup(int rank) {
  int devices = 0;
  const cudaError_t error = cudaGetDeviceCount(&devices);
  if (error != cudaSuccess || devices == 0) {
    if (rank == 0) {
      printf("SKIP: no usable CUDA GPU (%s)\n", error != cudaSuccess ? cudaGetErrorString(error) : "0 devices");
    }
    return 77;
  }
  return cudaSetDevice(0) == cudaSuccess ? 0 : 1;  // every rank shares GPU 0
}

}  // namespace

int main(int argc, char** argv) {
  const int nranks = argc > 1 ? atoi(argv[1]) : 2;
  const int code = run_ranks(nranks, setup, body);
  printf("%s with %d ranks\n", code == 0 ? "PASSED" : code == 77 ? "SKIPPED" : "FAILED", nranks);
  return code;
}
