// Pipelined chain Reduce: partial sums flow from rank root-1 (the tail) down
// to the root, one segment at a time, each rank adding its own input.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class ReduceChain final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "chain"; }
  std::string_view description() const override { return "pipelined chain towards the root; bandwidth-optimal"; }
  Collective collective() const override { return Collective::kReduce; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const uint64_t bytes = request.bytes_per_block();
    const double segments = static_cast<double>(pipeline_segments(request, bytes, 1));
    const double segment_bytes = static_cast<double>(bytes) / segments;
    const double stages = request.nranks - 1 + segments - 1;
    return stages * (cost.latency_s + segment_bytes / cost.bandwidth_bytes_per_s +
                     segment_bytes / cost.reduce_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    const int relative = (rank - request.root + n) % n;
    // Data moves from relative n-1 towards relative 0 (the root).
    const int upstream = relative + 1 < n ? (rank + 1) % n : -1;
    const int downstream = relative > 0 ? (rank + n - 1) % n : -1;
    const BlockSplit parts{request.count, pipeline_segments(request, request.bytes_per_block(), 1)};
    const bool is_root = downstream < 0;
    if (!is_root && upstream >= 0) b.reserve_scratch(request.count);
    for (uint64_t s = 0; s < parts.parts; ++s) {
      const Region input = b.send_region(parts.block_offset(s), parts.block_count(s));
      if (upstream < 0) {
        if (is_root) b.copy(b.recv_region(parts.block_offset(s), parts.block_count(s)), input);
        else b.send(downstream, input);
        continue;
      }
      const uint32_t target_buffer = is_root ? kRecvBuffer : kScratchBuffer;
      const Region target = b.region(target_buffer, parts.block_offset(s), parts.block_count(s));
      const StepId reduced = b.recv_reduce(upstream, target, input);
      if (!is_root) b.send(downstream, target, {reduced});
    }
    if (is_root) b.finish_after_all(b.recv_region(0, request.count));
    return b.take();
  }
};

}  // namespace

const Algorithm& reduce_chain() {
  static const ReduceChain instance;
  return instance;
}

}  // namespace strata::collectives
