// Rail balancing's arithmetic: weighted shards, rail rates from rank
// measurements, and how weights follow the rates.
#include <gtest/gtest.h>

#include "collectives/rail_balance.h"
#include "collectives/site_phases.h"
#include "common/error.h"

namespace strata::collectives {
namespace {

uint64_t count_of(const Block& block) { return element_count(block); }

TEST(RailShards, ProportionalContiguousAndCoveringEverything) {
  const std::vector<Block> shards = rail_shards(1000, 4, {2.0, 1.0, 0.5, 0.5});
  ASSERT_EQ(shards.size(), 4u);
  EXPECT_EQ(count_of(shards[0]), 500u);
  EXPECT_EQ(count_of(shards[1]), 250u);
  EXPECT_EQ(count_of(shards[2]), 125u);
  EXPECT_EQ(count_of(shards[3]), 125u);
  uint64_t next = 0;
  for (const Block& shard : shards) {
    EXPECT_EQ(shard[0].offset, next);
    next += shard[0].count;
  }
  EXPECT_EQ(next, 1000u);
}

TEST(RailShards, EqualWithoutEnoughWeightsAndPrefixWithMore) {
  EXPECT_EQ(count_of(rail_shards(10, 2, {})[0]), 5u);
  EXPECT_EQ(count_of(rail_shards(10, 3, {1.0, 3.0})[2]), count_of(split_blocks(0, 10, 3)[2]));
  EXPECT_EQ(count_of(rail_shards(12, 2, {1.0, 3.0, 100.0})[1]), 9u);
  // Fewer elements than rails: empty shards, nothing lost.
  const auto tiny = rail_shards(1, 3, {1.0, 1.0, 1.0});
  EXPECT_EQ(count_of(tiny[0]) + count_of(tiny[1]) + count_of(tiny[2]), 1u);
}

TEST(RailRates, ARailIsAsFastAsItsSlowestMember) {
  const Network network = Network::with_sites({0, 0, 1, 1}, {});
  // Rail 0 = ranks 0 and 2, rail 1 = ranks 1 and 3.
  EXPECT_EQ(rail_rates(network, 4, {100, 50, 80, 60}), (std::vector<double>{80, 50}));
  EXPECT_TRUE(rail_rates(network, 4, {100, 0, 80, 0}).empty()) << "rail 1 unmeasured: one rail left";
  // Three rails, the third beyond the flow cap: the measured two count.
  const Network three = Network::with_sites({0, 0, 0, 1, 1, 1}, {});
  EXPECT_EQ(rail_rates(three, 6, {100, 50, 0, 80, 60, 0}), (std::vector<double>{80, 50}));
  EXPECT_TRUE(rail_rates(Network::uniform(), 4, {1, 1, 1, 1}).empty()) << "one site";
  EXPECT_TRUE(rail_rates(network, 4, {1, 1}).empty()) << "wrong length";
}

TEST(RailWeights, EvenRatesKeepEqualShares) {
  EXPECT_TRUE(rebalanced_rail_weights({}, {100, 90, 85, 100}).empty());
}

TEST(RailWeights, ASlowRailLosesShareHalfWayAtATimeWithinBounds) {
  std::vector<double> weights = rebalanced_rail_weights({}, {100, 25});
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_DOUBLE_EQ(weights[0], 1.3125);  // (1 + 1.6) / 2, on the 1/32 grid
  EXPECT_DOUBLE_EQ(weights[1], 0.6875);  // (1 + 0.4) / 2 = 0.7, on the grid 22/32
  for (int i = 0; i < 10; ++i) weights = rebalanced_rail_weights(weights, {100, 25});
  EXPECT_NEAR(weights[0], 1.6, kRailWeightStep);
  EXPECT_NEAR(weights[1], 0.4, kRailWeightStep);
  weights = rebalanced_rail_weights({}, {1000, 1});
  EXPECT_GE(weights[1], kMinRailWeight);
  EXPECT_LE(weights[0], kMaxRailWeight);
}

TEST(RailWeights, RailsThatEvenOutReturnToEqualShares) {
  std::vector<double> weights = {1.5, 0.5};
  for (int i = 0; i < 12 && !weights.empty(); ++i) weights = rebalanced_rail_weights(weights, {100, 100});
  EXPECT_TRUE(weights.empty());
}

TEST(RailWeights, ParsedFromAListOrRefusedByName) {
  EXPECT_EQ(parse_rail_weights("1,0.5,2", "STRATA_RAIL_WEIGHTS"), (std::vector<double>{1, 0.5, 2}));
  for (const char* bad : {"", "1,,2", "1,x", "0,1", "-1", "1,inf"}) {
    try {
      parse_rail_weights(bad, "STRATA_RAIL_WEIGHTS");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(error.what()).find("STRATA_RAIL_WEIGHTS"), std::string::npos) << error.what();
    }
  }
}

}  // namespace
}  // namespace strata::collectives
