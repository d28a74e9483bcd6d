// How many UCX lanes (TCP connections) each peer gets when STRATA_LANES is
// automatic: what its own link's bandwidth-delay product needs, from the
// topology probe's measurements, so a link inside a site gets one and a
// long fat link several (ucx_lanes_for_bdp).
#pragma once

#include <cstdint>
#include <vector>

#include "topology/topology.h"

namespace strata::runtime {

// One entry per rank: the lanes toward it, or 0 to keep the transport's
// uniform automatic count (a peer on this host, or a link not measured both
// ways). Every rank computes the same count for a pair from the same model
// (the larger of the two directions' products), so both ends agree.
std::vector<int> lanes_per_peer(const topology::Topology& topology, int rank, uint64_t tcp_rmem_max);

}  // namespace strata::runtime
