// A RoutedTransport over shared memory and another transport sleeps once on
// both (Transport::arm_wait), and wakes for whichever has work. Before, it
// slept 50 µs on each in turn, which on an oversubscribed host kept every
// idle rank of a multi-site job polling thousands of times a second.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "runtime/transport/routed_transport.h"
#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::make_shm_world;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Stands for the network transport: armable on an eventfd the test rings,
// or reporting work / no joint sleep as told.
class FakeNetwork final : public Transport {
 public:
  FakeNetwork() : fd_(eventfd(0, EFD_NONBLOCK)) {}
  ~FakeNetwork() override { close(fd_); }
  std::string_view name() const override { return "fake"; }
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void post_send(int, uint64_t, const void*, size_t, Completion*) override {}
  void post_recv(int, uint64_t, void*, size_t, Completion*) override {}
  void cancel(Completion*) override {}
  bool progress() override {
    uint64_t count = 0;
    return read(fd_, &count, sizeof(count)) == sizeof(count);
  }
  void wait_for_activity(std::chrono::microseconds timeout) override { std::this_thread::sleep_for(timeout); }
  Armed arm_wait(WaitSet& set) override {
    if (answer != Armed::kArmed) return answer;
    ++armed;
    set.fds.push_back({fd_, POLLIN, 0});
    return Armed::kArmed;
  }
  void disarm_wait() override { --armed; }

  void ring() const {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t wrote = write(fd_, &one, sizeof(one));
  }
  Armed answer = Armed::kArmed;
  int armed = 0;

 private:
  int fd_;
};

struct Routed {
  std::vector<std::unique_ptr<Transport>> shm_world = make_shm_world(2);
  FakeNetwork* network = nullptr;
  std::unique_ptr<RoutedTransport> rank0;

  Routed() {
    auto fake = std::make_unique<FakeNetwork>();
    network = fake.get();
    Transport* shm = shm_world[0].get();
    std::vector<std::unique_ptr<Transport>> owned;
    owned.push_back(std::move(shm_world[0]));
    owned.push_back(std::move(fake));
    // Both ranks over shared memory; the fake only adds its descriptor.
    rank0 = std::make_unique<RoutedTransport>(0, std::move(owned), std::vector<Transport*>{shm, shm});
  }
};

TEST(RoutedWaitTest, IdleWaitSleepsOnceForItsWholeTimeout) {
  Routed routed;
  const auto start = Clock::now();
  int calls = 0;
  while (seconds_since(start) < 0.3) {
    routed.rank0->wait_for_activity(100ms);
    routed.rank0->progress();
    ++calls;
  }
  EXPECT_LE(calls, 6);  // in turns of 50 µs it was thousands
  EXPECT_EQ(routed.network->armed, 0) << "every arm is matched by a disarm";
}

TEST(RoutedWaitTest, TheOtherTransportWakesTheSleeper) {
  Routed routed;
  std::thread ringer([&] {
    std::this_thread::sleep_for(50ms);
    routed.network->ring();
  });
  auto start = Clock::now();
  routed.rank0->wait_for_activity(5s);
  EXPECT_LT(seconds_since(start), 2.0) << "the other transport's descriptor did not wake it";
  ringer.join();
  EXPECT_TRUE(routed.rank0->progress());
}

TEST(RoutedWaitTest, SharedMemoryMessageWakesTheSleeper) {
  Routed routed;
  uint64_t value = 7, got = 0;
  Completion send, recv;
  routed.rank0->post_recv(1, 1, &got, sizeof(got), &recv);
  std::thread sender([&] {
    std::this_thread::sleep_for(50ms);
    routed.shm_world[1]->post_send(0, 1, &value, sizeof(value), &send);
  });
  const auto start = Clock::now();
  while (testing::pending(recv) && seconds_since(start) < 5) {
    if (!routed.rank0->progress()) routed.rank0->wait_for_activity(5s);
  }
  sender.join();
  EXPECT_LT(seconds_since(start), 2.0) << "a shared-memory message did not wake it";
  EXPECT_EQ(recv.state.load(), Completion::kDone);
  EXPECT_EQ(got, value);
  while (testing::pending(send)) routed.shm_world[1]->progress();
  EXPECT_EQ(routed.network->armed, 0);
}

// A transport with work already returns at once, and the one armed before
// it is disarmed; one that cannot sleep jointly gets the old turns.
TEST(RoutedWaitTest, BusyOrUnsupportedTransportsDoNotSleepJointly) {
  Routed routed;
  routed.network->answer = Transport::Armed::kBusy;
  auto start = Clock::now();
  routed.rank0->wait_for_activity(2s);
  EXPECT_LT(seconds_since(start), 0.5);
  EXPECT_EQ(routed.network->armed, 0);
  routed.network->answer = Transport::Armed::kUnsupported;
  start = Clock::now();
  routed.rank0->wait_for_activity(2s);
  EXPECT_LT(seconds_since(start), 0.5);
  routed.network->answer = Transport::Armed::kArmed;
  std::thread ringer([&] {
    std::this_thread::sleep_for(50ms);
    routed.network->ring();
  });
  start = Clock::now();
  routed.rank0->wait_for_activity(5s);  // shm was disarmed properly: the joint sleep still works
  EXPECT_LT(seconds_since(start), 2.0);
  ringer.join();
}

}  // namespace
}  // namespace strata::runtime
