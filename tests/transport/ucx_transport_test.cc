#include "runtime/transport/ucx/ucx_transport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/transport/ucx_test_util.h"

namespace strata::runtime {
namespace {

using testing::drive;
using testing::make_ucx_world;
using testing::pattern;
using testing::pending;

UcxTransportOptions options_with_shm(bool allow) {
  UcxTransportOptions options;
  options.allow_shared_memory = allow;
  options.timeout_s = 5;
  options.network_devices = "lo";  // hermetic: other interfaces on CI machines come and go
  return options;
}

// Runs with shared memory allowed (posix/cma inside one host) and without (tcp).
class UcxTransportTest : public ::testing::TestWithParam<bool> {
 protected:
  UcxTransportOptions options() const { return options_with_shm(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Shm, UcxTransportTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "shm" : "noshm"; });

TEST_P(UcxTransportTest, PingPongOfEverySize) {
  auto world = make_ucx_world(2, options());
  EXPECT_EQ(world[0]->name(), "ucx");
  EXPECT_EQ(world[1]->rank(), 1);
  EXPECT_EQ(world[1]->size(), 2);
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{4096}, size_t{8} << 20}) {
    auto ping = pattern(bytes, 1);
    auto pong = pattern(bytes, 2);
    std::vector<std::byte> ping_in(bytes), pong_in(bytes);
    Completion send_ping, recv_ping, send_pong, recv_pong;
    world[1]->post_recv(0, 100 + bytes, ping_in.data(), bytes, &recv_ping);
    world[0]->post_send(1, 100 + bytes, ping.data(), bytes, &send_ping);
    ASSERT_TRUE(drive(world, {&send_ping, &recv_ping})) << bytes;
    world[0]->post_recv(1, 200 + bytes, pong_in.data(), bytes, &recv_pong);
    world[1]->post_send(0, 200 + bytes, pong.data(), bytes, &send_pong);
    ASSERT_TRUE(drive(world, {&send_pong, &recv_pong})) << bytes;
    for (Completion* done : {&send_ping, &recv_ping, &send_pong, &recv_pong}) {
      EXPECT_EQ(done->state.load(), Completion::kDone) << bytes << ": " << done->error;
    }
    EXPECT_EQ(recv_ping.received_bytes, bytes);
    EXPECT_EQ(recv_pong.received_bytes, bytes);
    EXPECT_TRUE(ping_in == ping) << bytes;
    EXPECT_TRUE(pong_in == pong) << bytes;
  }
}

TEST_P(UcxTransportTest, ManyInFlightMatchByTagWhateverThePostingOrder) {
  auto world = make_ucx_world(2, options());
  constexpr int kMessages = 48;
  std::vector<std::vector<std::byte>> sent(kMessages), received(kMessages);
  std::vector<Completion> sends(kMessages), recvs(kMessages);
  std::vector<Completion*> all;
  for (int i = 0; i < kMessages; ++i) {
    size_t bytes = (i % 3 == 0) ? 256 << 10 : 64 + i;  // eager and rendezvous mixed
    sent[i] = pattern(bytes, i);
    received[i].resize(bytes);
  }
  // Receives posted in reverse, half of them after the sends arrived (unexpected).
  for (int i = kMessages - 1; i >= kMessages / 2; --i) {
    world[1]->post_recv(0, 1000 + i, received[i].data(), received[i].size(), &recvs[i]);
  }
  for (int i = 0; i < kMessages; ++i) world[0]->post_send(1, 1000 + i, sent[i].data(), sent[i].size(), &sends[i]);
  for (int k = 0; k < 100; ++k) world[1]->progress();
  for (int i = kMessages / 2 - 1; i >= 0; --i) {
    world[1]->post_recv(0, 1000 + i, received[i].data(), received[i].size(), &recvs[i]);
  }
  for (int i = 0; i < kMessages; ++i) all.insert(all.end(), {&sends[i], &recvs[i]});
  ASSERT_TRUE(drive(world, all));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(recvs[i].state.load(), Completion::kDone) << recvs[i].error;
    // Half of them completed inside post_recv, from UCX's unexpected queue.
    EXPECT_EQ(recvs[i].received_bytes, sent[i].size()) << "message " << i;
    EXPECT_TRUE(received[i] == sent[i]) << "message " << i;
  }
}

