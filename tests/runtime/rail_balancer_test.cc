// When the ranks exchange rail rates: after 32 measured operations, then at
// doubling intervals while the weights stay put, back to 32 when they move.
#include <gtest/gtest.h>

#include "runtime/communicator/rail_balancer.h"

namespace strata::runtime {
namespace {

// Measured operations until record() says the ranks are due.
int operations_until_due(RailBalancer& balancer) {
  for (int n = 1; n <= 4096; ++n)
    if (balancer.record()) return n;
  return -1;
}

TEST(RailBalancer, ExchangesGrowRarerWhileTheWeightsStayAndStartOverWhenTheyMove) {
  collectives::Network network = collectives::Network::with_sites({0, 0, 1, 1}, {});
  RailBalancer balancer;
  balancer.configure(network, 0, 4);
  EXPECT_EQ(operations_until_due(balancer), RailBalancer::kFirstExchangeAfter);
  EXPECT_FALSE(balancer.apply(network, {100, 100, 100, 100}));  // even rails: no change
  EXPECT_EQ(operations_until_due(balancer), 2 * RailBalancer::kFirstExchangeAfter);
  EXPECT_FALSE(balancer.apply(network, {100, 100, 100, 100}));
  EXPECT_EQ(operations_until_due(balancer), 4 * RailBalancer::kFirstExchangeAfter);
  // Rail 1 (ranks 1 and 3) at a quarter of rail 0's rate: its share shrinks.
  EXPECT_TRUE(balancer.apply(network, {100, 25, 100, 25}));
  ASSERT_EQ(network.rail_weights.size(), 2u);
  EXPECT_LT(network.rail_weights[1], 1.0);
  EXPECT_GT(network.rail_weights[0], 1.0);
  EXPECT_EQ(operations_until_due(balancer), RailBalancer::kFirstExchangeAfter);
  for (int i = 0; i < 12; ++i) balancer.apply(network, {100, 100, 100, 100});
  EXPECT_TRUE(network.rail_weights.empty()) << "even again: equal shares";
  for (int i = 0; i < 12; ++i) balancer.apply(network, {100, 100, 100, 100});
  EXPECT_EQ(operations_until_due(balancer), RailBalancer::kLastExchangeInterval);
}

}  // namespace
}  // namespace strata::runtime
