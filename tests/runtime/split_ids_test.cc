// Split communicators share their parent's transport, so each needs a wire
// tag id of its own: agreed over the split, free on every member, released
// when the communicator goes away.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <iterator>
#include <thread>

#include "common/error.h"
#include "runtime/communicator/comm_ids.h"
#include "runtime/communicator/communicator_impl.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime {
namespace {

using strata::testing::on_every_rank;

TEST(CommIdSpace, TheLowestIdFreeOnEveryMemberIsChosen) {
  CommIdSpace a, b;
  a.claim(2, 0);
  b.claim(3, 1);
  const std::vector<std::vector<uint32_t>> used{a.used_words(), b.used_words()};
  EXPECT_EQ(CommIdSpace::lowest_free_in(used, 0), 4u);
  b.release(3);
  const std::vector<std::vector<uint32_t>> after{a.used_words(), b.used_words()};
  EXPECT_EQ(CommIdSpace::lowest_free_in(after, 0), 3u);
}

TEST(CommIdSpace, ReservedIdsAreNeverHandedOut) {
  CommIdSpace space;
  for (uint32_t id = 2; id < kShrinkCommId; ++id) space.claim(id, 0);
  const std::vector<std::vector<uint32_t>> used{space.used_words()};
  EXPECT_THROW(CommIdSpace::lowest_free_in(used, 0), Error) << "a reserved id (probe, shrink, world) was handed out";
  EXPECT_THROW(space.claim(kProbeCommId, 0), Error);
  EXPECT_THROW(space.claim(kShrinkCommId, 0), Error);
  space.release(kWorldCommId);  // never released
  EXPECT_THROW(space.claim(kWorldCommId, 0), Error);
}

// Colour 1192 on the first split gave the child its parent's tag space when
// ids were hashed (REVIEW A.2); parent and children driven from their own
// threads then received each other's messages. Several colours, the
// colliding one among them, each a child of both ranks, all running at once.
TEST(SplitIds, ParentAndChildrenNeverShareMessages) {
  constexpr int kColours[] = {1192, 7, 3000, 1, 4095};
  constexpr int kComms = 1 + std::size(kColours);  // the world and its children
  auto world = Communicator::create_local(2);
  std::vector<std::vector<std::shared_ptr<Communicator>>> comms(2);
  on_every_rank(world, [&](Communicator& comm) {
    comms[comm.rank()].push_back(world[comm.rank()]);
    for (int colour : kColours) comms[comm.rank()].push_back(comm.split(colour, comm.rank()));
    // Each split ran one collective on the world: bring every child's
    // collective sequence level with the world's, so that a child sharing
    // the world's id would also share its tags from the first iteration on.
    int32_t one = 1, sum = 0;
    for (size_t c = 1; c < comms[comm.rank()].size(); ++c)
      for (size_t i = 0; i < std::size(kColours); ++i)
        comms[comm.rank()][c]->all_reduce(&one, &sum, 1, DataType::kInt32, ReduceOp::kSum);
  });
  constexpr int kIterations = 100;
  std::atomic<int> wrong{0};
  std::vector<std::unique_ptr<std::barrier<>>> step;
  for (int r = 0; r < 2; ++r) step.push_back(std::make_unique<std::barrier<>>(kComms));
  auto loop = [&](int r, int c) {
    Communicator& comm = *comms[r][c];
    // Every communicator sums different values; ranks start them in different orders.
    const int32_t value = (c + 1) * 1000 + r + 1, expected = 2 * (c + 1) * 1000 + 3;
    const auto delay = std::chrono::microseconds(((c + r) % kComms) * 50);
    for (int i = 0; i < kIterations; ++i) {
      step[r]->arrive_and_wait();
      std::this_thread::sleep_for(delay);
      int32_t sum = 0;
      comm.all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
      if (sum != expected) ++wrong;
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < kComms; ++c) threads.emplace_back(loop, r, c);
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << 2 * kComms * kIterations << " results";
}

// A failed (here: aborted) communicator's id is never handed out again: its
// peers' last messages may still wait in the transport for that id.
TEST(SplitIds, AFailedChildsIdIsNotReused) {
  auto world = Communicator::create_local(2);
  std::vector<uint32_t> healthy_reused(2), failed_reused(2);
  on_every_rank(world, [&](Communicator& comm) {
    auto child = comm.split(1, 0);
    const uint32_t healthy = child->impl().comm_id;
    child.reset();
    child = comm.split(1, 0);
    healthy_reused[comm.rank()] = child->impl().comm_id == healthy;
    const uint32_t failed = child->impl().comm_id;
    child->abort();
    child.reset();
    child = comm.split(1, 0);
    failed_reused[comm.rank()] = child->impl().comm_id == failed;
  });
  EXPECT_EQ(healthy_reused, std::vector<uint32_t>(2, 1)) << "a destroyed healthy child's id should be free again";
  EXPECT_EQ(failed_reused, std::vector<uint32_t>(2, 0)) << "an aborted child's id was handed out again";
}

TEST(SplitIds, DestroyedChildrenGiveTheirIdsBack) {
  auto world = Communicator::create_local(2);
  on_every_rank(world, [&](Communicator& comm) {
    for (uint32_t i = 0; i < kCommIdCount + 8; ++i) {
      auto child = comm.split(static_cast<int>(i), 0);
      ASSERT_TRUE(child);
    }
  });
}

TEST(SplitIds, LiveChildrenAllGetDistinctIdsUntilTheSpaceRunsOut) {
  auto world = Communicator::create_local(2);
  on_every_rank(world, [&](Communicator& comm) {
    std::vector<std::shared_ptr<Communicator>> live;
    for (uint32_t i = 0; i < kCommIdCount - 4; ++i) live.push_back(comm.split(7, 0));
    try {
      comm.split(7, 0);
      ADD_FAILURE() << "a split past the last free id succeeded";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kInvalidUsage);
      EXPECT_NE(std::string(error.what()).find("rank " + std::to_string(comm.rank())), std::string::npos)
          << error.what();
    }
    int32_t value = 1, sum = 0;  // the first and last child still work
    live.front()->all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
    EXPECT_EQ(sum, 2);
    live.back()->all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
    EXPECT_EQ(sum, 2);
  });
}

}  // namespace
}  // namespace strata::runtime
