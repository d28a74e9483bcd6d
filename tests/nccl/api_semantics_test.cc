// The NCCL API's own rules, on single-process communicators: PreMulSum
// operators, errors inside groups, the per-thread last error, version and
// error strings, and the documented no-op or unsupported entry points.
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "nccl_test_util.h"

namespace {

constexpr cudaStream_t kStream = nullptr;

class ncclApi : public ::testing::Test {
 protected:
  void SetUp() override { NCCL_ASSERT_OK(ncclCommInitAll(&comm_, 1, nullptr)); }
  void TearDown() override { ncclCommDestroy(comm_); }
  ncclComm_t comm_ = nullptr;
};

TEST_F(ncclApi, PreMulSumMultipliesTheSum) {
  const double scalar = 2.5;
  ncclRedOp_t op;
  NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&op, const_cast<double*>(&scalar), ncclDouble, ncclScalarHostImmediate,
                                          comm_));
  EXPECT_GE(op, ncclNumOps);
  double value = 4;
  NCCL_ASSERT_OK(ncclAllReduce(&value, &value, 1, ncclDouble, op, comm_, kStream));
  EXPECT_EQ(value, 10);
  NCCL_EXPECT_OK(ncclRedOpDestroy(op, comm_));
}

TEST_F(ncclApi, AverageOfOneRankIsTheValue) {
  int32_t value = 7;
  NCCL_ASSERT_OK(ncclAllReduce(&value, &value, 1, ncclInt32, ncclAvg, comm_, kStream));
  EXPECT_EQ(value, 7);
}

TEST_F(ncclApi, PreMulSumRejectsBadArguments) {
  float scalar = 2;
  ncclRedOp_t op;
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(nullptr, &scalar, ncclFloat, ncclScalarHostImmediate, comm_),
                        ncclInvalidArgument, {"op"}));
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(&op, nullptr, ncclFloat, ncclScalarHostImmediate, comm_),
                        ncclInvalidArgument, {"scalar", "rank 0"}));
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(&op, &scalar, static_cast<ncclDataType_t>(42),
                                                 ncclScalarHostImmediate, comm_),
                        ncclInvalidArgument, {"datatype"}));
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, ncclScalarDevice, comm_), ncclInvalidUsage,
                        {"ncclScalarDevice", "ncclScalarHostImmediate"}));
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, static_cast<ncclScalarResidence_t>(9), comm_),
                        ncclInvalidArgument, {"residence"}));
  EXPECT_TRUE(FailsWith(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, ncclScalarHostImmediate, nullptr),
                        ncclInvalidArgument, {"comm"}));
}

TEST_F(ncclApi, PreMulSumBelongsToItsDatatypeAndCommunicator) {
  float scalar = 2;
  ncclRedOp_t op;
  NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&op, &scalar, ncclFloat, ncclScalarHostImmediate, comm_));
  double value = 1;
  EXPECT_TRUE(FailsWith(ncclAllReduce(&value, &value, 1, ncclDouble, op, comm_, kStream), ncclInvalidArgument,
                        {"op", "created for datatype float"}));
  ncclComm_t other = nullptr;
  NCCL_ASSERT_OK(ncclCommInitAll(&other, 1, nullptr));
  float single = 1;
  EXPECT_TRUE(FailsWith(ncclAllReduce(&single, &single, 1, ncclFloat, op, other, kStream), ncclInvalidArgument,
                        {"op"}));
  EXPECT_TRUE(FailsWith(ncclRedOpDestroy(op, other), ncclInvalidArgument, {"op"}));
  NCCL_EXPECT_OK(ncclCommDestroy(other));
  NCCL_EXPECT_OK(ncclRedOpDestroy(op, comm_));
  EXPECT_TRUE(FailsWith(ncclRedOpDestroy(op, comm_), ncclInvalidArgument, {"op"}));
  EXPECT_TRUE(FailsWith(ncclAllReduce(&single, &single, 1, ncclFloat, op, comm_, kStream), ncclInvalidArgument,
                        {"op"}));
  EXPECT_TRUE(FailsWith(ncclRedOpDestroy(ncclSum, comm_), ncclInvalidArgument, {"built-in"}));
}

