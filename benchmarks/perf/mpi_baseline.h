// --compare-mpi: the Open MPI call that does what a Strata request does, on
// the same buffers, so that both are measured side by side in one job.
#pragma once

#include <functional>
#include <optional>

#include "benchmarks/perf/layout.h"

namespace strata::perf {

// A callable that runs the equivalent MPI collective on MPI_COMM_WORLD,
// out-of-place at `placement`, or nullopt when MPI cannot express it (a count
// beyond INT_MAX). Average and pre-multiplied sum run MPI_SUM followed by the
// same local finish Strata applies (MPI has no such operators), inside the
// timed call; half, bfloat16 and FP8 reduce with a user-defined MPI_Op that
// calls common/host_reduce, which is what an MPI user would have to write.
std::optional<std::function<void()>> mpi_call(const CollectiveRequest& request, Placement placement, int rank);

}  // namespace strata::perf
