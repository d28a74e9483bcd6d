// How a UCX peer's end is told apart: an orderly exit (goodbye) is not a
// failure even while its last messages are still being read; a death is
// reported to ranks that never talked to the dead one (failure notice); a
// stopped peer is failed after the peer timeout, a busy one is not. Each
// rank is a fork()ed process, so exits and deaths are real.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/transport/ucx/ucx_control.h"
#include "tests/transport/ucx_test_util.h"

namespace strata::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kTimeoutS = 10;
constexpr double kPeerTimeoutS = 1.5;
constexpr int kLanes = 4;
constexpr int kMessages = 64;
constexpr size_t kMessageBytes = 4096;  // eager: a send completes before the peer has read it

UcxTransportOptions options(bool watch_local_processes) {
  UcxTransportOptions result;
  result.allow_shared_memory = false;
  result.lanes = kLanes;
  result.timeout_s = kTimeoutS;
  result.network_devices = "lo";
  result.peer_timeout_s = kPeerTimeoutS;
  result.watch_local_processes = watch_local_processes;
  return result;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Ranks 1.. are fork()ed children running `child(rank, id)` (its return is
// the exit code); rank 0 is this process, running `parent(id, children)`.
// Forks before this process starts any thread or UCX context.
void run_ranks(int nranks, const std::function<int(int, const UniqueId&)>& child,
               const std::function<void(const UniqueId&, const std::vector<pid_t>&)>& parent) {
  std::vector<pid_t> children;
  std::vector<int> id_pipes;
  for (int rank = 1; rank < nranks; ++rank) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      alarm(60);  // never outlive a broken parent
      close(fds[1]);
      UniqueId id{};
      if (read(fds[0], &id, sizeof(id)) != sizeof(id)) _exit(2);
      const int code = child(rank, id);
      std::fflush(stdout);
      _exit(code);
    }
    close(fds[0]);
    children.push_back(pid);
    id_pipes.push_back(fds[1]);
  }
  UniqueId id = create_unique_id("", kTimeoutS);
  for (int fd : id_pipes) {
    ASSERT_EQ(write(fd, &id, sizeof(id)), static_cast<ssize_t>(sizeof(id)));
    close(fd);
  }
  parent(id, children);
}

// Progresses until `pid` has exited (reaping it) or `limit` passes, and
// returns its wait status (-1 on timeout); `each` runs every round.
int progress_until_exit(Transport& transport, pid_t pid, std::chrono::milliseconds limit,
                        const std::function<void()>& each) {
  const auto deadline = Clock::now() + limit;
  int status = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    if (!transport.progress()) transport.wait_for_activity(10ms);
    each();
  }
  return -1;
}

TEST(UcxDeparture, AnOrderlyExitIsNotAFailureWhileItsLastMessagesAreRead) {
  run_ranks(
      2,
      [](int rank, const UniqueId& id) {
        auto bootstrap = connect_tcp_bootstrap(id, rank, 2, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(true));
        uint64_t go = 0;
        Completion go_done;
        transport->post_recv(0, 1000, &go, sizeof(go), &go_done);
        if (!testing::drive_one(*transport, {&go_done})) return 3;
        std::vector<std::vector<std::byte>> data;
        std::vector<Completion> sends(kMessages);
        std::vector<Completion*> all;
        for (int index = 0; index < kMessages; ++index) {
          data.push_back(testing::pattern(kMessageBytes, index));
          transport->post_send(0, index, data.back().data(), kMessageBytes, &sends[index]);  // over every lane
          all.push_back(&sends[index]);
        }
        if (!testing::drive_one(*transport, all)) return 4;
        transport.reset();  // at once: rank 0 has read none of them yet
        return 0;
      },
      [](const UniqueId& id, const std::vector<pid_t>& children) {
        auto bootstrap = connect_tcp_bootstrap(id, 0, 2, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(true));
        uint64_t go = 1;
        Completion go_done;
        transport->post_send(1, 1000, &go, sizeof(go), &go_done);
        ASSERT_TRUE(testing::drive_one(*transport, {&go_done}));
        std::string seen_failure;
        int status = progress_until_exit(*transport, children[0], 15s, [&] {
          if (seen_failure.empty()) seen_failure = transport->peer_failure(1);
        });
        ASSERT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
        std::this_thread::sleep_for(1200ms);  // past the process check's interval
        transport->progress();
        if (seen_failure.empty()) seen_failure = transport->peer_failure(1);
        EXPECT_EQ(seen_failure, "") << "an orderly exit was taken for a failure";

        // Everything it sent before leaving is still here to be received.
        std::vector<std::vector<std::byte>> got(kMessages, std::vector<std::byte>(kMessageBytes));
        std::vector<Completion> receives(kMessages);
        std::vector<Completion*> all;
        for (int index = 0; index < kMessages; ++index) {
          transport->post_recv(1, index, got[index].data(), kMessageBytes, &receives[index]);
          all.push_back(&receives[index]);
        }
        ASSERT_TRUE(testing::drive_one(*transport, all, 5s));
        for (int index = 0; index < kMessages; ++index) {
          ASSERT_EQ(receives[index].state.load(), Completion::kDone) << index << ": " << receives[index].error;
          EXPECT_EQ(got[index], testing::pattern(kMessageBytes, index)) << "message " << index;
        }
        // It is gone all the same: a send to it fails and says so.
        Completion late;
        transport->post_send(1, 2000, &go, sizeof(go), &late);
        ASSERT_TRUE(testing::drive_one(*transport, {&late}, 5s));
        EXPECT_EQ(late.state.load(), Completion::kFailed);
        EXPECT_NE(late.error.find("has left"), std::string::npos) << late.error;
      });
}

