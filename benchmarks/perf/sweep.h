// The measurement loop: for every datatype, reduction, root and size of the
// sweep, time Strata out-of-place and in-place (and Open MPI with
// --compare-mpi) the way nccl-tests does, then check the results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "benchmarks/perf/layout.h"
#include "benchmarks/perf/options.h"
#include "benchmarks/perf/report.h"
#include "runtime/memory/node_shared_memory.h"
#include "compression/codec.h"
#include "runtime/communicator/communicator.h"

namespace strata::perf {

class Sweep {
 public:
  // `algos`: the --algo passes ("" is the planner's choice; "name@format"
  // runs it on a communicator with that inter-site wire format).
  Sweep(runtime::Communicator& comm, const PerfOptions& options, std::vector<std::string> algos);

  // Runs every point collectively (all ranks call it) and adds each row to
  // `report`: each algorithm's whole sweep in turn, or with --interleave
  // every algorithm at one point before the next point, so that none runs
  // on connections that another's larger messages already opened up.
  void run(Report& report);

 private:
  using Call = std::function<void()>;
  struct Point {
    CollectiveRequest request;
    OpChoice op;
  };

  std::vector<Point> points() const;

  Row measure_point(const CollectiveRequest& request, OpChoice op);
  std::optional<Measurement> measure_strata(const CollectiveRequest& request, bool in_place, Row& row);
  std::optional<Measurement> measure_mpi(const CollectiveRequest& request, Row& row);
  std::optional<Measurement> measure(const Call& call, const CollectiveRequest& request, Placement placement,
                                     std::string_view variant, Row& row);
  bool probe(const Call& call, std::string_view variant, Row& row);
  double time_call(const Call& call) const;
  uint64_t check_call(const Call& call, const CollectiveRequest& request, Placement placement);
  Call strata_call(const CollectiveRequest& request, Placement placement) const;
  runtime::PlanChoice plan(const CollectiveRequest& request);
  std::vector<int> roots() const;

  // One --algo entry: an algorithm ("" = the planner) on a communicator
  // whose inter-site wire format is `format`.
  struct Pass {
    std::string algo, label;
    runtime::Communicator* comm;
    compression::Format format;
  };

  runtime::Communicator* comm_;  // the pass's
  const PerfOptions& options_;
  std::vector<Pass> passes_;
  const Pass* pass_ = nullptr;
  std::map<compression::Format, std::shared_ptr<runtime::Communicator>> wire_comms_;
  std::string algo_;          // the algorithm being measured
  bool compare_mpi_ = false;  // for the first algorithm only: Open MPI once is enough
  // Every variant uses these two buffers, sized for the largest point, as
  // nccl-tests allocates once: the timed loops then measure no allocation.
  // Heap memory, or with -R 1 node-shared memory, which ranks on one host
  // read from each other in place.
  HostBuffer send_buffer_;
  HostBuffer recv_buffer_;
  uint64_t seed_ = 0;
};

}  // namespace strata::perf