TEST_F(ncclApi, FreedOperatorValuesAreReused) {
  float scalar = 1;
  ncclRedOp_t first;
  ncclRedOp_t second;
  NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&first, &scalar, ncclFloat, ncclScalarHostImmediate, comm_));
  NCCL_ASSERT_OK(ncclRedOpDestroy(first, comm_));
  NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&second, &scalar, ncclFloat, ncclScalarHostImmediate, comm_));
  EXPECT_EQ(first, second);
  NCCL_EXPECT_OK(ncclRedOpDestroy(second, comm_));
}

TEST_F(ncclApi, ErrorInsideAGroupIsReportedAgainByGroupEnd) {
  float value = 1;
  NCCL_ASSERT_OK(ncclGroupStart());
  EXPECT_TRUE(FailsWith(ncclAllReduce(&value, &value, 1, static_cast<ncclDataType_t>(99), ncclSum, comm_, kStream),
                        ncclInvalidArgument, {"datatype"}));
  NCCL_EXPECT_OK(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm_, kStream));
  EXPECT_TRUE(FailsWith(ncclGroupEnd(), ncclInvalidArgument, {"datatype"}));
  // The next group starts clean.
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_EXPECT_OK(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm_, kStream));
  NCCL_EXPECT_OK(ncclGroupEnd());
}

TEST_F(ncclApi, NestedGroupsRunAtTheOutermostEnd) {
  float value = 3;
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_EXPECT_OK(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm_, kStream));
  NCCL_EXPECT_OK(ncclGroupEnd());
  NCCL_EXPECT_OK(ncclGroupEnd());
  EXPECT_EQ(value, 3);
}

TEST_F(ncclApi, GroupEndWithoutStart) {
  EXPECT_TRUE(FailsWith(ncclGroupEnd(), ncclInvalidUsage, {"ncclGroupStart"}));
}

TEST_F(ncclApi, DestroyInsideAGroupWaitsForTheGroup) {
  float value = 5;
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_EXPECT_OK(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm_, kStream));
  NCCL_EXPECT_OK(ncclCommDestroy(comm_));
  NCCL_EXPECT_OK(ncclGroupEnd());
  EXPECT_EQ(value, 5);
}

TEST_F(ncclApi, LastErrorBelongsToTheThread) {
  EXPECT_NE(ncclGetVersion(nullptr), ncclSuccess);
  EXPECT_NE(std::string(ncclGetLastError(comm_)), "");
  std::string other;
  std::thread([&] { other = ncclGetLastError(nullptr); }).join();
  EXPECT_EQ(other, "");
}

TEST_F(ncclApi, AsyncErrorOfAHealthyCommunicator) {
  ncclResult_t async = ncclInternalError;
  NCCL_ASSERT_OK(ncclCommGetAsyncError(comm_, &async));
  EXPECT_EQ(async, ncclSuccess);
}

TEST_F(ncclApi, QueriesOfInitAllCommunicators) {
  ncclComm_t comms[3] = {};
  const int devices[] = {4, 5, 6};
  NCCL_ASSERT_OK(ncclCommInitAll(comms, 3, devices));
  for (int rank = 0; rank < 3; ++rank) {
    int count = 0, user_rank = -1, device = -1;
    NCCL_EXPECT_OK(ncclCommCount(comms[rank], &count));
    NCCL_EXPECT_OK(ncclCommUserRank(comms[rank], &user_rank));
    NCCL_EXPECT_OK(ncclCommCuDevice(comms[rank], &device));
    EXPECT_EQ(count, 3);
    EXPECT_EQ(user_rank, rank);
    EXPECT_EQ(device, devices[rank]);
    NCCL_EXPECT_OK(ncclCommDestroy(comms[rank]));
  }
}

