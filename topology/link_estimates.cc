#include "topology/link_estimates.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace strata::topology {
namespace {

// Lower middle of a run: with an even count, the slower of the two middle
// bins, so that a burst bin cannot be the answer.
double lower_median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[(values.size() - 1) / 2];
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

DeliveryRate delivery_rate(std::vector<double> arrivals_s, double chunk_bytes, double bin_s, double min_span_s,
                           double fed_until_s) {
  std::sort(arrivals_s.begin(), arrivals_s.end());
  const size_t n = arrivals_s.size();
  if (n < 2 || bin_s <= 0) return {};
  const double start = arrivals_s.front(), whole = arrivals_s.back() - start;
  if (whole <= 0) return {};
  // A bin must hold a few chunks, or its rate is mostly rounding: a stream
  // of one chunk per 50 ms round trip would read as a steady 10 Mbit/s.
  // The average rate is at most the delivery rate, so this never makes bins
  // narrower than needed.
  bin_s = std::max(bin_s, kMinChunksPerBin * whole / static_cast<double>(n - 1));
  // The first arrival marks the start: the chunks after it are counted.
  const auto bins = static_cast<size_t>(whole / bin_s);
  if (bins == 0) return {static_cast<double>(n - 1) * chunk_bytes / whole, false};
  std::vector<double> rates(bins, 0.0);
  for (size_t i = 1; i < n; ++i) {
    const auto bin = static_cast<size_t>((arrivals_s[i] - start) / bin_s);
    if (bin < bins) rates[bin] += chunk_bytes / bin_s;
  }
  if (bins < 3) return {lower_median(rates), false};
  size_t run = std::max<size_t>(3, static_cast<size_t>(std::ceil(min_span_s / bin_s - 1e-9))) | 1;  // odd
  run = std::min(run, bins % 2 == 1 ? bins : bins - 1);
  std::vector<double> medians;  // medians[i]: the run of bins i .. i + run - 1
  for (size_t first = 0; first + run <= bins; ++first)
    medians.push_back(lower_median({rates.begin() + first, rates.begin() + first + run}));
  const double best = *std::max_element(medians.begin(), medians.end());
  // Bins after the sender stopped feeding the link, and slower than a
  // plateau, are the drain's tail (the last segments, a retransmission
  // timeout): they say nothing of the link, so they leave the stream.
  size_t fed = bins;
  while (fed > 1 && start + static_cast<double>(fed - 1) * bin_s >= fed_until_s &&
         rates[fed - 1] < kSteadyShare * best)
    --fed;
  // The plateau runs from the first bin near `level` inside the first run
  // whose median is near it, to the last bin near it. Its mean rate is exact
  // up to the backlog at its start: bytes are conserved across a stall and
  // its catch-up (the median alone was fooled by catch-ups spanning several
  // bins), and a tail after the last near bin (a retransmission timeout on
  // the last segment) is not in it.
  auto plateau_start = [&](double level) {
    size_t from = 0;
    while (from < medians.size() && medians[from] < kSteadyShare * level) ++from;
    while (from < bins && rates[from] < kSteadyShare * level) ++from;
    return from;
  };
  auto mean_of_bins = [&](size_t from, size_t to) {
    return std::accumulate(rates.begin() + from, rates.begin() + to, 0.0) / static_cast<double>(to - from);
  };
  // The best median may itself be a catch-up: the level is the mean from the
  // first bin near it to the end of the stream, where bytes are conserved.
  const double level = std::min(best, mean_of_bins(std::min(plateau_start(best), fed - 1), fed));
  const size_t from = plateau_start(level);
  size_t to = fed;
  while (to > from + 1 && rates[to - 1] < kSteadyShare * level) --to;
  // Steady: the plateau lasts two runs. A stream cut while its window was
  // still opening reaches its best only at its end.
  if (to - from < 2 * run) return {best, false};
  return {std::min(best, mean_of_bins(from, to)), true};
}

DeliveryRate stream_delivery_rate(const std::vector<double>& arrivals_s, double chunk_bytes, double rtt_s,
                                  double fed_until_s) {
  constexpr double kMinBinS = 0.02, kRunS = 0.1;
  if (arrivals_s.size() < 2) return {};
  const auto [first, last] = std::minmax_element(arrivals_s.begin(), arrivals_s.end());
  const double whole = *last - *first;
  return delivery_rate(arrivals_s, chunk_bytes, std::max(rtt_s, std::min(kMinBinS, whole / 16)),
                       std::min(kRunS, whole / 4), fed_until_s);
}

}  // namespace strata::topology
