// strata-gloo-bench: Gloo's AllReduce (ring and halving-doubling, Debian's
// libgloo over TCP) timed the way strata-perf times Strata, so the two can be
// compared on the same machine or testbed. MPI only launches the ranks,
// shares the rendezvous folder and collects timings; Gloo moves the data.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

namespace {

struct Options {
  uint64_t min_bytes = 8;
  uint64_t max_bytes = 64 << 20;
  uint64_t factor = 4;
  int iters = 20;
  int warmup = 5;
  std::string iface;  // empty: the address of this host's name
  std::string store_dir = "/tmp";
};

std::shared_ptr<gloo::Context> connect(const Options& options, int rank, int size) {
  // Rank 0 names a fresh rendezvous folder; everyone uses it.
  char folder[256] = {};
  if (rank == 0) {
    std::string path = fmt::format("{}/strata-gloo-XXXXXX", options.store_dir);
    if (!mkdtemp(path.data())) throw std::runtime_error("mkdtemp failed in " + options.store_dir);
    std::snprintf(folder, sizeof folder, "%s", path.c_str());
  }
  MPI_Bcast(folder, sizeof folder, MPI_CHAR, 0, MPI_COMM_WORLD);
  gloo::transport::tcp::attr attr;
  if (!options.iface.empty()) attr.iface = options.iface;
  else attr.hostname = "127.0.0.1";
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(folder);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  context->connectFullMesh(store, device);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) std::filesystem::remove_all(folder);
  return context;
}

// Mean seconds per call on the slowest rank, as strata-perf reports.
template <typename Call>
double time_calls(const Options& options, Call&& call) {
  for (int i = 0; i < options.warmup; ++i) call();
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iters; ++i) call();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / options.iters;
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

// Every rank contributes rank+1 to each element; the sum is size(size+1)/2.
long count_wrong(const std::vector<float>& data, int size) {
  const float expected = static_cast<float>(size) * (size + 1) / 2;
  long wrong = 0;
  for (float value : data) wrong += value != expected;
  MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  return wrong;
}

template <typename Algorithm>
std::pair<double, long> measure(const Options& options, const std::shared_ptr<gloo::Context>& context,
                                std::vector<float>& data, int rank, int size) {
  std::vector<float*> pointers{data.data()};
  Algorithm algorithm(context, pointers, static_cast<int>(data.size()));
  const double seconds = time_calls(options, [&] { algorithm.run(); });
  std::fill(data.begin(), data.end(), static_cast<float>(rank + 1));
  algorithm.run();
  return {seconds, count_wrong(data, size)};
}

int run(const Options& options, int rank, int size) {
  const auto context = connect(options, rank, size);
  if (rank == 0)
    fmt::print("# gloo allreduce float sum, {} ranks, mean of {} iterations on the slowest rank\n"
               "# {:>12} {:>12} {:>16} {:>10} {:>16} {:>10}\n",
               size, options.iters, "bytes", "count", "ring us", "ring busbw", "halving_dbl us", "hd busbw");
  long total_wrong = 0;
  for (uint64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= options.factor) {
    std::vector<float> data(std::max<uint64_t>(bytes / sizeof(float), 1), static_cast<float>(rank + 1));
    const auto ring = measure<gloo::AllreduceRing<float>>(options, context, data, rank, size);
    const auto halving = measure<gloo::AllreduceHalvingDoubling<float>>(options, context, data, rank, size);
    total_wrong += ring.second + halving.second;
    const double bus = 2.0 * (size - 1) / size * data.size() * sizeof(float) / 1e9;
    if (rank == 0)
      fmt::print("  {:>12} {:>12} {:>16.2f} {:>10.2f} {:>16.2f} {:>10.2f}\n", data.size() * sizeof(float),
                 data.size(), ring.first * 1e6, bus / ring.first, halving.first * 1e6, bus / halving.first);
  }
  if (rank == 0) fmt::print("# wrong elements: {}\n", total_wrong);
  return total_wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Options options;
  CLI::App app{"Gloo AllReduce baseline (run under mpirun)"};
  app.add_option("-b,--minbytes", options.min_bytes, "smallest size in bytes")->transform(CLI::AsSizeValue(false));
  app.add_option("-e,--maxbytes", options.max_bytes, "largest size in bytes")->transform(CLI::AsSizeValue(false));
  app.add_option("-f,--stepfactor", options.factor, "size multiplier")->check(CLI::Range(2, 1 << 20));
  app.add_option("-n,--iters", options.iters, "timed iterations")->check(CLI::PositiveNumber);
  app.add_option("-w,--warmup_iters", options.warmup, "untimed iterations");
  app.add_option("--iface", options.iface, "network interface Gloo binds to (default: 127.0.0.1)");
  app.add_option("--store", options.store_dir, "folder (shared by all ranks) for the rendezvous");
  int code = 0;
  try {
    app.parse(argc, argv);
    code = run(options, rank, size);
  } catch (const CLI::ParseError& error) {
    code = rank == 0 ? app.exit(error) : 2;
  } catch (const std::exception& error) {
    fmt::print(stderr, "strata-gloo-bench rank {}: {}\n", rank, error.what());
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  MPI_Finalize();
  return code;
}
