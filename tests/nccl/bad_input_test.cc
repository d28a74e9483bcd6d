// Every kind of bad input to the NCCL API returns ncclInvalidArgument or
// ncclInvalidUsage with a message naming the argument and the rank, and
// never crashes. Communicators come from ncclCommInitAll in this process;
// the checks run on rank 1 of a pair (so messages must say "rank 1") and
// on a single-rank communicator where a call must actually run.
#include <cstdint>
#include <thread>

#include "nccl_test_util.h"

namespace {

constexpr cudaStream_t kStream = nullptr;

class ncclBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    NCCL_ASSERT_OK(ncclCommInitAll(pair_, 2, nullptr));
    NCCL_ASSERT_OK(ncclCommInitAll(&single_, 1, nullptr));
  }
  void TearDown() override {
    for (ncclComm_t comm : {pair_[0], pair_[1], single_}) ncclCommDestroy(comm);  // may be dead already
  }

  ncclComm_t pair_[2] = {};
  ncclComm_t single_ = nullptr;
  float data_[8] = {};
};

TEST_F(ncclBadInput, NullCommunicator) {
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, ncclSum, nullptr, kStream), ncclInvalidArgument,
                        {"ncclAllReduce", "comm", "NULL"}));
  int count = 0;
  EXPECT_TRUE(FailsWith(ncclCommCount(nullptr, &count), ncclInvalidArgument, {"comm"}));
  EXPECT_TRUE(FailsWith(ncclCommDestroy(nullptr), ncclInvalidArgument, {"comm"}));
  EXPECT_TRUE(FailsWith(ncclCommAbort(nullptr), ncclInvalidArgument, {"comm"}));
}

TEST_F(ncclBadInput, PointerThatIsNotACommunicator) {
  alignas(64) char stack_bytes[256] = {};
  const auto fake = reinterpret_cast<ncclComm_t>(stack_bytes);
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, ncclSum, fake, kStream), ncclInvalidArgument,
                        {"comm", "not a communicator"}));
  EXPECT_TRUE(FailsWith(ncclCommDestroy(fake), ncclInvalidArgument, {"not a communicator"}));
}

TEST_F(ncclBadInput, InvalidDatatype) {
  for (int bad : {-1, 12, 99}) {
    EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, static_cast<ncclDataType_t>(bad), ncclSum, pair_[1], kStream),
                          ncclInvalidArgument, {"datatype", "rank 1", "ncclAllReduce"}))
        << bad;
  }
  EXPECT_TRUE(FailsWith(ncclSend(data_, 1, static_cast<ncclDataType_t>(50), 0, pair_[1], kStream), ncclInvalidArgument,
                        {"datatype", "rank 1"}));
}

TEST_F(ncclBadInput, InvalidOperator) {
  for (int bad : {-1, 5, 1234}) {
    EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, static_cast<ncclRedOp_t>(bad), pair_[1], kStream),
                          ncclInvalidArgument, {"op", "rank 1"}))
        << bad;
  }
  EXPECT_TRUE(FailsWith(ncclReduceScatter(data_, data_, 1, ncclFloat, static_cast<ncclRedOp_t>(77), pair_[1], kStream),
                        ncclInvalidArgument, {"op", "rank 1"}));
}

TEST_F(ncclBadInput, InvalidRoot) {
  for (int root : {-1, 2}) {
    EXPECT_TRUE(FailsWith(ncclBroadcast(data_, data_, 1, ncclFloat, root, pair_[1], kStream), ncclInvalidArgument,
                          {"root", "rank 1"}));
    EXPECT_TRUE(FailsWith(ncclReduce(data_, data_, 1, ncclFloat, ncclSum, root, pair_[1], kStream),
                          ncclInvalidArgument, {"root", "rank 1"}));
    EXPECT_TRUE(FailsWith(ncclGather(data_, data_, 1, ncclFloat, root, pair_[1], kStream), ncclInvalidArgument,
                          {"root"}));
    EXPECT_TRUE(FailsWith(ncclScatter(data_, data_, 1, ncclFloat, root, pair_[1], kStream), ncclInvalidArgument,
                          {"root"}));
    EXPECT_TRUE(FailsWith(ncclBcast(data_, 1, ncclFloat, root, pair_[1], kStream), ncclInvalidArgument, {"root"}));
  }
}

