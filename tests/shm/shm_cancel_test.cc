// cancel() withdraws receives and sends in every state they can be in:
// posted, streaming, offered for rendezvous, being read; afterwards the
// transport never touches the buffer, and later messages are unaffected.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using testing::drive;
using testing::make_shm_world;
using testing::pattern;

ShmTransportOptions with_cma(bool use_cma) {
  ShmTransportOptions options;
  options.use_cma = use_cma;
  options.timeout_s = 10;
  return options;
}

bool is_canceled(const Completion& done) {
  return done.state.load() == Completion::kFailed && done.error.find("cancel") != std::string::npos;
}

// A message with `tag` from 0 to 1 arrives intact.
void expect_message_arrives(testing::Transports& world, uint64_t tag, size_t bytes) {
  auto out = pattern(bytes, static_cast<int>(tag));
  std::vector<std::byte> in(bytes);
  Completion send, recv;
  world[1]->post_recv(0, tag, in.data(), in.size(), &recv);
  world[0]->post_send(1, tag, out.data(), out.size(), &send);
  ASSERT_TRUE(drive(world, {&send, &recv}));
  EXPECT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_EQ(in, out);
}

class ShmCancelTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Cma, ShmCancelTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "cma" : "ring"; });

TEST_P(ShmCancelTest, CanceledReceiveDoesNotTakeTheNextMessage) {
  auto world = make_shm_world(2, with_cma(GetParam()));
  std::vector<std::byte> lost(64, std::byte{7});
  Completion withdrawn;
  world[1]->post_recv(0, 1, lost.data(), lost.size(), &withdrawn);
  world[1]->cancel(&withdrawn);
  EXPECT_TRUE(is_canceled(withdrawn)) << withdrawn.error;
  expect_message_arrives(world, 1, 64);
  EXPECT_TRUE(std::all_of(lost.begin(), lost.end(), [](std::byte b) { return b == std::byte{7}; }));
  world[1]->cancel(&withdrawn);  // no longer pending: nothing happens
}

// A large send the receiver has only heard of (rendezvous offer, or the
// first part of a stream) is withdrawn. As if it had never been sent, a
// receive with its tag takes the next message instead, whether it was posted
// after the cancel or had already matched the withdrawn message.
TEST_P(ShmCancelTest, CanceledSendIsNeverDelivered) {
  auto world = make_shm_world(2, with_cma(GetParam()));
  for (bool receive_first : {false, true}) {
    auto doomed = pattern(4 << 20, 1);  // more than one progress() call moves
    std::vector<std::byte> in(4 << 20);
    Completion send, recv;
    if (receive_first) world[1]->post_recv(0, 2, in.data(), in.size(), &recv);
    world[0]->post_send(1, 2, doomed.data(), doomed.size(), &send);
    world[1]->progress();  // the offer or the first cells arrive (and match, if posted)
    ASSERT_TRUE(testing::pending(send));
    world[0]->cancel(&send);
    EXPECT_TRUE(is_canceled(send)) << send.error;
    std::fill(doomed.begin(), doomed.end(), std::byte{0xee});  // the buffer is the caller's again
    if (!receive_first) world[1]->post_recv(0, 2, in.data(), in.size(), &recv);
    for (int k = 0; k < 100; ++k) {
      world[0]->progress();
      world[1]->progress();
    }
    ASSERT_TRUE(testing::pending(recv)) << recv.error;
    auto next = pattern(1000, 9);
    Completion send2;
    world[0]->post_send(1, 2, next.data(), next.size(), &send2);
    ASSERT_TRUE(drive(world, {&send2, &recv}));
    EXPECT_EQ(recv.state.load(), Completion::kDone) << recv.error;
    EXPECT_EQ(recv.received_bytes, next.size());
    EXPECT_TRUE(std::equal(next.begin(), next.end(), in.begin()));
  }
  expect_message_arrives(world, 3, 100000);
}

// The receive is canceled after part of the message landed in it.
TEST_P(ShmCancelTest, ReceiveCanceledHalfwayStopsWritingItsBuffer) {
  auto world = make_shm_world(2, with_cma(GetParam()));
  auto out = pattern(8 << 20, 3);
  std::vector<std::byte> in(8 << 20);
  Completion send, recv;
  world[1]->post_recv(0, 4, in.data(), in.size(), &recv);
  world[0]->post_send(1, 4, out.data(), out.size(), &send);
  for (int k = 0; k < 3; ++k) world[1]->progress();  // a few cells or a CMA chunk
  ASSERT_TRUE(testing::pending(recv));
  world[1]->cancel(&recv);
  EXPECT_TRUE(is_canceled(recv)) << recv.error;
  const auto snapshot = in;
  ASSERT_TRUE(drive(world, {&send}));
  // A rendezvous sender hears that its receive went away; a streaming one finishes.
  EXPECT_EQ(send.state.load(), GetParam() ? Completion::kFailed : Completion::kDone) << send.error;
  EXPECT_EQ(in, snapshot) << "the canceled receive's buffer changed";
  expect_message_arrives(world, 5, 3 << 20);
}

// The sender cancels while the receiver (another thread) is copying from
// its buffer, then unmaps the buffer. The receive must never read after the
// cancel returned: it either finished before (intact data) or waits again.
TEST(ShmCancelRace, SendCanceledWhileBeingReadIsNotReadAfterwards) {
  auto world = make_shm_world(2, with_cma(true));
  constexpr size_t kBytes = 64 << 20;
  for (int trial = 0; trial < 5; ++trial) {
    void* mapped = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mapped, MAP_FAILED);
    std::memset(mapped, 0x42, kBytes);
    std::vector<std::byte> in(kBytes);
    Completion send, recv;
    world[1]->post_recv(0, 6, in.data(), in.size(), &recv);
    world[0]->post_send(1, 6, mapped, kBytes, &send);
    std::atomic<bool> canceling{true};
    std::thread receiver([&] {
      // Until the receive completes or goes back to waiting (nothing left to read).
      while (testing::pending(recv) && (world[1]->progress() || canceling)) {
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(500 * trial));
    world[0]->cancel(&send);
    munmap(mapped, kBytes);
    canceling = false;
    receiver.join();
    EXPECT_FALSE(testing::pending(send));
    // Either the read had finished before the cancel (intact data), or the
    // receive went back to waiting for another message with its tag.
    if (recv.state.load() == Completion::kDone) {
      EXPECT_TRUE(std::all_of(in.begin(), in.end(), [](std::byte b) { return b == std::byte{0x42}; }));
    } else {
      EXPECT_TRUE(testing::pending(recv)) << recv.error;
      world[1]->cancel(&recv);
    }
  }
  expect_message_arrives(world, 7, 1 << 20);
}

}  // namespace
}  // namespace strata::runtime
