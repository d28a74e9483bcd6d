// Binomial-tree Reduce: each rank folds its children's partials into its own
// (nearest child first, a fixed order, so results are deterministic) and
// passes the sum to its parent. Non-roots accumulate in scratch: NCCL lets
// their receive buffer be null.
#include "collectives/algorithms.h"
#include "collectives/tree.h"

namespace strata::collectives {
namespace {

class ReduceTree final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "tree"; }
  std::string_view description() const override { return "binomial tree towards the root; latency-optimal"; }
  Collective collective() const override { return Collective::kReduce; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const double bytes = static_cast<double>(request.bytes_per_block());
    return ceil_log2(request.nranks) *
           (cost.latency_s + bytes / cost.bandwidth_bytes_per_s + bytes / cost.reduce_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const BinomialTree tree = BinomialTree::of(rank, request.root, request.nranks);
    const Region input = b.send_region(0, request.count);
    if (tree.parent >= 0 && tree.children.empty()) {
      b.send(tree.parent, input);
      return b.take();
    }
    if (tree.parent >= 0) b.reserve_scratch(request.count);
    const Region accumulator = tree.parent < 0 ? b.recv_region(0, request.count) : b.scratch_region(0, request.count);
    StepId last = kNoStep;
    Region partial = input;
    for (int child : tree.children) {
      last = b.recv_reduce(child, accumulator, partial, {last});
      partial = accumulator;
    }
    if (tree.parent >= 0) {
      b.send(tree.parent, accumulator, {last});
    } else {
      if (tree.children.empty()) b.copy(accumulator, input);
      b.finish_after_all(accumulator);
    }
    return b.take();
  }
};

}  // namespace

const Algorithm& reduce_tree() {
  static const ReduceTree instance;
  return instance;
}

}  // namespace strata::collectives
