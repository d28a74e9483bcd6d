#include "topology/site_clustering.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "common/error.h"

namespace strata::topology {
namespace {

// Symmetric RTT between i and j: the mean of both directions that were measured.
double pair_rtt_ms(const std::vector<std::vector<double>>& rtt_ms, int i, int j) {
  for (const auto [a, b] : {std::pair{i, j}, std::pair{j, i}}) {
    const double value = rtt_ms[a][b];
    if (!std::isfinite(value) || value < 0)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "site clustering"}, "RTT between nodes {} and {} is {} ms", a, b,
           value);
  }
  return (rtt_ms[i][j] + rtt_ms[j][i]) / 2;
}

int find_root(std::vector<int>& parent, int node) {
  while (parent[node] != node) node = parent[node] = parent[parent[node]];
  return node;
}

}  // namespace

SiteClustering cluster_sites(const std::vector<std::vector<double>>& rtt_ms, const ClusteringRule& rule) {
  const int nodes = static_cast<int>(rtt_ms.size());
  for (int i = 0; i < nodes; ++i)
    if (static_cast<int>(rtt_ms[i].size()) != nodes)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "site clustering"}, "RTT matrix row {} has {} entries, expected {}",
           i, rtt_ms[i].size(), nodes);

  std::vector<double> levels{0.0};
  for (int i = 0; i < nodes; ++i)
    for (int j = i + 1; j < nodes; ++j) levels.push_back(pair_rtt_ms(rtt_ms, i, j));
  std::sort(levels.begin(), levels.end());

  SiteClustering result;
  for (size_t k = 0; k + 1 < levels.size(); ++k) {
    const double lo = levels[k], hi = levels[k + 1];
    const bool ratio_ok = lo == 0 ? hi > 0 : hi / lo > rule.min_ratio;
    if (ratio_ok && hi - lo > rule.min_gap_ms) {
      result.threshold_ms = lo == 0 ? hi / 2 : std::sqrt(lo * hi);
      result.explanation = fmt::format("gap between {:.3f} ms and {:.3f} ms (>{}x and >{} ms): links under {:.3f} ms "
                                       "join a site",
                                       lo, hi, rule.min_ratio, rule.min_gap_ms, result.threshold_ms);
      break;
    }
  }
  if (result.threshold_ms == 0)
    result.explanation = fmt::format("no gap of >{}x and >{} ms between RTT levels: one site", rule.min_ratio,
                                     rule.min_gap_ms);

  std::vector<int> parent(nodes);
  std::iota(parent.begin(), parent.end(), 0);
  if (result.threshold_ms > 0) {
    for (int i = 0; i < nodes; ++i)
      for (int j = i + 1; j < nodes; ++j)
        if (pair_rtt_ms(rtt_ms, i, j) < result.threshold_ms) parent[find_root(parent, i)] = find_root(parent, j);
  } else {
    for (int i = 0; i < nodes; ++i) parent[i] = 0;
  }

  std::vector<int> site_of_root(nodes, -1);
  for (int i = 0; i < nodes; ++i) {
    int& site = site_of_root[find_root(parent, i)];
    if (site < 0) site = result.site_count++;
    result.site_of_node.push_back(site);
  }
  return result;
}

}  // namespace strata::topology
