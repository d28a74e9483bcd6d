// A peer process that dies mid-exchange fails the survivor's pending
// transfers within the timeout instead of hanging them (gloo's
// transport_test SIGKILLs a rank the same way).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "runtime/bootstrap/tcp_bootstrap.h"
#include "tests/transport/ucx_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;

constexpr double kTimeoutS = 10;

// Shared memory or not, and lanes (endpoints per peer): with several, the
// dead peer must fail the sends pending on every lane.
struct Case {
  bool allow_shared_memory;
  int lanes;
};

UcxTransportOptions test_options(const Case& c) {
  UcxTransportOptions options;
  options.allow_shared_memory = c.allow_shared_memory;
  options.lanes = c.lanes;
  options.timeout_s = kTimeoutS;  // also makes UCX check peers every second
  options.network_devices = "lo";
  return options;
}

// The child: rank 1. Connects, answers one message, then dies without
// any cleanup while rank 0 still has transfers pending toward it.
[[noreturn]] void run_child(int id_pipe, const Case& c) {
  alarm(30);  // never outlive a broken parent
  UniqueId id{};
  if (read(id_pipe, &id, sizeof(id)) != sizeof(id)) _exit(2);
  auto bootstrap = connect_tcp_bootstrap(id, 1, 2, kTimeoutS);
  auto transport = create_ucx_transport(*bootstrap, test_options(c));
  uint64_t value = 0;
  Completion recv, send;
  transport->post_recv(0, 1, &value, sizeof(value), &recv);
  testing::drive_one(*transport, {&recv});
  transport->post_send(0, 2, &value, sizeof(value), &send);
  testing::drive_one(*transport, {&send});
  bootstrap->allgather({});  // rank 0 has posted its doomed transfers
  raise(SIGKILL);
  _exit(3);
}

class UcxPeerFailureTest : public ::testing::TestWithParam<Case> {};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.allow_shared_memory ? "shm" : "noshm";
  return info.param.lanes == 1 ? name : name + "_lanes" + std::to_string(info.param.lanes);
}

INSTANTIATE_TEST_SUITE_P(Shm, UcxPeerFailureTest, ::testing::Values(Case{true, 1}, Case{false, 1}), case_name);
INSTANTIATE_TEST_SUITE_P(Lanes, UcxPeerFailureTest, ::testing::Values(Case{false, 3}), case_name);

TEST_P(UcxPeerFailureTest, KilledPeerFailsPendingTransfers) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  // Fork before this process starts any thread or UCX context, so the
  // child is a clean copy; the parent then creates the id (and its root thread).
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[1]);
    run_child(pipe_fds[0], GetParam());
  }
  close(pipe_fds[0]);
  // Reap the child as soon as it dies, as a launcher would: over shared
  // memory UCX checks whether the peer's process exists, and a zombie does.
  int status = 0;
  std::thread reaper([&] { waitpid(child, &status, 0); });
  UniqueId id = create_unique_id("", kTimeoutS);
  ASSERT_EQ(write(pipe_fds[1], &id, sizeof(id)), static_cast<ssize_t>(sizeof(id)));
  close(pipe_fds[1]);

  auto bootstrap = connect_tcp_bootstrap(id, 0, 2, kTimeoutS);
  auto transport = create_ucx_transport(*bootstrap, test_options(GetParam()));
  uint64_t value = 7, echo = 0;
  Completion send, recv;
  transport->post_send(1, 1, &value, sizeof(value), &send);
  transport->post_recv(1, 2, &echo, sizeof(echo), &recv);
  ASSERT_TRUE(testing::drive_one(*transport, {&send, &recv}));

  // Transfers the child will never match: a receive and a rendezvous send
  // on each lane (consecutive tags take consecutive lanes).
  uint64_t never = 0;
  std::vector<std::byte> big = testing::pattern(4 << 20, 1);
  Completion doomed_recv;
  std::vector<Completion> doomed_sends(GetParam().lanes);
  transport->post_recv(1, 3, &never, sizeof(never), &doomed_recv);
  std::vector<Completion*> doomed{&doomed_recv};
  for (int lane = 0; lane < GetParam().lanes; ++lane) {
    transport->post_send(1, 4 + lane, big.data(), big.size(), &doomed_sends[lane]);
    doomed.push_back(&doomed_sends[lane]);
  }
  bootstrap->allgather({});

  auto start = std::chrono::steady_clock::now();
  bool ended = testing::drive_one(*transport, doomed, 8s);
  double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  reaper.join();
  ASSERT_TRUE(ended) << "pending transfers still pending " << elapsed_s << " s after the peer died";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(doomed_recv.state.load(), Completion::kFailed);
  for (const Completion& send : doomed_sends) {
    EXPECT_EQ(send.state.load(), Completion::kFailed);
    EXPECT_NE(send.error.find("peer 1"), std::string::npos) << send.error;
  }
  EXPECT_NE(doomed_recv.error.find("peer 1"), std::string::npos) << doomed_recv.error;
  std::printf("peer failure noticed after %.3f s: %s\n", elapsed_s, doomed_recv.error.c_str());

  // Later transfers to the dead peer fail at once.
  Completion late;
  transport->post_send(1, 5, &value, sizeof(value), &late);
  EXPECT_TRUE(testing::drive_one(*transport, {&late}, 2s));
  EXPECT_EQ(late.state.load(), Completion::kFailed);
}

}  // namespace
}  // namespace strata::runtime