TEST_P(UcxTransportTest, ShorterMessageReportsItsLength) {
  auto world = make_ucx_world(2, options());
  auto data = pattern(100, 4);
  for (bool receive_first : {true, false}) {
    std::vector<std::byte> buffer(4096);
    Completion send, recv;
    if (receive_first) world[1]->post_recv(0, 8, buffer.data(), buffer.size(), &recv);
    world[0]->post_send(1, 8, data.data(), data.size(), &send);
    if (!receive_first) {
      for (int k = 0; k < 200; ++k) world[1]->progress();  // the message waits in UCX
      world[1]->post_recv(0, 8, buffer.data(), buffer.size(), &recv);
    }
    ASSERT_TRUE(drive(world, {&send, &recv}));
    EXPECT_EQ(recv.state.load(), Completion::kDone) << recv.error;
    EXPECT_EQ(recv.received_bytes, 100u) << (receive_first ? "expected" : "unexpected");
    EXPECT_TRUE(std::equal(data.begin(), data.end(), buffer.begin()));
  }
}

TEST_P(UcxTransportTest, SameTagMatchesInPostingOrder) {
  auto world = make_ucx_world(2, options());
  constexpr int kMessages = 16;
  std::vector<uint32_t> sent(kMessages), received(kMessages, 0xffffffff);
  std::vector<Completion> sends(kMessages), recvs(kMessages);
  std::vector<Completion*> all;
  for (int i = 0; i < kMessages; ++i) {
    sent[i] = 7000 + i;
    world[0]->post_send(1, 42, &sent[i], sizeof(uint32_t), &sends[i]);
    world[1]->post_recv(0, 42, &received[i], sizeof(uint32_t), &recvs[i]);
    all.insert(all.end(), {&sends[i], &recvs[i]});
  }
  ASSERT_TRUE(drive(world, all));
  EXPECT_EQ(received, sent);
}

TEST_P(UcxTransportTest, TruncationFailsTheReceiveNamingThePeer) {
  auto world = make_ucx_world(2, options());
  for (size_t bytes : {size_t{1024}, size_t{1} << 20}) {
    auto data = pattern(bytes, 3);
    std::vector<std::byte> small(16);
    Completion send, recv;
    world[1]->post_recv(0, 5, small.data(), small.size(), &recv);
    world[0]->post_send(1, 5, data.data(), data.size(), &send);
    ASSERT_TRUE(drive(world, {&send, &recv})) << bytes;
    EXPECT_EQ(recv.state.load(), Completion::kFailed) << bytes;
    EXPECT_NE(recv.error.find("peer 0"), std::string::npos) << recv.error;
  }
  // The pair still works afterwards.
  uint64_t value = 99, got = 0;
  Completion send, recv;
  world[1]->post_recv(0, 6, &got, sizeof(got), &recv);
  world[0]->post_send(1, 6, &value, sizeof(value), &send);
  ASSERT_TRUE(drive(world, {&send, &recv}));
  EXPECT_EQ(got, 99u);
}

