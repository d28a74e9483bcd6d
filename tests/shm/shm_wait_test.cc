// wait_for_activity sleeps in the kernel, wakes promptly for messages and
// for completions made by other threads, and more ranks than cores still
// make progress. A peer that closes its transport fails what waits on it.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/error.h"
#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using testing::drive;
using testing::drive_one;
using testing::make_shm_world;
using testing::pattern;
using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

class NotShm final : public Transport {
 public:
  std::string_view name() const override { return "other"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void post_send(int, uint64_t, const void*, size_t, Completion*) override {}
  void post_recv(int, uint64_t, void*, size_t, Completion*) override {}
  void cancel(Completion*) override {}
  bool progress() override { return false; }
  void wait_for_activity(std::chrono::microseconds) override {}
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Waits and progresses `transport` for `seconds`; returns {cpu seconds, calls}.
std::pair<double, int> idle_for(Transport& transport, double seconds, std::chrono::microseconds wait) {
  auto start = Clock::now();
  double cpu_start = thread_cpu_seconds();
  int calls = 0;
  while (seconds_since(start) < seconds) {
    transport.wait_for_activity(wait);
    transport.progress();
    ++calls;
  }
  return {thread_cpu_seconds() - cpu_start, calls};
}

TEST(ShmWaitTest, IdleWaitSleepsForItsTimeout) {
  auto world = make_shm_world(2);
  auto [cpu_s, calls] = idle_for(*world[0], 0.2, 200ms);
  EXPECT_LT(cpu_s, 0.02) << calls << " calls";
  EXPECT_LE(calls, 2);
}

// With a receive outstanding the wait also checks every 100 ms that peers
// live, but still sleeps in between.
TEST(ShmWaitTest, WaitWithAPendingReceiveDoesNotSpin) {
  auto world = make_shm_world(2);
  uint64_t value = 0;
  Completion recv;
  world[0]->post_recv(1, 1, &value, sizeof(value), &recv);
  auto [cpu_s, calls] = idle_for(*world[0], 0.3, 1s);
  EXPECT_LT(cpu_s, 0.03) << calls << " calls";
  EXPECT_LE(calls, 6);
  world[0]->cancel(&recv);
}

TEST(ShmWaitTest, WaitWakesWithinAboutAMillisecondOfAMessage) {
  auto world = make_shm_world(2);
  std::vector<double> delays_ms;
  for (int trial = 0; trial < 20; ++trial) {
    uint64_t value = trial, got = 0;
    Completion send, recv;
    world[1]->post_recv(0, trial, &got, sizeof(got), &recv);
    std::atomic<int64_t> sent_at_ns{0};
    std::thread sender([&] {
      std::this_thread::sleep_for(20ms);
      sent_at_ns = Clock::now().time_since_epoch().count();
      world[0]->post_send(1, trial, &value, sizeof(value), &send);
    });
    auto start = Clock::now();
    while (testing::pending(recv) && seconds_since(start) < 5) {
      if (!world[1]->progress()) world[1]->wait_for_activity(2s);
    }
    const int64_t woke_at_ns = Clock::now().time_since_epoch().count();
    sender.join();
    ASSERT_EQ(recv.state.load(), Completion::kDone);
    delays_ms.push_back(static_cast<double>(woke_at_ns - sent_at_ns) / 1e6);
  }
  std::sort(delays_ms.begin(), delays_ms.end());
  std::printf("wake-up after a message: median %.3f ms, max %.3f ms\n", delays_ms[10], delays_ms.back());
  EXPECT_LT(delays_ms[10], 1.0);
  EXPECT_LT(delays_ms.back(), 100.0);
}

// Another thread's progress() completes the receive this thread sleeps for.
TEST(ShmWaitTest, SleeperWakesWhenAnotherThreadCompletesItsReceive) {
  auto world = make_shm_world(2);
  uint64_t value = 3, got = 0;
  Completion send, recv;
  world[1]->post_recv(0, 1, &got, sizeof(got), &recv);
  std::atomic<bool> stop{false};
  std::thread helper([&] {
    while (!stop) world[1]->progress();  // takes every message off the ring first
  });
  std::thread sender([&] {
    std::this_thread::sleep_for(50ms);
    world[0]->post_send(1, 1, &value, sizeof(value), &send);
  });
  auto start = Clock::now();
  while (testing::pending(recv) && seconds_since(start) < 5) world[1]->wait_for_activity(2s);
  const double waited_s = seconds_since(start);
  stop = true;
  helper.join();
  sender.join();
  EXPECT_EQ(recv.state.load(), Completion::kDone);
  EXPECT_LT(waited_s, 0.5);
}

// Without CMA a 32 MiB message fills the 1 MiB ring dozens of times; the
// sender sleeps each time and the receiver must wake it as it hands cells
// back (waiting out each 100 ms wait instead would take seconds).
TEST(ShmWaitTest, SenderBlockedOnAFullRingIsWokenAsItDrains) {
  ShmTransportOptions options;
  options.use_cma = false;
  auto world = make_shm_world(2, options);
  auto out = pattern(32 << 20, 1);
  std::vector<std::byte> in(out.size());
  Completion send, recv;
  auto start = Clock::now();
  world[1]->post_recv(0, 1, in.data(), in.size(), &recv);
  std::thread sender([&] {
    world[0]->post_send(1, 1, out.data(), out.size(), &send);
    drive_one(*world[0], {&send});
  });
  drive_one(*world[1], {&recv});
  sender.join();
  EXPECT_EQ(in, out);
  EXPECT_LT(seconds_since(start), 1.0);
}

TEST(ShmWaitTest, ClosedPeerFailsPendingTransfersButItsLastMessagesArrive) {
  auto world = make_shm_world(2);
  uint64_t last = 42, got = 0, never = 0;
  Completion last_send, last_recv, doomed;
  world[1]->post_send(0, 1, &last, sizeof(last), &last_send);
  world[0]->post_recv(1, 2, &never, sizeof(never), &doomed);
  world[1].reset();
  world[0]->post_recv(1, 1, &got, sizeof(got), &last_recv);
  auto start = Clock::now();
  ASSERT_TRUE(drive_one(*world[0], {&last_recv, &doomed}, 5s));
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_EQ(last_recv.state.load(), Completion::kDone);
  EXPECT_EQ(got, 42u);
  ASSERT_EQ(doomed.state.load(), Completion::kFailed);
  EXPECT_NE(doomed.error.find("peer 1 closed"), std::string::npos) << doomed.error;
}

// The routing transport's way to sleep on shm and UCX at once: arm, poll
// the descriptor with others, disarm.
TEST(ShmWaitTest, ArmedDescriptorTurnsReadableWhenAMessageArrives) {
  auto world = make_shm_world(2);
  uint64_t value = 9, got = 0;
  Completion send, recv;
  world[1]->post_recv(0, 1, &got, sizeof(got), &recv);
  ASSERT_TRUE(shm_arm_wait(*world[1]));
  pollfd fd{shm_wait_fd(*world[1]), POLLIN, 0};
  EXPECT_EQ(poll(&fd, 1, 50), 0);  // nothing yet: sleeps for the whole timeout
  std::thread sender([&] {
    std::this_thread::sleep_for(20ms);
    world[0]->post_send(1, 1, &value, sizeof(value), &send);
  });
  auto start = Clock::now();
  EXPECT_EQ(poll(&fd, 1, 5000), 1);
  EXPECT_LT(seconds_since(start), 1.0);
  shm_disarm_wait(*world[1]);
  sender.join();
  // The message waits for progress(): arming now refuses to sleep.
  EXPECT_FALSE(shm_arm_wait(*world[1]));
  ASSERT_TRUE(drive(world, {&recv}));
  EXPECT_EQ(got, 9u);
  NotShm other;
  EXPECT_THROW(shm_wait_fd(other), Error);
}

TEST(ShmWaitTest, EightRanksOnThreadsMakeProgressOnTwoCores) {
  constexpr int kRanks = 8, kRounds = 200;
  auto world = make_shm_world(kRanks);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> problems{0};
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      const int right = (rank + 1) % kRanks, left = (rank + kRanks - 1) % kRanks;
      for (int round = 0; round < kRounds; ++round) {
        const size_t bytes = round % 20 == 0 ? 100000 : 256;
        auto out = pattern(bytes, rank + round);
        std::vector<std::byte> in(bytes);
        Completion send, recv;
        world[rank]->post_recv(left, round, in.data(), bytes, &recv);
        world[rank]->post_send(right, round, out.data(), bytes, &send);
        if (!drive_one(*world[rank], {&send, &recv}) || in != pattern(bytes, left + round)) ++problems;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(problems.load(), 0);
  std::printf("%d ranks x %d ring exchanges: %.3f s\n", kRanks, kRounds, seconds_since(start));
  EXPECT_LT(seconds_since(start), 10.0);
}

}  // namespace
}  // namespace strata::runtime
