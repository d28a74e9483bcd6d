// The service probing needs from the layer above: move bytes between node
// leaders and time it. The runtime implements it over its data plane
// (runtime/probe/topology_probe.cc); tests can implement it with a table.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "topology/distance_model.h"

namespace strata::topology {

struct ProbeOptions {
  double budget_s = 1.0;                    // STRATA_PROBE_MS; the whole probe, all peers
  int pings = 5;                            // RTT = median of this many small round trips (after one warm-up)
  // Bulk per pair: the stream ends after this much (but lasts at least
  // 100 ms, so a fast link is not timed over one scheduler hiccup) or at the
  // budget; 0 skips bandwidth.
  uint64_t bandwidth_bytes = uint64_t{64} << 20;
  // Parallel connections per pair that the stream spreads over (where the
  // transport has them, Transport::connect): their TCP windows open
  // together, so the sum reaches the link rate sooner. On the testbed (MTU
  // 64000) one connection's window took about 500 ms to open on a 50 ms
  // link; 16 reached 500 Mbit/s about 175 ms after the first chunk, 8 not
  // early enough for a steady plateau in 1 s (docs/topology.md).
  int connections = 16;
};

class LinkProber {
 public:
  virtual ~LinkProber() = default;
  // Collective over `peers` plus the caller: every listed peer calls probe()
  // with the caller among its peers. Measures each link concurrently and
  // returns one entry per peer, in order. Entries whose measurement did not
  // fit in the budget say so (rtt_measured / bandwidth_measured false).
  virtual std::vector<LinkDistance> probe(std::span<const int> peers, const ProbeOptions& options) = 0;
};

}  // namespace strata::topology
