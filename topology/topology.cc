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
  topology.site_of_node.assign(topology.node_count, 0);
  topology.site_names = {"site0"};
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

std::vector<int> Topology::node_leaders() const {
  std::vector<int> leaders(node_count, -1);
  for (int rank = static_cast<int>(node_of_rank.size()) - 1; rank >= 0; --rank) leaders[node_of_rank[rank]] = rank;
  return leaders;
}

Topology Topology::subset(const std::vector<int>& members) const {
  std::vector<std::string> hosts;
  for (int member : members) hosts.push_back(host_of_rank.at(member));
  Topology child = from_host_ids(std::move(hosts));
  // Keep the parent's site indices and names so site pairs stay comparable.
  for (size_t i = 0; i < members.size(); ++i) child.site_of_node[child.node_of_rank[i]] = site_of_rank(members[i]);
  if (!hardware_of_node.empty()) {
    child.hardware_of_node.resize(child.node_count);
    for (size_t i = 0; i < members.size(); ++i)
      child.hardware_of_node[child.node_of_rank[i]] = hardware_of_node.at(node_of_rank.at(members[i]));
  }
  child.site_names = site_names;
  child.site_count = site_count;
  child.site_source = site_source;
  child.distances = distances;
  child.probe_note = "inherited from the parent communicator";
  return child;
}

}  // namespace strata::topology
