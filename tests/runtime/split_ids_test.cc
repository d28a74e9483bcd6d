// Split communicators share their parent's transport, so each needs a wire
// tag id of its own: agreed over the split, free on every member, released
// when the communicator goes away.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "runtime/comm_ids.h"
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
  for (uint32_t id = 2; id < kCommIdCount - 1; ++id) space.claim(id, 0);
  const std::vector<std::vector<uint32_t>> used{space.used_words()};
  EXPECT_THROW(CommIdSpace::lowest_free_in(used, 0), Error) << "the probe's id or the world's was handed out";
  EXPECT_THROW(space.claim(kProbeCommId, 0), Error);
  space.release(kWorldCommId);  // never released
  EXPECT_THROW(space.claim(kWorldCommId, 0), Error);
}

// Colour 1192 on the first split gave the child its parent's tag space when
// ids were hashed (docs: REVIEW A.2); parent and child driven from their own
// threads then received each other's messages.
TEST(SplitIds, AChildAndItsParentNeverShareMessages) {
  auto world = Communicator::create_local(2);
  std::vector<std::shared_ptr<Communicator>> child(2);
  on_every_rank(world, [&](Communicator& comm) { child[comm.rank()] = comm.split(1192, comm.rank()); });
  constexpr int kIterations = 200;
  std::atomic<int> wrong{0};
  std::vector<std::unique_ptr<std::barrier<>>> step;
  for (int r = 0; r < 2; ++r) step.push_back(std::make_unique<std::barrier<>>(2));
  auto loop = [&](Communicator& comm, int r, int32_t value, int32_t expected, bool delayed) {
    for (int i = 0; i < kIterations; ++i) {
      step[r]->arrive_and_wait();  // the rank's two threads start together; ranks differ in order
      if (delayed) std::this_thread::sleep_for(std::chrono::microseconds(200));
      int32_t sum = 0;
      comm.all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
      if (sum != expected) ++wrong;
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back(loop, std::ref(*world[r]), r, r + 1, 3, r == 1);
    threads.emplace_back(loop, std::ref(*child[r]), r, 100 * (r + 1), 300, r == 0);
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << 2 * 2 * kIterations << " results";
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
    for (uint32_t i = 0; i < kCommIdCount - 3; ++i) live.push_back(comm.split(7, 0));
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
