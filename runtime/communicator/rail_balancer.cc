#include "runtime/communicator/rail_balancer.h"

#include <fmt/format.h>

#include <algorithm>

#include "collectives/rail_balance.h"
#include "collectives/site_layout.h"
#include "common/error.h"
#include "runtime/config/config.h"

namespace strata::runtime {

using collectives::Collective;

void RailBalancer::configure(collectives::Network& network, int rank, int nranks) {
  nranks_ = nranks;
  if (!config().rail_weights.empty()) {
    try {
      network.rail_weights = collectives::parse_rail_weights(config().rail_weights, "STRATA_RAIL_WEIGHTS");
    } catch (const Error& error) {
      fail(ErrorCode::kInvalidArgument, {rank, -1, "STRATA_RAIL_WEIGHTS"}, "{}", error.what());
    }
    return;
  }
  if (!config().rail_balance || !network.spans_sites()) return;
  if (collectives::SiteLayout::of(network, nranks, rank).smallest_site() < 2) return;
  measuring_ = true;
  far_.assign(static_cast<size_t>(nranks), 0);
  for (int peer = 0; peer < nranks; ++peer)
    far_[static_cast<size_t>(peer)] = network.site_of(peer) != network.site_of(rank);
}

FarTraffic* RailBalancer::meter(const collectives::CollectiveRequest& request, const std::string& algorithm) {
  if (!measuring_) return nullptr;
  const Collective c = request.collective;
  const bool sharded = c == Collective::kAllReduce || c == Collective::kBroadcast || c == Collective::kReduce;
  if (!sharded || algorithm.rfind("hier", 0) != 0 || request.count * datatype_size(request.dtype) < kMeasuredBytes)
    return nullptr;
  current_ = FarTraffic{&far_};
  return &current_;
}

bool RailBalancer::record() {
  if (current_.bytes > 0) {
    bytes_ += current_.bytes;
    seconds_ += std::chrono::duration<double>(current_.last_receive - current_.first_post).count();
  }
  current_ = FarTraffic{};
  if (++operations_ < interval_) return false;
  operations_ = 0;
  return true;
}

double RailBalancer::rate() const { return seconds_ > 0 ? static_cast<double>(bytes_) / seconds_ : 0.0; }

bool RailBalancer::apply(collectives::Network& network, const std::vector<double>& rank_rates) {
  bytes_ = 0;
  seconds_ = 0;
  const std::vector<double> rates = collectives::rail_rates(network, nranks_, rank_rates);
  std::vector<double> weights =
      rates.empty() ? network.rail_weights : collectives::rebalanced_rail_weights(network.rail_weights, rates);
  if (weights == network.rail_weights) {
    interval_ = std::min(interval_ * 2, kLastExchangeInterval);
    return false;
  }
  interval_ = kFirstExchangeAfter;
  network.rail_weights = std::move(weights);
  return true;
}

}  // namespace strata::runtime
