// strata-cuda-reduce-bench: device_reduce throughput against a device-to-device
// cudaMemcpy of the same buffer size. A reduce reads two buffers and writes
// one (3 x bytes moved), a copy reads one and writes one (2 x bytes); the
// ratio compares those effective rates, so 1.0 means the kernel moves bytes
// as fast as the copy engine path does.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "common/error.h"
#include "common/reduce_functors.h"
#include "runtime/device/cuda/cuda_error.h"
#include "runtime/device/cuda/device_reduce.h"

namespace strata {
namespace {

struct BenchCase {
  DataType type;
  ReduceOp op;
};

constexpr BenchCase kCases[] = {
    {DataType::kFloat32, ReduceOp::kSum},    {DataType::kBFloat16, ReduceOp::kSum},
    {DataType::kFloat16, ReduceOp::kSum},    {DataType::kFloat8E4M3, ReduceOp::kSum},
    {DataType::kFloat32, ReduceOp::kMax},
};
constexpr size_t kSizesBytes[] = {size_t{1} << 20, size_t{64} << 20, size_t{512} << 20};
constexpr size_t kPatternBytes = size_t{1} << 20;

// Fills `bytes` of device memory with values uniform in [-1, 1) of `type`
// (not zeros: they can run faster than real data), replicating a 1 MiB
// pattern so large buffers cost no host conversion time.
void fill_random(void* device, size_t bytes, DataType type, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<unsigned char> pattern(std::min(bytes, kPatternBytes));
  visit_datatype(type, [&]<typename T>() {
    for (size_t i = 0; i + sizeof(T) <= pattern.size(); i += sizeof(T)) {
      const T value = narrow<T>(static_cast<ComputeType<T>>(uniform(rng)));
      std::memcpy(pattern.data() + i, &value, sizeof(T));
    }
  });
  auto* dst = static_cast<unsigned char*>(device);
  check_cuda(cudaMemcpy(dst, pattern.data(), pattern.size(), cudaMemcpyHostToDevice), "fill");
  for (size_t filled = pattern.size(); filled < bytes;) {
    const size_t chunk = std::min(filled, bytes - filled);
    check_cuda(cudaMemcpy(dst + filled, dst, chunk, cudaMemcpyDeviceToDevice), "fill");
    filled += chunk;
  }
}

// Median seconds per call of `work`, timed with events around back-to-back
// batches after a warm-up.
template <typename Work>
double median_seconds(Work&& work, cudaStream_t stream, int iterations, int trials) {
  cudaEvent_t start, stop;
  check_cuda(cudaEventCreate(&start), "cudaEventCreate");
  check_cuda(cudaEventCreate(&stop), "cudaEventCreate");
  for (int i = 0; i < 3; ++i) work();
  std::vector<double> samples;
  for (int t = 0; t < trials; ++t) {
    check_cuda(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int i = 0; i < iterations; ++i) work();
    check_cuda(cudaEventRecord(stop, stream), "cudaEventRecord");
    check_cuda(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    samples.push_back(ms * 1e-3 / iterations);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) { check_cuda(cudaMalloc(&ptr, bytes), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* ptr = nullptr;
};

std::string size_label(size_t bytes) {
  return bytes >= (size_t{1} << 30) ? fmt::format("{} GiB", bytes >> 30) : fmt::format("{} MiB", bytes >> 20);
}

int run(const std::string& json_path, int trials) {
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp prop{};
  check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  fmt::print("device: {} ({} SMs, {} MiB L2)\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);

  const size_t largest = *std::max_element(std::begin(kSizesBytes), std::end(kSizesBytes));
  DeviceBuffer a(largest), b(largest), dst(largest);
  cudaStream_t stream;
  check_cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");

  nlohmann::json results = nlohmann::json::array();
  fmt::print("{:<9} {:<4} {:>8} {:>11} {:>11} {:>12} {:>11} {:>12} {:>6}\n", "dtype", "op", "size", "count",
             "kernel_us", "reduce_GB/s", "memcpy_us", "memcpy_GB/s", "ratio");
  for (const BenchCase& c : kCases) {
    fill_random(a.ptr, largest, c.type, 1);
    fill_random(b.ptr, largest, c.type, 2);
    for (const size_t bytes : kSizesBytes) {
      const size_t count = bytes / datatype_size(c.type);
      // About 1 GiB of buffer per trial, at least 5 calls: long enough for
      // event timing, short enough to keep the run in seconds.
      const int iterations = static_cast<int>(std::clamp<size_t>((size_t{1} << 30) / bytes, 5, 500));
      const double reduce_s = median_seconds(
          [&] { device_reduce(c.type, c.op, dst.ptr, a.ptr, b.ptr, count, stream); }, stream, iterations, trials);
      const double copy_s = median_seconds(
          [&] { check_cuda(cudaMemcpyAsync(dst.ptr, a.ptr, bytes, cudaMemcpyDeviceToDevice, stream), "memcpy"); },
          stream, iterations, trials);
      const double reduce_gbps = 3.0 * bytes / reduce_s * 1e-9;
      const double copy_gbps = 2.0 * bytes / copy_s * 1e-9;
      fmt::print("{:<9} {:<4} {:>8} {:>11} {:>11.2f} {:>12.1f} {:>11.2f} {:>12.1f} {:>6.3f}\n",
                 datatype_name(c.type), reduce_op_name(c.op), size_label(bytes), count, reduce_s * 1e6, reduce_gbps,
                 copy_s * 1e6, copy_gbps, reduce_gbps / copy_gbps);
      results.push_back({{"dtype", datatype_name(c.type)},
                         {"op", reduce_op_name(c.op)},
                         {"bytes", bytes},
                         {"count", count},
                         {"iterations", iterations},
                         {"trials", trials},
                         {"kernel_us", reduce_s * 1e6},
                         {"reduce_effective_gbps", reduce_gbps},
                         {"memcpy_us", copy_s * 1e6},
                         {"memcpy_effective_gbps", copy_gbps},
                         {"ratio", reduce_gbps / copy_gbps}});
    }
  }
  check_cuda(cudaStreamDestroy(stream), "cudaStreamDestroy");

  if (!json_path.empty()) {
    const nlohmann::json report = {
        {"device", prop.name},
        {"sm_count", prop.multiProcessorCount},
        {"l2_bytes", prop.l2CacheSize},
        {"note", "effective GB/s: reduce 3 x bytes / time, memcpy D2D 2 x bytes / time; median of trials"},
        {"results", results}};
    std::ofstream(json_path) << report.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace strata

int main(int argc, char** argv) {
  CLI::App app{"Throughput of Strata's CUDA reduction kernels against cudaMemcpy device-to-device"};
  std::string json_path;
  int trials = 7;
  app.add_option("--json", json_path, "also write the results to this JSON file");
  app.add_option("--trials", trials, "timed batches per measurement (the median is reported)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return strata::run(json_path, trials);
  } catch (const strata::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
