// The main() of a multi-rank test program: runs `body` on every rank (an
// exception counts as one problem and is printed with the rank), sums the
// problems over ranks, prints one verdict line on rank 0, exits 0 or 1.
#pragma once

#include <mpi.h>

#include <cstdio>
#include <exception>

namespace strata::testing {

template <typename Body>
int mpi_test_main(int* argc, char*** argv, const char* name, Body body) {
  MPI_Init(argc, argv);
  int rank = 0, problems = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    problems = body();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "rank %d: %s\n", rank, error.what());
    problems += 1;
  }
  int total = 0;
  MPI_Allreduce(&problems, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("%s: %s (%d problems)\n", name, total == 0 ? "PASSED" : "FAILED", total);
  MPI_Finalize();
  return total == 0 ? 0 : 1;
}

}  // namespace strata::testing
