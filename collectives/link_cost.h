// The α–β description of a network that flat algorithms are costed on:
// sending b bytes between two ranks takes latency_s + b / bandwidth_bytes_per_s,
// and reducing b bytes locally takes b / reduce_bytes_per_s.
#pragma once

namespace strata::collectives {

struct LinkCost {
  // Starting estimates for ranks on one host over UCX shared memory (order of
  // magnitude of what strata-perf shows on the 2-core development machine).
  // Only the ranking of flat algorithms depends on them; the topology layer
  // replaces them with probed values per link class.
  double latency_s = 4e-6;
  double bandwidth_bytes_per_s = 4e9;
  double reduce_bytes_per_s = 4e9;
};

}  // namespace strata::collectives
