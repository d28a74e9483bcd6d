// Runs every rank's schedule of one algorithm in this process, on the
// in-process transport, and checks the results against a reference that
// knows nothing about the algorithm.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "collectives/algorithm.h"

namespace strata::testing {

using Bytes = std::vector<std::byte>;

struct RunResult {
  std::vector<Bytes> outputs;  // each rank's receive buffer after the run
  // Empty, or the first write outside the results: a send buffer changed
  // (out of place), or bytes past a rank's receive region (a non-root's
  // whole receive buffer) overwritten.
  std::string damage;
};

// Fills each rank's send buffer with values for which the reduction is exact
// in every datatype (small integers), or at least well-conditioned.
std::vector<Bytes> make_inputs(const collectives::CollectiveRequest& request);

// What each rank's receive buffer must hold, computed directly from inputs.
std::vector<Bytes> expected_outputs(const collectives::CollectiveRequest& request, const std::vector<Bytes>& inputs);

// Runs `algorithm` for all ranks. In-place runs alias the buffers the way
// NCCL defines in-place for the collective.
// `network` says where ranks are (hierarchical algorithms); default one node.
RunResult run_on_loopback(const collectives::Algorithm& algorithm, const collectives::CollectiveRequest& request,
                          const std::vector<Bytes>& inputs, bool in_place,
                          const collectives::Network& network = collectives::Network::uniform());

// Writes `value` as one element of `type` into `out` (PreMulSum scalars).

// Empty when equal (within the datatype's tolerance); else the first mismatch.
std::string compare_outputs(const collectives::CollectiveRequest& request, const std::vector<Bytes>& expected,
                            const std::vector<Bytes>& got);
// The same, after the run's damage check.
std::string compare_outputs(const collectives::CollectiveRequest& request, const std::vector<Bytes>& expected,
                            const RunResult& got);

}  // namespace strata::testing
