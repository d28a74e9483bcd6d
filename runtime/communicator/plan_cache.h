// Schedules are built once per distinct call shape and reused: building one
// costs allocations that a small-message call cannot afford every time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "collectives/network.h"
#include "collectives/schedule.h"

namespace strata::runtime {

struct CachedPlan {
  std::shared_ptr<const collectives::RankSchedule> schedule;
  std::string algorithm;
  double predicted_seconds = 0;
  std::string reason;
};

class PlanCache {
 public:
  // The plan for `request` on `rank`, built (and logged at INFO) on first use.
  CachedPlan& get(const collectives::CollectiveRequest& request, int rank, const collectives::Network& network,
                  const std::string& forced);
  // Forgets every plan: the network they were built for has changed.
  void clear() {
    plans_.clear();
    last_ = nullptr;
  }

 private:
  using Key = std::tuple<int, uint64_t, int, int, int, int, bool, uint64_t, uint32_t, int, bool, std::string>;
  static constexpr size_t kMaxEntries = 512;  // then start over: shapes in a training loop repeat
  std::map<Key, CachedPlan> plans_;
  // Loops repeat the same call: check the last hit before the map.
  Key last_key_;
  CachedPlan* last_ = nullptr;
};

}  // namespace strata::runtime
