// strata-memcpy-bench: what one core's memcpy achieves on buffers of the
// sizes strata-perf uses. It is the physical limit for shared-memory
// collectives on a host: every byte a rank receives is copied at least once.
#include <chrono>
#include <cstring>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "runtime/memory/node_shared_memory.h"

int main(int argc, char** argv) {
  uint64_t min_bytes = 1 << 20, max_bytes = 64 << 20, factor = 8;
  int iters = 20;
  bool node_shared = false;
  CLI::App app{"single-core memcpy bandwidth"};
  app.add_option("-b,--minbytes", min_bytes, "smallest size in bytes")->transform(CLI::AsSizeValue(false));
  app.add_option("-e,--maxbytes", max_bytes, "largest size in bytes")->transform(CLI::AsSizeValue(false));
  app.add_option("-f,--stepfactor", factor, "size multiplier")->check(CLI::Range(2, 1 << 20));
  app.add_option("-n,--iters", iters, "timed copies per size")->check(CLI::PositiveNumber);
  app.add_option("-R,--node-shared", node_shared, "1: node-shared buffers, as strata-perf -R 1 (default 0)");
  CLI11_PARSE(app, argc, argv);
  fmt::print("# {:>12} {:>12} {:>14}\n", "bytes", "time us", "copy GB/s");
  for (uint64_t bytes = min_bytes; bytes <= max_bytes; bytes *= factor) {
    strata::HostBuffer source_buffer(bytes, node_shared), target_buffer(bytes, node_shared);
    auto* source = reinterpret_cast<char*>(source_buffer.data());
    auto* target = reinterpret_cast<char*>(target_buffer.data());
    std::memset(source, 1, bytes);  // touched: no page faults timed
    std::memcpy(target, source, bytes);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      source[i % bytes] = static_cast<char>(i);  // keep the copies from being merged away
      std::memcpy(target, source, bytes);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
    fmt::print("  {:>12} {:>12.1f} {:>14.2f}\n", bytes, seconds * 1e6, bytes / seconds / 1e9);
    if (target[bytes / 2] != source[bytes / 2]) return 1;
  }
  return 0;
}
