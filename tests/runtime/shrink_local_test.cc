// Communicator::shrink and revoke on in-process ranks: survivors of a rank
// that stopped answering build a working communicator without it, in their
// old order; bad lists and absent survivors are errors, never hangs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <numeric>

#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime {
namespace {

using strata::testing::on_every_rank;
using Clock = std::chrono::steady_clock;

class ShrinkLocalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("STRATA_TIMEOUT", "0.5", 1);
    reload_config();
  }
  void TearDown() override {
    unsetenv("STRATA_TIMEOUT");
    reload_config();
  }
};

// 1,000 all-reduces whose every result is checked: the sum of the
// survivors' old ranks times the round, so a wrong member, a missing one,
// or a stale message from the failed operation shows.
void expect_exact_sums(Communicator& comm, int64_t old_rank, int64_t old_rank_sum) {
  for (int64_t round = 1; round <= 1000; ++round) {
    int64_t value = old_rank * round + round, sum = -1;
    comm.all_reduce(&value, &sum, 1, DataType::kInt64, ReduceOp::kSum);
    ASSERT_EQ(sum, old_rank_sum * round + round * comm.size()) << "round " << round << " on rank " << comm.rank();
  }
}

TEST_F(ShrinkLocalTest, SurvivorsOfASilentRankShrinkAndRunExactly) {
  auto world = Communicator::create_local(4);
  const int silent = 3;
  std::vector<double> shrink_seconds(4, 0);
  on_every_rank(world, [&](Communicator& comm) {
    if (comm.rank() == silent) return;  // stops answering, as a SIGSTOPped rank does
    float value = 1;
    try {
      comm.all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum);
      ADD_FAILURE() << "an all-reduce with a silent rank completed on rank " << comm.rank();
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kTimeout) << error.what();
    }
    const int excluded[] = {silent};
    const auto start = Clock::now();
    // The survivors' timeouts fired within milliseconds of each other; the
    // shrink's own wait is its options' (the parent's 0.5 s otherwise).
    std::shared_ptr<Communicator> shrunk = comm.shrink(excluded, {.timeout_s = 5});
    shrink_seconds[comm.rank()] = std::chrono::duration<double>(Clock::now() - start).count();
    ASSERT_TRUE(shrunk);
    EXPECT_EQ(shrunk->size(), 3);
    EXPECT_EQ(shrunk->rank(), comm.rank());
    expect_exact_sums(*shrunk, comm.rank(), 0 + 1 + 2);
    // The parent stays failed; the child is healthy.
    EXPECT_TRUE(comm.async_error().has_value());
    EXPECT_FALSE(shrunk->async_error().has_value());
  });
  for (int rank = 0; rank < silent; ++rank) EXPECT_LT(shrink_seconds[rank], 2.0) << "rank " << rank;
}

TEST_F(ShrinkLocalTest, ExcludingMiddleRanksKeepsTheOrder) {
  auto world = Communicator::create_local(5);
  on_every_rank(world, [&](Communicator& comm) {
    if (comm.rank() == 1 || comm.rank() == 3) return;
    const int excluded[] = {3, 1};
    std::shared_ptr<Communicator> shrunk = comm.shrink(excluded);
    ASSERT_EQ(shrunk->size(), 3);
    int32_t mine = comm.rank(), all[3] = {-1, -1, -1};
    shrunk->all_gather(&mine, all, 1, DataType::kInt32);
    EXPECT_EQ(all[0], 0);
    EXPECT_EQ(all[1], 2);
    EXPECT_EQ(all[2], 4);
    expect_exact_sums(*shrunk, comm.rank(), 0 + 2 + 4);
  });
}

// A healthy parent keeps working beside its shrunk child (planned
// downsizing): their messages never meet.
TEST_F(ShrinkLocalTest, AHealthyParentAndItsChildRunSideBySide) {
  auto world = Communicator::create_local(3);
  on_every_rank(world, [&](Communicator& comm) {
    std::shared_ptr<Communicator> shrunk;
    if (comm.rank() != 2) {
      const int excluded[] = {2};
      shrunk = comm.shrink(excluded);
    }
    for (int round = 0; round < 50; ++round) {
      int32_t value = comm.rank() + 1, sum = 0;
      comm.all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
      ASSERT_EQ(sum, 6);
      if (!shrunk) continue;
      shrunk->all_reduce(&value, &sum, 1, DataType::kInt32, ReduceOp::kSum);
      ASSERT_EQ(sum, 3);
    }
  });
}

TEST_F(ShrinkLocalTest, BadExcludeListsNameTheRank) {
  auto world = Communicator::create_local(1);
  Communicator& comm = *world[0];
  const auto expect = [&](std::vector<int> excluded, ErrorCode code, const std::string& mentions) {
    try {
      comm.shrink(excluded);
      ADD_FAILURE() << "no error for an exclude list mentioning " << mentions;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), code) << error.what();
      EXPECT_NE(std::string(error.what()).find(mentions), std::string::npos) << error.what();
      EXPECT_NE(std::string(error.what()).find("rank 0"), std::string::npos) << error.what();
    }
  };
  expect({5}, ErrorCode::kInvalidArgument, "= 5 is not in 0..0");
  expect({-1}, ErrorCode::kInvalidArgument, "= -1");
  expect({0}, ErrorCode::kInvalidUsage, "its own exclude list");
  auto pair = Communicator::create_local(2);
  on_every_rank(pair, [&](Communicator& c) {
    if (c.rank() != 0) return;
    try {
      const int twice[] = {1, 1};
      c.shrink(twice);
      ADD_FAILURE() << "a rank listed twice was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find("listed twice"), std::string::npos) << error.what();
    }
  });
}

// A survivor that never joins the shrink: the others time out naming it.
TEST_F(ShrinkLocalTest, ASurvivorThatNeverJoinsIsNamed) {
  auto world = Communicator::create_local(3);
  on_every_rank(world, [&](Communicator& comm) {
    if (comm.rank() != 0) return;  // ranks 1 and 2 never call; only 2 is excluded
    const int excluded[] = {2};
    try {
      comm.shrink(excluded);
      ADD_FAILURE() << "a shrink without survivor 1 completed";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kTimeout) << error.what();
      EXPECT_EQ(error.context().peer, 1) << error.what();
    }
  });
}

TEST_F(ShrinkLocalTest, RevokeWakesAWaiterAndRefusesLaterCalls) {
  setenv("STRATA_TIMEOUT", "30", 1);
  reload_config();
  auto world = Communicator::create_local(2);
  float value = 1;
  std::thread waiter([&] {
    const auto start = Clock::now();
    try {
      world[0]->all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum);
      ADD_FAILURE() << "the pending all-reduce completed without its peer";
    } catch (const Error& error) {  // aborted while waiting, or refused if revoked before it began
      EXPECT_TRUE(error.code() == ErrorCode::kAborted || error.code() == ErrorCode::kInvalidUsage) << error.what();
    }
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  world[0]->revoke();
  waiter.join();
  EXPECT_TRUE(world[0]->revoked());
  try {
    world[0]->broadcast(&value, &value, 1, DataType::kFloat32, 0);
    ADD_FAILURE() << "a revoked communicator ran a broadcast";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidUsage) << error.what();
    EXPECT_NE(std::string(error.what()).find("revoked"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace strata::runtime
