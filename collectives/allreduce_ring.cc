// Ring AllReduce: a ring reduce-scatter followed by a ring all-gather, each
// block cut into pipeline segments. Every rank sends 2(n-1)/n of the data,
// the bandwidth optimum; latency grows with 2(n-1) dependent steps.
#include <vector>

#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class AllReduceRing final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "ring"; }
  std::string_view description() const override {
    return "reduce-scatter then all-gather around a ring, pipelined; bandwidth-optimal";
  }
  Collective collective() const override { return Collective::kAllReduce; }
  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override;
  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    return build_with_receive_window(request, rank, kReceiveWindow);
  }
  RankSchedule build_with_receive_window(const CollectiveRequest& request, int rank,
                                         uint32_t receive_window) const override;
};

double AllReduceRing::predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const {
  const double n = request.nranks;
  const double bytes = static_cast<double>(request.bytes_per_block());
  if (request.nranks == 1) return bytes / cost.reduce_bytes_per_s;
  return 2 * (n - 1) * cost.latency_s + 2 * (n - 1) / n * bytes / cost.bandwidth_bytes_per_s +
         (n - 1) / n * bytes / cost.reduce_bytes_per_s;
}

RankSchedule AllReduceRing::build_with_receive_window(const CollectiveRequest& request, int rank,
                                                     uint32_t receive_window) const {
  ScheduleBuilder b(request, rank);
  const int n = request.nranks;
  if (n == 1) {
    b.copy(b.recv_region(0, request.count), b.send_region(0, request.count));
    b.finish_after_all(b.recv_region(0, request.count));
    return b.take();
  }
  const int right = (rank + 1) % n, left = (rank + n - 1) % n;
  const BlockSplit blocks{request.count, static_cast<uint64_t>(n)};
  const uint64_t segments =
      pipeline_segments(request, blocks.block_count(0) * datatype_size(request.dtype), 2 * (n - 1));
  auto block_of = [&](int step_offset) { return static_cast<uint64_t>(((rank - step_offset) % n + n) % n); };
  auto segment = [&](uint32_t buffer, uint64_t block, uint64_t s) {
    const BlockSplit parts{blocks.block_count(block), segments};
    return b.region(buffer, blocks.block_offset(block) + parts.block_offset(s), parts.block_count(s));
  };

  // Reduce-scatter: at step t send block r-t, receive block r-t-1 and reduce
  // it into recv; after n-1 steps this rank owns block r+1.
  std::vector<StepId> last(segments, kNoStep), sent(segments * (n - 1));
  WindowedRecvReduce receives(b, receive_window);
  for (int t = 0; t < n - 1; ++t) {
    for (uint64_t s = 0; s < segments; ++s) {
      const uint32_t from = t == 0 ? kSendBuffer : kRecvBuffer;
      sent[t * segments + s] = b.send(right, segment(from, block_of(t), s), {last[s]});
      const uint64_t block = block_of(t + 1);
      last[s] = receives.recv_reduce(left, segment(kRecvBuffer, block, s), segment(kSendBuffer, block, s));
    }
  }
  // All-gather: at step t send block r+1-t, receive block r-t. Writing block
  // r-t must wait for the reduce-scatter send that read it (in-place case).
  for (int t = 0; t < n - 1; ++t) {
    for (uint64_t s = 0; s < segments; ++s) {
      b.send(right, segment(kRecvBuffer, block_of(t - 1), s), {last[s]});
      last[s] = b.recv(left, segment(kRecvBuffer, block_of(t), s), {sent[t * segments + s]});
    }
  }
  b.finish_after_all(b.recv_region(0, request.count));
  return b.take();
}

}  // namespace

const Algorithm& allreduce_ring() {
  static const AllReduceRing instance;
  return instance;
}

}  // namespace strata::collectives
