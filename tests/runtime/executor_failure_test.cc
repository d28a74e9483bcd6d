// When one operation of a group fails, execute() must cancel every other
// operation's posted transfers before it throws: the caller frees those
// buffers, and a late message must not land in them.
#include <gtest/gtest.h>

#include <array>

#include "collectives/algorithms.h"
#include "collectives/network.h"
#include "common/error.h"
#include "runtime/executor.h"
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

TEST(ExecutorFailure, AFailedOperationCancelsTheOtherOperationsReceives) {
  auto world_a = create_loopback_transports(2, /*views=*/false);
  auto world_b = create_loopback_transports(2, /*views=*/false);
  const CollectiveRequest request = receive_two_floats_from_rank_1();
  const RankSchedule schedule = collectives::recv_direct().build(request, Network::uniform(), 0);
  ASSERT_EQ(schedule.steps.size(), 1u);
  const WireTag tag{1, true, 0};
  const uint32_t index = schedule.steps[0].message_index;
  const int rank_of[2] = {0, 1};

  // A's peer sends 16 bytes to an 8-byte receive: A fails with a truncation.
  std::array<float, 4> too_big{1, 2, 3, 4};
  Completion early;
  world_a[1]->post_send(0, tag.for_message(1, index), too_big.data(), sizeof(too_big), &early);

  std::array<float, 2> a_buf{}, b_buf{-1, -1};
  BoundOperation ops[2];
  // B first, so that its receive is posted by the time A fails.
  ops[0].schedule = &schedule;
  ops[0].buffers = {nullptr, reinterpret_cast<std::byte*>(b_buf.data()), nullptr};
  ops[0].transport = world_b[0].get();
  ops[0].transport_rank_of = rank_of;
  ops[0].tag = tag;
  ops[0].rank = 0;
  ops[1] = ops[0];
  ops[1].buffers = {nullptr, reinterpret_cast<std::byte*>(a_buf.data()), nullptr};
  ops[1].transport = world_a[0].get();

  try {
    execute(ops, {.timeout_s = 5});
    FAIL() << "a truncated receive did not fail the group";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kRemote) << error.what();
  }

  std::array<float, 2> late{42, 43};
  Completion late_send;
  world_b[1]->post_send(0, tag.for_message(1, index), late.data(), sizeof(late), &late_send);
  EXPECT_EQ(b_buf[0], -1) << "a late send wrote into a failed group's receive buffer";
  EXPECT_EQ(b_buf[1], -1);
  world_b[1]->cancel(&late_send);
}

}  // namespace
}  // namespace strata::runtime
