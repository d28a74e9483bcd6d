// Rail balancing at run time. While large hierarchical collectives run,
// each rank measures how fast it receives from other sites (its rail's
// throughput); after kFirstExchangeAfter such collectives, every rank
// gathers every rank's measurement and sets the network's rail weights from
// them (collectives/rail_balance.h), so that a measurably slower rail gets a
// smaller shard and all rails finish together. The exchange synchronises
// the ranks and costs a WAN round trip, so while the weights stay put the
// interval doubles (up to kLastExchangeInterval); a change starts it over.
// Every rank counts the same collectives and sees the same weights, so every
// rank exchanges at the same call and computes the same weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectives/network.h"
#include "collectives/request.h"
#include "runtime/engine/executor.h"

namespace strata::runtime {

class RailBalancer {
 public:
  // Measured collectives move at least this much, so the WAN phase dwarfs its start-up.
  static constexpr uint64_t kMeasuredBytes = uint64_t{16} << 20;
  static constexpr int kFirstExchangeAfter = 32;
  static constexpr int kLastExchangeInterval = 1024;

  // STRATA_RAIL_WEIGHTS goes into `network` as it is; otherwise measuring is
  // on when the group spans sites with two rails or more and
  // STRATA_RAIL_BALANCE allows it. `rank` names errors.
  void configure(collectives::Network& network, int rank, int nranks);
  // A fresh meter for an operation that runs alone with `algorithm`, or
  // null when such an operation is not measured.
  FarTraffic* meter(const collectives::CollectiveRequest& request, const std::string& algorithm);
  // Folds the metered operation in once it completed; true when the ranks
  // are due to exchange their rates.
  bool record();
  // This rank's receive rate from other sites since the last exchange
  // (bytes/s; 0 when it received nothing from them).
  double rate() const;
  // Sets `network`'s rail weights from every rank's rate and starts a new
  // measurement; true when the weights changed.
  bool apply(collectives::Network& network, const std::vector<double>& rank_rates);

 private:
  bool measuring_ = false;
  int nranks_ = 0;
  std::vector<uint8_t> far_;  // per rank: on another site than this one
  FarTraffic current_;
  uint64_t bytes_ = 0;
  double seconds_ = 0;
  int operations_ = 0;  // since the last exchange
  int interval_ = kFirstExchangeAfter;
};

}  // namespace strata::runtime
