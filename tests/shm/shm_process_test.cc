// The transport between two processes (fork): large messages over CMA and
// through the ring, a peer killed with SIGKILL failing the survivor's
// transfers instead of hanging them, and no names left in /dev/shm.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <thread>

#include "common/error.h"
#include "runtime/memory/node_shared_memory.h"
#include "tests/shm/shm_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using testing::drive_one;
using testing::pattern;

// Two ranks joined by a socketpair; fork-safe (no threads, no sockets to
// set up). Each allgather writes this rank's bytes, then reads the other's.
class SocketPairBootstrap final : public Bootstrap {
 public:
  SocketPairBootstrap(int fd, int rank) : fd_(fd), rank_(rank) {}
  ~SocketPairBootstrap() override { close(fd_); }
  int rank() const override { return rank_; }
  int size() const override { return 2; }

  std::vector<std::byte> allgather(std::span<const std::byte> mine) override {
    if (!mine.empty() && write(fd_, mine.data(), mine.size()) != static_cast<ssize_t>(mine.size())) broken("write");
    std::vector<std::byte> theirs(mine.size());
    for (size_t got = 0; got < theirs.size();) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 20000) != 1) broken("poll");
      ssize_t n = read(fd_, theirs.data() + got, theirs.size() - got);
      if (n <= 0) broken("read");
      got += static_cast<size_t>(n);
    }
    std::vector<std::byte> own(mine.begin(), mine.end());
    std::vector<std::byte>& first = rank_ == 0 ? own : theirs;
    std::vector<std::byte>& second = rank_ == 0 ? theirs : own;
    first.insert(first.end(), second.begin(), second.end());
    return first;
  }

 private:
  [[noreturn]] void broken(const char* what) {
    fail(ErrorCode::kTimeout, {rank_, 1 - rank_, "socketpair allgather"}, "{} failed", what);
  }
  int fd_;
  int rank_;
};

struct Forked {
  pid_t child = -1;
  std::unique_ptr<Bootstrap> bootstrap;  // this process's: rank 0
};

// Forks rank 1, which runs `child_main` and exits with its result.
template <typename ChildMain>
Forked fork_rank1(ChildMain child_main) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair failed");
  pid_t child = fork();
  if (child == 0) {
    alarm(60);  // never outlive a broken parent
    close(fds[0]);
    int status = 3;
    try {
      SocketPairBootstrap bootstrap(fds[1], 1);
      status = child_main(bootstrap);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "child: %s\n", error.what());
    }
    _exit(status);
  }
  close(fds[1]);
  return {child, std::make_unique<SocketPairBootstrap>(fds[0], 0)};
}

