#include "topology/topology.h"

#include <algorithm>
#include <map>

namespace strata::topology {

Topology Topology::from_host_ids(std::vector<std::string> host_ids) {
  Topology topology;
  std::map<std::string, int> node_index;
  for (const std::string& host : host_ids) {
    auto [it, inserted] = node_index.emplace(host, topology.node_count);
    if (inserted) ++topology.node_count;
    topology.node_of_rank.push_back(it->second);
  }
  topology.host_of_rank = std::move(host_ids);
  return topology;
}

int Topology::ranks_on_node(int node) const {
  return static_cast<int>(std::count(node_of_rank.begin(), node_of_rank.end(), node));
}

std::vector<int> Topology::ranks_of_node(int node) const {
  std::vector<int> ranks;
  for (int rank = 0; rank < static_cast<int>(node_of_rank.size()); ++rank)
    if (node_of_rank[rank] == node) ranks.push_back(rank);
  return ranks;
}

}  // namespace strata::topology
