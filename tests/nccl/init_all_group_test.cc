// Several ranks driven from one thread, as NCCL allows: ncclCommInitAll
// (or ncclCommInitRank / ncclCommSplit for each rank inside a group), then
// one call per communicator between ncclGroupStart and ncclGroupEnd.
#include <array>
#include <chrono>
#include <numeric>
#include <vector>

#include "nccl_test_util.h"

namespace {

constexpr cudaStream_t kStream = nullptr;
constexpr int kRanks = 3;

using ncclInitAll = ncclLocalRanks<kRanks>;

TEST_F(ncclInitAll, GroupedAllReduceOnThreeRanks) {
  constexpr size_t kCount = 10007;
  std::vector<std::vector<float>> send(kRanks), recv(kRanks);
  for (int rank = 0; rank < kRanks; ++rank) {
    send[rank].assign(kCount, static_cast<float>(rank + 1));
    recv[rank].assign(kCount, -1);
  }
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank) {
    NCCL_ASSERT_OK(ncclAllReduce(send[rank].data(), recv[rank].data(), kCount, ncclFloat, ncclSum, comms_[rank], kStream));
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  for (int rank = 0; rank < kRanks; ++rank)
    for (float value : recv[rank]) ASSERT_EQ(value, 6.0f);
}

TEST_F(ncclInitAll, GroupedInPlaceAverageAndPreMulSum) {
  std::array<double, kRanks> average{};
  std::array<double, kRanks> scaled{};
  std::array<ncclRedOp_t, kRanks> ops{};
  double scalar = 0.5;
  for (int rank = 0; rank < kRanks; ++rank) {
    average[rank] = scaled[rank] = rank * 3.0;
    NCCL_ASSERT_OK(ncclRedOpCreatePreMulSum(&ops[rank], &scalar, ncclDouble, ncclScalarHostImmediate, comms_[rank]));
  }
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank) {
    NCCL_ASSERT_OK(ncclAllReduce(&average[rank], &average[rank], 1, ncclDouble, ncclAvg, comms_[rank], kStream));
    NCCL_ASSERT_OK(ncclAllReduce(&scaled[rank], &scaled[rank], 1, ncclDouble, ops[rank], comms_[rank], kStream));
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  for (int rank = 0; rank < kRanks; ++rank) {
    EXPECT_DOUBLE_EQ(average[rank], 3.0);  // (0 + 3 + 6) / 3
    EXPECT_DOUBLE_EQ(scaled[rank], 4.5);   // 0.5 * 9
    NCCL_EXPECT_OK(ncclRedOpDestroy(ops[rank], comms_[rank]));
  }
}

TEST_F(ncclInitAll, GroupedAllGatherAndSendRecvRing) {
  std::array<int32_t, kRanks> mine{};
  std::array<std::array<int32_t, kRanks>, kRanks> gathered{};
  std::array<int32_t, kRanks> from_previous{};
  std::iota(mine.begin(), mine.end(), 100);
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank) {
    NCCL_ASSERT_OK(ncclAllGather(&mine[rank], gathered[rank].data(), 1, ncclInt32, comms_[rank], kStream));
    NCCL_ASSERT_OK(ncclSend(&mine[rank], 1, ncclInt32, (rank + 1) % kRanks, comms_[rank], kStream));
    NCCL_ASSERT_OK(ncclRecv(&from_previous[rank], 1, ncclInt32, (rank + kRanks - 1) % kRanks, comms_[rank], kStream));
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  for (int rank = 0; rank < kRanks; ++rank) {
    EXPECT_EQ(gathered[rank], mine);
    EXPECT_EQ(from_previous[rank], mine[(rank + kRanks - 1) % kRanks]);
  }
}

// Split is collective and blocks, so splitting every rank from one thread
// only works inside a group; the new handles are usable after its end.
TEST_F(ncclInitAll, SplitEveryRankInsideAGroup) {
  std::array<ncclComm_t, kRanks> halves{};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank) {
    NCCL_ASSERT_OK(ncclCommSplit(comms_[rank], rank % 2, rank, &halves[rank], nullptr));
    ncclResult_t state = ncclSuccess;
    NCCL_ASSERT_OK(ncclCommGetAsyncError(halves[rank], &state));
    EXPECT_EQ(state, ncclInProgress);
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  std::array<int32_t, kRanks> values{1, 10, 100};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank) {
    NCCL_ASSERT_OK(ncclAllReduce(&values[rank], &values[rank], 1, ncclInt32, ncclSum, halves[rank], kStream));
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  EXPECT_EQ(values, (std::array<int32_t, kRanks>{101, 10, 101}));
  for (int rank = 0; rank < kRanks; ++rank) {
    int count = 0;
    NCCL_EXPECT_OK(ncclCommCount(halves[rank], &count));
    EXPECT_EQ(count, rank % 2 == 0 ? 2 : 1);
    NCCL_EXPECT_OK(ncclCommDestroy(halves[rank]));
  }
}

// Strata's extension: the same ranks with an inter-site wire format. One
// host has no inter-site leg, so results stay exact; bad arguments are
// refused at once, naming them.
TEST_F(ncclInitAll, SplitCompressedKeepsTheRanks) {
  ncclComm_t dummy = nullptr;
  EXPECT_TRUE(FailsWith(strataNcclCommSplitCompressed(comms_[0], nullptr, &dummy), ncclInvalidArgument, {"format"}));
  EXPECT_TRUE(FailsWith(strataNcclCommSplitCompressed(comms_[0], "int8", nullptr), ncclInvalidArgument, {"newcomm"}));
  std::array<ncclComm_t, kRanks> packed{};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank)
    NCCL_ASSERT_OK(strataNcclCommSplitCompressed(comms_[rank], "int8", &packed[rank]));
  NCCL_ASSERT_OK(ncclGroupEnd());
  std::array<float, kRanks> values{1.5f, 10, 100};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < kRanks; ++rank)
    NCCL_ASSERT_OK(ncclAllReduce(&values[rank], &values[rank], 1, ncclFloat, ncclSum, packed[rank], kStream));
  NCCL_ASSERT_OK(ncclGroupEnd());
  EXPECT_EQ(values, (std::array<float, kRanks>{111.5f, 111.5f, 111.5f}));
  for (int rank = 0; rank < kRanks; ++rank) {
    int count = 0;
    NCCL_EXPECT_OK(ncclCommCount(packed[rank], &count));
    EXPECT_EQ(count, kRanks);
    NCCL_EXPECT_OK(ncclCommDestroy(packed[rank]));
  }
}

