// Direct Gather: every rank sends its block straight to the root, which
// receives all of them at once. One step of latency; the root's link carries
// (n-1) blocks, which no algorithm can avoid.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class GatherDirect final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }
  std::string_view description() const override { return "every rank sends its block to the root"; }
  Collective collective() const override { return Collective::kGather; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    return cost.latency_s + (request.nranks - 1) * static_cast<double>(request.bytes_per_block()) /
                                cost.bandwidth_bytes_per_s;
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const uint64_t count = request.count;
    if (rank != request.root) {
      b.send(request.root, b.send_region(0, count));
      return b.take();
    }
    b.copy(b.recv_region(rank * count, count), b.send_region(0, count));
    for (int peer = 0; peer < request.nranks; ++peer)
      if (peer != rank) b.recv(peer, b.recv_region(peer * count, count));
    return b.take();
  }
};

}  // namespace

const Algorithm& gather_direct() {
  static const GatherDirect instance;
  return instance;
}

}  // namespace strata::collectives
