// Ring AllGather: each rank forwards the block it received last step to its
// right neighbour; n-1 steps, each block cut into pipeline segments.
#include <vector>

#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class AllGatherRing final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "ring"; }
  std::string_view description() const override { return "n-1 forwarding steps around a ring, pipelined"; }
  Collective collective() const override { return Collective::kAllGather; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const double steps = request.nranks - 1;
    return steps * (cost.latency_s + static_cast<double>(request.bytes_per_block()) / cost.bandwidth_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    const uint64_t count = request.count;
    const StepId copied = b.copy(b.recv_region(rank * count, count), b.send_region(0, count));
    if (n == 1) return b.take();
    const int right = (rank + 1) % n, left = (rank + n - 1) % n;
    const uint64_t segments = pipeline_segments(request, request.bytes_per_block(), n - 1);
    const BlockSplit parts{count, segments};
    auto segment = [&](int block, uint64_t s) {
      return b.recv_region(block * count + parts.block_offset(s), parts.block_count(s));
    };
    std::vector<StepId> last(segments, copied);
    for (int t = 0; t < n - 1; ++t) {
      const int send_block = ((rank - t) % n + n) % n;
      const int recv_block = ((rank - t - 1) % n + n) % n;
      for (uint64_t s = 0; s < segments; ++s) {
        b.send(right, segment(send_block, s), {last[s]});
        last[s] = b.recv(left, segment(recv_block, s));
      }
    }
    return b.take();
  }
};

}  // namespace

const Algorithm& allgather_ring() {
  static const AllGatherRing instance;
  return instance;
}

}  // namespace strata::collectives
