#include "topology/link_estimates.h"

#include <gtest/gtest.h>

namespace strata::topology {
namespace {

constexpr double kChunk = 65536;

TEST(LinkEstimates, Median) {
  EXPECT_EQ(median({}), 0);
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({10.2, 10.1, 55, 10.3}), 10.3);  // one outlier moves nothing much
}

// A stream whose rate doubles every round trip (TCP opening its window) and
// then holds at the link rate: the average over the whole stream is far
// below the link, the steady rate is the link's.
TEST(LinkEstimates, SteadyRateSkipsTheRamp) {
  const double link = 125e6, rtt = 0.05;  // 1 Gbit/s, 50 ms
  std::vector<double> arrivals;
  double t = 0, rate = link / 32;
  for (int round = 0; round < 12; ++round, rate = std::min(rate * 2, link))
    for (double end = t + rtt; t < end; t += kChunk / rate) arrivals.push_back(t);
  const double whole = (arrivals.size() - 1) * kChunk / (arrivals.back() - arrivals.front());
  EXPECT_LT(whole, 0.8 * link);
  EXPECT_NEAR(steady_rate(arrivals, kChunk, 2 * rtt), link, 0.02 * link);
}

// Arrivals in any order give the same answer (lanes complete out of order).
TEST(LinkEstimates, OrderDoesNotMatter) {
  std::vector<double> arrivals;
  for (int i = 0; i < 100; ++i) arrivals.push_back(i * 0.001);
  std::vector<double> shuffled(arrivals.rbegin(), arrivals.rend());
  EXPECT_DOUBLE_EQ(steady_rate(arrivals, kChunk, 0.01), steady_rate(shuffled, kChunk, 0.01));
  EXPECT_NEAR(steady_rate(arrivals, kChunk, 0.01), kChunk / 0.001, 1);
}

// A receiver off the CPU for 10 ms sees the chunks of that time at once; a
// span of at least 40 ms keeps the burst from posing as a 5x faster link.
TEST(LinkEstimates, MinimumSpanDampsBursts) {
  const double gap = kChunk / 125e6;
  std::vector<double> arrivals;
  for (int i = 0; i < 400; ++i) arrivals.push_back(i * gap);
  for (double& t : arrivals)
    if (t > 0.1 && t < 0.11) t = 0.11;  // the stall: delivered together at its end
  EXPECT_GT(steady_rate(arrivals, kChunk, 0.002), 2 * 125e6);
  EXPECT_LT(steady_rate(arrivals, kChunk, 0.04), 1.3 * 125e6);
}

TEST(LinkEstimates, ShortStreams) {
  EXPECT_EQ(steady_rate({}, kChunk, 0.01), 0);
  EXPECT_EQ(steady_rate({1.0}, kChunk, 0.01), 0);
  EXPECT_EQ(steady_rate({1.0, 1.0}, kChunk, 0.01), 0);
  // Shorter than the minimum span: the rate over the whole stream.
  EXPECT_NEAR(steady_rate({0, 0.001, 0.002}, kChunk, 0.05), 2 * kChunk / 0.002, 1);
}

}  // namespace
}  // namespace strata::topology
