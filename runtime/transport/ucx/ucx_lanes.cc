// The automatic lane count (see automatic_ucx_lanes in ucx_transport.h).
#include <algorithm>
#include <cmath>
#include <fstream>

#include "runtime/transport/ucx/ucx_transport.h"

namespace strata::runtime {
namespace {

// The path one uniform setting should fill: 1 Gbit/s x 80 ms, the longest
// link the testbed measurements covered.
constexpr double kTargetBdpBytes = 1e9 / 8 * 0.080;
// The share of tcp_rmem's cap that a connection's window reached: 0.28 Gbit/s
// x 80 ms = 2.8 MB in flight with a 6 MiB cap (the kernel keeps part of the
// buffer for overhead).
constexpr double kWindowShareOfRmem = 0.45;
// More lanes than this only deepened the bottleneck queue in measurements.
constexpr int kMaxAutomaticLanes = 8;

}  // namespace

int ucx_lanes_for_bdp(double bdp_bytes, uint64_t tcp_rmem_max) {
  if (tcp_rmem_max == 0 || !(bdp_bytes > 0)) return 1;
  const double window = kWindowShareOfRmem * static_cast<double>(tcp_rmem_max);
  return std::clamp(static_cast<int>(std::ceil(bdp_bytes / window)), 1, kMaxAutomaticLanes);
}

int automatic_ucx_lanes_for(uint64_t tcp_rmem_max) { return ucx_lanes_for_bdp(kTargetBdpBytes, tcp_rmem_max); }

uint64_t tcp_rmem_max() {
  // "min default max"; this process's network namespace has its own values.
  std::ifstream file("/proc/sys/net/ipv4/tcp_rmem");
  uint64_t min = 0, initial = 0, max = 0;
  if (!(file >> min >> initial >> max)) return 0;
  return max;
}

int automatic_ucx_lanes() { return automatic_ucx_lanes_for(tcp_rmem_max()); }

}  // namespace strata::runtime