// Rank 0 waits for a rank 1 that never calls; aborting rank 0 from another
// thread ends the wait at once (not at STRATA_TIMEOUT) with an error.
TEST(ncclAbort, WakesACallWaitingOnAnotherThread) {
  ncclComm_t pair[2] = {};
  NCCL_ASSERT_OK(ncclCommInitAll(pair, 2, nullptr));
  float value = 1;
  ncclResult_t waiting_result = ncclSuccess;
  std::atomic<bool> calling{false};
  std::chrono::steady_clock::duration call_took{};
  std::thread waiter([&] {
    calling = true;
    const auto called = std::chrono::steady_clock::now();
    waiting_result = ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, pair[0], kStream);
    call_took = std::chrono::steady_clock::now() - called;
  });
  while (!calling) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  NCCL_EXPECT_OK(ncclCommAbort(pair[0]));
  waiter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The call was under way when the abort came (it did not start after it).
  EXPECT_GE(call_took, std::chrono::milliseconds(150));
  EXPECT_EQ(waiting_result, ncclInvalidUsage);
  EXPECT_TRUE(FailsWith(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, pair[0], kStream), ncclInvalidUsage,
                        {"aborted"}));
  NCCL_EXPECT_OK(ncclCommDestroy(pair[1]));
}

// The tests must run on our library: without this, a build that lost it
// would quietly test a system NCCL found through ld.so.cache.
TEST(ncclInfo, LibraryIsStrataNotASystemNccl) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&ncclGetVersion), &info), 0);
  EXPECT_EQ(std::filesystem::canonical(info.dli_fname).parent_path(), std::filesystem::canonical(STRATA_NCCL_LIB_DIR));
}

TEST(ncclInfo, VersionAndErrorStrings) {
  int version = 0;
  NCCL_ASSERT_OK(ncclGetVersion(&version));
  EXPECT_EQ(version, 22809);
  EXPECT_EQ(version, NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH));
  for (int a = ncclSuccess; a < ncclNumResults; ++a) {
    ASSERT_NE(ncclGetErrorString(static_cast<ncclResult_t>(a)), nullptr);
    for (int b = a + 1; b < ncclNumResults; ++b) {
      EXPECT_STRNE(ncclGetErrorString(static_cast<ncclResult_t>(a)), ncclGetErrorString(static_cast<ncclResult_t>(b)));
    }
  }
  EXPECT_NE(std::string(ncclGetErrorString(static_cast<ncclResult_t>(99))).find("unknown"), std::string::npos);
}

TEST(ncclInfo, ProfilingAliasesAreTheSameFunctions) {
  int version = 0;
  NCCL_ASSERT_OK(pncclGetVersion(&version));
  EXPECT_EQ(version, 22809);
  EXPECT_STREQ(pncclGetErrorString(ncclInvalidUsage), ncclGetErrorString(ncclInvalidUsage));
}

// Documented behaviour: registration is a no-op with a NULL handle.
TEST_F(ncclApi, RegisterIsANoOpWithANullHandle) {
  char buffer[64];
  void* handle = &buffer;
  NCCL_ASSERT_OK(ncclCommRegister(comm_, buffer, sizeof(buffer), &handle));
  EXPECT_EQ(handle, nullptr);
  NCCL_EXPECT_OK(ncclCommDeregister(comm_, handle));
  EXPECT_TRUE(FailsWith(ncclCommDeregister(comm_, buffer), ncclInvalidArgument, {"handle"}));
}

TEST_F(ncclApi, MemAllocNeedsCuda) {
  void* memory = &memory;
  EXPECT_TRUE(FailsWith(ncclMemAlloc(&memory, 4096), ncclInvalidUsage, {"CUDA"}));
  EXPECT_EQ(memory, nullptr);
  NCCL_EXPECT_OK(ncclMemFree(nullptr));
}

