// Matching and data movement of the shared-memory transport between
// transports on threads of one process, with CMA (rendezvous for large
// messages) and without (everything streamed through the ring).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "runtime/transport/shm/shm_layout.h"
#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using testing::drive;
using testing::make_shm_world;
using testing::pattern;

class ShmTransportTest : public ::testing::TestWithParam<bool> {
 protected:
  ShmTransportOptions options() const { return testing::cma_options(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Cma, ShmTransportTest, ::testing::Bool(),
                         testing::cma_param_name<::testing::TestParamInfo<bool>>);

TEST_P(ShmTransportTest, SizesArriveIntactBothWays) {
  auto world = make_shm_world(2, options());
  // Around the eager limit (8 KiB) and one cell's payload, then large.
  const size_t sizes[] = {
      0,     1,       4096,          (8 << 10) - 1, 8 << 10, shm::kCellPayloadBytes, shm::kCellPayloadBytes + 1,
      40000, 1 << 20, (8 << 20) + 3, 64 << 20};
  int round = 0;
  for (size_t bytes : sizes) {
    for (int from : {0, 1}) {
      const int to = 1 - from;
      auto out = pattern(bytes, ++round);
      std::vector<std::byte> in(bytes + 16, std::byte{0x5a});
      Completion send, recv;
      world[to]->post_recv(from, 7, in.data(), in.size(), &recv);
      world[from]->post_send(to, 7, out.data(), bytes, &send);
      ASSERT_TRUE(drive(world, {&send, &recv})) << bytes << " bytes";
      ASSERT_EQ(send.state.load(), Completion::kDone) << send.error;
      ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
      EXPECT_EQ(recv.received_bytes, bytes);
      EXPECT_TRUE(std::equal(out.begin(), out.end(), in.begin())) << bytes << " bytes from " << from;
      EXPECT_EQ(in[bytes], std::byte{0x5a}) << "wrote past the message";
    }
  }
}

// Distinct tags, receives posted in the reverse order of the sends: before
// the sends (all posted, matched out of order) and after (all unexpected).
TEST_P(ShmTransportTest, ManyInFlightMatchByTagInAnyOrder) {
  auto world = make_shm_world(2, options());
  constexpr int kMessages = 48;
  auto bytes_of = [](int i) { return size_t(i % 4 == 0 ? (256 << 10) + i : i % 4 == 1 ? 20000 + i : 8 * i); };
  for (bool receives_first : {true, false}) {
    std::vector<std::vector<std::byte>> out(kMessages), in(kMessages);
    std::vector<Completion> sends(kMessages), recvs(kMessages);
    std::vector<Completion*> all;
    auto post_receives = [&] {
      for (int i = kMessages - 1; i >= 0; --i) {
        in[i].resize(bytes_of(i));
        world[1]->post_recv(0, 1000 + i, in[i].data(), in[i].size(), &recvs[i]);
      }
    };
    if (receives_first) post_receives();
    for (int i = 0; i < kMessages; ++i) {
      out[i] = pattern(bytes_of(i), i);
      world[0]->post_send(1, 1000 + i, out[i].data(), out[i].size(), &sends[i]);
    }
    for (int k = 0; k < 50; ++k) world[1]->progress();  // the sends land as unexpected messages
    if (!receives_first) post_receives();
    for (int i = 0; i < kMessages; ++i) all.insert(all.end(), {&sends[i], &recvs[i]});
    ASSERT_TRUE(drive(world, all));
    for (int i = 0; i < kMessages; ++i) {
      ASSERT_EQ(recvs[i].state.load(), Completion::kDone) << recvs[i].error;
      ASSERT_EQ(sends[i].state.load(), Completion::kDone) << sends[i].error;
      EXPECT_EQ(in[i], out[i]) << "message " << i;
    }
  }
}

TEST_P(ShmTransportTest, EqualTagsMatchInPostingOrder) {
  auto world = make_shm_world(2, options());
  constexpr int kMessages = 60;
  auto bytes_of = [](int i) { return size_t(i % 3 == 0 ? 40000 : i % 3 == 1 ? 9000 : 16); };
  std::vector<std::vector<std::byte>> out(kMessages), in(kMessages);
  std::vector<Completion> sends(kMessages), recvs(kMessages);
  std::vector<Completion*> all;
  for (int i = 0; i < kMessages; ++i) {
    out[i] = pattern(bytes_of(i), i);
    world[0]->post_send(1, 5, out[i].data(), out[i].size(), &sends[i]);
    if (i == kMessages / 2) {
      for (int k = 0; k < 20; ++k) world[1]->progress();  // some arrive unexpected, some not
    }
  }
  for (int i = 0; i < kMessages; ++i) {
    in[i].resize(40000);
    world[1]->post_recv(0, 5, in[i].data(), in[i].size(), &recvs[i]);
    all.insert(all.end(), {&sends[i], &recvs[i]});
  }
  ASSERT_TRUE(drive(world, all));
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(recvs[i].state.load(), Completion::kDone) << recvs[i].error;
    ASSERT_EQ(recvs[i].received_bytes, bytes_of(i)) << "message " << i << " matched out of order";
    EXPECT_TRUE(std::equal(out[i].begin(), out[i].end(), in[i].begin())) << "message " << i;
  }
}

TEST_P(ShmTransportTest, UnexpectedEagerSendCompletesBeforeItsReceive) {
  auto world = make_shm_world(2, options());
  auto out = pattern(3000, 3);
  Completion send;
  world[0]->post_send(1, 9, out.data(), out.size(), &send);
  EXPECT_EQ(send.state.load(), Completion::kDone);  // copied into the ring: the buffer is free
  for (int k = 0; k < 10; ++k) world[1]->progress();
  std::vector<std::byte> in(out.size());
  Completion recv;
  world[1]->post_recv(0, 9, in.data(), in.size(), &recv);
  ASSERT_TRUE(drive(world, {&recv}));
  EXPECT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_EQ(in, out);
}

TEST_P(ShmTransportTest, OversizedMessageFailsTheReceiveAndLaterMessagesStillArrive) {
  auto world = make_shm_world(2, options());
  for (size_t bytes : {size_t{100}, size_t{50000}, size_t{3} << 20}) {
    auto out = pattern(bytes, 1);
    std::vector<std::byte> small(bytes / 2, std::byte{0x11});
    Completion send, recv;
    world[1]->post_recv(0, 1, small.data(), small.size(), &recv);
    world[0]->post_send(1, 1, out.data(), out.size(), &send);
    ASSERT_TRUE(drive(world, {&send, &recv}));
    ASSERT_EQ(recv.state.load(), Completion::kFailed) << bytes;
    EXPECT_NE(recv.error.find("does not fit"), std::string::npos) << recv.error;
    EXPECT_TRUE(std::all_of(small.begin(), small.end(), [](std::byte b) { return b == std::byte{0x11}; }))
        << "the receive buffer was written";
    // A rendezvous sender learns it too; an eager one had completed already.
    if (GetParam() && bytes >= (8 << 10)) {
      EXPECT_EQ(send.state.load(), Completion::kFailed);
      EXPECT_NE(send.error.find("does not fit"), std::string::npos) << send.error;
    }
    // The stream of the refused message is skipped, not taken for the next one.
    auto next = pattern(64, 2);
    std::vector<std::byte> got(64);
    Completion send2, recv2;
    world[1]->post_recv(0, 2, got.data(), got.size(), &recv2);
    world[0]->post_send(1, 2, next.data(), next.size(), &send2);
    ASSERT_TRUE(drive(world, {&send2, &recv2}));
    EXPECT_EQ(recv2.state.load(), Completion::kDone) << recv2.error;
    EXPECT_EQ(got, next);
  }
}

TEST_P(ShmTransportTest, SendToSelfMatchesEitherOrder) {
  auto world = make_shm_world(2, options());
  auto out = pattern(100000, 4);
  std::vector<std::byte> in(out.size());
  Completion send, recv;
  world[1]->post_send(1, 3, out.data(), out.size(), &send);
  world[1]->post_recv(1, 3, in.data(), in.size(), &recv);
  ASSERT_TRUE(drive(world, {&send, &recv}));
  EXPECT_EQ(recv.state.load(), Completion::kDone);
  EXPECT_EQ(in, out);
  std::fill(in.begin(), in.end(), std::byte{0});
  world[1]->post_recv(1, 4, in.data(), in.size(), &recv);
  world[1]->post_send(1, 4, out.data(), out.size(), &send);
  ASSERT_TRUE(drive(world, {&send, &recv}));
  EXPECT_EQ(in, out);
}

TEST_P(ShmTransportTest, TwoThreadsShareOneTransport) {
  auto world = make_shm_world(2, options());
  auto exchange = [&](int lane) {
    for (int round = 0; round < 200; ++round) {
      const size_t bytes = round % 10 == 0 ? 100000 : 64;
      auto out = pattern(bytes, lane * 1000 + round);
      std::vector<std::byte> in(bytes);
      Completion s0, r1, s1, r0;
      const uint64_t tag = (uint64_t(lane) << 32) | round;
      world[1]->post_recv(0, tag, in.data(), bytes, &r1);
      world[0]->post_send(1, tag, out.data(), bytes, &s0);
      std::vector<std::byte> back(bytes);
      world[0]->post_recv(1, tag, back.data(), bytes, &r0);
      ASSERT_TRUE(drive(world, {&r1}));
      world[1]->post_send(0, tag, in.data(), bytes, &s1);
      ASSERT_TRUE(drive(world, {&s0, &r0, &s1}));
      ASSERT_EQ(back, out) << "lane " << lane << " round " << round;
    }
  };
  std::thread other(exchange, 1);
  exchange(0);
  other.join();
}

// The executor reduces what a receive brought in right after progress()
// returns; reading every matched rendezvous message in one call first left
// it to reduce data long evicted from cache. One call reads one chunk (1 MiB;
// these messages are smaller), oldest receive first.
TEST(ShmTransportCma, OneProgressCallReadsOneMessageOldestFirst) {
  auto world = make_shm_world(2, testing::cma_options(true));
  constexpr int kMessages = 3;
  constexpr size_t kBytes = 64 << 10;  // rendezvous, one chunk
  std::vector<std::vector<std::byte>> out(kMessages), in(kMessages, std::vector<std::byte>(kBytes));
  std::vector<Completion> sends(kMessages), recvs(kMessages);
  for (int i = 0; i < kMessages; ++i) world[1]->post_recv(0, 40 + i, in[i].data(), kBytes, &recvs[i]);
  for (int i = 0; i < kMessages; ++i) {
    out[i] = pattern(kBytes, i);
    world[0]->post_send(1, 40 + i, out[i].data(), kBytes, &sends[i]);
  }
  for (int call = 0; call < kMessages; ++call) {
    world[1]->progress();  // the first call also takes the offers off the ring
    for (int i = 0; i < kMessages; ++i)
      EXPECT_EQ(recvs[i].state.load(), i <= call ? Completion::kDone : Completion::kPending)
          << "receive " << i << " after progress call " << call;
  }
  std::vector<Completion*> all;
  for (int i = 0; i < kMessages; ++i) all.insert(all.end(), {&sends[i], &recvs[i]});
  ASSERT_TRUE(drive(world, all));
  for (int i = 0; i < kMessages; ++i) EXPECT_EQ(in[i], out[i]) << "message " << i;
}

TEST(ShmTransportSetup, PostingToARankOnAnotherHostThrows) {
  ThreadBootstrapGroup group(3, 20.0);
  std::vector<std::unique_ptr<Transport>> transports(3);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 3; ++rank) {
    threads.emplace_back([&, rank] {
      std::vector<int> local = rank < 2 ? std::vector<int>{0, 1} : std::vector<int>{2};
      transports[rank] = create_shm_transport(*group.join(rank), local, {});
    });
  }
  for (auto& thread : threads) thread.join();
  uint64_t value = 0;
  Completion done;
  try {
    transports[0]->post_send(2, 1, &value, sizeof(value), &done);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("not on this host"), std::string::npos) << error.what();
  }
  EXPECT_THROW(transports[2]->post_recv(0, 1, &value, sizeof(value), &done), Error);
  EXPECT_EQ(transports[2]->size(), 3);
  EXPECT_EQ(transports[2]->rank(), 2);
}

TEST(ShmTransportSetup, BadLocalRanksFailOnEveryRank) {
  ThreadBootstrapGroup group(2, 20.0);
  std::vector<std::optional<Error>> errors(2);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) {
    threads.emplace_back([&, rank] {
      std::vector<int> local = rank == 0 ? std::vector<int>{0, 1} : std::vector<int>{0, 0};
      try {
        create_shm_transport(*group.join(rank), local, {});
      } catch (const Error& error) {
        errors[rank] = error;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(errors[0] && errors[1]);
  EXPECT_EQ(errors[1]->code(), ErrorCode::kInvalidArgument) << errors[1]->what();
  EXPECT_NE(std::string(errors[0]->what()).find("rank 1"), std::string::npos) << errors[0]->what();
}

}  // namespace
}  // namespace strata::runtime
