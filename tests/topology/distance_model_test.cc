#include "topology/distance_model.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace strata::topology {
namespace {

TEST(DistanceModel, AlphaBetaAndBdp) {
  const LinkDistance link{.rtt_s = 0.02, .bandwidth_bytes_per_s = 125e6};
  EXPECT_DOUBLE_EQ(link.latency_s(), 0.01);
  EXPECT_DOUBLE_EQ(link.bdp_bytes(), 2.5e6);  // 1 Gbit/s x 20 ms
  EXPECT_DOUBLE_EQ(link.transfer_seconds(125e6), 1.01);
  EXPECT_DOUBLE_EQ(LinkDistance{.rtt_s = 0.002}.transfer_seconds(1e9), 0.001);  // unknown bandwidth: latency only
}

TEST(DistanceModel, SitePairsAreSymmetricAndDefaultsAreAssumed) {
  DistanceModel model(3);
  EXPECT_EQ(model.site_count(), 3);
  EXPECT_FALSE(model.between_sites(0, 2).rtt_measured);
  model.set_between_sites(2, 0, {.rtt_s = 0.05, .bandwidth_bytes_per_s = 1e8, .rtt_measured = true});
  EXPECT_DOUBLE_EQ(model.between_sites(0, 2).rtt_s, 0.05);
  EXPECT_TRUE(model.between_sites(0, 2).rtt_measured);
  EXPECT_DOUBLE_EQ(model.between_sites(2, 0).bandwidth_bytes_per_s, 1e8);
  EXPECT_FALSE(model.between_sites(0, 1).rtt_measured);
  // The same site is the intra-site class.
  model.set_between_sites(1, 1, {.rtt_s = 1e-4});
  EXPECT_DOUBLE_EQ(model.intra_site.rtt_s, 1e-4);
  EXPECT_DOUBLE_EQ(model.between_sites(2, 2).rtt_s, 1e-4);
  EXPECT_THROW(model.between_sites(0, 3), Error);
  EXPECT_THROW(DistanceModel(0), Error);
}

TEST(DistanceModel, Classify) {
  EXPECT_EQ(DistanceModel::classify(true, true), LinkClass::kIntraNode);
  EXPECT_EQ(DistanceModel::classify(false, true), LinkClass::kIntraSite);
  EXPECT_EQ(DistanceModel::classify(false, false), LinkClass::kInterSite);
  EXPECT_STREQ(link_class_name(LinkClass::kInterSite), "inter-site");
}

}  // namespace
}  // namespace strata::topology
