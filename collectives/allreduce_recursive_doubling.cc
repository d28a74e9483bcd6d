// Recursive-doubling AllReduce: log2(n) rounds, each exchanging the whole
// vector with the partner at distance 2^k. Few dependent steps, so it wins for
// small messages. Ranks beyond the largest power of two first fold their data
// into a neighbour and get the result back at the end.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

class AllReduceRecursiveDoubling final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "recursive_doubling"; }
  std::string_view description() const override {
    return "log2(n) rounds of whole-vector exchange; latency-optimal for small messages";
  }
  Collective collective() const override { return Collective::kAllReduce; }

  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    const int n = request.nranks;
    const double bytes = static_cast<double>(request.bytes_per_block());
    const int power = 1 << (ceil_log2(n + 1) - 1);
    const double fold = power == n ? 0 : 2 * (cost.latency_s + bytes / cost.bandwidth_bytes_per_s);
    return fold + ceil_log2(power) * (cost.latency_s + bytes / cost.bandwidth_bytes_per_s +
                                      bytes / cost.reduce_bytes_per_s);
  }

  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    int power = 1;
    while (power * 2 <= n) power *= 2;
    const int extra = n - power;
    const Region all_send = b.send_region(0, request.count);
    const Region all_recv = b.recv_region(0, request.count);
    const Region all_scratch = b.scratch_region(0, request.count);

    // Fold: among the first 2*extra ranks, even ones hand their data to the
    // odd neighbour and sit out the exchange.
    if (rank < 2 * extra && rank % 2 == 0) {
      const StepId sent = b.send(rank + 1, all_send);
      b.recv(rank + 1, all_recv, {sent});
      b.finish_after_all(all_recv);
      return b.take();
    }
    StepId last = rank < 2 * extra ? b.recv_reduce(rank - 1, all_recv, all_send) : b.copy(all_recv, all_send);
    const int virtual_rank = rank < 2 * extra ? rank / 2 : rank - extra;
    auto real_rank = [&](int v) { return v < extra ? 2 * v + 1 : v + extra; };

    if (power > 1) b.reserve_scratch(request.count);
    for (int mask = 1; mask < power; mask <<= 1) {
      const int partner = real_rank(virtual_rank ^ mask);
      // The partner's copy lands in scratch: reducing straight into recv
      // would overwrite data our own send may still be reading.
      const StepId sent = b.send(partner, all_recv, {last});
      const StepId received = b.recv(partner, all_scratch, {last});
      last = b.reduce(all_recv, all_recv, all_scratch, {sent, received});
    }
    if (rank < 2 * extra) b.send(rank - 1, all_recv, {last});
    b.finish_after_all(all_recv);
    return b.take();
  }
};

}  // namespace

const Algorithm& allreduce_recursive_doubling() {
  static const AllReduceRecursiveDoubling instance;
  return instance;
}

}  // namespace strata::collectives
