#include "runtime/communicator/link_adapter.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "runtime/config/config.h"
#include "runtime/telemetry/metrics.h"

namespace strata::runtime {

using collectives::Collective;

void LinkAdapter::configure(const collectives::Network& network, int rank) {
  enabled_ = config().adapt && network.spans_sites();
  if (!enabled_) return;
  sites_ = network.site_count();
  interval_ = config().adapt_interval;
  drift_ = config().adapt_drift;
  site_of_ = network.site_of_rank;
  bytes_.assign(static_cast<size_t>(sites_), 0);
  seconds_.assign(static_cast<size_t>(sites_), 0);
  current_ = SiteFlows{&site_of_, network.site_of(rank), {}};
}

SiteFlows* LinkAdapter::meter(const collectives::CollectiveRequest& request, const std::string& algorithm) {
  if (!enabled_) return nullptr;
  const Collective c = request.collective;
  const bool large = request.count * datatype_size(request.dtype) >= kMeasuredBytes;
  if (!large || algorithm.rfind("hier", 0) != 0 ||
      !(c == Collective::kAllReduce || c == Collective::kBroadcast || c == Collective::kReduce ||
        c == Collective::kAllGather || c == Collective::kReduceScatter))
    return nullptr;
  current_.per_site.assign(static_cast<size_t>(sites_), {});
  return &current_;
}

bool LinkAdapter::record() {
  for (size_t site = 0; site < current_.per_site.size(); ++site) {
    const SiteFlows::Flow& flow = current_.per_site[site];
    const double seconds = static_cast<double>(flow.last_ns - flow.first_ns) * 1e-9;
    if (flow.bytes_after_first == 0 || seconds < kShortestSample) continue;
    bytes_[site] += static_cast<double>(flow.bytes_after_first);
    seconds_[site] += seconds;
  }
  current_.per_site.clear();
  if (++operations_ < interval_) return false;
  operations_ = 0;
  return true;
}

std::vector<double> LinkAdapter::sample() const {
  std::vector<double> out(bytes_);
  out.insert(out.end(), seconds_.begin(), seconds_.end());
  return out;
}

std::vector<double> site_pair_rates(const std::vector<int>& site_of, int sites, const std::vector<double>& samples) {
  const size_t n = static_cast<size_t>(sites);
  std::vector<double> bytes(n * n, 0), longest(n * n, 0);
  for (size_t rank = 0; rank < site_of.size(); ++rank) {
    const size_t a = static_cast<size_t>(site_of[rank]);
    for (size_t b = 0; b < n; ++b) {
      bytes[a * n + b] += samples[rank * 2 * n + b];
      longest[a * n + b] = std::max(longest[a * n + b], samples[rank * 2 * n + n + b]);
    }
  }
  std::vector<double> rates(n * n, 0);
  for (size_t i = 0; i < n * n; ++i)
    if (longest[i] > 0) rates[i] = bytes[i] / longest[i];
  return rates;
}

std::vector<std::string> LinkAdapter::apply(collectives::Network& network, const std::vector<double>& samples) {
  std::fill(bytes_.begin(), bytes_.end(), 0);
  std::fill(seconds_.begin(), seconds_.end(), 0);
  std::vector<std::string> changes;
  if (network.site_links.size() != static_cast<size_t>(sites_ * sites_)) return changes;
  const std::vector<double> rates = site_pair_rates(site_of_, sites_, samples);
  for (int a = 0; a < sites_; ++a) {
    for (int b = a + 1; b < sites_; ++b) {
      // The slower direction measured stands for the pair, as the model has one rate per pair.
      const double ab = rates[static_cast<size_t>(b * sites_ + a)], ba = rates[static_cast<size_t>(a * sites_ + b)];
      const double measured = ab > 0 && ba > 0 ? std::min(ab, ba) : std::max(ab, ba);
      collectives::LinkCost& there = network.site_links[static_cast<size_t>(a * sites_ + b)];
      collectives::LinkCost& back = network.site_links[static_cast<size_t>(b * sites_ + a)];
      const double model = there.bandwidth_bytes_per_s;
      if (measured <= 0 || std::abs(measured - model) <= drift_ * model) continue;
      changes.push_back(fmt::format("sites {}-{}: {:.1f} -> {:.1f} MB/s", a, b, model / 1e6, measured / 1e6));
      there.bandwidth_bytes_per_s = measured;
      back.bandwidth_bytes_per_s = measured;
    }
  }
  return changes;
}

}  // namespace strata::runtime
