// Automatic site detection: which node leaders belong together, from the
// round-trip times measured between them. A pure function, so the rule can
// be tested on synthetic (and noisy) matrices without a network.
//
// The gap rule (docs/topology.md):
//   1. Take every measured pairwise RTT, plus 0 ms (a node's distance to
//      itself), and sort them.
//   2. Walk consecutive values lo < hi. The first place where hi / lo exceeds
//      `min_ratio` AND hi - lo exceeds `min_gap_ms` separates "near" from
//      "far"; the threshold is the geometric mean of lo and hi (hi / 2 when
//      lo is 0).
//   3. Single-linkage clustering: two nodes share a site when a chain of
//      links, each below the threshold, joins them.
// With no such gap every node is in one site. Because 0 ms is in the list,
// nodes that are all more than `min_gap_ms` apart become one site each.
#pragma once

#include <string>
#include <vector>

namespace strata::topology {

struct ClusteringRule {
  double min_ratio = 4.0;   // consecutive RTT levels further apart than this factor ...
  double min_gap_ms = 1.0;  // ... and than this many milliseconds start a new level
};

struct SiteClustering {
  std::vector<int> site_of_node;  // dense, in order of each site's first node
  int site_count = 0;
  double threshold_ms = 0;  // 0 when no gap was found (one site)
  std::string explanation;  // for logs and strata-topo
};

// `rtt_ms[i][j]`: measured RTT between nodes i and j in milliseconds (square;
// the diagonal is ignored; the two directions are averaged). A negative or
// non-finite entry throws Error(kInvalidArgument) naming the pair.
SiteClustering cluster_sites(const std::vector<std::vector<double>>& rtt_ms, const ClusteringRule& rule = {});

}  // namespace strata::topology
