#include "runtime/bootstrap/tcp_bootstrap.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "common/error.h"
#include "tests/bootstrap/bootstrap_test_util.h"

namespace strata::runtime {
namespace {

using testing::contribution;
using testing::expected_allgather;
using testing::run_ranks;

constexpr double kTimeoutS = 10.0;

// Each rank runs `rounds` allgathers of varying sizes and checks the result.
void run_session(const UniqueId& id, int nranks, int rounds) {
  auto errors = run_ranks(nranks, [&](int rank) {
    auto bootstrap = connect_tcp_bootstrap(id, rank, nranks, kTimeoutS);
    EXPECT_EQ(bootstrap->rank(), rank);
    EXPECT_EQ(bootstrap->size(), nranks);
    for (int round = 0; round < rounds; ++round) {
      size_t bytes = static_cast<size_t>(round % 4) * 100;  // includes empty rounds
      EXPECT_EQ(bootstrap->allgather(contribution(rank, round, bytes)), expected_allgather(nranks, round, bytes));
    }
  });
  for (int rank = 0; rank < nranks; ++rank) {
    if (!errors[rank]) continue;
    try {
      std::rethrow_exception(errors[rank]);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "rank " << rank << ": " << e.what();
    }
  }
}

size_t open_fd_count() {
  size_t count = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

// Roots end on their own thread shortly after the last rank leaves.
bool wait_for_roots(int count, double timeout_s) {
  auto start = std::chrono::steady_clock::now();
  while (active_tcp_bootstrap_roots() > count) {
    if (testing::seconds_since(start) > timeout_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(TcpBootstrap, UniqueIdIsOpaque128Bytes) {
  static_assert(sizeof(UniqueId) == 128);
  UniqueId first = create_unique_id("", kTimeoutS);
  UniqueId second = create_unique_id("", kTimeoutS);
  EXPECT_NE(std::memcmp(&first, &second, sizeof(UniqueId)), 0);  // distinct port and key
  // Let both roots see their only rank come and go, so they end.
  run_session(first, 1, 1);
  run_session(second, 1, 1);
}

class TcpBootstrapRanks : public ::testing::TestWithParam<int> {};

TEST_P(TcpBootstrapRanks, AllgatherRounds) {
  int nranks = GetParam();
  run_session(create_unique_id("", kTimeoutS), nranks, 6);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TcpBootstrapRanks, ::testing::Values(1, 2, 5));

TEST(TcpBootstrap, LoopbackInterfaceByName) { run_session(create_unique_id("lo", kTimeoutS), 3, 2); }

TEST(TcpBootstrap, UnknownInterfaceIsInvalidArgument) {
  try {
    create_unique_id("no-such-if0", kTimeoutS);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no-such-if0"), std::string::npos);
  }
}

TEST(TcpBootstrap, ConcurrentSessionsInOneProcess) {
  constexpr int kSessions = 4;
  std::vector<std::thread> sessions;
  for (int s = 0; s < kSessions; ++s) {
    sessions.emplace_back([s] { run_session(create_unique_id("", kTimeoutS), 2 + s, 4); });
  }
  for (auto& session : sessions) session.join();
}

TEST(TcpBootstrap, RootEndsAndClosesItsSocketsAfterTheLastRankLeaves) {
  // Roots of earlier failed sessions in this process may still be winding
  // down, and only ever go away; run alone (as CTest does) the checks are exact.
  int roots_before = active_tcp_bootstrap_roots();
  size_t fds_before = open_fd_count();
  run_session(create_unique_id("", kTimeoutS), 3, 3);
  EXPECT_TRUE(wait_for_roots(roots_before, 2.0));
  EXPECT_LE(open_fd_count(), fds_before);
}

TEST(TcpBootstrap, SlowRankStillJoins) {
  UniqueId id = create_unique_id("", kTimeoutS);
  auto errors = run_ranks(2, [&](int rank) {
    // The late rank's connect is retried, and the early one simply waits.
    if (rank == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto bootstrap = connect_tcp_bootstrap(id, rank, 2, kTimeoutS);
    EXPECT_EQ(bootstrap->allgather(contribution(rank, 0, 16)), expected_allgather(2, 0, 16));
  });
  for (auto& error : errors) EXPECT_FALSE(error);
}

}  // namespace
}  // namespace strata::runtime
