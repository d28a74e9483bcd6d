#include "runtime/probe/link_lanes.h"

#include <algorithm>

#include "runtime/transport/ucx/ucx_transport.h"

namespace strata::runtime {

std::vector<int> lanes_per_peer(const topology::Topology& topology, int rank, uint64_t tcp_rmem_max) {
  const int nranks = static_cast<int>(topology.node_of_rank.size());
  std::vector<int> lanes(nranks, 0);
  if (topology.node_links.empty()) return lanes;
  const int mine = topology.node_of_rank[rank];
  for (int peer = 0; peer < nranks; ++peer) {
    const int theirs = topology.node_of_rank[peer];
    if (theirs == mine) continue;
    const auto& there = topology.node_links[mine][theirs];
    const auto& back = topology.node_links[theirs][mine];
    const bool measured = there.rtt_measured && there.bandwidth_measured && back.rtt_measured && back.bandwidth_measured;
    if (measured) lanes[peer] = ucx_lanes_for_bdp(std::max(there.bdp_bytes(), back.bdp_bytes()), tcp_rmem_max);
  }
  return lanes;
}

}  // namespace strata::runtime
