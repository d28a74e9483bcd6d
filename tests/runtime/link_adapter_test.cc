// The live link model: what each rank measures from its arrivals, the pair
// estimates from every rank's sample, and when the model moves.
#include <gtest/gtest.h>

#include "runtime/communicator/link_adapter.h"

namespace strata::runtime {
namespace {

collectives::CollectiveRequest allreduce(uint64_t bytes) {
  collectives::CollectiveRequest request;
  request.collective = collectives::Collective::kAllReduce;
  request.count = bytes / 4;
  request.dtype = DataType::kFloat32;
  request.nranks = 4;
  return request;
}

// Sites {0, 0, 1, 1}, every pair at 100 MB/s in the model.
collectives::Network two_sites() {
  return collectives::Network::with_sites({0, 0, 1, 1}, {.latency_s = 0.01, .bandwidth_bytes_per_s = 100e6});
}

TEST(LinkAdapter, MeasuresBytesAfterTheFirstArrivalOverTheTimeSinceIt) {
  const collectives::Network network = two_sites();
  LinkAdapter adapter;
  adapter.configure(network, 0);
  ASSERT_TRUE(adapter.enabled());
  EXPECT_EQ(adapter.meter(allreduce(1 << 20), "hier"), nullptr);        // too small to say much
  EXPECT_EQ(adapter.meter(allreduce(64 << 20), "ring"), nullptr);       // flat: no WAN phase of its own
  SiteFlows* flows = adapter.meter(allreduce(64 << 20), "hier");
  ASSERT_NE(flows, nullptr);
  flows->received(1, 1 << 20, 1'000);                // same site: not counted
  flows->received(2, 4'000'000, 500'000'000);        // first arrival: starts the clock (waiting is not counted)
  flows->received(3, 5'000'000, 550'000'000);
  flows->received(2, 5'000'000, 600'000'000);        // 10 MB in 0.1 s after the first
  EXPECT_FALSE(adapter.record());  // 1 of STRATA_ADAPT_INTERVAL=4 measured calls
  for (int call = 2; call <= 4; ++call) {
    adapter.meter(allreduce(64 << 20), "hier");  // nothing arrives: adds nothing
    EXPECT_EQ(adapter.record(), call == 4);
  }
  const std::vector<double> sample = adapter.sample();  // per site bytes, then seconds
  ASSERT_EQ(sample.size(), 4u);
  EXPECT_DOUBLE_EQ(sample[0], 0);
  EXPECT_DOUBLE_EQ(sample[1], 10e6);
  EXPECT_NEAR(sample[3], 0.1, 1e-9);
}

TEST(LinkAdapter, PairRateIsItsReceiversBytesOverTheLongestTime) {
  // Ranks 0, 1 (site 0) received 10 and 20 MB from site 1 in 0.1 and 0.2 s;
  // ranks 2, 3 (site 1) 30 MB each from site 0 in 0.3 s.
  const std::vector<double> samples = {0, 10e6, 0, 0.1, 0, 20e6, 0, 0.2, 30e6, 0, 0.3, 0, 30e6, 0, 0.3, 0};
  const std::vector<double> rates = site_pair_rates({0, 0, 1, 1}, 2, samples);
  EXPECT_DOUBLE_EQ(rates[0 * 2 + 1], 30e6 / 0.2);  // site 0 from site 1
  EXPECT_DOUBLE_EQ(rates[1 * 2 + 0], 60e6 / 0.3);  // site 1 from site 0
  EXPECT_DOUBLE_EQ(rates[0], 0);
}

TEST(LinkAdapter, TheModelMovesOnlyPastTheDrift) {
  collectives::Network network = two_sites();
  LinkAdapter adapter;
  adapter.configure(network, 0);
  // 80 MB/s both ways (two receivers of 4 MB in 0.1 s): within 25% of 100, nothing changes.
  std::vector<double> near = {0, 4e6, 0, 0.1, 0, 4e6, 0, 0.1, 4e6, 0, 0.1, 0, 4e6, 0, 0.1, 0};
  EXPECT_TRUE(adapter.apply(network, near).empty());
  EXPECT_DOUBLE_EQ(network.between_sites(0, 1).bandwidth_bytes_per_s, 100e6);
  // The link halved (one direction measured slower still): the slower direction stands for the pair.
  std::vector<double> halved = {0, 2.5e6, 0, 0.1, 0, 2.5e6, 0, 0.1, 2e6, 0, 0.1, 0, 2e6, 0, 0.1, 0};
  const auto changes = adapter.apply(network, halved);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "sites 0-1: 100.0 -> 40.0 MB/s");
  EXPECT_DOUBLE_EQ(network.between_sites(0, 1).bandwidth_bytes_per_s, 40e6);
  EXPECT_DOUBLE_EQ(network.between_sites(1, 0).bandwidth_bytes_per_s, 40e6);
  // Nothing measured: the model stays.
  EXPECT_TRUE(adapter.apply(network, std::vector<double>(16, 0)).empty());
}

}  // namespace
}  // namespace strata::runtime
