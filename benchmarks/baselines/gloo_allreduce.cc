// strata-gloo-bench: Gloo's AllReduce (Debian's libgloo over TCP: ring, chunked
// ring, halving-doubling) timed the way strata-perf times Strata, so the two
// can be compared on the same machine or testbed. MPI only launches the ranks,
// shares the rendezvous folder and collects timings; Gloo moves the data.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>
#include <nlohmann/json.hpp>

namespace {

struct Options {
  uint64_t min_bytes = 8;
  uint64_t max_bytes = 64 << 20;
  uint64_t factor = 4;
  int iters = 20;
  int warmup = 5;
  int check = 1;
  std::string algo = "ring,halving_doubling";
  std::string iface;    // e.g. wan0 on strata-sites: Gloo binds to its address
  std::string address;  // an explicit address to bind instead
  std::string store_dir = "/tmp";
  std::string json_path;
  int timeout_s = 300;  // Gloo's default (30 s) is too short for 256 MiB over a slow WAN
};

using Runner = std::function<void(const std::shared_ptr<gloo::Context>&, std::vector<float>&, int iterations)>;

// Builds the algorithm once per size (Gloo registers its buffers there) and
// runs it `iterations` times.
template <typename Algorithm>
Runner runner() {
  return [](const std::shared_ptr<gloo::Context>& context, std::vector<float>& data, int iterations) {
    Algorithm algorithm(context, std::vector<float*>{data.data()}, static_cast<int>(data.size()));
    for (int i = 0; i < iterations; ++i) algorithm.run();
  };
}

// The AllReduce algorithms this Gloo version has (Debian's 2022 snapshot).
const std::map<std::string, Runner>& algorithms() {
  static const std::map<std::string, Runner> table{
      {"ring", runner<gloo::AllreduceRing<float>>()},
      {"ring_chunked", runner<gloo::AllreduceRingChunked<float>>()},
      {"halving_doubling", runner<gloo::AllreduceHalvingDoubling<float>>()}};
  return table;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

std::shared_ptr<gloo::transport::Device> make_device(const Options& options) {
  gloo::transport::tcp::attr attr;
  attr.ai_family = AF_INET;  // the testbed is IPv4 only
  if (!options.address.empty()) attr.hostname = options.address;
  else if (!options.iface.empty()) attr.iface = options.iface;
  else attr.hostname = "127.0.0.1";
  return gloo::transport::tcp::CreateDevice(attr);
}

std::shared_ptr<gloo::Context> connect(const Options& options, int rank, int size) {
  // Rank 0 names a fresh rendezvous folder; everyone uses it.
  char folder[256] = {};
  if (rank == 0) {
    std::string path = fmt::format("{}/strata-gloo-XXXXXX", options.store_dir);
    if (!mkdtemp(path.data())) throw std::runtime_error("mkdtemp failed in " + options.store_dir);
    std::snprintf(folder, sizeof folder, "%s", path.c_str());
  }
  MPI_Bcast(folder, sizeof folder, MPI_CHAR, 0, MPI_COMM_WORLD);
  auto device = make_device(options);
  gloo::rendezvous::FileStore store(folder);
  auto context = std::make_shared<gloo::rendezvous::Context>(rank, size);
  context->setTimeout(std::chrono::seconds(options.timeout_s));
  context->connectFullMesh(store, device);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) std::filesystem::remove_all(folder);
  return context;
}

// Rank r contributes r + 1 + (i % 7) to element i, so a shard that lands in
// the wrong place shows up, and every sum stays an exact small integer.
float input_value(int rank, size_t i) { return static_cast<float>(rank + 1 + static_cast<int>(i % 7)); }

void fill_input(std::vector<float>& data, int rank) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = input_value(rank, i);
}

long count_wrong(const std::vector<float>& data, int size) {
  long wrong = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const float expected = static_cast<float>(size) * (size + 1) / 2 + static_cast<float>(size * (i % 7));
    wrong += data[i] != expected;
  }
  MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  return wrong;
}

struct Result {
  double seconds = 0;
  long wrong = -1;  // -1: not checked
};