int wait_exit_status(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const size_t kSizes[] = {0, 1, 4 << 10, 8 << 20, 64 << 20};

class ShmProcessTest : public ::testing::TestWithParam<bool> {
 protected:
  ShmTransportOptions options() const { return testing::cma_options(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Cma, ShmProcessTest, ::testing::Bool(),
                         testing::cma_param_name<::testing::TestParamInfo<bool>>);

// The child echoes every message back; the parent checks what returns.
TEST_P(ShmProcessTest, MessagesOfEverySizeMakeARoundTrip) {
  const ShmTransportOptions opts = options();
  Forked forked = fork_rank1([&](Bootstrap& bootstrap) {
    auto transport = create_shm_transport(bootstrap, {0, 1}, opts);
    for (size_t bytes : kSizes) {
      std::vector<std::byte> buffer(bytes);
      Completion recv, send;
      transport->post_recv(0, bytes, buffer.data(), bytes, &recv);
      if (!drive_one(*transport, {&recv}) || recv.state.load() != Completion::kDone) return 1;
      transport->post_send(0, bytes, buffer.data(), bytes, &send);
      if (!drive_one(*transport, {&send}) || send.state.load() != Completion::kDone) return 2;
    }
    bootstrap.allgather({});
    return 0;
  });
  auto transport = create_shm_transport(*forked.bootstrap, {0, 1}, opts);
  EXPECT_TRUE(testing::shm_entries_of(getpid()).empty()) << "segment names must go once every peer mapped them";
  for (size_t bytes : kSizes) {
    auto out = pattern(bytes, static_cast<int>(bytes % 251));
    std::vector<std::byte> back(bytes);
    Completion send, recv;
    transport->post_recv(1, bytes, back.data(), bytes, &recv);
    transport->post_send(1, bytes, out.data(), bytes, &send);
    ASSERT_TRUE(drive_one(*transport, {&send, &recv})) << bytes << " bytes";
    ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
    EXPECT_EQ(back, out) << bytes << " bytes";
  }
  forked.bootstrap->allgather({});
  transport.reset();
  EXPECT_EQ(wait_exit_status(forked.child), 0);
  EXPECT_TRUE(testing::shm_entries_of(forked.child).empty());
}

// The child is killed (SIGKILL, no cleanup) while it sleeps in
// wait_for_activity and the parent has a receive and a large send pending
// toward it: both fail within a couple of seconds, naming the peer, even
// before the parent reaps the child. Sending to it afterwards (its wake
// socket is gone, its segment still says it sleeps) must not raise SIGPIPE.
TEST_P(ShmProcessTest, PeerKilledWithSigkillFailsPendingTransfers) {
  const ShmTransportOptions opts = options();
  Forked forked = fork_rank1([&](Bootstrap& bootstrap) {
    auto transport = create_shm_transport(bootstrap, {0, 1}, opts);
    uint64_t value = 0;
    Completion recv, never;
    transport->post_recv(0, 1, &value, sizeof(value), &recv);
    drive_one(*transport, {&recv});
    transport->post_recv(0, 99, &value, sizeof(value), &never);
    bootstrap.allgather({});
    drive_one(*transport, {&never}, 60s);  // sleeps until killed
    return 3;
  });
  auto transport = create_shm_transport(*forked.bootstrap, {0, 1}, opts);
  uint64_t value = 7, never = 0;
  Completion send, doomed_recv, doomed_big, late_small;
  transport->post_send(1, 1, &value, sizeof(value), &send);
  ASSERT_TRUE(drive_one(*transport, {&send}));
  forked.bootstrap->allgather({});
  // 16 MiB: a rendezvous offer with CMA; without, it fills the ring and waits.
  auto big = pattern(16 << 20, 1);
  transport->post_recv(1, 3, &never, sizeof(never), &doomed_recv);
  transport->post_send(1, 4, big.data(), big.size(), &doomed_big);
  std::this_thread::sleep_for(50ms);  // the child is asleep
  ASSERT_EQ(kill(forked.child, SIGKILL), 0);
  std::this_thread::sleep_for(20ms);
  transport->post_send(1, 5, &value, sizeof(value), &late_small);

  auto start = std::chrono::steady_clock::now();
  bool ended = drive_one(*transport, {&doomed_recv, &doomed_big, &late_small}, 10s);
  double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(ended) << "still pending " << elapsed_s << " s after the peer died";
  EXPECT_LT(elapsed_s, 2.0);
  EXPECT_EQ(doomed_recv.state.load(), Completion::kFailed);
  EXPECT_EQ(doomed_big.state.load(), Completion::kFailed);
  EXPECT_NE(doomed_recv.error.find("peer 1"), std::string::npos) << doomed_recv.error;
  EXPECT_NE(doomed_recv.error.find("died"), std::string::npos) << doomed_recv.error;
  // With CMA the small send was copied into the ring at once, as eager sends
  // are; without, it queued behind the big one and fails with it.
  EXPECT_EQ(late_small.state.load(), GetParam() ? Completion::kDone : Completion::kFailed);
  std::printf("peer death noticed after %.3f s: %s\n", elapsed_s, doomed_recv.error.c_str());

  Completion late;  // later transfers with the dead peer fail at once
  transport->post_recv(1, 6, &never, sizeof(never), &late);
  EXPECT_EQ(late.state.load(), Completion::kFailed);

  EXPECT_EQ(wait_exit_status(forked.child), 128 + SIGKILL);
  EXPECT_TRUE(testing::shm_entries_of(forked.child).empty());
  EXPECT_TRUE(testing::shm_entries_of(getpid()).empty());
}

// A node-shared send buffer in another process is mapped and read in
// place (pidfd_getfd), and the mapping follows the sender's later writes.
TEST(ShmProcessView, PeersNodeSharedBufferIsReadInPlace) {
  constexpr size_t kBytes = 2 << 20;
  Forked forked = fork_rank1([&](Bootstrap& bootstrap) {
    auto transport = create_shm_transport(bootstrap, {0, 1}, testing::cma_options(true));
    auto* buffer = static_cast<std::byte*>(alloc_node_shared(kBytes));
    for (int round = 0; round < 2; ++round) {
      auto data = pattern(kBytes, 20 + round);
      std::copy(data.begin(), data.end(), buffer);
      Completion send;
      transport->post_send(0, 70 + round, buffer, kBytes, &send);
      if (!drive_one(*transport, {&send}) || send.state.load() != Completion::kDone) return 1;
    }
    bootstrap.allgather({});
    free_node_shared(buffer);
    return 0;
  });
  auto transport = create_shm_transport(*forked.bootstrap, {0, 1}, testing::cma_options(true));
  std::vector<std::byte> staging(kBytes);
  for (int round = 0; round < 2; ++round) {
    Completion recv;
    transport->post_recv_view(1, 70 + round, staging.data(), kBytes, &recv);
    ASSERT_TRUE(drive_one(*transport, {&recv}));
    ASSERT_EQ(recv.state.load(), Completion::kDone) << recv.error;
    EXPECT_NE(recv.view, staging.data()) << "not mapped from the other process";
    const auto expected = pattern(kBytes, 20 + round);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), recv.view)) << "round " << round;
    transport->release_view(1, &recv);
  }
  forked.bootstrap->allgather({});
  transport.reset();
  EXPECT_EQ(wait_exit_status(forked.child), 0);
}

TEST(ShmSegmentNames, NoneRemainWhileTransportsLiveOrAfter) {
  {
    auto world = testing::make_shm_world(3);
    EXPECT_TRUE(testing::shm_entries_of(getpid()).empty());
  }
  EXPECT_TRUE(testing::shm_entries_of(getpid()).empty());
}

}  // namespace
}  // namespace strata::runtime
