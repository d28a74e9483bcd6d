// Ping-pong latency and bandwidth of the shm transport between world ranks
// 0 and 1, next to Open MPI's MPI_Send/MPI_Recv in the same processes, so
// both run on the same (shared, noisy) machine at the same time.
#pragma once

#include <mpi.h>

namespace strata::runtime::testing {

// Collective over `comm` (ranks other than 0 and 1 only wait); rank 0 prints a table.
void run_pingpong_comparison(MPI_Comm comm);

}  // namespace strata::runtime::testing
