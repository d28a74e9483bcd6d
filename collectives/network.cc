#include "collectives/network.h"

#include <algorithm>
#include <map>
#include <set>

#include "topology/topology.h"

namespace strata::collectives {

int Network::site_count() const {
  int sites = 1;
  for (int site : site_of_rank) sites = std::max(sites, site + 1);
  return sites;
}

const LinkCost& Network::between_sites(int a, int b) const {
  if (a == b || site_links.empty()) return intra_site;
  return site_links[static_cast<size_t>(a) * site_count() + b];
}

const LinkCost& Network::link(int a, int b) const {
  if (site_of(a) != site_of(b)) return between_sites(site_of(a), site_of(b));
  return node_of(a) == node_of(b) ? intra_node : intra_site;
}

LinkCost Network::flat_cost() const {
  // Which link classes the group uses, in O(ranks + sites²) rather than by
  // visiting every pair of ranks: plan-cache misses on large groups call this.
  const size_t n = std::max(site_of_rank.size(), node_of_rank.size());
  std::map<int, int> ranks_of_node;
  std::map<int, std::set<int>> nodes_of_site;
  for (size_t rank = 0; rank < n; ++rank) {
    ++ranks_of_node[node_of(static_cast<int>(rank))];
    nodes_of_site[site_of(static_cast<int>(rank))].insert(node_of(static_cast<int>(rank)));
  }
  std::vector<const LinkCost*> used;
  for (const auto& [node, ranks] : ranks_of_node)
    if (ranks > 1) used.push_back(&intra_node);
  for (const auto& [site, nodes] : nodes_of_site)
    if (nodes.size() > 1) used.push_back(&intra_site);
  for (const auto& [a, nodes_a] : nodes_of_site)
    for (const auto& [b, nodes_b] : nodes_of_site)
      if (a < b) used.push_back(&between_sites(a, b));
  if (used.empty()) return intra_node;  // a group of one rank
  LinkCost worst = *used.front();
  for (const LinkCost* cost : used) {
    worst.latency_s = std::max(worst.latency_s, cost->latency_s);
    worst.bandwidth_bytes_per_s = std::min(worst.bandwidth_bytes_per_s, cost->bandwidth_bytes_per_s);
  }
  worst.reduce_bytes_per_s = intra_node.reduce_bytes_per_s;
  return worst;
}

Network Network::uniform(const LinkCost& cost) {
  Network network;
  network.intra_node = network.intra_site = cost;
  return network;
}

Network Network::with_sites(std::vector<int> site_of_rank, const LinkCost& wan, const LinkCost& local) {
  Network network = uniform(local);
  network.node_of_rank.resize(site_of_rank.size());
  for (size_t rank = 0; rank < site_of_rank.size(); ++rank) network.node_of_rank[rank] = static_cast<int>(rank);
  network.site_of_rank = std::move(site_of_rank);
  const int sites = network.site_count();
  network.site_links.assign(static_cast<size_t>(sites) * sites, wan);
  return network;
}

namespace {

// A measured distance replaces the starting estimate field by field.
LinkCost cost_of(const topology::LinkDistance& distance, LinkCost estimate) {
  if (distance.rtt_s > 0) estimate.latency_s = distance.latency_s();
  if (distance.bandwidth_bytes_per_s > 0) estimate.bandwidth_bytes_per_s = distance.bandwidth_bytes_per_s;
  return estimate;
}

}  // namespace

Network network_from_topology(const topology::Topology& topology) {
  Network network;
  const int n = static_cast<int>(topology.node_of_rank.size());
  network.node_of_rank = topology.node_of_rank;
  // Dense site indices: a sub-group may leave some of the topology's sites empty.
  std::vector<int> topology_site;  // dense index -> the topology's site index
  network.site_of_rank.resize(n);
  for (int rank = 0; rank < n; ++rank) {
    const int site = topology.site_of_rank(rank);
    auto it = std::find(topology_site.begin(), topology_site.end(), site);
    network.site_of_rank[rank] = static_cast<int>(it - topology_site.begin());
    if (it == topology_site.end()) topology_site.push_back(site);
  }
  // Inside a node the runtime's shared-memory numbers (LinkCost's defaults)
  // beat the topology layer's assumption unless it measured something.
  const topology::DistanceModel& model = topology.distances;
  if (model.intra_node.rtt_measured) network.intra_node = cost_of(model.intra_node, network.intra_node);
  network.intra_site = cost_of(model.intra_site, network.intra_site);
  const int sites = static_cast<int>(topology_site.size());
  network.site_links.assign(static_cast<size_t>(sites) * sites, network.intra_site);
  for (int a = 0; a < sites; ++a) {
    for (int b = 0; b < sites; ++b) {
      const int ta = topology_site[a], tb = topology_site[b];
      if (a != b && ta < model.site_count() && tb < model.site_count())
        network.site_links[static_cast<size_t>(a) * sites + b] = cost_of(model.between_sites(ta, tb), network.intra_site);
    }
  }
  return network;
}

}  // namespace strata::collectives
