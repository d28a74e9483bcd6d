// No hang at init: with STRATA_TIMEOUT=2, rank 0 of a two-rank
// communicator whose rank 1 never arrives gets an error within seconds.
#include <chrono>
#include <cstdlib>

#include "nccl_test_util.h"

namespace {

using Clock = std::chrono::steady_clock;

// The library reads STRATA_* once, at its first call in this process.
void use_short_timeout() { setenv("STRATA_TIMEOUT", "2", 1); }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(ncclTimeout, InitRankFailsWhenAPeerNeverArrives) {
  use_short_timeout();
  ncclUniqueId id;
  NCCL_ASSERT_OK(ncclGetUniqueId(&id));
  ncclComm_t comm = nullptr;
  const auto start = Clock::now();
  const ncclResult_t result = ncclCommInitRank(&comm, 2, id, 0);
  const double elapsed = seconds_since(start);
  EXPECT_NE(result, ncclSuccess);
  EXPECT_EQ(comm, nullptr);
  EXPECT_GE(elapsed, 1.0) << "gave up long before the timeout";
  EXPECT_LE(elapsed, 5.5) << "waited far past STRATA_TIMEOUT=2";
  EXPECT_STRNE(ncclGetLastError(nullptr), "");
  std::printf("after %.2f s: %s (%s)\n", elapsed, ncclGetErrorString(result), ncclGetLastError(nullptr));
}

// The same inside a group: ncclGroupEnd reports it, and the handle it gave
// out reports it too, then can be destroyed.
TEST(ncclTimeout, DeferredInitFailsAtGroupEnd) {
  use_short_timeout();
  ncclUniqueId id;
  NCCL_ASSERT_OK(ncclGetUniqueId(&id));
  ncclComm_t comm = nullptr;
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_ASSERT_OK(ncclCommInitRank(&comm, 2, id, 0));
  const auto start = Clock::now();
  const ncclResult_t result = ncclGroupEnd();
  const double elapsed = seconds_since(start);
  EXPECT_NE(result, ncclSuccess);
  EXPECT_LE(elapsed, 5.5);
  ncclResult_t async = ncclSuccess;
  NCCL_ASSERT_OK(ncclCommGetAsyncError(comm, &async));
  EXPECT_EQ(async, result);
  float value = 1;
  EXPECT_TRUE(FailsWith(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm, nullptr), ncclInvalidUsage,
                        {"creation failed"}));
  NCCL_EXPECT_OK(ncclCommDestroy(comm));
}

}  // namespace