// Mean seconds per call on the slowest rank, as strata-perf reports; then,
// with -c 1, one more call on known inputs whose result is checked.
Result measure(const Options& options, const Runner& run, const std::shared_ptr<gloo::Context>& context,
               uint64_t bytes, int rank, int size) {
  std::vector<float> data(std::max<uint64_t>(bytes / sizeof(float), 1));
  fill_input(data, rank);
  run(context, data, options.warmup);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  run(context, data, options.iters);
  Result result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / options.iters;
  MPI_Allreduce(MPI_IN_PLACE, &result.seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (options.check) {
    fill_input(data, rank);
    run(context, data, 1);
    result.wrong = count_wrong(data, size);
  }
  return result;
}

double busbw_gbps(uint64_t bytes, int size, double seconds) {
  return 2.0 * (size - 1) / size * static_cast<double>(bytes) / 1e9 / seconds;
}

// One row per (algorithm, size), shaped like strata-perf's JSON rows so the
// same plotting code reads both. Gloo reduces in place, hence "ip".
nlohmann::ordered_json row_json(const std::string& algo, uint64_t bytes, int size, const Result& r) {
  nlohmann::ordered_json timing{{"time_us", r.seconds * 1e6},
                                {"algbw_gbps", static_cast<double>(bytes) / 1e9 / r.seconds},
                                {"busbw_gbps", busbw_gbps(bytes, size, r.seconds)}};
  timing["wrong"] = r.wrong < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.wrong);
  return {{"bytes", bytes}, {"count", bytes / sizeof(float)}, {"type", "float"}, {"redop", "sum"},
          {"root", -1}, {"algorithm", algo}, {"plan_reason", "forced"}, {"oop", nullptr},
          {"ip", timing}, {"mpi", nullptr}};
}

void write_json(const Options& options, int size, const nlohmann::ordered_json& rows) {
  const nlohmann::ordered_json document{{"collective", "allreduce"}, {"library", "gloo"}, {"nranks", size},
                                        {"iters", options.iters}, {"warmup_iters", options.warmup},
                                        {"check", options.check}, {"algo", options.algo}, {"results", rows}};
  std::ofstream out(options.json_path);
  out << document.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write --json file " + options.json_path);
}

void print_header(const Options& options, const std::vector<std::string>& names, int size) {
  fmt::print("# gloo allreduce float sum, {} ranks, mean of {} iterations on the slowest rank, in place\n# {:>12}",
             size, options.iters, "bytes");
  for (const std::string& name : names) fmt::print(" {:>20} {:>8} {:>6}", name + " us", "busbw", "wrong");
  fmt::print("\n");
}

int run(const Options& options, int rank, int size) {
  const std::vector<std::string> names = split_list(options.algo);
  for (const std::string& name : names)
    if (!algorithms().count(name)) throw std::runtime_error("--algo " + name + ": known: ring, ring_chunked, halving_doubling");
  const auto context = connect(options, rank, size);
  if (rank == 0) print_header(options, names, size);
  // Sizes outside, algorithms inside: the algorithms of one size run back to
  // back, so slow drift of the machine's load affects them alike.
  std::map<std::string, nlohmann::ordered_json> rows;
  long total_wrong = 0;
  for (uint64_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= options.factor) {
    const uint64_t rounded = std::max<uint64_t>(bytes / sizeof(float), 1) * sizeof(float);
    std::string line = fmt::format("  {:>12}", rounded);
    for (const std::string& name : names) {
      const Result r = measure(options, algorithms().at(name), context, rounded, rank, size);
      total_wrong += std::max(r.wrong, 0L);
      rows[name].push_back(row_json(name, rounded, size, r));
      line += fmt::format(" {:>20.2f} {:>8.3f} {:>6}", r.seconds * 1e6, busbw_gbps(rounded, size, r.seconds),
                          r.wrong < 0 ? "N/A" : std::to_string(r.wrong));
    }
    if (rank == 0) {
      fmt::print("{}\n", line);
      std::fflush(stdout);  // progress shows while the next (slow) size runs
    }
  }
  if (rank == 0) {
    fmt::print("# wrong elements: {} {}\n", total_wrong, total_wrong == 0 ? "OK" : "FAILED");
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const std::string& name : names)
      for (const auto& row : rows[name]) all.push_back(row);
    if (!options.json_path.empty()) write_json(options, size, all);
  }
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
  app.add_option("-c,--check", options.check, "1: check each result against the expected sums")->check(CLI::Range(0, 1));
  app.add_option("--algo", options.algo, "comma list of ring, ring_chunked, halving_doubling (default ring,halving_doubling)");
  app.add_option("--iface", options.iface, "network interface Gloo binds to, e.g. wan0 (default: 127.0.0.1)");
  app.add_option("--address", options.address, "address Gloo binds to (overrides --iface)");
  app.add_option("--store", options.store_dir, "folder (shared by all ranks) for the rendezvous");
  app.add_option("--json", options.json_path, "also write the results as JSON (rank 0), rows like strata-perf's");
  app.add_option("--timeout", options.timeout_s, "seconds any Gloo operation may take (default 300)");
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
