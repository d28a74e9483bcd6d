// Bootstrap over an MPI communicator, for the perf harness and MPI tests.
// Only strata_bootstrap_mpi links MPI; libnccl.so never does.
#pragma once

#include <mpi.h>

#include "runtime/bootstrap/bootstrap.h"

namespace strata::runtime {

class MpiBootstrap final : public Bootstrap {
 public:
  // Duplicates `comm` so our collectives never match the caller's.
  explicit MpiBootstrap(MPI_Comm comm);
  ~MpiBootstrap() override;
  MpiBootstrap(const MpiBootstrap&) = delete;
  MpiBootstrap& operator=(const MpiBootstrap&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // MPI_Allgather has no timeout; a missing rank is MPI's to report.
  std::vector<std::byte> allgather(std::span<const std::byte> mine) override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 0;
};

}  // namespace strata::runtime
