#include "collectives/algorithm.h"

#include <algorithm>
#include <array>

#include "collectives/algorithms.h"

namespace strata::collectives {

std::span<const Algorithm* const> all_algorithms() {
  static const std::array<const Algorithm*, 22> kAll{
      &allreduce_ring(),  &allreduce_recursive_doubling(), &allgather_ring(), &reduce_scatter_ring(),
      &broadcast_tree(),  &broadcast_chain(),              &reduce_tree(),    &reduce_chain(),
      &alltoall_pairwise(), &gather_direct(),              &scatter_direct(), &send_direct(),
      &recv_direct(),     &allreduce_hier(),             &allreduce_hier_direct(), &allreduce_hier_ring(),
      &allreduce_hier_oneshot(), &broadcast_hier(),        &reduce_hier(),           &allgather_hier(),
      &reduce_scatter_hier(), &alltoall_hier()};
  return kAll;
}

const Algorithm* find_algorithm(Collective collective, std::string_view name) {
  for (const Algorithm* algorithm : all_algorithms())
    if (algorithm->collective() == collective && algorithm->name() == name) return algorithm;
  return nullptr;
}

uint32_t FlatAlgorithm::receive_window_on(const Network& network) {
  const auto& nodes = network.node_of_rank;
  const bool one_node = std::all_of(nodes.begin(), nodes.end(), [&](int node) { return node == nodes.front(); });
  return one_node ? kReceiveWindow : 0;
}

uint64_t pipeline_segments(const CollectiveRequest& request, uint64_t bytes, uint64_t stages) {
  const uint64_t segment_bytes = request.segment_bytes ? request.segment_bytes : kDefaultSegmentBytes;
  return segment_count(bytes, segment_bytes, kMaxMessagesPerPair / std::max<uint64_t>(stages, 1));
}

int ceil_log2(int n) {
  int log = 0;
  while ((1 << log) < n) ++log;
  return log;
}

}  // namespace strata::collectives
