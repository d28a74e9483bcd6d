#include "collectives/rail_balance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "collectives/site_layout.h"
#include "common/error.h"

namespace strata::collectives {

std::vector<double> rail_rates(const Network& network, int nranks, const std::vector<double>& rank_rates) {
  if (!network.spans_sites() || rank_rates.size() != static_cast<size_t>(nranks)) return {};
  const SiteLayout layout = SiteLayout::of(network, nranks, 0);
  std::vector<double> rates;
  for (int r = 0; r < layout.smallest_site(); ++r) {
    double slowest = 0;
    for (int rank : layout.rail(r)) {
      const double rate = rank_rates[static_cast<size_t>(rank)];
      if (rate > 0 && std::isfinite(rate)) slowest = slowest > 0 ? std::min(slowest, rate) : rate;
    }
    if (slowest <= 0) break;  // rails beyond the flow cap (choose_rails) carry nothing across sites
    rates.push_back(slowest);
  }
  return rates.size() >= 2 ? rates : std::vector<double>{};
}

std::vector<double> rebalanced_rail_weights(const std::vector<double>& current, const std::vector<double>& rates) {
  const size_t n = rates.size();
  if (n < 2) return current;
  std::vector<double> weights = current.size() == n ? current : std::vector<double>(n, 1.0);
  const auto [slowest, fastest] = std::minmax_element(rates.begin(), rates.end());
  const double mean = std::accumulate(rates.begin(), rates.end(), 0.0) / static_cast<double>(n);
  const bool even = *slowest >= kRailImbalanceToAct * *fastest;
  bool equal = true;
  for (size_t r = 0; r < n; ++r) {
    const double target = even ? 1.0 : rates[r] / mean;
    const double next = std::clamp((weights[r] + target) / 2, kMinRailWeight, kMaxRailWeight);
    weights[r] = std::round(next / kRailWeightStep) * kRailWeightStep;
    equal &= std::abs(weights[r] - 1.0) <= kRailWeightStep;  // halving toward 1 would stall a step short
  }
  if (equal) return {};
  return weights;
}

std::vector<double> parse_rail_weights(const std::string& text, const char* what) {
  std::vector<double> weights;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const double weight = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(weight > 0) || !std::isfinite(weight))
      fail(ErrorCode::kInvalidArgument, {-1, -1, what},
           "{}='{}': entry '{}' is not a positive number (expected a comma-separated weight per rail, e.g. 1,1,0.5,1)",
           what, text, item);
    weights.push_back(weight);
    start = comma + 1;
  }
  return weights;
}

}  // namespace strata::collectives
