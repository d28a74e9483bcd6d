#include "topology/site_clustering.h"

#include <gtest/gtest.h>

#include <random>

#include "common/error.h"

namespace strata::topology {
namespace {

using Matrix = std::vector<std::vector<double>>;

// nodes_per_site[s] nodes in site s; intra-site RTT `intra_ms`, inter-site
// RTT between sites a and b from `inter_ms(a, b)`; each entry times (1 ± noise).
template <typename InterFn>
Matrix synthetic(const std::vector<int>& nodes_per_site, double intra_ms, InterFn inter_ms, double noise,
                 std::vector<int>* site_of_node, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(1 - noise, 1 + noise);
  site_of_node->clear();
  for (int site = 0; site < static_cast<int>(nodes_per_site.size()); ++site)
    site_of_node->insert(site_of_node->end(), nodes_per_site[site], site);
  const size_t n = site_of_node->size();
  Matrix rtt(n, std::vector<double>(n, 0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      if (i != j) {
        const int a = (*site_of_node)[i], b = (*site_of_node)[j];
        rtt[i][j] = (a == b ? intra_ms : inter_ms(std::min(a, b), std::max(a, b))) * jitter(rng);
      }
  return rtt;
}

TEST(SiteClustering, OneNodePerSiteAtTestbedDistances) {
  // The testbed case: 3 sites, 1 node each, 10/30/50 ms apart.
  const Matrix rtt{{0, 10.2, 30.3}, {10.1, 0, 50.2}, {30.2, 50.4, 0}};
  const SiteClustering result = cluster_sites(rtt);
  EXPECT_EQ(result.site_count, 3);
  EXPECT_EQ(result.site_of_node, (std::vector<int>{0, 1, 2}));
  EXPECT_GT(result.threshold_ms, 1.0);
  EXPECT_LT(result.threshold_ms, 10.0);
}

TEST(SiteClustering, NodesOfOneDataCentreStayTogether) {
  const Matrix rtt{{0, 0.05, 0.3}, {0.06, 0, 0.2}, {0.3, 0.25, 0}};
  const SiteClustering result = cluster_sites(rtt);
  EXPECT_EQ(result.site_count, 1);
  EXPECT_EQ(result.threshold_ms, 0);
  EXPECT_NE(result.explanation.find("one site"), std::string::npos);
}

TEST(SiteClustering, NoisyMatricesRecoverTheSites) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::vector<int> truth;
    const Matrix rtt = synthetic({3, 2, 4, 1}, 0.2, [](int a, int b) { return 8.0 + 12.0 * (a + b); }, 0.15, &truth,
                                 seed);
    const SiteClustering result = cluster_sites(rtt);
    EXPECT_EQ(result.site_count, 4) << "seed " << seed;
    EXPECT_EQ(result.site_of_node, truth) << "seed " << seed;
  }
}

TEST(SiteClustering, RatioAloneIsNotEnoughBelowTheAbsoluteGap) {
  // 0.05 ms vs 0.5 ms is 10x, but only 0.45 ms apart: one site (a rack vs a
  // row of one data centre), not two.
  std::vector<int> truth;
  const Matrix rtt = synthetic({2, 2}, 0.05, [](int, int) { return 0.5; }, 0.05, &truth);
  EXPECT_EQ(cluster_sites(rtt).site_count, 1);
}

TEST(SiteClustering, CloseWanLevelsAreNotSplitAgain) {
  // Two metro sites 2 ms apart and a third 60 ms away: the first gap above
  // the intra-site level (0.1 -> 2 ms) decides, so all three are separate.
  std::vector<int> truth;
  const Matrix rtt =
      synthetic({2, 2, 2}, 0.1, [](int a, int b) { return a == 0 && b == 1 ? 2.0 : 60.0; }, 0.1, &truth);
  const SiteClustering result = cluster_sites(rtt);
  EXPECT_EQ(result.site_of_node, truth);
}

TEST(SiteClustering, RuleIsConfigurable) {
  std::vector<int> truth;
  const Matrix rtt = synthetic({2, 2}, 0.05, [](int, int) { return 0.5; }, 0.0, &truth);
  EXPECT_EQ(cluster_sites(rtt, {.min_ratio = 4, .min_gap_ms = 0.1}).site_of_node, truth);
}

TEST(SiteClustering, SingleNodeAndEmpty) {
  EXPECT_EQ(cluster_sites({{0}}).site_count, 1);
  EXPECT_EQ(cluster_sites({}).site_count, 0);
}

TEST(SiteClustering, BadMatrixIsRejected) {
  EXPECT_THROW(cluster_sites({{0, 1}, {1}}), Error);
  EXPECT_THROW(cluster_sites({{0, -1}, {1, 0}}), Error);
  try {
    cluster_sites({{0, std::nan("")}, {1, 0}});
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("nodes 0 and 1"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace strata::topology
