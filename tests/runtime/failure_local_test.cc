// Bad input and failures never crash or hang: they throw an Error that names
// the argument and the rank, and every wait has a timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime {
namespace {

void expect_error(const std::function<void()>& call, ErrorCode code, const std::string& mentions) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning " << mentions;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), code) << error.what();
    EXPECT_NE(std::string(error.what()).find(mentions), std::string::npos) << error.what();
  }
}

TEST(FailureLocalTest, BadArgumentsNameTheArgumentAndRank) {
  auto comms = Communicator::create_local(2);
  Communicator& comm = *comms[1];
  float value = 0;
  expect_error([&] { comm.all_reduce(nullptr, &value, 1, DataType::kFloat32, ReduceOp::kSum); },
               ErrorCode::kInvalidArgument, "sendbuff is null");
  expect_error([&] { comm.all_reduce(&value, nullptr, 1, DataType::kFloat32, ReduceOp::kSum); },
               ErrorCode::kInvalidArgument, "on rank 1");
  expect_error([&] { comm.all_reduce(&value, &value, 1, static_cast<DataType>(42), ReduceOp::kSum); },
               ErrorCode::kInvalidArgument, "datatype 42");
  expect_error([&] { comm.all_reduce(&value, &value, 1, DataType::kFloat32, static_cast<ReduceOp>(9)); },
               ErrorCode::kInvalidArgument, "op 9");
  expect_error([&] { comm.broadcast(&value, &value, 1, DataType::kFloat32, 2); }, ErrorCode::kInvalidArgument,
               "root 2");
  expect_error([&] { comm.send(&value, 1, DataType::kFloat32, -1); }, ErrorCode::kInvalidArgument, "peer -1");
  expect_error([&] { comm.all_gather(&value, &value, UINT64_MAX / 2, DataType::kFloat64); },
               ErrorCode::kInvalidArgument, "overflows");
  // Zero elements with null buffers is legal and completes.
  comms[0]->all_reduce(nullptr, nullptr, 0, DataType::kFloat32, ReduceOp::kSum);
}

TEST(FailureLocalTest, ARankThatNeverArrivesTimesOut) {
  setenv("STRATA_TIMEOUT", "0.5", 1);
  reload_config();
  auto comms = Communicator::create_local(2);
  float value = 1;
  const auto start = std::chrono::steady_clock::now();
  expect_error([&] { comms[0]->all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum); },
               ErrorCode::kTimeout, "STRATA_TIMEOUT");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(comms[0]->async_error().has_value());
  // The communicator stays failed: a later call reports the first error at
  // once instead of running with peers that are out of step.
  expect_error([&] { comms[0]->broadcast(&value, &value, 1, DataType::kFloat32, 0); }, ErrorCode::kTimeout,
               "failed earlier");
  expect_error([&] { comms[0]->split(0, 0); }, ErrorCode::kTimeout, "failed earlier");
  unsetenv("STRATA_TIMEOUT");
  reload_config();
}

// The timeout names whom this rank was still waiting for, in the message
// and as the error's peer.
TEST(FailureLocalTest, ATimeoutNamesTheRankItWaitedFor) {
  setenv("STRATA_TIMEOUT", "0.5", 1);
  reload_config();
  auto comms = Communicator::create_local(2);
  float value = 1;
  try {
    comms[0]->all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum);  // rank 1 never calls
    ADD_FAILURE() << "the all_reduce returned without its peer";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kTimeout);
    EXPECT_EQ(error.context().peer, 1);
    EXPECT_NE(std::string(error.what()).find("waiting to receive from rank(s) 1"), std::string::npos)
        << error.what();
  }
  unsetenv("STRATA_TIMEOUT");
  reload_config();
}

TEST(FailureLocalTest, AbortWakesAWaiterAndLaterCallsFail) {
  auto comms = Communicator::create_local(2);
  std::atomic<bool> calling{false};
  std::thread aborter([&] {
    while (!calling) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    comms[0]->abort();
  });
  float value = 1;
  const auto start = std::chrono::steady_clock::now();
  calling = true;
  expect_error([&] { comms[0]->all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum); },
               ErrorCode::kAborted, "aborted");
  aborter.join();
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_GE(took, std::chrono::milliseconds(80)) << "the call ended before the abort: it was not waiting";
  expect_error([&] { comms[0]->barrier(); }, ErrorCode::kAborted, "aborted");
}

TEST(FailureLocalTest, GroupEndWithoutStartIsUsageError) {
  expect_error([] { group_end(); }, ErrorCode::kInvalidUsage, "group");
}

TEST(FailureLocalTest, ForcedUnknownAlgorithmIsRejected) {
  auto comms = Communicator::create_local(1);
  Operation op;
  op.request.count = 1;
  float value = 0;
  op.send = &value;
  op.recv = &value;
  op.algorithm = "warp_drive";
  expect_error([&] { comms[0]->run(op); }, ErrorCode::kInvalidArgument, "warp_drive");
}

}  // namespace
}  // namespace strata::runtime
