// Binomial-tree Broadcast: ceil(log2 n) rounds; best for small messages.
#include "collectives/algorithms.h"
#include "collectives/tree.h"

namespace strata::collectives {
namespace {

class BroadcastTree final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "tree"; }
  std::string_view description() const override { return "binomial tree from the root; latency-optimal"; }
  Collective collective() const override { return Collective::kBroadcast; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    return ceil_log2(request.nranks) *
           (cost.latency_s + static_cast<double>(request.bytes_per_block()) / cost.bandwidth_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const BinomialTree tree = BinomialTree::of(rank, request.root, request.nranks);
    const Region all_recv = b.recv_region(0, request.count);
    StepId have = kNoStep;
    Region source = all_recv;
    if (tree.parent < 0) {
      b.copy(all_recv, b.send_region(0, request.count));
      source = b.send_region(0, request.count);
    } else {
      have = b.recv(tree.parent, all_recv);
    }
    // Farthest subtree first: it has the most forwarding still to do.
    for (auto child = tree.children.rbegin(); child != tree.children.rend(); ++child)
      b.send(*child, source, {have});
    return b.take();
  }
};

}  // namespace

const Algorithm& broadcast_tree() {
  static const BroadcastTree instance;
  return instance;
}

}  // namespace strata::collectives