// Rank 2 talks only to rank 0; rank 1 dies while rank 0 waits on it. With
// processes not watched (as across hosts), rank 2 can learn of it only
// from rank 0's notice.
TEST(UcxDeparture, ADeathIsReportedToRanksThatNeverTalkedToTheDead) {
  run_ranks(
      3,
      [](int rank, const UniqueId& id) {
        auto bootstrap = connect_tcp_bootstrap(id, rank, 3, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(false));
        uint64_t value = 0;
        Completion done;
        transport->post_recv(0, 1, &value, sizeof(value), &done);
        if (!testing::drive_one(*transport, {&done})) return 3;
        if (rank == 1) {
          bootstrap->allgather({});  // rank 0 waits on this rank now
          raise(SIGKILL);
        }
        if (!transport->peer_failure(1).empty()) return 4;  // the negative control: not before the death
        bootstrap->allgather({});
        const auto start = Clock::now();
        std::string why;
        while (why.empty() && seconds_since(start) < 5) {
          if (!transport->progress()) transport->wait_for_activity(10ms);
          why = transport->peer_failure(1);
        }
        std::printf("rank 2 learned after %.3f s: %s\n", seconds_since(start), why.c_str());
        if (why.find("rank 0 reports it gone") == std::string::npos) return 5;
        return seconds_since(start) < 1.0 ? 0 : 6;
      },
      [](const UniqueId& id, const std::vector<pid_t>& children) {
        int dead_status = 0;
        std::thread reaper([&] { waitpid(children[0], &dead_status, 0); });
        auto bootstrap = connect_tcp_bootstrap(id, 0, 3, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(false));
        uint64_t value = 7, never = 0;
        Completion to1, to2, from1;
        transport->post_send(1, 1, &value, sizeof(value), &to1);
        transport->post_send(2, 1, &value, sizeof(value), &to2);
        ASSERT_TRUE(testing::drive_one(*transport, {&to1, &to2}));
        transport->post_recv(1, 2, &never, sizeof(never), &from1);
        bootstrap->allgather({});
        ASSERT_TRUE(testing::drive_one(*transport, {&from1}, 8s));
        EXPECT_EQ(from1.state.load(), Completion::kFailed);
        reaper.join();
        int status = 0;
        int observer_status = progress_until_exit(*transport, children[1], 15s, [] {});
        status = observer_status;
        ASSERT_TRUE(WIFEXITED(status)) << status;
        EXPECT_EQ(WEXITSTATUS(status), 0) << "rank 2: 3 setup, 4 failed too early, 5 never learned, 6 too late";
      });
}

