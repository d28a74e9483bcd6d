// Direct Scatter: the root sends each rank its block at once.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class ScatterDirect final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }
  std::string_view description() const override { return "the root sends each rank its block"; }
  Collective collective() const override { return Collective::kScatter; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    return cost.latency_s + (request.nranks - 1) * static_cast<double>(request.bytes_per_block()) /
                                cost.bandwidth_bytes_per_s;
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const uint64_t count = request.count;
    if (rank != request.root) {
      b.recv(request.root, b.recv_region(0, count));
      return b.take();
    }
    b.copy(b.recv_region(0, count), b.send_region(rank * count, count));
    for (int peer = 0; peer < request.nranks; ++peer)
      if (peer != rank) b.send(peer, b.send_region(peer * count, count));
    return b.take();
  }
};

}  // namespace

const Algorithm& scatter_direct() {
  static const ScatterDirect instance;
  return instance;
}

}  // namespace strata::collectives
