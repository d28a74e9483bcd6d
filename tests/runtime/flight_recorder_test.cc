// The flight recorder: a ring of the last operations per communicator, how
// each ended, dumped on failure and on SIGUSR1.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "runtime/communicator/communicator.h"
#include "runtime/communicator/communicator_impl.h"
#include "runtime/communicator/flight_recorder.h"
#include "runtime/config/config.h"
#include "tests/runtime/local_ranks.h"

namespace strata::runtime {
namespace {

TEST(FlightRecorder, KeepsTheLastOperationsOldestFirst) {
  FlightRecorder recorder("test", 4);
  for (uint32_t i = 0; i < 6; ++i) {
    const uint64_t index = recorder.start(i, "allreduce", 100 + i, DataType::kFloat32, -1, "ring");
    recorder.finish(index, i == 5 ? "boom" : nullptr);
  }
  const uint64_t running = recorder.start(6, "broadcast", 7, DataType::kInt8, 2, "tree");
  const std::vector<FlightRecord> records = recorder.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records.front().index, 3u);
  EXPECT_EQ(records[2].state, FlightRecord::State::kFailed);
  EXPECT_EQ(records[2].error, "boom");
  EXPECT_EQ(records.back().index, running);
  EXPECT_EQ(records.back().state, FlightRecord::State::kRunning);
  EXPECT_EQ(records.back().peer, 2);
  recorder.finish(0, nullptr);  // overwritten long ago: ignored
  const std::string dump = recorder.dump();
  EXPECT_NE(dump.find("#6 seq 6 broadcast 7 x int8 peer/root 2 [tree]"), std::string::npos) << dump;
  EXPECT_NE(dump.find("FAILED"), std::string::npos) << dump;
  EXPECT_NE(dump.find("running for"), std::string::npos) << dump;
}

TEST(FlightRecorder, ZeroCapacityRecordsNothing) {
  FlightRecorder recorder("off", 0);
  EXPECT_FALSE(recorder.enabled());
  recorder.finish(recorder.start(0, "allreduce", 1, DataType::kFloat32, -1, "ring"), nullptr);
  EXPECT_TRUE(recorder.records().empty());
}

// A timeout's record names the rank that did not arrive; the operations
// before it are there, done.
TEST(FlightRecorder, ATimeoutIsRecordedWithTheRankThatDidNotArrive) {
  setenv("STRATA_TIMEOUT", "0.3", 1);
  reload_config();
  auto comms = Communicator::create_local(2);
  strata::testing::on_every_rank(comms, [](Communicator& comm) {
    for (int i = 0; i < 3; ++i) {
      float value = 1;
      comm.all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum);
    }
  });
  float value = 1;
  EXPECT_THROW(comms[0]->broadcast(&value, &value, 1, DataType::kFloat32, 1), Error);
  const std::vector<FlightRecord> records = comms[0]->impl().recorder->records();
  ASSERT_EQ(records.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(records[i].state, FlightRecord::State::kDone);
    EXPECT_STREQ(records[i].collective, "allreduce");
    EXPECT_EQ(records[i].sequence, static_cast<uint32_t>(i));
  }
  EXPECT_EQ(records[3].state, FlightRecord::State::kFailed);
  EXPECT_STREQ(records[3].collective, "broadcast");
  EXPECT_EQ(records[3].peer, 1);
  EXPECT_NE(records[3].error.find("still waiting to receive from rank(s) 1"), std::string::npos) << records[3].error;
  unsetenv("STRATA_TIMEOUT");
  reload_config();
}

// SIGUSR1 prints every live communicator's record to stderr (from a
// thread of the library's, not the handler).
TEST(FlightRecorder, Sigusr1DumpsLiveCommunicators) {
  auto comms = Communicator::create_local(1, {.name = "sigusr1-test"});
  float value = 1;
  comms[0]->all_reduce(&value, &value, 1, DataType::kFloat32, ReduceOp::kSum);
  EXPECT_NE(dump_all_flight_records().find("comm 'sigusr1-test' rank 0/1"), std::string::npos);

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const int saved_stderr = dup(STDERR_FILENO);
  dup2(pipe_fds[1], STDERR_FILENO);
  ASSERT_EQ(raise(SIGUSR1), 0);
  std::string seen;
  pollfd readable{.fd = pipe_fds[0], .events = POLLIN, .revents = 0};
  while (seen.find("sigusr1-test") == std::string::npos && poll(&readable, 1, 5000) == 1) {
    char buffer[4096];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;
    seen.append(buffer, static_cast<size_t>(n));
  }
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr), close(pipe_fds[0]), close(pipe_fds[1]);
  EXPECT_NE(seen.find("flight record of comm 'sigusr1-test' rank 0/1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("allreduce 1 x float ["), std::string::npos) << seen;
}

}  // namespace
}  // namespace strata::runtime
