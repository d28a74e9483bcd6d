#include "collectives/planner.h"

#include <algorithm>

#include "common/error.h"

namespace strata::collectives {

std::vector<Candidate> rank_candidates(const CollectiveRequest& request, const Network& network) {
  std::vector<Candidate> candidates;
  for (const Algorithm* algorithm : all_algorithms()) {
    if (algorithm->collective() != request.collective || algorithm->unsupported_on(request, network)) continue;
    candidates.push_back({algorithm, algorithm->predict_seconds(request, network)});
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.predicted_seconds < b.predicted_seconds; });
  return candidates;
}

Plan choose_algorithm(const CollectiveRequest& request, const Network& network, std::string_view forced) {
  if (!forced.empty()) {
    const Algorithm* algorithm = find_algorithm(request.collective, forced);
    if (!algorithm)
      fail(ErrorCode::kInvalidArgument, {}, "no {} algorithm is called '{}'", collective_name(request.collective), forced);
    if (auto why = algorithm->unsupported_on(request, network))
      fail(ErrorCode::kInvalidArgument, {}, "{} algorithm '{}' cannot serve this call: {}",
           collective_name(request.collective), forced, *why);
    return {algorithm, algorithm->predict_seconds(request, network), "forced"};
  }
  const std::vector<Candidate> candidates = rank_candidates(request, network);
  if (candidates.empty())
    fail(ErrorCode::kInternal, {}, "no algorithm serves {}", collective_name(request.collective));
  std::string reason = "predicted:";
  for (const Candidate& candidate : candidates)
    reason += fmt::format(" {}={:.3g}s", candidate.algorithm->name(), candidate.predicted_seconds);
  return {candidates.front().algorithm, candidates.front().predicted_seconds, reason};
}

std::string forced_algorithm_for(std::string_view spec, Collective collective) {
  if (spec.empty()) return {};
  if (spec.find('=') == std::string_view::npos) {
    // One name forces every collective that has an algorithm of that name;
    // a name no collective has is a typo, not a request for the default.
    bool anywhere = false;
    for (int c = 0; c < kCollectiveCount; ++c) anywhere |= find_algorithm(static_cast<Collective>(c), spec) != nullptr;
    if (!anywhere)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "STRATA_ALGO"}, "no collective has an algorithm called '{}'", spec);
    return find_algorithm(collective, spec) ? std::string(spec) : std::string();
  }
  std::string chosen;
  while (!spec.empty()) {
    const size_t comma = spec.find(',');
    const std::string_view pair = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    const size_t equals = pair.find('=');
    const std::string_view name = pair.substr(0, equals);
    bool known = false;
    for (int c = 0; c < kCollectiveCount; ++c) {
      if (collective_name(static_cast<Collective>(c)) != name) continue;
      known = true;
      if (static_cast<Collective>(c) == collective && equals != std::string_view::npos)
        chosen = pair.substr(equals + 1);
    }
    if (!known || equals == std::string_view::npos)
      fail(ErrorCode::kInvalidArgument, {-1, -1, "STRATA_ALGO"}, "'{}' is not collective=algorithm", pair);
  }
  return chosen;
}

}  // namespace strata::collectives
