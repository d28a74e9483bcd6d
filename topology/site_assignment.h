// Which site each node is in, from (in order of precedence) STRATA_SITE per
// rank, a topology file, or clustering of probed leader-to-leader RTTs; and
// the per-site-pair distance model from what was measured or declared.
// Pure functions over what every rank already agreed on (allgathered), so
// every rank computes the same answer or throws the same error.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topology/site_clustering.h"
#include "topology/topology.h"
#include "topology/topology_file.h"

namespace strata::topology {

struct SiteSources {
  std::vector<std::string> site_env_of_rank;  // STRATA_SITE per rank, "" where unset
  std::optional<TopologyFile> file;            // STRATA_TOPO_FILE, if set
  std::vector<std::vector<LinkDistance>> node_links;  // probed, node x node; empty if not probed
  ClusteringRule rule;
};

// Sets site_of_node, site_names, site_count and site_source. Throws
// Error(kInvalidArgument) naming the ranks when STRATA_SITE is set on some
// ranks only, when ranks of one host name different sites, when a site
// index has no ranks, or when a host is missing from the topology file.
void assign_sites(Topology& topology, const SiteSources& sources);

// Fills topology.distances from topology.node_links (median per site pair)
// and, for pairs not measured, from the file's links.
void summarize_distances(Topology& topology, const TopologyFile* file);

}  // namespace strata::topology