TEST_F(ncclBadInput, InvalidPeer) {
  EXPECT_TRUE(FailsWith(ncclSend(data_, 1, ncclFloat, 2, pair_[1], kStream), ncclInvalidArgument, {"peer", "rank 1"}));
  EXPECT_TRUE(FailsWith(ncclRecv(data_, 1, ncclFloat, -1, pair_[1], kStream), ncclInvalidArgument, {"peer", "rank 1"}));
}

TEST_F(ncclBadInput, CountTimesSizeOverflows) {
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, SIZE_MAX / 2, ncclFloat, ncclSum, pair_[1], kStream),
                        ncclInvalidArgument, {"count", "rank 1"}));
  // Fits one block but not nranks blocks.
  EXPECT_TRUE(FailsWith(ncclAllGather(data_, data_, SIZE_MAX / 16, ncclDouble, pair_[1], kStream),
                        ncclInvalidArgument, {"count", "rank 1"}));
  EXPECT_TRUE(FailsWith(ncclSend(data_, SIZE_MAX, ncclInt8, 0, pair_[1], kStream), ncclInvalidArgument, {"count"}));
}

TEST_F(ncclBadInput, NullBuffersWithElements) {
  EXPECT_TRUE(FailsWith(ncclAllReduce(nullptr, data_, 4, ncclFloat, ncclSum, pair_[1], kStream), ncclInvalidArgument,
                        {"sendbuff", "NULL", "rank 1"}));
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, nullptr, 4, ncclFloat, ncclSum, pair_[1], kStream), ncclInvalidArgument,
                        {"recvbuff", "rank 1"}));
  EXPECT_TRUE(FailsWith(ncclRecv(nullptr, 4, ncclFloat, 0, pair_[1], kStream), ncclInvalidArgument, {"recvbuff"}));
  EXPECT_TRUE(FailsWith(ncclAlltoAll(data_, nullptr, 1, ncclFloat, pair_[1], kStream), ncclInvalidArgument,
                        {"recvbuff"}));
}

TEST_F(ncclBadInput, NullBuffersWithZeroElementsAreFine) {
  NCCL_EXPECT_OK(ncclAllReduce(nullptr, nullptr, 0, ncclFloat, ncclSum, single_, kStream));
  NCCL_EXPECT_OK(ncclBroadcast(nullptr, nullptr, 0, ncclFloat, 0, single_, kStream));
}

TEST_F(ncclBadInput, UseAfterDestroy) {
  NCCL_ASSERT_OK(ncclCommDestroy(single_));
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, ncclSum, single_, kStream), ncclInvalidUsage,
                        {"destroyed", "rank 0"}));
  int count = 0;
  EXPECT_TRUE(FailsWith(ncclCommCount(single_, &count), ncclInvalidUsage, {"destroyed"}));
  EXPECT_TRUE(FailsWith(ncclCommDestroy(single_), ncclInvalidUsage, {"destroyed"}));
  EXPECT_TRUE(FailsWith(ncclCommAbort(single_), ncclInvalidUsage, {"destroyed"}));
  // A new communicator never reuses a destroyed one's handle.
  ncclComm_t fresh = nullptr;
  NCCL_ASSERT_OK(ncclCommInitAll(&fresh, 1, nullptr));
  EXPECT_NE(fresh, single_);
  NCCL_EXPECT_OK(ncclCommDestroy(fresh));
}

TEST_F(ncclBadInput, UseAfterAbort) {
  NCCL_ASSERT_OK(ncclCommAbort(pair_[1]));
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, ncclSum, pair_[1], kStream), ncclInvalidUsage,
                        {"aborted", "rank 1"}));
  ncclResult_t async = ncclSuccess;
  EXPECT_TRUE(FailsWith(ncclCommGetAsyncError(pair_[1], &async), ncclInvalidUsage, {"aborted"}));
  EXPECT_TRUE(FailsWith(ncclCommAbort(pair_[1]), ncclInvalidUsage, {"aborted"}));
  ncclComm_t split = nullptr;
  EXPECT_TRUE(FailsWith(ncclCommSplit(pair_[1], 0, 0, &split, nullptr), ncclInvalidUsage, {"aborted"}));
}

TEST_F(ncclBadInput, UseAfterFinalize) {
  NCCL_ASSERT_OK(ncclCommFinalize(single_));
  EXPECT_TRUE(FailsWith(ncclAllReduce(data_, data_, 1, ncclFloat, ncclSum, single_, kStream), ncclInvalidUsage,
                        {"finalized"}));
  int count = 0;
  NCCL_EXPECT_OK(ncclCommCount(single_, &count));
  EXPECT_EQ(count, 1);
  NCCL_EXPECT_OK(ncclCommDestroy(single_));
}

