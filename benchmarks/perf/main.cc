// strata-perf: nccl-tests for Strata. One process per rank under mpirun; MPI
// is only the launcher, the bootstrap and (with --compare-mpi) the baseline.
#include <mpi.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "benchmarks/perf/options.h"
#include "benchmarks/perf/report.h"
#include "benchmarks/perf/sweep.h"
#include "collectives/algorithm.h"
#include "common/error.h"
#include "compression/codec.h"
#include "runtime/bootstrap/mpi_bootstrap.h"
#include "runtime/communicator/communicator.h"
#include "runtime/config/config.h"
#include "runtime/telemetry/metrics_server.h"

namespace strata::perf {
namespace {

// "#  Rank  0 Pid 1234 on host memory host", as nccl-tests lists its devices.
std::vector<std::string> rank_lines(int rank, int nranks) {
  std::array<char, 256> host{};
  gethostname(host.data(), host.size() - 1);
  std::array<char, 256> mine{};
  fmt::format_to_n(mine.data(), mine.size() - 1, "#  Rank {:2} Pid {:6} on {:>10} device host memory", rank, getpid(),
                   host.data());
  std::vector<char> all(rank == 0 ? mine.size() * static_cast<size_t>(nranks) : 0);
  MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), static_cast<int>(mine.size()), MPI_CHAR,
             0, MPI_COMM_WORLD);
  std::vector<std::string> lines;
  for (size_t offset = 0; offset < all.size(); offset += mine.size()) lines.emplace_back(all.data() + offset);
  return lines;
}

std::string algorithm_names(collectives::Collective collective) {
  std::string names;
  for (const collectives::Algorithm* algorithm : collectives::all_algorithms())
    if (algorithm->collective() == collective) names += fmt::format(" {}", algorithm->name());
  return names.empty() ? " (none)" : names;
}

// What the command line asks that this job cannot do, found before any
// rank starts a collective.
// --algo takes a comma list ("auto,ring"): each is swept in turn in the same
// job, so their numbers are measured side by side. "auto" is the planner.
std::vector<std::string> algorithm_passes(const std::string& algo) {
  std::vector<std::string> passes;
  size_t start = 0;
  do {
    const size_t comma = algo.find(',', start);
    std::string name = algo.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    passes.push_back(name == "auto" ? "" : name);
    start = comma == std::string::npos ? std::string::npos : comma + 1;
  } while (start != std::string::npos);
  return passes;
}

std::optional<std::string> problem_with(const PerfOptions& options, int nranks) {
  if (options.root >= nranks)
    return fmt::format("--root {} is not a rank of this {}-rank job", options.root, nranks);
  for (std::string algo : algorithm_passes(options.algo)) {
    if (const size_t at = algo.find('@'); at != std::string::npos) {
      if (!compression::parse_format(algo.substr(at + 1)))
        return fmt::format("--algo {}: '{}' is not a wire format (none, bf16, int8, fp8-e4m3, int4, zstd, bf16+zstd)",
                           algo, algo.substr(at + 1));
      algo = algo.substr(0, at);
      if (algo == "auto") algo.clear();
    }
    if (!algo.empty() && options.collective != collectives::Collective::kSend &&
        !collectives::find_algorithm(options.collective, algo))
      return fmt::format("--algo {}: no such {} algorithm; known: auto{}", algo,
                         perf_collective_name(options.collective), algorithm_names(options.collective));
  }
  return std::nullopt;
}

int run_perf(const PerfOptions& options, int rank, int nranks) {
  if (const auto problem = problem_with(options, nranks)) {
    if (rank == 0) fmt::print(stderr, "strata-perf: {}\n", *problem);
    return 2;
  }
  if (!options.metrics_path.empty()) {
    setenv("STRATA_METRICS", "1", 1);  // before the communicator reads it
    runtime::reload_config();
  }
  runtime::MpiBootstrap bootstrap(MPI_COMM_WORLD);
  const auto comm = runtime::Communicator::create(bootstrap, {"strata-perf"});
  Report report(options, comm->size(), comm->rank() == 0);
  report.print_header(rank_lines(rank, nranks));
  Sweep(*comm, options, algorithm_passes(options.algo)).run(report);
  const uint64_t wrong = report.print_footer();
  report.write_json();
  if (!options.metrics_path.empty()) {
    const std::string path = fmt::format("{}.rank{}", options.metrics_path, rank);
    std::ofstream out(path);
    out << runtime::telemetry::prometheus_text();
    if (!out) fail(ErrorCode::kSystem, {rank, -1, "strata-perf"}, "cannot write --metrics-out file '{}'", path);
  }
  return wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace strata::perf

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  const auto parsed = strata::perf::parse_options(argc, argv, rank == 0);
  int exit_code = parsed.exit_code;
  if (parsed.options) {
    try {
      exit_code = strata::perf::run_perf(*parsed.options, rank, nranks);
    } catch (const std::exception& error) {
      // One rank failing leaves the others inside a collective: end them all.
      fmt::print(stderr, "strata-perf rank {}: {}\n", rank, error.what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
  }
  MPI_Finalize();
  return exit_code;
}
