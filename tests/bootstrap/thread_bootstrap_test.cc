#include "runtime/bootstrap/thread_bootstrap.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/bootstrap/bootstrap_test_util.h"

namespace strata::runtime {
namespace {

using testing::contribution;
using testing::expected_allgather;
using testing::run_ranks;

TEST(ThreadBootstrap, AllgatherConcatenatesInRankOrderOverRounds) {
  constexpr int kRanks = 4;
  ThreadBootstrapGroup group(kRanks, 10.0);
  auto errors = run_ranks(kRanks, [&](int rank) {
    auto bootstrap = group.join(rank);
    EXPECT_EQ(bootstrap->rank(), rank);
    EXPECT_EQ(bootstrap->size(), kRanks);
    // Rounds of different sizes, back to back, so fast ranks race ahead of slow ones.
    for (int round = 0; round < 50; ++round) {
      size_t bytes = static_cast<size_t>(round % 5) * 3;
      EXPECT_EQ(bootstrap->allgather(contribution(rank, round, bytes)), expected_allgather(kRanks, round, bytes));
    }
  });
  for (auto& error : errors) EXPECT_FALSE(error);
}

TEST(ThreadBootstrap, MissingRankTimesOut) {
  ThreadBootstrapGroup group(3, 0.3);
  auto start = std::chrono::steady_clock::now();
  auto errors = run_ranks(2, [&](int rank) { group.join(rank)->allgather(contribution(rank, 0, 4)); });
  EXPECT_LT(testing::seconds_since(start), 2.0);
  for (auto& error : errors) {
    ASSERT_TRUE(error);
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kTimeout) << e.what();
      EXPECT_NE(std::string(e.what()).find("of 3 ranks arrived"), std::string::npos) << e.what();
    }
  }
}

TEST(ThreadBootstrap, UnequalContributionsAreRejected) {
  ThreadBootstrapGroup group(2, 5.0);
  auto errors = run_ranks(2, [&](int rank) { group.join(rank)->allgather(contribution(rank, 0, 4 + rank)); });
  for (auto& error : errors) {
    ASSERT_TRUE(error);
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
}

TEST(ThreadBootstrap, JoiningTwiceOrOutOfRangeFails) {
  ThreadBootstrapGroup group(2, 1.0);
  auto first = group.join(0);
  EXPECT_THROW(group.join(0), Error);
  EXPECT_THROW(group.join(2), Error);
  EXPECT_THROW(group.join(-1), Error);
}

TEST(ThreadBootstrap, BootstrapOutlivesGroup) {
  std::unique_ptr<Bootstrap> only;
  {
    ThreadBootstrapGroup group(1, 1.0);
    only = group.join(0);
  }
  EXPECT_EQ(only->allgather(contribution(0, 0, 8)), expected_allgather(1, 0, 8));
}

}  // namespace
}  // namespace strata::runtime
