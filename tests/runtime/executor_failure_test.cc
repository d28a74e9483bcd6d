// When one operation of a group fails, execute() must cancel every other
// operation's posted transfers before it throws: the caller frees those
// buffers, and a late message must not land in them.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "collectives/algorithms.h"
#include "collectives/network.h"
#include "common/error.h"
#include "runtime/engine/executor.h"
#include "runtime/transport/loopback/loopback_transport.h"

namespace strata::runtime {
namespace {

using collectives::Collective;
using collectives::CollectiveRequest;
using collectives::Network;
using collectives::RankSchedule;

CollectiveRequest receive_two_floats_from_rank_1() {
  CollectiveRequest request;
  request.collective = Collective::kRecv;
  request.count = 2;
  request.root = 1;
  request.nranks = 2;
  return request;
}

// Runs a group of two receives from rank 1 where A's fails (truncated) while
// B's is posted, then sends B's message late into `b_buf`'s transport.
struct FailedGroup {
  std::vector<std::unique_ptr<Transport>> world_a = create_loopback_transports(2, /*views=*/false);
  std::vector<std::unique_ptr<Transport>> world_b = create_loopback_transports(2, /*views=*/false);
  RankSchedule schedule = collectives::recv_direct().build(receive_two_floats_from_rank_1(), Network::uniform(), 0);
  WireTag tag{1, true, 0};
  int rank_of[2] = {0, 1};
  std::array<float, 4> too_big{1, 2, 3, 4};
  std::array<float, 2> a_buf{}, late{42, 43};
  Completion early, late_send;

  void run(float* b_buf) {
    world_a[1]->post_send(0, tag.for_message(1, index()), too_big.data(), sizeof(too_big), &early);
    BoundOperation ops[2];
    ops[0] = bound(world_b[0].get(), b_buf);  // B first, so that its receive is posted when A fails
    ops[1] = bound(world_a[0].get(), a_buf.data());
    try {
      execute(ops, {.timeout_s = 5});
      ADD_FAILURE() << "a truncated receive did not fail the group";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kRemote) << error.what();
    }
  }
  void send_late() { world_b[1]->post_send(0, tag.for_message(1, index()), late.data(), sizeof(late), &late_send); }
  ~FailedGroup() { world_b[1]->cancel(&late_send); }

 private:
  uint32_t index() const { return schedule.steps.at(0).message_index; }
  BoundOperation bound(Transport* transport, float* recv) {
    BoundOperation op;
    op.schedule = &schedule;
    op.buffers = {nullptr, reinterpret_cast<std::byte*>(recv), nullptr};
    op.transport = transport;
    op.transport_rank_of = rank_of;
    op.tag = tag;
    op.rank = 0;
    return op;
  }
};

TEST(ExecutorFailure, ALateSendLandsNowhere) {
  FailedGroup group;
  std::array<float, 2> b_buf{-1, -1};
  group.run(b_buf.data());
  group.send_late();
  EXPECT_EQ(b_buf[0], -1) << "a late send wrote into a failed group's receive buffer";
  EXPECT_EQ(b_buf[1], -1);
}

#if defined(__SANITIZE_ADDRESS__)
// The user frees the buffer once the call failed; AddressSanitizer reports
// any later write into it (heap-use-after-free) and fails the test.
TEST(ExecutorFailure, ALateSendNeverWritesFreedMemory) {
  FailedGroup group;
  auto b_buf = std::make_unique<float[]>(2);
  group.run(b_buf.get());
  b_buf.reset();
  group.send_late();
}
#endif

}  // namespace
}  // namespace strata::runtime