// ncclCommInitRank for two ranks from one thread: each call returns a
// pending handle, and both are created together at ncclGroupEnd.
TEST(ncclInitRankInGroup, TwoRanksFromOneThread) {
  ncclUniqueId id;
  NCCL_ASSERT_OK(ncclGetUniqueId(&id));
  std::array<ncclComm_t, 2> comms{};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < 2; ++rank) NCCL_ASSERT_OK(ncclCommInitRank(&comms[rank], 2, id, rank));
  float early = 0;
  EXPECT_TRUE(FailsWith(ncclAllReduce(&early, &early, 1, ncclFloat, ncclSum, comms[0], kStream), ncclInvalidUsage,
                        {"still being created"}));
  EXPECT_TRUE(FailsWith(ncclGroupEnd(), ncclInvalidUsage, {"still being created"}));
  std::array<float, 2> values{1.5f, 2.5f};
  NCCL_ASSERT_OK(ncclGroupStart());
  for (int rank = 0; rank < 2; ++rank) {
    NCCL_ASSERT_OK(ncclAllReduce(&values[rank], &values[rank], 1, ncclFloat, ncclMax, comms[rank], kStream));
  }
  NCCL_ASSERT_OK(ncclGroupEnd());
  EXPECT_EQ(values, (std::array<float, 2>{2.5f, 2.5f}));
  // Inside a group, so both ranks tear down together (one rank's teardown
  // waits for its peer's).
  const auto start = std::chrono::steady_clock::now();
  NCCL_ASSERT_OK(ncclGroupStart());
  for (ncclComm_t comm : comms) NCCL_EXPECT_OK(ncclCommDestroy(comm));
  NCCL_ASSERT_OK(ncclGroupEnd());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