// Rank 1 stops (SIGSTOP) while rank 0 waits on it: failed after the peer
// timeout, naming it. Rank 1 busy elsewhere for longer than the timeout
// (not calling the transport) is alive: its liveness thread answers.
void wait_on_a_peer_that(bool stops) {
  run_ranks(
      2,
      [stops](int rank, const UniqueId& id) {
        auto bootstrap = connect_tcp_bootstrap(id, rank, 2, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(true));
        uint64_t value = 0;
        Completion done;
        transport->post_send(0, 1, &value, sizeof(value), &done);
        if (!testing::drive_one(*transport, {&done})) return 3;
        bootstrap->allgather({});
        if (stops) raise(SIGSTOP);
        std::this_thread::sleep_for(std::chrono::duration<double>(3 * kPeerTimeoutS));  // "computing"
        value = 42;
        transport->post_send(0, 2, &value, sizeof(value), &done);
        if (!testing::drive_one(*transport, {&done})) return 4;
        bootstrap->allgather({});
        return 0;
      },
      [stops](const UniqueId& id, const std::vector<pid_t>& children) {
        auto bootstrap = connect_tcp_bootstrap(id, 0, 2, kTimeoutS);
        auto transport = create_ucx_transport(*bootstrap, options(true));
        uint64_t value = 0;
        Completion first, second;
        transport->post_recv(1, 1, &value, sizeof(value), &first);
        ASSERT_TRUE(testing::drive_one(*transport, {&first}));
        bootstrap->allgather({});
        const auto start = Clock::now();
        transport->post_recv(1, 2, &value, sizeof(value), &second);
        ASSERT_TRUE(testing::drive_one(*transport, {&second}, 10s));
        const double elapsed = seconds_since(start);
        if (stops) {
          EXPECT_EQ(second.state.load(), Completion::kFailed);
          EXPECT_NE(second.error.find("STRATA_PEER_TIMEOUT"), std::string::npos) << second.error;
          EXPECT_NE(second.error.find("peer 1"), std::string::npos) << second.error;
          EXPECT_GE(elapsed, kPeerTimeoutS - 0.2);
          EXPECT_LE(elapsed, kPeerTimeoutS + 1.0);
          std::printf("stopped peer failed after %.3f s: %s\n", elapsed, second.error.c_str());
          kill(children[0], SIGKILL);
          waitpid(children[0], nullptr, 0);
        } else {
          EXPECT_EQ(second.state.load(), Completion::kDone) << second.error;
          EXPECT_EQ(value, 42u);
          EXPECT_GE(elapsed, 2 * kPeerTimeoutS);  // it did stay silent past the timeout
          bootstrap->allgather({});
          int status = 0;
          waitpid(children[0], &status, 0);
          EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
        }
      });
}

TEST(UcxLiveness, AStoppedPeerFailsAfterThePeerTimeout) { wait_on_a_peer_that(true); }
TEST(UcxLiveness, ABusyPeerIsNotFailed) { wait_on_a_peer_that(false); }

TEST(UcxControlMessage, ParsesOnlyWhatASenderCouldHaveMade) {
  const ControlMessage notice = make_control_message(ControlKind::kFailed, 3, std::string(500, 'x'));
  EXPECT_EQ(notice.text_bytes, kControlTextBytes);  // cut, not overrun
  auto bytes = std::as_bytes(std::span(&notice, 1));
  auto parsed = parse_control_message(bytes, 4);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->subject, 3);
  EXPECT_EQ(parsed->reason().size(), kControlTextBytes);
  EXPECT_FALSE(parse_control_message(bytes, 3));               // subject out of this world
  EXPECT_FALSE(parse_control_message(bytes.first(255), 4));    // short
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  copy[0] = std::byte{0};
  EXPECT_FALSE(parse_control_message(copy, 4));  // magic
  copy.assign(bytes.begin(), bytes.end());
  copy[4] = std::byte{9};
  EXPECT_FALSE(parse_control_message(copy, 4));  // kind
  copy.assign(bytes.begin(), bytes.end());
  copy[12] = std::byte{0xff};
  EXPECT_FALSE(parse_control_message(copy, 4));  // text length
  EXPECT_EQ(control_sender(control_tag(12345)), 12345);
  EXPECT_EQ(control_tag(7) & kControlTagMask, control_tag(0));  // one receive matches every sender
}

}  // namespace
}  // namespace strata::runtime
