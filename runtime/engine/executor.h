// Runs schedules: posts each step once its dependencies are done, drives the
// transports, reduces received data, and fails cleanly on a transport error,
// an abort or a timeout (cancelling whatever is still posted).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "collectives/schedule.h"
#include "runtime/transport/transport.h"
#include "runtime/engine/wire_tag.h"
#include "runtime/telemetry/metrics.h"

namespace strata::runtime {

// What one operation received from ranks of other sites, and when: rail
// balancing's measurement (rail_balancer.h).
struct FarTraffic {
  const std::vector<uint8_t>* far = nullptr;  // per group rank: 1 when on another site
  uint64_t bytes = 0;                         // received from those ranks
  std::chrono::steady_clock::time_point first_post{}, last_receive{};
  bool started = false;
};

// What one operation received from each other site, from the first arrival
// to the last (the live link model's measurement, link_adapter.h): bytes
// after the first arrival over the time since it, so that waiting for the
// sender before anything arrived does not count.
struct SiteFlows {
  struct Flow {
    int64_t first_ns = 0, last_ns = 0;
    uint64_t bytes_after_first = 0;
  };
  const std::vector<int>* site_of = nullptr;  // per group rank
  int my_site = 0;
  std::vector<Flow> per_site;

  // An arrival from `peer`, timed now; the clock is read only for other sites.
  void received(int peer, uint64_t bytes) {
    if ((*site_of)[static_cast<size_t>(peer)] != my_site) received(peer, bytes, telemetry::now_ns());
  }
  void received(int peer, uint64_t bytes, int64_t now) {
    const int site = (*site_of)[static_cast<size_t>(peer)];
    if (site == my_site) return;
    Flow& flow = per_site[static_cast<size_t>(site)];
    if (flow.first_ns == 0) {
      flow.first_ns = now;
    } else {
      flow.bytes_after_first += bytes;
    }
    flow.last_ns = now;
  }
};

// One rank's schedule bound to memory and a transport.
struct BoundOperation {
  const collectives::RankSchedule* schedule = nullptr;
  std::array<std::byte*, collectives::kBufferCount> buffers{};  // send, recv, scratch
  std::byte* staging = nullptr;  // schedule->staging_bytes for recv_reduce
  Finish finish{};               // the call's own finish (cached schedules keep an old one)
  Transport* transport = nullptr;
  const int* transport_rank_of = nullptr;  // group rank -> transport endpoint
  WireTag tag{};
  const std::atomic<bool>* aborted = nullptr;
  int rank = -1;  // for error messages
  int nranks = 0;  // the communicator's size: a collective fails once any member is gone
  FarTraffic* far_traffic = nullptr;  // measured when set
  telemetry::CommMetrics* metrics = nullptr;  // counts each transfer when set
  SiteFlows* site_flows = nullptr;            // measured when set
};

struct ExecutionLimits {
  double timeout_s = 300;
  int spin_us = 0;   // busy-poll this long after the last event
  int yield_us = 0;  // then poll with sched_yield() this long before sleeping
};

// Runs all operations together to completion. Throws Error(kRemote) for a
// failed transfer, kTimeout past the limit, kAborted if any operation's
// aborted flag is set.
void execute(std::span<BoundOperation> operations, const ExecutionLimits& limits);

}  // namespace strata::runtime
