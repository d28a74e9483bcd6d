// Ranks as MPI processes: MpiBootstrap + UCX transport, a ring exchange of
// several sizes with verification, with and without shared memory.
#include <mpi.h>

#include <cstdio>
#include <string>

#include "common/error.h"
#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/transport/ucx/ucx_transport.h"
#include "tests/transport/ucx_test_util.h"
#include "tests/support/mpi_test_main.h"

namespace strata::runtime {
namespace {

int run(bool allow_shared_memory) {
  MpiBootstrap bootstrap(MPI_COMM_WORLD);
  UcxTransportOptions options;
  options.allow_shared_memory = allow_shared_memory;
  options.timeout_s = 60;
  options.network_devices = "lo";  // hermetic: other interfaces on CI machines come and go
  auto transport = create_ucx_transport(bootstrap, options);
  int problems = 0, round = 0;
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{4} << 10, size_t{64} << 10, size_t{8} << 20}) {
    problems += testing::ring_exchange(*transport, bytes, round++);
  }
  std::string path = describe_ucx_path(*transport, (transport->rank() + 1) % transport->size());
  bool uses_shm = path.find("posix") != std::string::npos || path.find("sysv") != std::string::npos ||
                  path.find("cma") != std::string::npos;
  // Ranks here share one host, so UCX should pick shared memory exactly when allowed.
  if (uses_shm != allow_shared_memory) {
    std::fprintf(stderr, "rank %d: shared memory %s but %s:\n%s\n", transport->rank(), uses_shm ? "used" : "not used",
                 allow_shared_memory ? "allowed" : "disallowed", path.c_str());
    ++problems;
  }
  if (transport->rank() == 0) {
    size_t lane = path.find("lane[0]");
    std::printf("allow_shared_memory=%d: %s\n", allow_shared_memory,
                lane == std::string::npos ? path.c_str() : path.substr(lane, path.find('\n', lane) - lane).c_str());
  }
  // Nobody tears down while a neighbour may still be receiving.
  bootstrap.allgather({});
  return problems;
}

}  // namespace
}  // namespace strata::runtime

int main(int argc, char** argv) {
  return strata::testing::mpi_test_main(&argc, &argv, "ucx_mpi_test", [&] {
    int problems = 0;
    for (bool shm : {true, false}) problems += strata::runtime::run(shm);
    return problems;
  });
}
