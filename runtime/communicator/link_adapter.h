// The live link model. While large hierarchical collectives run, each rank
// measures how fast data arrives from each other site (SiteFlows: bytes
// after the first arrival over the time since it, no probing traffic);
// every `interval` such collectives, all ranks gather all measurements and
// estimate each site pair's rate as the bytes its receivers took over the
// longest of their times. Where an estimate drifts from the planner's model
// by more than `drift`, the model takes it and the plans are dropped, so
// the next call is planned for the link as it is now (window, chunk,
// compression below STRATA_COMPRESSION_MAX_GBPS, algorithm). Every rank
// counts the same collectives and computes from the same gathered numbers,
// so all switch plans at the same call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collectives/network.h"
#include "collectives/request.h"
#include "runtime/engine/executor.h"

namespace strata::runtime {

class LinkAdapter {
 public:
  static constexpr uint64_t kMeasuredBytes = uint64_t{16} << 20;
  static constexpr double kShortestSample = 5e-3;  // seconds; shorter flows say little about a link

  // On when STRATA_ADAPT allows it and `network` spans sites.
  void configure(const collectives::Network& network, int rank);
  bool enabled() const { return enabled_; }
  // A fresh measurement for an operation that runs alone, or null.
  SiteFlows* meter(const collectives::CollectiveRequest& request, const std::string& algorithm);
  // Folds the metered operation in; true when the ranks are due to exchange.
  bool record();
  // This rank's measurement since the last exchange: per site, bytes then seconds.
  std::vector<double> sample() const;
  // Every rank's sample (rank-major) -> updates `network` where a pair
  // drifted; returns a line per change (empty: nothing changed).
  std::vector<std::string> apply(collectives::Network& network, const std::vector<double>& samples);

 private:
  bool enabled_ = false;
  int sites_ = 0;
  int interval_ = 4;
  double drift_ = 0.25;
  std::vector<int> site_of_;  // per group rank
  SiteFlows current_;
  std::vector<double> bytes_, seconds_;  // per site since the last exchange
  int operations_ = 0;
};

// The pair estimates from every rank's sample: per (receiving site a,
// sending site b), row-major, bytes/s, or 0 where nothing was measured.
std::vector<double> site_pair_rates(const std::vector<int>& site_of, int sites, const std::vector<double>& samples);

}  // namespace strata::runtime
