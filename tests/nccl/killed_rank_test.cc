// A rank that dies mid-job: the survivors' next collective fails (it does
// not hang) within STRATA_TIMEOUT, the communicator then stays failed, and
// either ncclCommAbort cleans up or ncclCommShrink (NCCL_SHRINK_ABORT)
// gives the survivors a communicator without the dead rank that runs 1,000
// all-reduces bit-exact. Fork()ed processes over the real transports
// (shared memory, and UCX with STRATA_SHM=0), through the public C API.
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

// After the failure: the survivors shrink the dead rank away (within 2 s)
// and check 1,000 all-reduces whose sums name every member's old rank.
int shrink_past_a_dead_peer(int rank, int nranks, const ncclUniqueId& id, RankShared&) {
  ncclComm_t comm = nullptr;
  RANK_CHECK(ncclCommInitRank(&comm, nranks, id, rank) == ncclSuccess, "ncclCommInitRank failed");
  int64_t value = rank, sum = 0;
  RANK_CHECK(ncclAllReduce(&value, &sum, 1, ncclInt64, ncclSum, comm, nullptr) == ncclSuccess, "healthy all-reduce");
  if (rank == kDying) _exit(0);
  const auto start = Clock::now();
  const ncclResult_t failed = ncclAllReduce(&value, &sum, 1, ncclInt64, ncclSum, comm, nullptr);
  const double detect_s = std::chrono::duration<double>(Clock::now() - start).count();
  RANK_CHECK(failed != ncclSuccess, "an all-reduce with a dead peer succeeded");

  int excluded = kDying;
  ncclComm_t shrunk = nullptr;
  const auto shrink_start = Clock::now();
  RANK_CHECK(ncclCommShrink(comm, &excluded, 1, &shrunk, nullptr, NCCL_SHRINK_ABORT) == ncclSuccess && shrunk,
             "ncclCommShrink failed");
  const double shrink_s = std::chrono::duration<double>(Clock::now() - shrink_start).count();
  RANK_CHECK(shrink_s < 2, "the shrink took %.2f s (goal: 2 s)", shrink_s);
  int new_rank = -1, new_size = 0;
  RANK_CHECK(ncclCommUserRank(shrunk, &new_rank) == ncclSuccess && new_rank == rank, "new rank %d", new_rank);
  RANK_CHECK(ncclCommCount(shrunk, &new_size) == ncclSuccess && new_size == nranks - 1, "new size %d", new_size);
  const int64_t rank_sum = int64_t{nranks - 1} * (nranks - 2) / 2;  // ranks 0..nranks-2 survive
  for (int64_t round = 1; round <= 1000; ++round) {
    value = rank * round + round;
    RANK_CHECK(ncclAllReduce(&value, &sum, 1, ncclInt64, ncclSum, shrunk, nullptr) == ncclSuccess,
               "all-reduce %lld on the shrunk communicator", static_cast<long long>(round));
    RANK_CHECK(sum == rank_sum * round + round * (nranks - 1), "round %lld: sum %lld", static_cast<long long>(round),
               static_cast<long long>(sum));
  }
  std::printf("rank %d: failure seen after %.3f s, shrink took %.3f s, 1000 all-reduces exact\n", rank, detect_s,
              shrink_s);
  RANK_CHECK(ncclCommDestroy(shrunk) == ncclSuccess, "destroying the shrunk communicator");
  RANK_CHECK(ncclCommDestroy(comm) == ncclSuccess, "destroying the revoked parent");
  return 0;  // every rank's exit code is gathered by run_ranks
}

TEST(ncclKilledRank, SurvivorsGetAnErrorNotAHang) {
  const auto setup = [](int) {
    setenv("STRATA_TIMEOUT", "4", 1);
    return 0;
  };
  EXPECT_EQ(run_ranks(kRanks, setup, survive_a_dead_peer, 60), 0);
}

void expect_survivors_shrink(const char* shm) {
  const auto setup = [shm](int) {
    setenv("STRATA_TIMEOUT", "4", 1);
    setenv("STRATA_SHM", shm, 1);
    return 0;
  };
  EXPECT_EQ(run_ranks(kRanks, setup, shrink_past_a_dead_peer, 90), 0);
}

TEST(ncclKilledRank, SurvivorsShrinkOverSharedMemory) { expect_survivors_shrink("1"); }
TEST(ncclKilledRank, SurvivorsShrinkOverUcx) { expect_survivors_shrink("0"); }

}  // namespace
