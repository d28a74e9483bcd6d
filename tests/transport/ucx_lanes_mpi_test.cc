// Lanes between MPI processes: with 3 UCP endpoints per peer over tcp, every
// rank sends many messages of mixed sizes to every other rank (both ways at
// once), receives are posted in a shuffled order (some after the data came),
// and every byte is checked. Then the process's own TCP sockets show that
// each lane is its own connection and that every lane carried data. With
// --set-lanes the transport starts with one lane and set_lanes() raises
// every peer's to 3 before the first message, as the communicator does
// from each link's measured bandwidth-delay product.
#include <mpi.h>
#include <linux/tcp.h>  // tcp_info with byte counters (glibc's netinet/tcp.h lacks them)
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/transport/ucx/ucx_transport.h"
#include "runtime/engine/wire_tag.h"
#include "tests/transport/ucx_test_util.h"
#include "tests/support/mpi_test_main.h"

namespace strata::runtime {
namespace {

constexpr int kLanes = 3;
constexpr int kMessagesPerPeer = 70;
// 7 sizes (coprime to 3 lanes, so each lane gets each size): empty, eager
// and rendezvous, 1 MiB and 3 MiB among them so every lane moves megabytes.
constexpr size_t kSizes[] = {0, 1, 4000, 64 << 10, 1 << 20, 200 << 10, 3 << 20};
constexpr uint64_t kBusyLaneBytes = 4 << 20;  // each lane to each peer carries more than this

struct Message {
  int peer;
  uint32_t index;
  std::vector<std::byte> data;
  Completion done;
};

// Bytes moved (sent + received) on each TCP socket this process holds,
// keyed by fd: TCP_INFO on our own descriptors, no root or ss needed.
std::map<int, uint64_t> tcp_socket_bytes() {
  std::map<int, uint64_t> bytes;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::stoi(entry.path().filename().string());
    tcp_info info{};
    socklen_t length = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) continue;  // not a TCP socket
    if (info.tcpi_state != 1 /* TCP_ESTABLISHED */) continue;
    bytes[fd] = info.tcpi_bytes_acked + info.tcpi_bytes_received;
  }
  return bytes;
}

uint64_t tag_of(int sender, uint32_t index) {
  return WireTag{.comm_id = 7, .point_to_point = false, .sequence = 1}.for_message(sender, index);
}

int exchange(Transport& transport, Bootstrap& bootstrap) {
  const int rank = transport.rank(), size = transport.size();
  std::deque<Message> outgoing, incoming;  // deque: Completion cannot move
  for (int peer = 0; peer < size; ++peer) {
    if (peer == rank) continue;
    for (uint32_t i = 0; i < kMessagesPerPeer; ++i) {
      size_t bytes = kSizes[i % std::size(kSizes)];
      outgoing.emplace_back(peer, i, testing::pattern(bytes, rank * 1000 + peer * 100 + static_cast<int>(i)));
      incoming.emplace_back(peer, i, std::vector<std::byte>(bytes));
    }
  }
  // Shuffled receive order, the same on no two ranks; the first half is
  // posted before any send, the rest after the senders had a head start.
  std::mt19937 random(1234 + rank);
  std::vector<Message*> order;
  for (Message& m : incoming) order.push_back(&m);
  std::shuffle(order.begin(), order.end(), random);
  auto post_recv = [&](Message* m) {
    transport.post_recv(m->peer, tag_of(m->peer, m->index), m->data.data(), m->data.size(), &m->done);
  };
  std::for_each(order.begin(), order.begin() + order.size() / 2, post_recv);
  bootstrap.allgather({});
  for (Message& m : outgoing) transport.post_send(m.peer, tag_of(rank, m.index), m.data.data(), m.data.size(), &m.done);
  for (int k = 0; k < 2000; ++k) transport.progress();  // let some arrive unexpected
  std::for_each(order.begin() + order.size() / 2, order.end(), post_recv);

  std::vector<Completion*> all;
  for (auto* list : {&outgoing, &incoming})
    for (Message& m : *list) all.push_back(&m.done);
  if (!testing::drive_one(transport, all, std::chrono::seconds(60))) {
    std::fprintf(stderr, "rank %d: lanes exchange timed out\n", rank);
    return 1;
  }
  int problems = 0;
  for (Message& m : incoming) {
    auto expected = testing::pattern(m.data.size(), m.peer * 1000 + rank * 100 + static_cast<int>(m.index));
    if (m.done.state.load() != Completion::kDone || m.done.received_bytes != m.data.size() || m.data != expected) {
      std::fprintf(stderr, "rank %d: message %u from %d: wrong (%s)\n", rank, m.index, m.peer, m.done.error.c_str());
      ++problems;
    }
  }
  for (Message& m : outgoing) {
    if (m.done.state.load() != Completion::kDone) {
      std::fprintf(stderr, "rank %d: send %u to %d: %s\n", rank, m.index, m.peer, m.done.error.c_str());
      ++problems;
    }
  }
  return problems;
}

// Every lane is its own TCP connection and carries its share: at least
// kLanes busy sockets per peer appeared while the transport ran.
int check_connections(const std::map<int, uint64_t>& before, int rank, int size) {
  int busy = 0;
  for (const auto& [fd, bytes] : tcp_socket_bytes()) {
    auto old = before.find(fd);
    uint64_t moved = bytes - (old == before.end() ? 0 : std::min(old->second, bytes));
    if (moved > kBusyLaneBytes) ++busy;
  }
  int wanted = kLanes * (size - 1);
  if (busy < wanted) {
    std::fprintf(stderr, "rank %d: %d TCP connections carried > %llu bytes; %d lanes x %d peers want %d\n", rank,
                 busy, static_cast<unsigned long long>(kBusyLaneBytes), kLanes, size - 1, wanted);
    return 1;
  }
  if (rank == 0) std::printf("rank 0: %d busy TCP connections for %d peers x %d lanes\n", busy, size - 1, kLanes);
  return 0;
}

int run(bool set_lanes) {
  MpiBootstrap bootstrap(MPI_COMM_WORLD);
  UcxTransportOptions options;
  options.allow_shared_memory = false;  // tcp, where lanes are connections
  options.timeout_s = 60;
  options.network_devices = "lo";
  options.lanes = set_lanes ? 1 : kLanes;
  const auto before = tcp_socket_bytes();
  auto transport = create_ucx_transport(bootstrap, options);
  if (set_lanes)
    for (int peer = 0; peer < transport->size(); ++peer) transport->set_lanes(peer, kLanes);
  int problems = exchange(*transport, bootstrap);
  problems += check_connections(before, transport->rank(), transport->size());
  bootstrap.allgather({});  // nobody tears down while a peer may still be receiving
  return problems;
}

}  // namespace
}  // namespace strata::runtime

int main(int argc, char** argv) {
  return strata::testing::mpi_test_main(&argc, &argv, "ucx_lanes_mpi_test", [&] {
    const bool set_lanes = argc > 1 && std::string(argv[1]) == "--set-lanes";
    return strata::runtime::run(set_lanes);
  });
}
