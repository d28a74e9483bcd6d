// Command line of strata-perf: nccl-tests' flags (-b -e -f -i -n -w -c -o -d
// -r) so that scripts written for nccl-tests run unchanged, plus Strata's
// own (--algo, --json, --explain, --compare-mpi).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectives/request.h"
#include "common/datatype.h"

namespace strata::perf {

// One reduction as the harness names it. "avg" and "premulsum" are a sum
// with a finishing step (common/datatype.h), as in NCCL.
enum class OpChoice { kSum, kProd, kMax, kMin, kAvg, kPreMulSum };

struct PerfOptions {
  // kSend stands for "sendrecv": a ring shift made of grouped send/recv.
  collectives::Collective collective = collectives::Collective::kAllReduce;
  uint64_t min_bytes = uint64_t{32} << 20;  // nccl-tests' default -b 32M
  uint64_t max_bytes = uint64_t{32} << 20;  // nccl-tests' default -e 32M
  uint64_t step_factor = 2;
  uint64_t step_bytes = 0;  // > 0: sizes grow by this many bytes instead of by step_factor
  int iters = 20;
  int warmup_iters = 5;
  int check = 1;
  std::vector<DataType> types{DataType::kFloat32};
  std::vector<OpChoice> ops{OpChoice::kSum};
  int root = 0;  // -1: every rank in turn
  bool out_of_place = true;
  bool in_place = true;
  std::string algo;
  std::string json_path;
  std::string metrics_path;  // --metrics-out: per-rank Prometheus text at the end
  bool explain = false;
  bool compare_mpi = false;
  bool interleave = false;  // with an --algo list: every algorithm at a size before the next size
  bool node_shared = false;  // -R 1: buffers from alloc_node_shared
};

// Parses argv. Returns the options, or the exit code when the program should
// stop (--help, or a usage error); only a caller with `print` set prints, so
// that N ranks do not print the same message N times.
struct ParseOutcome {
  std::optional<PerfOptions> options;
  int exit_code = 0;
};
ParseOutcome parse_options(int argc, char** argv, bool print);

std::string_view op_choice_name(OpChoice op);
std::string_view perf_collective_name(collectives::Collective collective);

// The ReduceOp a choice reduces with, and the Finish it applies for `type`
// over `nranks` ranks (premulsum multiplies by kPreMulScalar).
ReduceOp op_choice_reduce_op(OpChoice op);
Finish op_choice_finish(OpChoice op, DataType type, int nranks);
inline constexpr int kPreMulScalar = 3;

// The sizes of the sweep in bytes, smallest first.
std::vector<uint64_t> sweep_sizes(const PerfOptions& options);

}  // namespace strata::perf
