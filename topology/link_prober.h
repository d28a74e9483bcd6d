// The service probing needs from the layer above: move bytes between node
// leaders and time it. The runtime implements it over its data plane
// (runtime/topology_probe.cc); tests can implement it with a table.
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
