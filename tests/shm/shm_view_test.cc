// Receives that read a peer's node-shared send buffer in place
// (post_recv_view) or copy it with memcpy instead of CMA, between
// transports on threads of one process (the mapping path is the same as
// between processes: pidfd_getfd works on this process too).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "runtime/memory/node_shared_memory.h"
#include "runtime/transport/shm/shm_peer_memory.h"
#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using testing::drive;
using testing::make_shm_world;
using testing::pattern;

// A node-shared buffer filled with a pattern.
struct SharedBuffer : HostBuffer {
  explicit SharedBuffer(size_t bytes) : HostBuffer(bytes, /*node_shared=*/true), data(HostBuffer::data()), bytes(bytes) {}
  void fill(int seed) {
    const auto values = pattern(bytes, seed);
    std::copy(values.begin(), values.end(), data);
  }
  std::byte* data;
  size_t bytes;
};

void progress_a_while(const testing::Transports& world) {
  for (int k = 0; k < 50; ++k)
    for (auto& transport : world) transport->progress();
}

TEST(ShmView, NodeSharedSendIsReadInPlaceAndEndsAtRelease) {
  auto world = make_shm_world(2, testing::cma_options(true));
  SharedBuffer out(256 << 10);
  out.fill(1);
  const size_t offset = 4096 + 8, bytes = 100000;  // a range inside the allocation
  std::vector<std::byte> staging(bytes);
  Completion send, recv;
  world[1]->post_recv_view(0, 3, staging.data(), bytes, &recv);
  world[0]->post_send(1, 3, out.data + offset, bytes, &send);
  ASSERT_TRUE(drive(world, {&recv}));
  ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_EQ(recv.received_bytes, bytes);
  ASSERT_NE(recv.view, staging.data()) << "copied into staging instead of mapping the sender's buffer";
  EXPECT_TRUE(std::equal(out.data + offset, out.data + offset + bytes, recv.view));
  progress_a_while(world);
  EXPECT_EQ(send.state.load(), Completion::kPending) << "the send ended while its buffer was still being read";
  world[1]->release_view(0, &recv);
  ASSERT_TRUE(drive(world, {&send}));
  EXPECT_EQ(send.state.load(), Completion::kDone) << send.error;
}

TEST(ShmView, MappingIsReusedAndSeesTheSendersLatestData) {
  auto world = make_shm_world(2, testing::cma_options(true));
  SharedBuffer out(1 << 20);
  std::vector<std::byte> staging(out.bytes);
  for (int round = 0; round < 3; ++round) {
    out.fill(10 + round);
    Completion send, recv;
    world[0]->post_send(1, 5, out.data, out.bytes, &send);  // unexpected first this time
    progress_a_while(world);
    world[1]->post_recv_view(0, 5, staging.data(), staging.size(), &recv);
    ASSERT_TRUE(drive(world, {&recv}));
    ASSERT_NE(recv.view, staging.data());
    EXPECT_TRUE(std::equal(out.data, out.data + out.bytes, recv.view)) << "round " << round;
    world[1]->release_view(0, &recv);
    ASSERT_TRUE(drive(world, {&send}));
  }
}

TEST(ShmView, OrdinarySendLandsInStaging) {
  auto world = make_shm_world(2, testing::cma_options(true));
  auto out = pattern(200000, 2);
  std::vector<std::byte> staging(out.size());
  Completion send, recv;
  world[1]->post_recv_view(0, 4, staging.data(), staging.size(), &recv);
  world[0]->post_send(1, 4, out.data(), out.size(), &send);
  ASSERT_TRUE(drive(world, {&recv, &send}));
  ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_EQ(recv.view, staging.data());
  EXPECT_EQ(staging, out);
  world[1]->release_view(0, &recv);  // nothing held: does nothing
}

TEST(ShmView, PlainReceiveCopiesANodeSharedSendOfSeveralChunks) {
  auto world = make_shm_world(2, testing::cma_options(true));
  SharedBuffer out((3 << 20) + 4096);
  out.fill(3);
  const size_t bytes = (3 << 20) + 5;  // four 1 MiB read chunks, the last one short
  std::vector<std::byte> in(bytes + 1, std::byte{0x77});
  Completion send, recv;
  world[1]->post_recv(0, 6, in.data(), bytes, &recv);
  world[0]->post_send(1, 6, out.data + 3, bytes, &send);
  ASSERT_TRUE(drive(world, {&recv, &send}));
  ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_TRUE(std::equal(out.data + 3, out.data + 3 + bytes, in.begin()));
  EXPECT_EQ(in[bytes], std::byte{0x77});
}

