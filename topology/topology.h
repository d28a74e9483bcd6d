// What the ranks of a communicator know about where each of them runs:
// nodes (hosts), sites, and how far apart they are (docs/topology.md).
#pragma once

#include <string>
#include <vector>

#include "topology/distance_model.h"
#include "topology/node_discovery.h"

namespace strata::topology {

struct Topology {
  std::vector<std::string> host_of_rank;  // host identity per rank
  std::vector<int> node_of_rank;          // dense node index per rank, in first-seen order
  int node_count = 0;

  // Sites (site_assignment.h). from_host_ids() puts every node in one site.
  std::vector<int> site_of_node;
  std::vector<std::string> site_names;
  int site_count = 1;
  std::string site_source = "default (one site)";  // "STRATA_SITE", "topology file PATH", "probed RTT clustering"

  // Link classes and site pairs; entries say whether they were measured.
  DistanceModel distances;
  // Leader-to-leader measurements per node pair (empty when not probed).
  std::vector<std::vector<LinkDistance>> node_links;
  // What is inside each node (hwloc, discovered by its leader); empty when
  // not gathered (loopback communicators).
  std::vector<NodeHardware> hardware_of_node;
  double probe_seconds = 0;  // wall time the probe took on this rank
  std::string probe_note;    // what was (not) probed, for logs and strata-topo

  static Topology from_host_ids(std::vector<std::string> host_ids);
  int ranks_on_node(int node) const;
  std::vector<int> ranks_of_node(int node) const;
  int site_of_rank(int rank) const { return site_of_node.at(node_of_rank.at(rank)); }
  // The lowest rank of each node, which probes on the node's behalf.
  std::vector<int> node_leaders() const;
  // The topology of a sub-group (ranks `members` of this one, in that order):
  // hosts, sites and the site-level distances carry over.
  Topology subset(const std::vector<int>& members) const;
};

}  // namespace strata::topology
