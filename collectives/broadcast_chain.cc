// Pipelined chain Broadcast: ranks root, root+1, ... forward each segment as
// soon as it arrives, so large messages take about one message time plus
// n-1 segment times.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class BroadcastChain final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "chain"; }
  std::string_view description() const override { return "pipelined chain from the root; bandwidth-optimal"; }
  Collective collective() const override { return Collective::kBroadcast; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const uint64_t bytes = request.bytes_per_block();
    const double segments = static_cast<double>(pipeline_segments(request, bytes, 1));
    const double stages = request.nranks - 1 + segments - 1;
    return stages * (cost.latency_s + static_cast<double>(bytes) / segments / cost.bandwidth_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    const int relative = (rank - request.root + n) % n;
    const int next = relative + 1 < n ? (rank + 1) % n : -1;
    const int previous = relative > 0 ? (rank + n - 1) % n : -1;
    const BlockSplit parts{request.count, pipeline_segments(request, request.bytes_per_block(), 1)};
    if (previous < 0) b.copy(b.recv_region(0, request.count), b.send_region(0, request.count));
    const uint32_t source = previous < 0 ? kSendBuffer : kRecvBuffer;
    for (uint64_t s = 0; s < parts.parts; ++s) {
      const Region segment = b.region(source, parts.block_offset(s), parts.block_count(s));
      const StepId have = previous < 0 ? kNoStep : b.recv(previous, segment);
      if (next >= 0) b.send(next, segment, {have});
    }
    return b.take();
  }
};

}  // namespace

const Algorithm& broadcast_chain() {
  static const BroadcastChain instance;
  return instance;
}

}  // namespace strata::collectives
