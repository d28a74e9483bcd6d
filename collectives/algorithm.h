// One algorithm = one small class with a uniform interface: it says which
// collective it implements, whether it can serve a request (and why not),
// what it would cost on a link model, and emits one rank's schedule.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "collectives/link_cost.h"
#include "collectives/network.h"
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

  // nullopt when the algorithm can serve `request` on `network`; otherwise the reason.
  virtual std::optional<std::string> unsupported_on(const CollectiveRequest& request, const Network&) const {
    return unsupported_reason(request);
  }

  // Predicted seconds on `network`.
  virtual double predict_seconds(const CollectiveRequest& request, const Network& network) const = 0;

  virtual RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const = 0;
};

// An algorithm that treats every link alike: it is costed on the slowest
// link of the group and its schedule does not depend on where ranks are.
class FlatAlgorithm : public Algorithm {
 public:
  virtual double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const = 0;
  virtual RankSchedule build(const CollectiveRequest& request, int rank) const = 0;

  double predict_seconds(const CollectiveRequest& request, const Network& network) const final {
    return predict_seconds(request, network.flat_cost());
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const final {
    return build_with_receive_window(request, rank, receive_window_on(network));
  }
  // Rings that reduce what they receive post at most `receive_window` such
  // receives at once (0: no limit); the others ignore it.
  virtual RankSchedule build_with_receive_window(const CollectiveRequest& request, int rank, uint32_t) const {
    return build(request, rank);
  }
  // kReceiveWindow when every rank shares one node: a few reused landing
  // areas stay in cache. Across nodes no limit: a ring over a long link
  // needs its bandwidth-delay product in flight (with 4 it ran 27-34% slower
  // on setup B, docs/performance.md).
  static uint32_t receive_window_on(const Network& network);
};

// Every algorithm, in registration order.
std::span<const Algorithm* const> all_algorithms();

// The algorithm of `collective` called `name`, or nullptr.
const Algorithm* find_algorithm(Collective collective, std::string_view name);

}  // namespace strata::collectives
