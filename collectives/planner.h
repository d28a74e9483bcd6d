// The planner: a pure function from (request, link costs, override) to the
// algorithm to run, with every candidate's predicted time for --explain.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collectives/algorithm.h"
#include "collectives/network.h"

namespace strata::collectives {

struct Candidate {
  const Algorithm* algorithm;
  double predicted_seconds;
};

struct Plan {
  const Algorithm* algorithm = nullptr;
  double predicted_seconds = 0;
  std::string reason;
};

// Candidates that support `request`, fastest predicted first.
std::vector<Candidate> rank_candidates(const CollectiveRequest& request, const Network& network);

// `forced` empty: the fastest candidate. Otherwise that algorithm; throws
// Error(kInvalidArgument) if no algorithm of that name serves the request.
Plan choose_algorithm(const CollectiveRequest& request, const Network& network, std::string_view forced);

// The algorithm STRATA_ALGO names for `collective`: the spec is either one
// name, applied to collectives that have an algorithm of that name, or
// comma-separated collective=name pairs. Empty when nothing is forced.
// Throws Error(kInvalidArgument) for an unknown collective in a pair.
std::string forced_algorithm_for(std::string_view spec, Collective collective);

}  // namespace strata::collectives
