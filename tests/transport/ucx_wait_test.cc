// wait_for_activity sleeps in the kernel, wakes for messages, and lets
// ranks on their own threads (more ranks than cores) make progress.
#include <gtest/gtest.h>

#include <ctime>

#include "tests/transport/ucx_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using testing::drive_one;
using testing::make_ucx_world;
using testing::pattern;

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class UcxWaitTest : public ::testing::TestWithParam<bool> {
 protected:
  UcxTransportOptions options() const {
    UcxTransportOptions options;
    options.allow_shared_memory = GetParam();
    options.timeout_s = 5;
    options.network_devices = "lo";  // hermetic: other interfaces on CI machines come and go
    return options;
  }
};

INSTANTIATE_TEST_SUITE_P(Shm, UcxWaitTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "shm" : "noshm"; });

TEST_P(UcxWaitTest, IdleWaitSleepsForItsTimeoutWithoutSpinning) {
  auto world = make_ucx_world(2, options());
  // Connect, so the worker has live interfaces and sockets to watch.
  uint64_t value = 1, got = 0;
  Completion send, recv;
  world[1]->post_recv(0, 1, &got, sizeof(got), &recv);
  world[0]->post_send(1, 1, &value, sizeof(value), &send);
  ASSERT_TRUE(testing::drive(world, {&send, &recv}));
  for (int k = 0; k < 100; ++k) world[0]->progress();

  auto start = std::chrono::steady_clock::now();
  double cpu_start_s = thread_cpu_seconds();
  int calls = 0;
  while (seconds_since(start) < 0.2) {
    auto call_start = std::chrono::steady_clock::now();
    world[0]->wait_for_activity(200ms);
    EXPECT_LT(seconds_since(call_start), 0.3);
    world[0]->progress();
    ++calls;
  }
  double wall_s = seconds_since(start);
  double cpu_s = thread_cpu_seconds() - cpu_start_s;
  EXPECT_LT(cpu_s, 0.1 * wall_s) << calls << " calls";
  EXPECT_LT(calls, 50);  // a few early returns while UCX settles, then sleeps
}

TEST_P(UcxWaitTest, WaitWakesWhenAMessageArrives) {
  auto world = make_ucx_world(2, options());
  uint64_t value = 5, got = 0;
  Completion send, recv;
  world[1]->post_recv(0, 2, &got, sizeof(got), &recv);
  auto start = std::chrono::steady_clock::now();
  std::thread sender([&] {
    std::this_thread::sleep_for(50ms);
    world[0]->post_send(1, 2, &value, sizeof(value), &send);
    drive_one(*world[0], {&send});
  });
  // Each wait may last 2 s; the message must end it long before.
  while (testing::pending(recv) && seconds_since(start) < 5) {
    if (!world[1]->progress()) world[1]->wait_for_activity(2s);
  }
  sender.join();
  EXPECT_EQ(got, 5u);
  // Well below the 1 s after which a wait ends anyway to check peer processes.
  EXPECT_LT(seconds_since(start), 0.5);
}

// Eight ranks on two cores, each on its own thread, ring-exchanging; only
// works in reasonable time if idle ranks sleep rather than spin.
TEST_P(UcxWaitTest, RingOfEightThreadsMakesProgress) {
  constexpr int kRanks = 8;
  constexpr int kRounds = 5;
  constexpr size_t kBytes = 256 << 10;
  auto world = make_ucx_world(kRanks, options());
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::vector<int> failures(kRanks, 0);
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      Transport& transport = *world[rank];
      int right = (rank + 1) % kRanks, left = (rank + kRanks - 1) % kRanks;
      for (int round = 0; round < kRounds; ++round) {
        auto out = pattern(kBytes, rank * 100 + round);
        std::vector<std::byte> in(kBytes);
        Completion send, recv;
        transport.post_recv(left, (uint64_t(left) << 32) | round, in.data(), kBytes, &recv);
        transport.post_send(right, (uint64_t(rank) << 32) | round, out.data(), kBytes, &send);
        if (!drive_one(transport, {&send, &recv}) || in != pattern(kBytes, left * 100 + round)) ++failures[rank];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(kRanks, 0));
  EXPECT_LT(seconds_since(start), 5.0);
}

// An abort: another thread cancels a receive that a thread sleeps on.
TEST_P(UcxWaitTest, CancelFromAnotherThreadWakesTheWaiter) {
  auto world = make_ucx_world(2, options());
  uint64_t never = 0;
  Completion recv;
  world[1]->post_recv(0, 99, &never, sizeof(never), &recv);
  auto start = std::chrono::steady_clock::now();
  std::thread aborter([&] {
    std::this_thread::sleep_for(50ms);
    world[1]->cancel(&recv);
  });
  while (testing::pending(recv) && seconds_since(start) < 5) {
    if (!world[1]->progress()) world[1]->wait_for_activity(3s);
  }
  aborter.join();
  EXPECT_EQ(recv.state.load(), Completion::kFailed);
  // Well below the 1 s after which a wait ends anyway to check peer processes.
  EXPECT_LT(seconds_since(start), 0.5);
}

// Two threads share each rank's transport (two communicators over one
// transport) and exchange at the same time with distinct tag spaces.
TEST_P(UcxWaitTest, TwoThreadsShareATransport) {
  auto world = make_ucx_world(2, options());
  constexpr int kMessages = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int rank = 0; rank < 2; ++rank) {
    for (int lane = 0; lane < 2; ++lane) {
      threads.emplace_back([&, rank, lane] {
        Transport& transport = *world[rank];
        int peer = 1 - rank;
        for (int i = 0; i < kMessages; ++i) {
          uint64_t out = (uint64_t(rank) << 40) | (uint64_t(lane) << 32) | i, in = 0;
          Completion send, recv;
          transport.post_recv(peer, (uint64_t(peer) << 40) | (uint64_t(lane) << 32) | i, &in, sizeof(in), &recv);
          transport.post_send(peer, out, &out, sizeof(out), &send);
          bool ok = drive_one(transport, {&send, &recv});
          if (!ok || in != ((uint64_t(peer) << 40) | (uint64_t(lane) << 32) | uint64_t(i))) ++failures[rank * 2 + lane];
        }
      });
    }
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace strata::runtime