TEST_F(ncclBadInput, InitArguments) {
  ncclUniqueId id{};
  ncclComm_t comm = nullptr;
  EXPECT_TRUE(FailsWith(ncclCommInitRank(nullptr, 2, id, 0), ncclInvalidArgument, {"comm"}));
  EXPECT_TRUE(FailsWith(ncclCommInitRank(&comm, 0, id, 0), ncclInvalidArgument, {"nranks"}));
  EXPECT_TRUE(FailsWith(ncclCommInitRank(&comm, 2, id, 2), ncclInvalidArgument, {"rank 2"}));
  EXPECT_TRUE(FailsWith(ncclCommInitRank(&comm, 2, id, -1), ncclInvalidArgument, {"rank -1"}));
  EXPECT_EQ(comm, nullptr);
  EXPECT_TRUE(FailsWith(ncclCommInitAll(nullptr, 2, nullptr), ncclInvalidArgument, {"comm"}));
  EXPECT_TRUE(FailsWith(ncclCommInitAll(&comm, 0, nullptr), ncclInvalidArgument, {"ndev"}));
  const int devices[] = {0, -3};
  ncclComm_t two[2] = {};
  EXPECT_TRUE(FailsWith(ncclCommInitAll(two, 2, devices), ncclInvalidArgument, {"devlist[1]"}));
  EXPECT_TRUE(FailsWith(ncclGetUniqueId(nullptr), ncclInvalidArgument, {"uniqueId"}));
}

TEST_F(ncclBadInput, GarbageConfig) {
  ncclUniqueId id{};
  ncclComm_t comm = nullptr;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.magic = 0;
  EXPECT_TRUE(FailsWith(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument,
                        {"config", "NCCL_CONFIG_INITIALIZER"}));
  config = NCCL_CONFIG_INITIALIZER;
  config.size = 3;
  EXPECT_TRUE(FailsWith(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument, {"config->size"}));
  config = NCCL_CONFIG_INITIALIZER;
  config.version = 7;
  EXPECT_TRUE(FailsWith(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument, {"config->version"}));
  config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 7;
  EXPECT_TRUE(FailsWith(ncclCommInitRankConfig(&comm, 1, id, 0, &config), ncclInvalidArgument, {"blocking"}));
  EXPECT_TRUE(FailsWith(ncclCommSplit(single_, 0, 0, &comm, &config), ncclInvalidArgument, {"blocking", "rank 0"}));
  EXPECT_EQ(comm, nullptr);
}

TEST_F(ncclBadInput, QueriesWithNullOutputs) {
  EXPECT_TRUE(FailsWith(ncclCommCount(pair_[1], nullptr), ncclInvalidArgument, {"count", "rank 1"}));
  EXPECT_TRUE(FailsWith(ncclCommUserRank(pair_[1], nullptr), ncclInvalidArgument, {"rank"}));
  EXPECT_TRUE(FailsWith(ncclCommCuDevice(pair_[1], nullptr), ncclInvalidArgument, {"device"}));
  EXPECT_TRUE(FailsWith(ncclCommGetAsyncError(pair_[1], nullptr), ncclInvalidArgument, {"asyncError"}));
  EXPECT_TRUE(FailsWith(ncclGetVersion(nullptr), ncclInvalidArgument, {"version"}));
  EXPECT_TRUE(FailsWith(ncclCommSplit(pair_[1], 0, 0, nullptr, nullptr), ncclInvalidArgument, {"newcomm"}));
}

TEST_F(ncclBadInput, SplitColor) {
  ncclComm_t comm = nullptr;
  EXPECT_TRUE(FailsWith(ncclCommSplit(single_, -5, 0, &comm, nullptr), ncclInvalidArgument, {"color -5", "rank 0"}));
  NCCL_ASSERT_OK(ncclCommSplit(single_, NCCL_SPLIT_NOCOLOR, 0, &comm, nullptr));
  EXPECT_EQ(comm, nullptr);
  NCCL_ASSERT_OK(ncclCommSplit(single_, 3, 0, &comm, nullptr));
  int count = 0;
  NCCL_EXPECT_OK(ncclCommCount(comm, &count));
  EXPECT_EQ(count, 1);
  NCCL_EXPECT_OK(ncclCommDestroy(comm));
}

}  // namespace
