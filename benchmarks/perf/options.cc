#include "benchmarks/perf/options.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>
#include <cstring>

#include "common/reduce_functors.h"

namespace strata::perf {
namespace {

using collectives::Collective;

struct NamedOp {
  std::string_view name;
  OpChoice op;
};
constexpr std::array<NamedOp, 6> kOps{{{"sum", OpChoice::kSum},
                                       {"prod", OpChoice::kProd},
                                       {"max", OpChoice::kMax},
                                       {"min", OpChoice::kMin},
                                       {"avg", OpChoice::kAvg},
                                       {"premulsum", OpChoice::kPreMulSum}}};

constexpr std::array<Collective, 9> kSubcommands{
    Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce,
    Collective::kAllGather, Collective::kReduceScatter, Collective::kAllToAll,
    Collective::kGather,    Collective::kScatter,    Collective::kSend};

constexpr std::string_view kFooter = R"(
Sizes (-b, -e, -i) take K/M/G suffixes (powers of 1024) and are the bytes of the
full buffer as nccl-tests counts them: allreduce, broadcast, reduce, sendrecv:
the message; allgather, gather: the gathered result; reducescatter, scatter:
the input that is split; alltoall: one rank's send buffer.

Output, one line per size: out-of-place then in-place columns (time in us,
algbw = size / time, busbw = algbw x the nccl-tests bus factor, #wrong), then
with --compare-mpi the Open MPI call's columns, then the algorithm. Time is the
mean over -n iterations, maximum over ranks. With -c 1 every result is
compared with a reference computed independently on each rank; #wrong is
summed over ranks and any wrong element makes the exit code 1.

Examples:
  mpirun -np 4 strata-perf allreduce -b 8 -e 128M -f 2
  mpirun -np 4 strata-perf allreduce -b 1K -e 64M -f 4 --algo ring --compare-mpi
  mpirun -np 3 strata-perf reducescatter -b 1 -e 1M -f 4 -d all -o all -n 2 -w 1
  mpirun -np 8 strata-perf broadcast -r -1 --explain --json bcast.json)";

std::vector<DataType> parse_types(const std::string& text) {
  std::vector<DataType> types;
  if (text == "all") {
    for (int i = 0; i < kDataTypeCount; ++i) types.push_back(static_cast<DataType>(i));
    return types;
  }
  for (const std::string& name : CLI::detail::split(text, ',')) {
    const auto type = parse_datatype(name);
    if (!type) throw CLI::ValidationError("--datatype", fmt::format("unknown datatype '{}'", name));
    types.push_back(*type);
  }
  return types;
}

std::vector<OpChoice> parse_ops(const std::string& text) {
  std::vector<OpChoice> ops;
  for (const std::string& name : CLI::detail::split(text, ',')) {
    bool found = false;
    for (const NamedOp& named : kOps) {
      if (name == "all" || name == named.name) {
        ops.push_back(named.op);
        found = true;
      }
    }
    if (!found) throw CLI::ValidationError("--op", fmt::format("unknown reduction '{}'", name));
  }
  return ops;
}

// Flags that are text first and become options after parsing.
struct RawFlags {
  std::string types = "float";
  std::string ops = "sum";
  bool only_out_of_place = false;
  bool only_in_place = false;
};

// Flags shared by every subcommand live on the top-level app; subcommands
// fall through to it, so flags may come before or after the subcommand name.
void add_flags(CLI::App& app, PerfOptions& o, RawFlags& raw) {
  const CLI::AsSizeValue size(false);
  app.add_option("-b,--minbytes", o.min_bytes, "Smallest size in bytes (default 32M)")->transform(size);
  app.add_option("-e,--maxbytes", o.max_bytes, "Largest size in bytes (default 32M)")->transform(size);
  app.add_option("-f,--stepfactor", o.step_factor, "Multiply the size by this between steps (default 2)")
      ->check(CLI::Range(uint64_t{2}, uint64_t{1} << 20));
  app.add_option("-i,--stepbytes", o.step_bytes, "Add this many bytes between steps instead of -f")->transform(size);
  app.add_option("-n,--iters", o.iters, "Timed iterations per size (default 20)")->check(CLI::Range(1, 1 << 24));
  app.add_option("-w,--warmup_iters", o.warmup_iters, "Untimed iterations before timing (default 5)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("-c,--check", o.check, "1: check every result against a reference (default 1)")
      ->check(CLI::Range(0, 1));
  app.add_option("-o,--op", raw.ops, "sum, prod, max, min, avg, premulsum, a comma list, or all (default sum)");
  app.add_option("-d,--datatype", raw.types,
                 "float, half, bfloat16, double, int8, uint8, int32, uint32, int64, uint64, f8e4m3, "
                 "f8e5m2, a comma list, or all (default float)");
  app.add_option("-r,--root", o.root, "Root rank of rooted collectives; -1: every rank in turn (default 0)")
      ->check(CLI::Range(-1, 1 << 24));
  app.add_option("--algo", o.algo, "Force this algorithm (as STRATA_ALGO would), or sweep a comma list in turn, e.g. auto,ring (auto: the planner's choice); name@format runs it with that inter-site wire format (hier@int8, docs/compression.md)");
  app.add_option("--json", o.json_path, "Also write the results as JSON to this file (rank 0)");
  app.add_option("--metrics-out", o.metrics_path,
                 "At the end, write each rank's telemetry (Prometheus text, docs/telemetry.md) to this file with "
                 ".rank<R> appended; turns STRATA_METRICS on");
  app.add_flag("--explain", o.explain, "Print the planner's choice, predicted time and reason per size");
  app.add_flag("--interleave", o.interleave,
               "With an --algo list, measure every algorithm at one size before the next size (rows come "
               "size by size), so none runs on connections another's larger messages warmed up");
  app.add_flag("--compare-mpi", o.compare_mpi,
               "Also time the equivalent Open MPI call on the same buffers and print it beside Strata");
  app.add_option("-R,--node-shared", o.node_shared,
                 "1: allocate the buffers with strata::alloc_node_shared, so ranks on one host reduce and copy "
                 "from each other's buffers in place (as nccl-tests' -R registers them; default 0)");
  auto* oop = app.add_flag("--out-of-place", raw.only_out_of_place, "Run only the out-of-place variant");
  auto* ip = app.add_flag("--in-place", raw.only_in_place, "Run only the in-place variant");
  oop->excludes(ip);
}

void add_subcommands(CLI::App& app, PerfOptions& o) {
  app.require_subcommand(1);
  for (Collective collective : kSubcommands) {
    const std::string name(perf_collective_name(collective));
    auto* sub = app.add_subcommand(name, fmt::format("Benchmark {}", name));
    sub->fallthrough();
    sub->callback([&o, collective] { o.collective = collective; });
  }
}

void validate(const PerfOptions& o) {
  if (o.min_bytes > o.max_bytes) throw CLI::ValidationError("--minbytes", "is larger than --maxbytes");
}

}  // namespace

std::string_view op_choice_name(OpChoice op) {
  for (const NamedOp& named : kOps)
    if (named.op == op) return named.name;
  return "?";
}

std::string_view perf_collective_name(Collective collective) {
  return collective == Collective::kSend ? "sendrecv" : collectives::collective_name(collective);
}

ParseOutcome parse_options(int argc, char** argv, bool print) {
  PerfOptions options;
  RawFlags raw;
  CLI::App app{"strata-perf: nccl-tests-style benchmark and checker for Strata collectives. "
               "Run it under mpirun, one process per rank.",
               "strata-perf"};
  app.footer(std::string(kFooter));
  add_flags(app, options, raw);
  add_subcommands(app, options);
  try {
    app.parse(argc, argv);
    options.types = parse_types(raw.types);
    options.ops = parse_ops(raw.ops);
    options.out_of_place = !raw.only_in_place;
    options.in_place = !raw.only_out_of_place;
    validate(options);
  } catch (const CLI::ParseError& error) {
    if (print) return {std::nullopt, app.exit(error)};
    return {std::nullopt, error.get_exit_code()};
  }
  return {options, 0};
}

ReduceOp op_choice_reduce_op(OpChoice op) {
  switch (op) {
    case OpChoice::kProd: return ReduceOp::kProd;
    case OpChoice::kMax: return ReduceOp::kMax;
    case OpChoice::kMin: return ReduceOp::kMin;
    default: return ReduceOp::kSum;
  }
}

Finish op_choice_finish(OpChoice op, DataType type, int nranks) {
  Finish finish;
  if (op == OpChoice::kAvg) {
    finish.kind = FinishKind::kDivide;
    finish.divisor = static_cast<uint64_t>(nranks);
  } else if (op == OpChoice::kPreMulSum) {
    finish.kind = FinishKind::kMultiply;
    visit_datatype(type, [&]<typename T>() {
      const T scalar = narrow<T>(static_cast<ComputeType<T>>(kPreMulScalar));
      std::memcpy(finish.scalar, &scalar, sizeof scalar);
    });
  }
  return finish;
}

std::vector<uint64_t> sweep_sizes(const PerfOptions& options) {
  std::vector<uint64_t> sizes;
  for (uint64_t bytes = options.min_bytes; bytes <= options.max_bytes;) {
    sizes.push_back(bytes);
    const uint64_t next = options.step_bytes > 0 ? bytes + options.step_bytes : bytes * options.step_factor;
    if (next <= bytes) break;  // -b 0 with a factor, or overflow
    bytes = next;
  }
  return sizes;
}

}  // namespace strata::perf
