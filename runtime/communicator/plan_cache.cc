#include "runtime/communicator/plan_cache.h"

#include "collectives/planner.h"

namespace strata::runtime {

CachedPlan& PlanCache::get(const collectives::CollectiveRequest& request, int rank,
                           const collectives::Network& network, const std::string& forced) {
  const Key key{static_cast<int>(request.collective), request.count, static_cast<int>(request.dtype),
                static_cast<int>(request.op), static_cast<int>(request.finish.kind), request.root,
                request.in_place, request.segment_bytes, request.window, static_cast<int>(request.wan_format),
                request.error_feedback, forced};
  if (last_ && key == last_key_) return *last_;
  last_key_ = key;
  if (auto it = plans_.find(key); it != plans_.end()) return *(last_ = &it->second);
  if (plans_.size() >= kMaxEntries) plans_.clear();
  const collectives::Plan plan = collectives::choose_algorithm(request, network, forced);
  CachedPlan cached{std::make_shared<const collectives::RankSchedule>(plan.algorithm->build(request, network, rank)),
                    std::string(plan.algorithm->name()), plan.predicted_seconds, plan.reason};
  return *(last_ = &plans_.emplace(key, std::move(cached)).first->second);
}

}  // namespace strata::runtime
