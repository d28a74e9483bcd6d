#include "topology/link_estimates.h"

#include <algorithm>

namespace strata::topology {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double steady_rate(std::vector<double> arrivals_s, double chunk_bytes, double min_span_s, size_t min_chunks) {
  std::sort(arrivals_s.begin(), arrivals_s.end());
  const size_t n = arrivals_s.size();
  if (n < 2) return 0;
  // Rate over arrivals i..j counts the chunks after the i-th: the i-th marks
  // the start of the interval. At most a few hundred chunks, so O(n^2) is fine.
  double best = 0;
  for (size_t j = 1; j < n; ++j)
    for (size_t i = 0; i < j; ++i) {
      const double span = arrivals_s[j] - arrivals_s[i];
      if (j - i < min_chunks || span < min_span_s) continue;
      best = std::max(best, static_cast<double>(j - i) * chunk_bytes / span);
    }
  if (best > 0) return best;
  const double whole = arrivals_s[n - 1] - arrivals_s[0];
  return whole > 0 ? static_cast<double>(n - 1) * chunk_bytes / whole : 0;
}

}  // namespace strata::topology
