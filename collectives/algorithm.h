// One algorithm = one small class with a uniform interface: it says which
// collective it implements, whether it can serve a request (and why not),
// what it would cost on a link model, and emits one rank's schedule.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "collectives/link_cost.h"
#include "collectives/request.h"
#include "collectives/schedule.h"

namespace strata::collectives {

class Algorithm {
 public:
  virtual ~Algorithm() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  virtual Collective collective() const = 0;

  // nullopt when the algorithm can serve `request`; otherwise the reason.
  virtual std::optional<std::string> unsupported_reason(const CollectiveRequest&) const { return std::nullopt; }

  // Predicted seconds on a uniform network described by `cost`.
  virtual double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const = 0;

  virtual RankSchedule build(const CollectiveRequest& request, int rank) const = 0;
};

// Every algorithm, in registration order.
std::span<const Algorithm* const> all_algorithms();

// The algorithm of `collective` called `name`, or nullptr.
const Algorithm* find_algorithm(Collective collective, std::string_view name);

}  // namespace strata::collectives
