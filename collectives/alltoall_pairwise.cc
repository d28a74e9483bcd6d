// Pairwise AllToAll: in round i a rank sends to rank+i and receives from
// rank-i, so every rank has one partner at a time per direction. All rounds
// are posted at once; the executor paces them. Across sites every pair of
// ranks in different sites opens its own WAN flow (the hierarchical
// AllToAll in hier_alltoall.cc routes per site pair instead).
#include <vector>

#include "collectives/algorithms.h"
#include "collectives/hier_plan.h"

namespace strata::collectives {
namespace {

class AllToAllPairwise final : public Algorithm {
 public:
  std::string_view name() const override { return "pairwise"; }
  std::string_view description() const override { return "n-1 shifted exchanges, one block each"; }
  Collective collective() const override { return Collective::kAllToAll; }

  double predict_seconds(const CollectiveRequest& request, const Network& network) const override {
    return predict_alltoall(request, network, AllToAllRouting::kPairwise);
  }

  RankSchedule build(const CollectiveRequest& request, const Network&, int rank) const override {
    ScheduleBuilder b(request, rank);
    const int n = request.nranks;
    const uint64_t count = request.count;
    auto block = [&](uint32_t buffer, int index) { return b.region(buffer, index * count, count); };
    b.copy(block(kRecvBuffer, rank), block(kSendBuffer, rank));
    std::vector<StepId> sent(n, kNoStep);
    for (int i = 1; i < n; ++i) {
      const int to = (rank + i) % n;
      sent[to] = b.send(to, block(kSendBuffer, to));
    }
    // In place, block j is both what we send to j and where j's data lands:
    // receive into scratch and copy over once our own send of it is done.
    if (request.in_place) b.reserve_scratch(count * n);
    for (int i = 1; i < n; ++i) {
      const int from = (rank + n - i) % n;
      if (!request.in_place) {
        b.recv(from, block(kRecvBuffer, from));
        continue;
      }
      const StepId received = b.recv(from, block(kScratchBuffer, from));
      b.copy(block(kRecvBuffer, from), block(kScratchBuffer, from), {received, sent[from]});
    }
    return b.take();
  }
};

}  // namespace

const Algorithm& alltoall_pairwise() {
  static const AllToAllPairwise instance;
  return instance;
}

}  // namespace strata::collectives