TEST(ShmView, CancelingAHeldViewReleasesIt) {
  auto world = make_shm_world(2, testing::cma_options(true));
  SharedBuffer out(64 << 10);
  std::vector<std::byte> staging(out.bytes);
  Completion send, recv;
  world[1]->post_recv_view(0, 8, staging.data(), staging.size(), &recv);
  world[0]->post_send(1, 8, out.data, out.bytes, &send);
  ASSERT_TRUE(drive(world, {&recv}));
  ASSERT_NE(recv.view, staging.data());
  world[1]->cancel(&recv);
  ASSERT_TRUE(drive(world, {&send}));
  EXPECT_EQ(send.state.load(), Completion::kDone) << send.error;
}

// A receive matched to a node-shared offer that the sender then withdraws
// takes the next message with its tag, here an ordinary one, and must read
// that one over CMA, not the withdrawn buffer's mapping.
TEST(ShmView, ReceiveRematchedAfterAWithdrawnNodeSharedOfferReadsTheNewMessage) {
  auto world = make_shm_world(2, testing::cma_options(true));
  auto first = pattern(4 << 20, 1);  // read chunk by chunk ahead of the other
  SharedBuffer withdrawn(64 << 10);
  withdrawn.fill(2);
  auto replacement = pattern(64 << 10, 3);
  std::vector<std::byte> in_first(first.size()), in(replacement.size());
  Completion send_first, send_withdrawn, send_replacement, recv_first, recv;
  world[1]->post_recv(0, 1, in_first.data(), in_first.size(), &recv_first);
  world[1]->post_recv(0, 2, in.data(), in.size(), &recv);
  world[0]->post_send(1, 1, first.data(), first.size(), &send_first);
  world[0]->post_send(1, 2, withdrawn.data, withdrawn.bytes, &send_withdrawn);
  world[1]->progress();  // matches both offers, reads the first chunk of the first
  ASSERT_EQ(recv.state.load(), Completion::kPending);
  world[0]->cancel(&send_withdrawn);
  world[0]->post_send(1, 2, replacement.data(), replacement.size(), &send_replacement);
  ASSERT_TRUE(drive(world, {&recv_first, &recv, &send_first, &send_replacement}));
  ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
  EXPECT_EQ(in, replacement) << "read the withdrawn buffer";
  EXPECT_EQ(in_first, first);
}

// /proc/self/maps lines of node-shared allocations: the owner's mappings
// plus the receiver's.
size_t node_shared_mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t count = 0;
  for (std::string line; std::getline(maps, line);) count += line.find("strata-node-shared-") != std::string::npos;
  return count;
}

TEST(ShmView, MappingsOfAPeerStayBounded) {
  auto world = make_shm_world(2, testing::cma_options(true));
  const size_t before = node_shared_mappings();
  constexpr size_t kAllocations = shm::kMaxPeerMappings + 10;
  std::vector<std::unique_ptr<SharedBuffer>> buffers;
  for (size_t i = 0; i < kAllocations; ++i) {
    buffers.push_back(std::make_unique<SharedBuffer>(16 << 10));
    buffers.back()->fill(static_cast<int>(i));
    std::vector<std::byte> staging(16 << 10);
    Completion send, recv;
    world[1]->post_recv_view(0, 100 + i, staging.data(), staging.size(), &recv);
    world[0]->post_send(1, 100 + i, buffers.back()->data, 16 << 10, &send);
    ASSERT_TRUE(drive(world, {&recv}));
    ASSERT_NE(recv.view, staging.data()) << "allocation " << i;
    EXPECT_TRUE(std::equal(buffers.back()->data, buffers.back()->data + (16 << 10), recv.view));
    world[1]->release_view(0, &recv);
    ASSERT_TRUE(drive(world, {&send}));
  }
  EXPECT_EQ(node_shared_mappings() - before, kAllocations + shm::kMaxPeerMappings);
}

}  // namespace
}  // namespace strata::runtime
