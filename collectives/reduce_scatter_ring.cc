// Ring ReduceScatter: at step t a rank sends its partial of block r-1-t and
// reduces the incoming partial of block r-2-t with its own input, so after n-1
// steps it holds block r fully reduced. Partials live in two scratch slots
// used alternately, which keeps the send buffer intact and allows in-place use.
#include <vector>

#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class ReduceScatterRing final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "ring"; }
  std::string_view description() const override { return "n-1 reduce-and-forward steps around a ring, pipelined"; }
  Collective collective() const override { return Collective::kReduceScatter; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const double bytes = static_cast<double>(request.bytes_per_block());
    return (request.nranks - 1) *
           (cost.latency_s + bytes / cost.bandwidth_bytes_per_s + bytes / cost.reduce_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    return build_with_receive_window(request, rank, kReceiveWindow);
  }

  RankSchedule build_with_receive_window(const CollectiveRequest& request, int rank,
                                         uint32_t receive_window) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    const uint64_t count = request.count;
    if (n == 1) {
      b.copy(b.recv_region(0, count), b.send_region(0, count));
      b.finish_after_all(b.recv_region(0, count));
      return b.take();
    }
    const int right = (rank + 1) % n, left = (rank + n - 1) % n;
    const uint64_t segments = pipeline_segments(request, request.bytes_per_block(), n - 1);
    const BlockSplit parts{count, segments};
    b.reserve_scratch(2 * count);
    auto block_of = [&](int offset) { return static_cast<uint64_t>(((rank - offset) % n + n) % n); };
    auto input = [&](uint64_t block, uint64_t s) {
      return b.send_region(block * count + parts.block_offset(s), parts.block_count(s));
    };
    auto slot = [&](int t, uint64_t s) {
      return b.scratch_region((t % 2) * count + parts.block_offset(s), parts.block_count(s));
    };
    std::vector<StepId> reduced(segments, kNoStep), sent_before(segments, kNoStep);
    WindowedRecvReduce receives(b, receive_window);
    for (int t = 0; t < n - 1; ++t) {
      for (uint64_t s = 0; s < segments; ++s) {
        const Region outgoing = t == 0 ? input(block_of(1), s) : slot(t - 1, s);
        const StepId sent = b.send(right, outgoing, {reduced[s]});
        const Region local = input(block_of(t + 2), s);
        const bool last_step = t == n - 2;
        const Region target = last_step ? b.recv_region(parts.block_offset(s), parts.block_count(s)) : slot(t, s);
        // Slot t%2 was last read by the send of step t-1.
        reduced[s] = receives.recv_reduce(left, target, local, {sent_before[s]});
        sent_before[s] = sent;
      }
    }
    b.finish_after_all(b.recv_region(0, count));
    return b.take();
  }
};

}  // namespace

const Algorithm& reduce_scatter_ring() {
  static const ReduceScatterRing instance;
  return instance;
}

}  // namespace strata::collectives
