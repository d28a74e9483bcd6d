#include "topology/link_estimates.h"

#include <algorithm>
#include <cmath>

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

double delivery_rate(std::vector<double> arrivals_s, double chunk_bytes, double bin_s, double min_span_s) {
  std::sort(arrivals_s.begin(), arrivals_s.end());
  const size_t n = arrivals_s.size();
  if (n < 2 || bin_s <= 0) return 0;
  const double start = arrivals_s.front(), whole = arrivals_s.back() - start;
  if (whole <= 0) return 0;
  // The first arrival marks the start: the chunks after it are counted.
  const auto bins = static_cast<size_t>(whole / bin_s);
  if (bins == 0) return static_cast<double>(n - 1) * chunk_bytes / whole;
  std::vector<double> rates(bins, 0.0);
  for (size_t i = 1; i < n; ++i) {
    const auto bin = static_cast<size_t>((arrivals_s[i] - start) / bin_s);
    if (bin < bins) rates[bin] += chunk_bytes / bin_s;
  }
  if (bins < 3) return lower_median(rates);
  size_t run = std::max<size_t>(3, static_cast<size_t>(std::ceil(min_span_s / bin_s - 1e-9))) | 1;  // odd
  run = std::min(run, bins % 2 == 1 ? bins : bins - 1);
  double best = 0;
  for (size_t first = 0; first + run <= bins; ++first)
    best = std::max(best, lower_median({rates.begin() + first, rates.begin() + first + run}));
  return best;
}

}  // namespace strata::topology