TEST_F(ncclApi, ShrinkAndRevokeCheckTheirArguments) {
  ncclComm_t shrunk = comm_;
  int exclude = 0;
  EXPECT_TRUE(FailsWith(ncclCommShrink(comm_, &exclude, 1, &shrunk, nullptr, NCCL_SHRINK_DEFAULT),
                        ncclInvalidArgument, {"excludeRanksCount 1", "rank 0"}));
  EXPECT_EQ(shrunk, nullptr);
  EXPECT_TRUE(FailsWith(ncclCommShrink(comm_, nullptr, 0, &shrunk, nullptr, 7), ncclInvalidArgument,
                        {"shrinkFlags 7"}));
  EXPECT_TRUE(FailsWith(ncclCommShrink(comm_, nullptr, 0, nullptr, nullptr, 0), ncclInvalidArgument, {"newcomm"}));
  EXPECT_TRUE(FailsWith(ncclCommRevoke(comm_, 3), ncclInvalidArgument, {"revokeFlags 3"}));
}

// A revoked communicator refuses collectives but can still be shrunk (here
// excluding no one) and destroyed.
TEST_F(ncclApi, ARevokedCommunicatorRefusesWorkButShrinks) {
  NCCL_ASSERT_OK(ncclCommRevoke(comm_, NCCL_REVOKE_DEFAULT));
  float value = 2;
  EXPECT_TRUE(FailsWith(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, comm_, kStream), ncclInvalidUsage,
                        {"revoked"}));
  ncclComm_t shrunk = nullptr;
  NCCL_ASSERT_OK(ncclCommShrink(comm_, nullptr, 0, &shrunk, nullptr, NCCL_SHRINK_DEFAULT));
  ASSERT_NE(shrunk, nullptr);
  NCCL_ASSERT_OK(ncclAllReduce(&value, &value, 1, ncclFloat, ncclSum, shrunk, kStream));
  EXPECT_EQ(value, 2);
  NCCL_EXPECT_OK(ncclCommDestroy(shrunk));
}

// A simulated end closes the group without running it; the next group is
// a group of its own.
TEST_F(ncclApi, GroupSimulateEndClosesTheGroupAndRunsNothing) {
  float in = 3, out = 0, in2 = 5, out2 = 0;
  ncclSimInfo_t info = NCCL_SIM_INFO_INITIALIZER;
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_ASSERT_OK(ncclAllReduce(&in, &out, 1, ncclFloat, ncclSum, comm_, kStream));
  NCCL_ASSERT_OK(ncclGroupSimulateEnd(&info));
  EXPECT_GE(info.estimatedTime, 0.0f) << "left at NCCL_UNDEF_FLOAT";
  EXPECT_EQ(out, 0) << "a simulated group ran";
  NCCL_ASSERT_OK(ncclGroupStart());
  NCCL_ASSERT_OK(ncclAllReduce(&in2, &out2, 1, ncclFloat, ncclSum, comm_, kStream));
  NCCL_ASSERT_OK(ncclGroupEnd());
  EXPECT_EQ(out2, 5);
  EXPECT_EQ(out, 0);
  EXPECT_TRUE(FailsWith(ncclGroupEnd(), ncclInvalidUsage, {"ncclGroupStart"}));
  EXPECT_TRUE(FailsWith(ncclGroupSimulateEnd(&info), ncclInvalidUsage, {"ncclGroupStart"}));
  NCCL_ASSERT_OK(ncclGroupStart());
  EXPECT_TRUE(FailsWith(ncclGroupSimulateEnd(nullptr), ncclInvalidArgument, {"simInfo"}));
  EXPECT_TRUE(FailsWith(ncclGroupEnd(), ncclInvalidUsage, {"ncclGroupStart"})) << "the group stayed open";
}

}  // namespace
