#include "tests/shm/shm_pingpong.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/transport/shm/shm_transport.h"

namespace strata::runtime::testing {
namespace {

using Clock = std::chrono::steady_clock;

void spin(Transport& transport, Completion& a, Completion& b) {
  while (a.state.load(std::memory_order_acquire) == Completion::kPending ||
         b.state.load(std::memory_order_acquire) == Completion::kPending) {
    transport.progress();
  }
}

// One round trip of `bytes` between ranks 0 and 1 over the transport.
void shm_round_trip(Transport& transport, std::byte* out, std::byte* in, size_t bytes, uint64_t tag) {
  const int peer = 1 - transport.rank();
  Completion send, recv;
  transport.post_recv(peer, tag, in, bytes, &recv);
  if (transport.rank() == 0) {
    transport.post_send(peer, tag, out, bytes, &send);
    spin(transport, send, recv);
  } else {
    spin(transport, recv, recv);
    transport.post_send(peer, tag, out, bytes, &send);
    spin(transport, send, send);
  }
}

// Both ranks send `bytes` to each other at once, as a 2-rank allreduce does.
void shm_exchange(Transport& transport, std::byte* out, std::byte* in, size_t bytes, uint64_t tag) {
  const int peer = 1 - transport.rank();
  Completion send, recv;
  transport.post_recv(peer, tag, in, bytes, &recv);
  transport.post_send(peer, tag, out, bytes, &send);
  spin(transport, send, recv);
}

void mpi_round_trip(MPI_Comm comm, int rank, std::byte* out, std::byte* in, size_t bytes) {
  const int count = static_cast<int>(bytes);
  if (rank == 0) {
    MPI_Send(out, count, MPI_BYTE, 1, 0, comm);
    MPI_Recv(in, count, MPI_BYTE, 1, 0, comm, MPI_STATUS_IGNORE);
  } else {
    MPI_Recv(in, count, MPI_BYTE, 0, 0, comm, MPI_STATUS_IGNORE);
    MPI_Send(out, count, MPI_BYTE, 0, 0, comm);
  }
}

void mpi_exchange(MPI_Comm comm, int rank, std::byte* out, std::byte* in, size_t bytes) {
  const int count = static_cast<int>(bytes);
  MPI_Sendrecv(out, count, MPI_BYTE, 1 - rank, 0, in, count, MPI_BYTE, 1 - rank, 0, comm, MPI_STATUS_IGNORE);
}

// The median time in microseconds of `iterations` calls, timed one by one
// after a warm-up: on a shared machine a call now and then waits for a time
// slice, and the median ignores those. Rank 0's value, on both ranks.
double median_us(MPI_Comm pair, int iterations, const std::function<void(int)>& call) {
  std::vector<double> us(iterations);
  for (int i = 0; i < std::max(iterations / 10, 2); ++i) call(i);
  MPI_Barrier(pair);
  for (int i = 0; i < iterations; ++i) {
    auto start = Clock::now();
    call(i);
    us[i] = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  std::nth_element(us.begin(), us.begin() + iterations / 2, us.end());
  double median = us[iterations / 2];
  MPI_Bcast(&median, 1, MPI_DOUBLE, 0, pair);
  return median;
}

using ShmCall = void (*)(Transport&, std::byte*, std::byte*, size_t, uint64_t);
using MpiCall = void (*)(MPI_Comm, int, std::byte*, std::byte*, size_t);

// One table: per size, µs per message and GB/s for the transport with CMA,
// without (streamed through the ring), and for Open MPI. `halve` turns a
// round trip into one way.
void print_table(const char* title, MPI_Comm pair, int rank, Transport& cma, Transport& ring, ShmCall shm_call,
                 MpiCall mpi_call, double divisor) {
  const size_t max_bytes = size_t{64} << 20;
  std::vector<std::byte> out(max_bytes, std::byte{1}), in(max_bytes, std::byte{0});
  if (rank == 0) {
    std::printf("%s\n%10s %11s %11s %11s %9s %9s %9s\n", title, "bytes", "cma_us", "ring_us", "mpi_us", "cma_GB/s",
                "ring_GB/s", "mpi_GB/s");
  }
  for (size_t bytes = 8; bytes <= max_bytes;
       bytes = bytes < max_bytes && bytes * 4 > max_bytes ? max_bytes : bytes * 4) {
    const int iterations = static_cast<int>(std::clamp<size_t>((size_t{256} << 20) / bytes, 20, 10000));
    double us[3];
    int column = 0;
    for (Transport* transport : {&cma, &ring}) {
      us[column++] =
          median_us(pair, iterations,
                    [&](int i) { shm_call(*transport, out.data(), in.data(), bytes, static_cast<uint64_t>(i)); }) /
          divisor;
    }
    us[2] = median_us(pair, iterations, [&](int) { mpi_call(pair, rank, out.data(), in.data(), bytes); }) / divisor;
    if (rank == 0) {
      std::printf("%10zu %11.3f %11.3f %11.3f %9.2f %9.2f %9.2f\n", bytes, us[0], us[1], us[2], bytes / us[0] / 1e3,
                  bytes / us[1] / 1e3, bytes / us[2] / 1e3);
      std::fflush(stdout);
    }
  }
}

}  // namespace

void run_pingpong_comparison(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  MpiBootstrap bootstrap(comm);
  // Every rank takes part in the setup; only 0 and 1 are connected.
  const std::vector<int> local = rank < 2 ? std::vector<int>{0, 1} : std::vector<int>{rank};
  ShmTransportOptions ring_options;
  ring_options.use_cma = false;
  auto cma = create_shm_transport(bootstrap, local, {});
  auto ring = create_shm_transport(bootstrap, local, ring_options);
  MPI_Comm pair;
  MPI_Comm_split(comm, rank < 2 ? 0 : MPI_UNDEFINED, rank, &pair);
  if (rank < 2) {
    print_table("ping-pong, one way (median)", pair, rank, *cma, *ring, shm_round_trip, mpi_round_trip, 2);
    print_table("exchange, both ways at once (median)", pair, rank, *cma, *ring, shm_exchange, mpi_exchange, 1);
    MPI_Comm_free(&pair);
  }
  bootstrap.allgather({});
}

}  // namespace strata::runtime::testing