TEST_P(UcxTransportTest, CancelWithdrawsAnUnmatchedReceive) {
  auto world = make_ucx_world(2, options());
  std::vector<std::byte> withdrawn(64, std::byte{0}), fresh(64);
  Completion canceled;
  world[1]->post_recv(0, 77, withdrawn.data(), withdrawn.size(), &canceled);
  world[1]->cancel(&canceled);
  EXPECT_EQ(canceled.state.load(), Completion::kFailed);
  EXPECT_FALSE(canceled.error.empty());
  world[1]->cancel(&canceled);  // a second cancel is harmless

  // A later message with that tag goes to the next receive, not the withdrawn buffer.
  auto data = pattern(64, 5);
  Completion send, recv;
  world[0]->post_send(1, 77, data.data(), data.size(), &send);
  world[1]->post_recv(0, 77, fresh.data(), fresh.size(), &recv);
  ASSERT_TRUE(drive(world, {&send, &recv}));
  EXPECT_TRUE(fresh == data);
  EXPECT_TRUE(std::all_of(withdrawn.begin(), withdrawn.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_P(UcxTransportTest, SelfSendWorks) {
  auto world = make_ucx_world(2, options());
  for (size_t bytes : {size_t{0}, size_t{8}, size_t{1} << 20}) {
    auto data = pattern(bytes, 9);
    std::vector<std::byte> got(bytes);
    Completion send, recv;
    world[0]->post_recv(0, 3, got.data(), bytes, &recv);
    world[0]->post_send(0, 3, data.data(), bytes, &send);
    ASSERT_TRUE(drive(world, {&send, &recv})) << bytes;
    EXPECT_EQ(recv.state.load(), Completion::kDone) << recv.error;
    EXPECT_TRUE(got == data);
  }
}

bool names_shared_memory(const std::string& path) {
  for (const char* transport : {"posix", "sysv", "cma", "xpmem", "knem"}) {
    if (path.find(transport) != std::string::npos) return true;
  }
  return false;
}

// UCX's own account of the lanes it picked (ucp_ep_print_info) is the proof.
TEST_P(UcxTransportTest, SharedMemoryOnlyWhenAllowed) {
  auto world = make_ucx_world(2, options());
  for (int peer : {1, 0}) {  // another process-like worker, and itself
    // Traffic first, so both sides finish connecting before teardown.
    uint64_t value = 1, got = 0;
    Completion send, recv;
    world[peer]->post_recv(0, 11, &got, sizeof(got), &recv);
    world[0]->post_send(peer, 11, &value, sizeof(value), &send);
    ASSERT_TRUE(drive(world, {&send, &recv}));
    std::string path = describe_ucx_path(*world[0], peer);
    EXPECT_EQ(names_shared_memory(path), GetParam()) << path;
    if (!GetParam()) {
      EXPECT_NE(path.find("tcp"), std::string::npos) << path;
    }
  }
}

// Transport::connect opens the connections before the first message, as
// many as asked (never past kMaxUcxLanes, never for itself, never below the
// configured lanes); post_send_via reaches each of them, post_send keeps to
// the configured lanes, and every message matches by tag.
TEST(UcxLanes, ConnectOpensExtraConnectionsBeforeTheFirstMessage) {
  auto world = make_ucx_world(2, options_with_shm(false));
  EXPECT_EQ(world[0]->connect(1, 4), 4);
  EXPECT_EQ(world[1]->connect(0, 4), 4);
  EXPECT_EQ(world[0]->connect(1, 8), 4) << "connected: the lanes stay";
  EXPECT_EQ(world[0]->connect(0, 4), 1) << "messages to itself use one endpoint";
  std::vector<uint64_t> out(8), in(8, 0);
  std::vector<Completion> sends(8), recvs(8);
  std::vector<Completion*> all;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = 1000 + i;
    world[1]->post_recv(0, 40 + i, &in[i], sizeof(uint64_t), &recvs[i]);
    if (i % 2 == 0) world[0]->post_send_via(1, static_cast<int>(i / 2), 40 + i, &out[i], sizeof(uint64_t), &sends[i]);
    else world[0]->post_send(1, 40 + i, &out[i], sizeof(uint64_t), &sends[i]);
    all.insert(all.end(), {&sends[i], &recvs[i]});
  }
  ASSERT_TRUE(drive(world, all));
  EXPECT_EQ(in, out);
  const std::string path = describe_ucx_path(*world[0], 1);
  EXPECT_NE(path.find("endpoint 3 of 4"), std::string::npos) << path;
  auto wide = make_ucx_world(2, options_with_shm(false));
  EXPECT_EQ(wide[0]->connect(1, 100), kMaxUcxLanes);
  EXPECT_EQ(wide[1]->connect(0, 100), kMaxUcxLanes);
}

TEST(UcxLanes, LaneDependsOnTheTagAloneAndRotates) {
  for (int lanes : {1, 2, 3, 8}) {
    for (uint64_t tag : {uint64_t{0}, uint64_t{77}, ~uint64_t{0}, uint64_t{0xabc} << 52}) {
      int lane = ucx_lane_for_tag(tag, lanes);
      EXPECT_GE(lane, 0);
      EXPECT_LT(lane, lanes);
      EXPECT_EQ(lane, ucx_lane_for_tag(tag, lanes)) << "equal tags must share a lane, to keep their order";
    }
    // Consecutive message indices, and consecutive sequences (bit 18 up) of
    // one-message operations, visit every lane in turn.
    for (uint64_t step : {uint64_t{1}, uint64_t{1} << 18}) {
      std::vector<int> seen(lanes, 0);
      uint64_t base = (uint64_t{5} << 52) | (uint64_t{3} << 32);
      for (int i = 0; i < 4 * lanes; ++i) ++seen[ucx_lane_for_tag(base + step * i, lanes)];
      for (int lane = 0; lane < lanes; ++lane) EXPECT_EQ(seen[lane], 4) << "lanes " << lanes << " step " << step;
    }
  }
}

// The automatic count covers a 1 Gbit/s x 80 ms path with the measured
// per-connection window (about 45% of net.ipv4.tcp_rmem's cap).
TEST(UcxLanes, AutomaticCountFollowsTheReceiveBufferCap) {
  EXPECT_EQ(automatic_ucx_lanes_for(6 << 20), 4);   // Linux default: 1 lane reached 0.28 Gbit/s at 80 ms
  EXPECT_EQ(automatic_ucx_lanes_for(64 << 20), 1);  // strata-sites: 1 lane reached 0.96 Gbit/s at 80 ms
  EXPECT_EQ(automatic_ucx_lanes_for(32 << 20), 1);
  EXPECT_EQ(automatic_ucx_lanes_for(16 << 20), 2);
  EXPECT_EQ(automatic_ucx_lanes_for(128 << 10), 8);  // capped
  EXPECT_EQ(automatic_ucx_lanes_for(0), 1);
  int lanes = automatic_ucx_lanes();
  EXPECT_GE(lanes, 1);
  EXPECT_LE(lanes, 8);
}

// Per link: enough connections for that link's own bandwidth-delay product.
TEST(UcxLanes, PerLinkCountFollowsTheLinksBandwidthDelayProduct) {
  constexpr uint64_t kLinuxDefaultCap = 6 << 20;  // one connection's window: about 2.8 MB
  EXPECT_EQ(ucx_lanes_for_bdp(1e9 / 8 * 0.0002, kLinuxDefaultCap), 1);  // inside a site
  EXPECT_EQ(ucx_lanes_for_bdp(1e9 / 8 * 0.020, kLinuxDefaultCap), 1);   // 1 Gbit/s, 20 ms: 2.5 MB
  EXPECT_EQ(ucx_lanes_for_bdp(1e9 / 8 * 0.050, kLinuxDefaultCap), 3);   // 50 ms: 6.25 MB
  EXPECT_EQ(ucx_lanes_for_bdp(1e9 / 8 * 0.080, kLinuxDefaultCap), automatic_ucx_lanes_for(kLinuxDefaultCap));
  EXPECT_EQ(ucx_lanes_for_bdp(1e9 / 8 * 0.080, 64 << 20), 1);
  EXPECT_EQ(ucx_lanes_for_bdp(10e9 / 8 * 0.100, kLinuxDefaultCap), 8);  // capped
  EXPECT_EQ(ucx_lanes_for_bdp(0, kLinuxDefaultCap), 1);                 // unknown link
  EXPECT_EQ(ucx_lanes_for_bdp(1e7, 0), 1);                              // unknown cap
}

TEST(UcxLanes, LaneCountOutOfRangeIsRejected) {
  for (int lanes : {0, -1, kMaxUcxLanes + 1}) {
    UcxTransportOptions options = options_with_shm(false);
    options.lanes = lanes;
    try {
      make_ucx_world(1, options);
      FAIL() << "lanes " << lanes << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
}

// Three endpoints per peer over tcp: messages of every size on every lane,
// receives posted in reverse (half unexpected), and same-tag order kept.
TEST(UcxLanes, EveryLaneDeliversAndSameTagKeepsOrder) {
  UcxTransportOptions options = options_with_shm(false);
  options.lanes = 3;
  auto world = make_ucx_world(2, options);
  constexpr int kMessages = 31;
  std::vector<std::vector<std::byte>> sent(kMessages), received(kMessages);
  std::vector<Completion> sends(kMessages), recvs(kMessages);
  std::vector<Completion*> all;
  for (int i = 0; i < kMessages; ++i) {
    size_t bytes = std::vector<size_t>{0, 9, 8 << 10, 100 << 10, 1 << 20}[i % 5];  // 5 sizes, coprime to 3 lanes
    sent[i] = pattern(bytes, i);
    received[i].resize(bytes);
    all.insert(all.end(), {&sends[i], &recvs[i]});
  }
  for (int i = kMessages - 1; i >= kMessages / 2; --i) {
    world[0]->post_recv(1, 500 + i, received[i].data(), received[i].size(), &recvs[i]);
  }
  for (int i = 0; i < kMessages; ++i) world[1]->post_send(0, 500 + i, sent[i].data(), sent[i].size(), &sends[i]);
  for (int k = 0; k < 100; ++k) world[0]->progress();
  for (int i = kMessages / 2 - 1; i >= 0; --i) {
    world[0]->post_recv(1, 500 + i, received[i].data(), received[i].size(), &recvs[i]);
  }
  // Same tag, many messages: they must share a lane, or order is lost.
  constexpr int kSameTag = 24;
  std::vector<uint32_t> numbers(kSameTag), got(kSameTag, 0xffffffff);
  std::vector<Completion> same_sends(kSameTag), same_recvs(kSameTag);
  for (int i = 0; i < kSameTag; ++i) {
    numbers[i] = 9000 + i;
    world[0]->post_send(1, 42, &numbers[i], sizeof(uint32_t), &same_sends[i]);
    world[1]->post_recv(0, 42, &got[i], sizeof(uint32_t), &same_recvs[i]);
    all.insert(all.end(), {&same_sends[i], &same_recvs[i]});
  }
  ASSERT_TRUE(drive(world, all));
  for (int i = 0; i < kMessages; ++i) {
    EXPECT_EQ(recvs[i].state.load(), Completion::kDone) << recvs[i].error;
    EXPECT_EQ(recvs[i].received_bytes, sent[i].size()) << "message " << i;
    EXPECT_TRUE(received[i] == sent[i]) << "message " << i;
  }
  EXPECT_EQ(got, numbers);
  std::string path = describe_ucx_path(*world[1], 0);
  EXPECT_NE(path.find("endpoint 2 of 3"), std::string::npos) << path;
  EXPECT_EQ(path.find("endpoint 3 of"), std::string::npos) << path;
  EXPECT_EQ(describe_ucx_path(*world[1], 1).find("endpoint 0 of"), std::string::npos) << "self uses one lane";
}

TEST(UcxTransport, MisuseIsReported) {
  auto world = make_ucx_world(1, options_with_shm(true));
  int value = 0;
  Completion done;
  EXPECT_THROW(world[0]->post_send(1, 0, &value, sizeof(value), &done), Error);
  EXPECT_THROW(world[0]->post_send_via(1, 0, 0, &value, sizeof(value), &done), Error);
  EXPECT_THROW(world[0]->post_recv(-1, 0, &value, sizeof(value), &done), Error);
  world[0]->post_recv(0, 1, &value, sizeof(value), &done);
  try {
    world[0]->post_recv(0, 2, &value, sizeof(value), &done);
    FAIL() << "reusing a pending Completion must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidUsage);
  }
  world[0]->cancel(&done);
  EXPECT_FALSE(pending(done));
}

TEST(UcxTransport, CancelOfAStuckSendEndsIt) {
  auto world = make_ucx_world(2, options_with_shm(false));
  auto data = pattern(4 << 20, 1);  // rendezvous: stays pending until the peer receives
  Completion send;
  world[0]->post_send(1, 9, data.data(), data.size(), &send);
  for (int k = 0; k < 50; ++k) {
    for (auto& transport : world.all()) transport->progress();
  }
  world[0]->cancel(&send);
  EXPECT_EQ(send.state.load(), Completion::kFailed);
  EXPECT_NE(send.error.find("peer 1"), std::string::npos) << send.error;
}

TEST(UcxTransport, DestroyingWithTransfersPendingFailsThem) {
  Completion recv;
  std::vector<std::byte> buffer(16);
  {
    auto world = make_ucx_world(2, options_with_shm(true));
    world[0]->post_recv(1, 1, buffer.data(), buffer.size(), &recv);
  }
  EXPECT_EQ(recv.state.load(), Completion::kFailed);
}

}  // namespace
}  // namespace strata::runtime
