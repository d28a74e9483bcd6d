#include "topology/link_estimates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

namespace strata::topology {
namespace {

constexpr double kChunk = 65536;
constexpr double kGbit = 125e6;  // bytes per second

// Arrivals of chunks at `rate` from `from` to `to` seconds.
void steady(std::vector<double>& arrivals, double from, double to, double rate) {
  for (double t = from; t < to; t += kChunk / rate) arrivals.push_back(t);
}

// The old estimator: the highest rate over any run of arrivals spanning at
// least `min_span_s`. The tests show where it fails.
double best_stretch(std::vector<double> arrivals, double min_span_s) {
  std::sort(arrivals.begin(), arrivals.end());
  double best = 0;
  for (size_t j = 1; j < arrivals.size(); ++j)
    for (size_t i = 0; i < j; ++i)
      if (arrivals[j] - arrivals[i] >= min_span_s)
        best = std::max(best, static_cast<double>(j - i) * kChunk / (arrivals[j] - arrivals[i]));
  return best;
}

TEST(LinkEstimates, Median) {
  EXPECT_EQ(median({}), 0);
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({10.2, 10.1, 55, 10.3}), 10.3);  // one outlier moves nothing much
}

// Steady streams for 0.5 s, at 500 Mbit/s with 50 ms bins, and at
// 100 Mbit/s with 10 ms bins asked for (about 2 chunks each: the bins are
// widened to 4 chunks, so a slow link is still resolved).
TEST(LinkEstimates, SteadyStreams) {
  for (auto [link, bin_s] : {std::pair{0.5 * kGbit, 0.05}, std::pair{0.1 * kGbit, 0.01}}) {
    std::vector<double> arrivals;
    steady(arrivals, 0.1, 0.6, link);
    const DeliveryRate rate = delivery_rate(arrivals, kChunk, bin_s, 0.1);
    EXPECT_NEAR(rate.bytes_per_s, link, 0.05 * link);
    EXPECT_TRUE(rate.steady);
  }
}

// A stream whose rate doubles every round trip (TCP opening its window) from
// 1/32 of a 500 Mbit/s link on a 50 ms path, for `rounds` round trips.
std::vector<double> doubling_ramp(int rounds) {
  std::vector<double> arrivals;
  double t = 0, rate = kGbit / 64;
  for (int round = 0; round < rounds; ++round, rate = std::min(rate * 2, kGbit / 2))
    for (double end = t + 0.05; t < end; t += kChunk / rate) arrivals.push_back(t);
  return arrivals;
}

// The ramp, then 9 round trips at the link rate: the average over the whole
// stream is far below the link, the delivery rate is the link's.
TEST(LinkEstimates, SlowStartRampThenPlateau) {
  const std::vector<double> arrivals = doubling_ramp(14);
  const double whole = (arrivals.size() - 1) * kChunk / (arrivals.back() - arrivals.front());
  EXPECT_LT(whole, 0.8 * kGbit / 2);
  const DeliveryRate measured = delivery_rate(arrivals, kChunk, 0.05, 0.1);
  EXPECT_NEAR(measured.bytes_per_s, kGbit / 2, 0.05 * kGbit / 2);
  EXPECT_TRUE(measured.steady);
}

// The same ramp cut after 4 round trips at the link rate (a 50 ms link in a
// short budget): the rate is right, but 200 ms of plateau is too short to
// show that it will not rise further, so it is not called steady.
TEST(LinkEstimates, PlateauTooShortToTell) {
  const DeliveryRate measured = delivery_rate(doubling_ramp(9), kChunk, 0.05, 0.1);
  EXPECT_NEAR(measured.bytes_per_s, kGbit / 2, 0.05 * kGbit / 2);
  EXPECT_FALSE(measured.steady);
}

// A window that the receiver opens by a constant step per round trip (the
// kernel's receive-window growth with 64 KB segments): linear, not doubling.
// With a plateau after it the link rate; cut before the plateau, a lower
// bound that says so.
TEST(LinkEstimates, LinearRamp) {
  const double link = kGbit, rtt = 0.03;
  auto ramp = [&](int rounds) {
    std::vector<double> arrivals;
    double t = 0;
    for (int round = 1; round <= rounds; ++round)
      for (double end = t + rtt, rate = std::min(link, link * round / 10); t < end; t += kChunk / rate)
        arrivals.push_back(t);
    return delivery_rate(arrivals, kChunk, rtt, 0.1);
  };
  const DeliveryRate full = ramp(24), cut = ramp(9);
  EXPECT_NEAR(full.bytes_per_s, link, 0.05 * link);
  EXPECT_TRUE(full.steady);
  EXPECT_LT(cut.bytes_per_s, 0.9 * link);
  EXPECT_FALSE(cut.steady);
}

// A 1 Gbit/s stream of 0.6 s whose arrival times `delay` moves (what the
// receiving process saw of them): the old estimator reads more than
// `old_reads_above`, the delivery rate is within `tolerance` and steady.
void expect_delays_ignored(const std::function<double(double)>& delay, double old_reads_above, double tolerance) {
  std::vector<double> arrivals;
  steady(arrivals, 0, 0.6, kGbit);
  for (double& t : arrivals) t = delay(t);
  EXPECT_GT(best_stretch(arrivals, 0.04), old_reads_above * kGbit);
  const DeliveryRate rate = delivery_rate(arrivals, kChunk, 0.02, 0.1);
  EXPECT_NEAR(rate.bytes_per_s, kGbit, tolerance * kGbit);
  EXPECT_TRUE(rate.steady);
}

// The receiver is off the CPU for 30 ms every 100 ms and then takes the
// backlog at once (what the 10 ms testbed link showed: up to +77% with the
// best stretch over 40 ms). The median of bins ignores the slow bin and the
// burst bin around each stall.
TEST(LinkEstimates, ReceiverStallsDoNotPoseAsRate) {
  expect_delays_ignored(
      [](double t) {
        const double phase = std::fmod(t, 0.1);
        return phase >= 0.05 && phase < 0.08 ? t + 0.08 - phase : t;  // delivered together at the stall's end
      },
      1.5, 0.1);
}

// Longer stalls on a busier host: every 150 ms the receiver is off the CPU
// for 50 ms and then delivers the backlog at twice the link rate, so each
// catch-up spans 2-3 bins and runs of 5 bins can have a catch-up median
// (the 10 ms testbed link once read 1.42 Gbit/s this way). The mean over the
// plateau conserves the bytes.
TEST(LinkEstimates, CatchUpsSpanningSeveralBins) {
  expect_delays_ignored(
      [](double t) {
        const double p = std::floor((t - 0.05) / 0.15) * 0.15 + 0.05;  // the last stall's start
        return t >= p && t < p + 0.1 ? p + 0.05 + (t - p) / 2 : t;
      },
      1.3, 0.15);
}

// A lost 64 KB segment: TCP holds everything after it until the
// retransmission arrives one RTT later, then delivers the lot. Twice in the
// stream, on a 10 ms link.
TEST(LinkEstimates, RetransmissionHolesDoNotPoseAsRate) {
  expect_delays_ignored(
      [](double t) {
        for (double hole : {0.2, 0.35})
          if (t >= hole && t < hole + 0.012) return hole + 0.012;
        return t;
      },
      1.25, 0.08);
}

// One early stall of 90 ms whose backlog arrives at twice the link rate:
// three catch-up bins make the best median twice the link. Its plateau
// alone would be three bins long; at the level of the mean from there to
// the end, the plateau is the whole stream.
TEST(LinkEstimates, OneLongCatchUpDoesNotSetTheLevel) {
  std::vector<double> arrivals;
  steady(arrivals, 0, 1.2, kGbit);
  for (double& t : arrivals)
    if (t >= 0.3 && t < 0.48) t = 0.39 + (t - 0.3) / 2;
  const DeliveryRate rate = delivery_rate(arrivals, kChunk, 0.03, 0.15);
  EXPECT_NEAR(rate.bytes_per_s, kGbit, 0.05 * kGbit);
  EXPECT_TRUE(rate.steady);
}

// The last segment of the stream is lost and only a retransmission timeout
// (200 ms) brings it: the tail is not part of the plateau.
TEST(LinkEstimates, TailAfterTheLastSegmentIsNotTheRate) {
  expect_delays_ignored([](double t) { return t > 0.598 ? t + 0.2 : t; }, 0.0, 0.05);
}

// A 50 ms link over 16 connections (as measured): a three-bin ramp with a
// dip, a 300 ms plateau at 0.48 Gbit/s, and after the sender stopped, a
// retransmission tail of three slow bins. Counted in, the tail pulled the
// level into the ramp (0.41); left out, the plateau is the rate.
TEST(LinkEstimates, DrainTailAfterTheSenderStoppedIsLeftOut) {
  std::vector<double> arrivals;
  const double rates[] = {0.16, 0.33, 0.18, 0.48, 0.48, 0.48, 0.48, 0.48, 0.48, 0.1, 0.05, 0.06};
  for (int bin = 0; bin < 12; ++bin) steady(arrivals, 0.3 + bin * 0.05, 0.35 + bin * 0.05, rates[bin] * kGbit);
  arrivals.push_back(0.3 + 12 * 0.05);  // closes the last bin
  const double stopped_s = 0.3 + 9 * 0.05 - 0.01;
  const DeliveryRate trimmed = delivery_rate(arrivals, kChunk, 0.05, 0.1, stopped_s);
  EXPECT_TRUE(trimmed.steady);
  EXPECT_NEAR(trimmed.bytes_per_s, 0.48 * kGbit, 0.05 * 0.48 * kGbit);
  EXPECT_LT(delivery_rate(arrivals, kChunk, 0.05, 0.1).bytes_per_s, 0.44 * kGbit);
  // Slow bins while the sender still fed the link are not a tail.
  EXPECT_LT(delivery_rate(arrivals, kChunk, 0.05, 0.1, 0.3 + 11 * 0.05).bytes_per_s, 0.44 * kGbit);
}

// Arrivals in any order give the same answer (lanes complete out of order).
TEST(LinkEstimates, OrderDoesNotMatter) {
  std::vector<double> arrivals;
  for (int i = 0; i < 100; ++i) arrivals.push_back(i * 0.001);
  std::vector<double> shuffled(arrivals.rbegin(), arrivals.rend());
  EXPECT_DOUBLE_EQ(delivery_rate(arrivals, kChunk, 0.01, 0.03).bytes_per_s,
                   delivery_rate(shuffled, kChunk, 0.01, 0.03).bytes_per_s);
  EXPECT_NEAR(delivery_rate(arrivals, kChunk, 0.01, 0.03).bytes_per_s, kChunk / 0.001, 0.02 * kChunk / 0.001);
}

TEST(LinkEstimates, ShortStreams) {
  EXPECT_EQ(delivery_rate({}, kChunk, 0.01, 0.1).bytes_per_s, 0);
  EXPECT_EQ(delivery_rate({1.0}, kChunk, 0.01, 0.1).bytes_per_s, 0);
  EXPECT_EQ(delivery_rate({1.0, 1.0}, kChunk, 0.01, 0.1).bytes_per_s, 0);
  // Shorter than one bin: the rate over the whole stream, not steady.
  const DeliveryRate tiny = delivery_rate({0, 0.001, 0.002}, kChunk, 0.05, 0.1);
  EXPECT_NEAR(tiny.bytes_per_s, 2 * kChunk / 0.002, 1);
  EXPECT_FALSE(tiny.steady);
  // Two full bins, the second a burst: the slower one.
  std::vector<double> two_bins{0};
  for (int i = 0; i < 10; ++i) two_bins.push_back(0.0005 + i * 0.0009);
  two_bins.insert(two_bins.end(), 30, 0.015);
  two_bins.push_back(0.02);
  EXPECT_NEAR(delivery_rate(two_bins, kChunk, 0.01, 0.1).bytes_per_s, 10 * kChunk / 0.01, 1);
}

// A receive window stuck at one 64 KB segment on a 50 ms link delivers one
// chunk per round trip. Bins of one RTT would each hold 0 or 1 chunk and
// call that a steady 10 Mbit/s; bins of at least 4 chunks leave too few
// bins to call anything steady.
TEST(LinkEstimates, OneChunkPerRoundTripIsNotSteady) {
  std::vector<double> arrivals;
  steady(arrivals, 0.3, 0.7, kChunk / 0.05);
  EXPECT_FALSE(delivery_rate(arrivals, kChunk, 0.05, 0.1).steady);
}

// The probe's bins: a 10 ms link's 0.6 s stream gets 20 ms bins; two hosts
// in one data centre (17 Gbit/s, 0.12 ms RTT) stream 64 MiB in 32 ms and
// get bins of 2 ms, so that their rate is still measured.
TEST(LinkEstimates, StreamBinsFollowTheStream) {
  for (auto [link, seconds, rtt_s] : {std::tuple{kGbit, 0.6, 0.01}, std::tuple{17 * kGbit, 0.032, 1.2e-4}}) {
    std::vector<double> arrivals;
    steady(arrivals, 0.1, 0.1 + seconds, link);
    const DeliveryRate rate = stream_delivery_rate(arrivals, kChunk, rtt_s);
    EXPECT_NEAR(rate.bytes_per_s, link, 0.05 * link);
    EXPECT_TRUE(rate.steady);
  }
}

}  // namespace
}  // namespace strata::topology
