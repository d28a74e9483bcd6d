// Every way a rendezvous can go wrong ends in an Error on every rank that
// reached the root, within the timeout, and the root goes away afterwards.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "common/error.h"
#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/bootstrap/tcp_bootstrap_wire.h"
#include "tests/bootstrap/bootstrap_test_util.h"

namespace strata::runtime {
namespace {

using testing::contribution;
using testing::run_ranks;
using testing::seconds_since;

constexpr double kShortTimeoutS = 1.0;

struct RankSpec {
  int rank;
  int nranks;
  int delay_ms = 0;  // before connecting
};

// Connects each spec on its own thread and runs one allgather; returns what each threw.
std::vector<std::exception_ptr> run_specs(const UniqueId& id, const std::vector<RankSpec>& specs, double timeout_s) {
  return run_ranks(static_cast<int>(specs.size()), [&](int index) {
    const RankSpec& spec = specs[index];
    std::this_thread::sleep_for(std::chrono::milliseconds(spec.delay_ms));
    auto bootstrap = connect_tcp_bootstrap(id, spec.rank, spec.nranks, timeout_s);
    bootstrap->allgather(contribution(spec.rank, 0, 8));
  });
}

// Every rank failed with `code` and a message containing `text`.
void expect_all_failed(const std::vector<std::exception_ptr>& errors, ErrorCode code, const std::string& text) {
  for (size_t i = 0; i < errors.size(); ++i) {
    ASSERT_TRUE(errors[i]) << "participant " << i << " did not fail";
    try {
      std::rethrow_exception(errors[i]);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
}

TEST(TcpBootstrapErrors, MissingRankTimesOutNamingHowManyArrived) {
  UniqueId id = create_unique_id("", kShortTimeoutS);
  auto start = std::chrono::steady_clock::now();
  auto errors = run_specs(id, {{0, 3}, {1, 3}}, kShortTimeoutS);
  double elapsed_s = seconds_since(start);
  expect_all_failed(errors, ErrorCode::kTimeout, "2 of 3 ranks arrived");
  expect_all_failed(errors, ErrorCode::kTimeout, "2 (never connected)");
  EXPECT_LT(elapsed_s, kShortTimeoutS + 0.2);
}

TEST(TcpBootstrapErrors, WrongSessionKeyIsRejectedAndTheSessionGoesOn) {
  UniqueId id = create_unique_id("", 5.0);
  UniqueId forged = id;
  forged.bytes[20] ^= 0x5a;  // inside the session key
  auto errors = run_ranks(2, [&](int who) {
    if (who == 0) {
      auto bootstrap = connect_tcp_bootstrap(id, 0, 1, 5.0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the forger try first
      EXPECT_EQ(bootstrap->allgather(contribution(0, 0, 8)), contribution(0, 0, 8));
    } else {
      connect_tcp_bootstrap(forged, 0, 1, 5.0)->allgather(contribution(0, 0, 8));
    }
  });
  EXPECT_FALSE(errors[0]);
  expect_all_failed({errors[1]}, ErrorCode::kInvalidArgument, "wrong session key");
}

TEST(TcpBootstrapErrors, NotAUniqueIdIsInvalidArgument) {
  UniqueId garbage{};
  garbage.bytes.fill('x');
  try {
    connect_tcp_bootstrap(garbage, 0, 1, kShortTimeoutS);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
  }
}

TEST(TcpBootstrapErrors, NranksMismatchReachesEveryRank) {
  auto errors = run_specs(create_unique_id("", 5.0), {{0, 2}, {1, 3}}, 5.0);
  expect_all_failed(errors, ErrorCode::kInvalidArgument, "ranks but rank");
}

TEST(TcpBootstrapErrors, DuplicateRankReachesEveryRank) {
  auto errors = run_specs(create_unique_id("", 5.0), {{0, 3}, {1, 3}, {1, 3}}, 5.0);
  expect_all_failed(errors, ErrorCode::kInvalidArgument, "rank 1 connected twice");
}

TEST(TcpBootstrapErrors, RankOutOfRangeReachesEveryRank) {
  // The valid ranks come late: had they finished round 0 first, they would
  // only hear of the stray rank in their next round.
  auto errors = run_specs(create_unique_id("", 5.0), {{0, 2, 100}, {1, 2, 100}, {2, 2}}, 5.0);
  expect_all_failed(errors, ErrorCode::kInvalidArgument, "rank 2 is out of range");
}

TEST(TcpBootstrapErrors, UnequalContributionsAreInvalidArgument) {
  UniqueId id = create_unique_id("", 5.0);
  auto errors = run_ranks(2, [&](int rank) {
    connect_tcp_bootstrap(id, rank, 2, 5.0)->allgather(contribution(rank, 0, 8 + rank));
  });
  expect_all_failed(errors, ErrorCode::kInvalidArgument, "contributed");
}

TEST(TcpBootstrapErrors, RankLeavingBeforeARoundFailsTheOthersQuickly) {
  UniqueId id = create_unique_id("", 5.0);
  auto start = std::chrono::steady_clock::now();
  auto errors = run_ranks(2, [&](int rank) {
    auto bootstrap = connect_tcp_bootstrap(id, rank, 2, 5.0);
    bootstrap->allgather(contribution(rank, 0, 8));
    if (rank == 1) return;  // leaves after round 0
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bootstrap->allgather(contribution(rank, 1, 8));
  });
  EXPECT_FALSE(errors[1]);
  expect_all_failed({errors[0]}, ErrorCode::kRemote, "rank 1");
  EXPECT_LT(seconds_since(start), 2.0);  // not the 5 s timeout
}

TEST(TcpBootstrapErrors, NoRootListeningTimesOut) {
  wire::RootAddress nowhere;
  nowhere.address.s_addr = htonl(INADDR_LOOPBACK);
  nowhere.port = 1;  // privileged and unused: connections are refused
  auto start = std::chrono::steady_clock::now();
  try {
    connect_tcp_bootstrap(wire::encode_unique_id(nowhere), 0, 1, 0.5);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kTimeout) << e.what();
  }
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST(TcpBootstrapErrors, RootsEndAfterErrors) {
  // A failed session's root answers late ranks for at most its timeout, then
  // goes. (Roots of earlier tests in this process only go away meanwhile; run
  // alone, as CTest does, the check is exact.)
  int roots_before = active_tcp_bootstrap_roots();
  auto start = std::chrono::steady_clock::now();
  UniqueId id = create_unique_id("", 0.5);
  run_specs(id, {{0, 2}}, 0.5);
  while (active_tcp_bootstrap_roots() > roots_before && seconds_since(start) < 2.0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LE(active_tcp_bootstrap_roots(), roots_before);
}

}  // namespace
}  // namespace strata::runtime
