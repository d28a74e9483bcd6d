#include "runtime/bootstrap/mpi_bootstrap.h"

#include <climits>

#include "common/error.h"

namespace strata::runtime {
namespace {

void check_mpi(int result, int rank, const char* call) {
  if (result == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(result, text, &length);
  fail(ErrorCode::kSystem, {rank, -1, "MPI bootstrap"}, "{} failed: {}", call, text);
}

}  // namespace

MpiBootstrap::MpiBootstrap(MPI_Comm comm) {
  check_mpi(MPI_Comm_dup(comm, &comm_), -1, "MPI_Comm_dup");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

MpiBootstrap::~MpiBootstrap() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

std::vector<std::byte> MpiBootstrap::allgather(std::span<const std::byte> mine) {
  if (mine.size() > static_cast<size_t>(INT_MAX)) {
    fail(ErrorCode::kInvalidArgument, {rank_, -1, "MPI bootstrap"}, "allgather of {} bytes is too large", mine.size());
  }
  std::vector<std::byte> all(mine.size() * static_cast<size_t>(size_));
  int count = static_cast<int>(mine.size());
  check_mpi(MPI_Allgather(mine.data(), count, MPI_BYTE, all.data(), count, MPI_BYTE, comm_), rank_, "MPI_Allgather");
  return all;
}

}  // namespace strata::runtime
