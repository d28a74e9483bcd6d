// Send and Recv as one-step schedules, so that point-to-point calls in a group
// run through the same executor as collectives. request.root is the peer.
#include "collectives/algorithms.h"

namespace strata::collectives {
namespace {

double one_message(const CollectiveRequest& request, const LinkCost& cost) {
  return cost.latency_s + static_cast<double>(request.bytes_per_block()) / cost.bandwidth_bytes_per_s;
}

class SendDirect final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }
  std::string_view description() const override { return "one message to the peer"; }
  Collective collective() const override { return Collective::kSend; }
  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    return one_message(request, cost);
  }
  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    b.send(request.root, b.send_region(0, request.count));
    return b.take();
  }
};

class RecvDirect final : public FlatAlgorithm {
 public:
  std::string_view name() const override { return "direct"; }
  std::string_view description() const override { return "one message from the peer"; }
  Collective collective() const override { return Collective::kRecv; }
  double predict_seconds(const CollectiveRequest& request, const LinkCost& cost) const override {
    return one_message(request, cost);
  }
  RankSchedule build(const CollectiveRequest& request, int rank) const override {
    ScheduleBuilder b(request, rank);
    b.recv(request.root, b.recv_region(0, request.count));
    return b.take();
  }
};

}  // namespace

const Algorithm& send_direct() {
  static const SendDirect instance;
  return instance;
}

const Algorithm& recv_direct() {
  static const RecvDirect instance;
  return instance;
}

}  // namespace strata::collectives
