// A rank that dies mid-job: the survivors' next collective fails (it does
// not hang) within STRATA_TIMEOUT, the communicator then stays failed, and
// ncclCommAbort cleans up. Three fork()ed processes over the real
// transports, through the public C API.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "nccl_test_util.h"
#include "tests/support/fork_ranks.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRanks = 3;
constexpr int kDying = 2;
constexpr double kTimeoutS = 4;

#define RANK_CHECK(condition, ...)                              \
  do {                                                          \
    if (!(condition)) {                                         \
      std::fprintf(stderr, "rank %d: ", rank);                  \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, " (%s)\n", ncclGetLastError(nullptr)); \
      return 1;                                                 \
    }                                                           \
  } while (0)

int survive_a_dead_peer(int rank, int nranks, const ncclUniqueId& id, RankShared&) {
  ncclComm_t comm = nullptr;
  RANK_CHECK(ncclCommInitRank(&comm, nranks, id, rank) == ncclSuccess, "ncclCommInitRank failed");
  float value = 1, sum = 0;
  RANK_CHECK(ncclAllReduce(&value, &sum, 1, ncclFloat, ncclSum, comm, nullptr) == ncclSuccess && sum == kRanks,
             "the healthy all-reduce failed or gave %g", sum);
  if (rank == kDying) _exit(0);  // dies without a word: no destroy, no finalize

  const auto start = Clock::now();
  const ncclResult_t failed = ncclAllReduce(&value, &sum, 1, ncclFloat, ncclSum, comm, nullptr);
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  RANK_CHECK(failed == ncclRemoteError || failed == ncclSystemError, "an all-reduce with a dead peer returned %d",
             failed);
  RANK_CHECK(took < 2 * kTimeoutS + 2, "the failure took %.1f s, past STRATA_TIMEOUT=%g", took, kTimeoutS);
  std::printf("rank %d: %s after %.2f s: %s\n", rank, ncclGetErrorString(failed), took, ncclGetLastError(nullptr));

  ncclResult_t async = ncclSuccess;
  RANK_CHECK(ncclCommGetAsyncError(comm, &async) == ncclSuccess && async != ncclSuccess,
             "ncclCommGetAsyncError reported %d", async);
  const auto again = Clock::now();
  const ncclResult_t later = ncclBroadcast(&value, &sum, 1, ncclFloat, 0, comm, nullptr);
  RANK_CHECK(later != ncclSuccess, "a call after the failure succeeded");
  RANK_CHECK(Clock::now() - again < std::chrono::seconds(1), "a call after the failure waited instead of failing");
  RANK_CHECK(ncclCommAbort(comm) == ncclSuccess, "ncclCommAbort failed");
  return 0;
}

TEST(ncclKilledRank, SurvivorsGetAnErrorNotAHang) {
  const auto setup = [](int) {
    setenv("STRATA_TIMEOUT", "4", 1);
    return 0;
  };
  EXPECT_EQ(run_ranks(kRanks, setup, survive_a_dead_peer, 60), 0);
}

}  // namespace
