#include "topology/site_assignment.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace strata::topology {
namespace {

// 4 ranks on 3 hosts: a, a, b, c.
Topology four_ranks() { return Topology::from_host_ids({"a", "a", "b", "c"}); }

std::string error_of(Topology topology, const SiteSources& sources) {
  try {
    assign_sites(topology, sources);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::vector<std::vector<LinkDistance>> links_ms(const std::vector<std::vector<double>>& rtt_ms) {
  std::vector<std::vector<LinkDistance>> links(rtt_ms.size(), std::vector<LinkDistance>(rtt_ms.size()));
  for (size_t i = 0; i < rtt_ms.size(); ++i)
    for (size_t j = 0; j < rtt_ms.size(); ++j)
      if (i != j) links[i][j] = {.rtt_s = rtt_ms[i][j] / 1e3, .bandwidth_bytes_per_s = 1e8, .rtt_measured = true,
                                 .bandwidth_measured = true};
  return links;
}

TEST(SiteAssignment, DefaultIsOneSite) {
  Topology topology = four_ranks();
  assign_sites(topology, {});
  EXPECT_EQ(topology.site_count, 1);
  EXPECT_EQ(topology.site_of_rank(3), 0);
}

TEST(SiteAssignment, StrataSiteIndicesAndNames) {
  Topology topology = four_ranks();
  assign_sites(topology, {.site_env_of_rank = {"1", "1", "0", "1"}});
  EXPECT_EQ(topology.site_count, 2);
  EXPECT_EQ(topology.site_of_node, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(topology.site_names, (std::vector<std::string>{"site0", "site1"}));
  EXPECT_EQ(topology.site_source, "STRATA_SITE");

  Topology named = four_ranks();
  assign_sites(named, {.site_env_of_rank = {"us", "us", "eu", "asia"}});
  EXPECT_EQ(named.site_names, (std::vector<std::string>{"us", "eu", "asia"}));
  EXPECT_EQ(named.site_of_rank(3), 2);
}

TEST(SiteAssignment, StrataSiteDisagreementsAreReported) {
  EXPECT_NE(error_of(four_ranks(), {.site_env_of_rank = {"0", "", "1", ""}}).find("unset on rank(s) 1, 3"),
            std::string::npos);
  EXPECT_NE(error_of(four_ranks(), {.site_env_of_rank = {"0", "0", "2", "2"}}).find("site 1 has no ranks"),
            std::string::npos);
  EXPECT_NE(error_of(four_ranks(), {.site_env_of_rank = {"0", "1", "1", "1"}}).find("rank 1 on host 'a'"),
            std::string::npos);
}

TEST(SiteAssignment, StrataSiteWinsOverFileAndProbe) {
  Topology topology = four_ranks();
  TopologyFile file{"f.json", {{"x", {"a", "b", "c"}}}, {}};
  assign_sites(topology, {.site_env_of_rank = {"0", "0", "1", "1"}, .file = file,
                          .node_links = links_ms({{0, 1, 1}, {1, 0, 1}, {1, 1, 0}})});
  EXPECT_EQ(topology.site_count, 2);
}

TEST(SiteAssignment, FromFile) {
  Topology topology = four_ranks();
  const TopologyFile file{"f.json", {{"x", {"c"}}, {"y", {"a", "b", "unused-host"}}}, {{0, 1, 70, 2}}};
  assign_sites(topology, {.file = file});
  EXPECT_EQ(topology.site_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(topology.site_of_node, (std::vector<int>{1, 1, 0}));
  EXPECT_EQ(topology.site_source, "topology file f.json");
  summarize_distances(topology, &file);
  EXPECT_DOUBLE_EQ(topology.distances.between_sites(0, 1).rtt_s, 0.07);
  EXPECT_DOUBLE_EQ(topology.distances.between_sites(1, 0).bandwidth_bytes_per_s, 2e9 / 8);
  EXPECT_FALSE(topology.distances.between_sites(0, 1).rtt_measured);
}

TEST(SiteAssignment, FileProblemsNameFileAndRank) {
  const TopologyFile missing_host{"f.json", {{"x", {"a", "b"}}}, {}};
  EXPECT_NE(error_of(four_ranks(), {.file = missing_host}).find("f.json: rank 3 runs on host 'c'"), std::string::npos);
  const TopologyFile empty_site{"f.json", {{"x", {"a", "b", "c"}}, {"y", {"z"}}}, {}};
  EXPECT_NE(error_of(four_ranks(), {.file = empty_site}).find("sites[1] 'y' has no ranks"), std::string::npos);
}

TEST(SiteAssignment, FromProbedRttsAndMedianDistances) {
  Topology topology = four_ranks();
  topology.node_links = links_ms({{0, 10.2, 30.1}, {10.2, 0, 50.3}, {30.1, 50.3, 0}});
  assign_sites(topology, {.node_links = topology.node_links});
  EXPECT_EQ(topology.site_count, 3);
  EXPECT_NE(topology.site_source.find("probed RTT clustering"), std::string::npos);
  summarize_distances(topology, nullptr);
  EXPECT_NEAR(topology.distances.between_sites(1, 2).rtt_s, 0.0503, 1e-9);
  EXPECT_TRUE(topology.distances.between_sites(0, 1).bandwidth_measured);
  EXPECT_FALSE(topology.distances.intra_site.rtt_measured);  // no two nodes share a site
}

TEST(SiteAssignment, UnmeasuredLinkIsAnErrorNotAGuess) {
  Topology topology = four_ranks();
  auto links = links_ms({{0, 1, 1}, {1, 0, 1}, {1, 1, 0}});
  links[2][1].rtt_measured = false;
  EXPECT_NE(error_of(topology, {.node_links = links}).find("between nodes 2 and 1"), std::string::npos);
}

TEST(SiteAssignment, SubsetKeepsSites) {
  Topology topology = four_ranks();
  assign_sites(topology, {.site_env_of_rank = {"0", "0", "1", "2"}});
  const Topology child = topology.subset({3, 0});
  EXPECT_EQ(child.node_count, 2);
  EXPECT_EQ(child.site_of_rank(0), 2);
  EXPECT_EQ(child.site_of_rank(1), 0);
  EXPECT_EQ(child.site_count, 3);
  EXPECT_EQ(child.node_leaders(), (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace strata::topology
