// Ranks as MPI processes on one host: MpiBootstrap + the shm transport.
//   shm_mpi_test             ring exchanges of several sizes with verification,
//                            with CMA and without, timed (8 ranks on 2 cores
//                            must not crawl)
//   shm_mpi_test --pingpong  ranks 0 and 1: ping-pong latency/bandwidth of the
//                            transport next to Open MPI's MPI_Send/MPI_Recv
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/error.h"
#include "runtime/bootstrap/mpi_bootstrap.h"
#include "tests/shm/shm_pingpong.h"
#include "tests/shm/shm_test_util.h"
#include "tests/support/mpi_test_main.h"

namespace strata::runtime {
namespace {

// The world ranks that share this node, as MPI sees it.
std::vector<int> node_ranks() {
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_size = 0, world_rank = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  std::vector<int> ranks(node_size);
  MPI_Allgather(&world_rank, 1, MPI_INT, ranks.data(), 1, MPI_INT, node);
  MPI_Comm_free(&node);
  return ranks;
}

int run_ring(bool use_cma) {
  MpiBootstrap bootstrap(MPI_COMM_WORLD);
  ShmTransportOptions options;
  options.use_cma = use_cma;
  options.timeout_s = 60;
  auto transport = create_shm_transport(bootstrap, node_ranks(), options);
  const auto start = std::chrono::steady_clock::now();
  int problems = 0, round = 0, exchanges = 0;
  for (int repeat = 0; repeat < 50; ++repeat) {
    for (size_t bytes : {size_t{0}, size_t{1}, size_t{4} << 10, size_t{64} << 10, size_t{1} << 20, size_t{8} << 20}) {
      if (bytes == (size_t{8} << 20) && repeat % 10 != 0) continue;  // keep the run short on 2 cores
      problems += testing::ring_exchange(*transport, bytes, round++);
      ++exchanges;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bootstrap.allgather({});  // nobody tears down while a neighbour may still be receiving
  if (transport->rank() == 0) {
    std::printf("shm_mpi_test: %d ranks, CMA %s: %d ring exchanges in %.3f s\n", transport->size(),
                use_cma ? "on" : "off", exchanges, seconds);
  }
  if (seconds > 10) {
    std::fprintf(stderr, "rank %d: %d exchanges took %.1f s (limit 10 s)\n", transport->rank(), exchanges, seconds);
    ++problems;
  }
  return problems;
}

}  // namespace
}  // namespace strata::runtime

int main(int argc, char** argv) {
  return strata::testing::mpi_test_main(&argc, &argv, "shm_mpi_test", [&] {
    if (argc > 1 && std::strcmp(argv[1], "--pingpong") == 0) {
      strata::runtime::testing::run_pingpong_comparison(MPI_COMM_WORLD);
      return 0;
    }
    int problems = 0;
    for (bool cma : {true, false}) problems += strata::runtime::run_ring(cma);
    return problems;
  });
}
