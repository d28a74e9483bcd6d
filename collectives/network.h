// The planner's view of a group of ranks: which site and node each rank is
// on, and an α–β cost per link class (inside a node, inside a site, and per
// pair of sites). Flat algorithms are costed on the slowest link their group
// uses; hierarchical ones cost each phase on its own links.
#pragma once

#include <vector>

#include "collectives/link_cost.h"

namespace strata::topology {
struct Topology;
}

namespace strata::collectives {

struct Network {
  // Per rank of the group; both empty means one site and one node.
  std::vector<int> site_of_rank;
  std::vector<int> node_of_rank;
  LinkCost intra_node{};
  LinkCost intra_site{};
  std::vector<LinkCost> site_links;  // site_count() x site_count(), row-major; the diagonal is unused
  // Share of the data each rail (the r-th member of every site) carries
  // across sites, relative to the others; empty: equal shares. Set by the
  // runtime from measured rail throughput (collectives/rail_balance.h).
  std::vector<double> rail_weights;

  int site_count() const;
  bool spans_sites() const { return site_count() > 1; }
  int site_of(int rank) const { return site_of_rank.empty() ? 0 : site_of_rank[rank]; }
  int node_of(int rank) const { return node_of_rank.empty() ? 0 : node_of_rank[rank]; }
  const LinkCost& between_sites(int a, int b) const;
  // The link between two ranks of the group.
  const LinkCost& link(int a, int b) const;
  // What a flat algorithm sees: the highest latency and the lowest bandwidth
  // of any link between two ranks of the group.
  LinkCost flat_cost() const;

  // Every rank on one node, with `cost` for every link.
  static Network uniform(const LinkCost& cost = {});
  // Ranks in the given sites (one node per rank), every site pair linked by `wan`.
  static Network with_sites(std::vector<int> site_of_rank, const LinkCost& wan, const LinkCost& local = {});
};

// The group's network as the topology layer measured or assumed it.
Network network_from_topology(const topology::Topology& topology);

}  // namespace strata::collectives
