#include "runtime/config/config.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <memory>

#include "common/error.h"
#include "runtime/config/nccl_env.h"

namespace strata::runtime {
namespace {

// The one table. Order matters only for printing.
constexpr std::array kTable{
    ConfigVar{"STRATA_DEBUG", ConfigType::kChoice, "WARN",
              "What the runtime logs to stderr: NONE, WARN, INFO (decisions per communicator), "
              "TRACE (per call and schedule)",
              "NONE,WARN,INFO,TRACE", &Config::debug},
    ConfigVar{"STRATA_TIMEOUT", ConfigType::kFloat, "300",
              "Seconds any blocking wait (bootstrap, collective) may last before it fails", "", &Config::timeout_s},
    ConfigVar{"STRATA_PEER_TIMEOUT", ConfigType::kFloat, "10",
              "Seconds a peer this rank waits on may stay silent (no data, no answer to pings) "
              "before it is failed as stopped, hung or cut off; 0: no liveness check",
              "", &Config::peer_timeout_s},
    ConfigVar{"STRATA_WATCH_LOCAL_PEERS", ConfigType::kBool, "1",
              "Look at the processes of peers on this host to see their deaths (0: rely on the "
              "network alone, as between hosts; for emulated sites on one machine)",
              "", &Config::watch_local_peers},
    ConfigVar{"STRATA_ALGO", ConfigType::kString, "",
              "Force an algorithm: a name for every collective that has it (ring), or "
              "collective=name pairs (allreduce=ring,broadcast=tree)",
              "", &Config::algo},
    ConfigVar{"STRATA_CHUNK", ConfigType::kBytes, "0",
              "Pipelining segment size in bytes (K/M/G suffixes); 0 lets each algorithm choose", "", &Config::chunk_bytes},
    ConfigVar{"STRATA_WINDOW", ConfigType::kInt, "0",
              "Chunks in flight per inter-site peer in hierarchical algorithms; 0 sizes it from the "
              "link's bandwidth-delay product",
              "0..4096", &Config::window},
    ConfigVar{"STRATA_LANES", ConfigType::kInt, "0",
              "UCX endpoints (TCP connections) per peer on another host; 0 sizes each peer's from its "
              "link's measured bandwidth-delay product",
              "0..16", &Config::lanes},
    ConfigVar{"STRATA_FLIGHT_RECORDER", ConfigType::kInt, "64",
              "Operations each communicator remembers (sequence, collective, size, peer, algorithm, state), "
              "dumped to stderr when one fails or times out; 0 turns the recorder off",
              "0..65536", &Config::flight_recorder},
    ConfigVar{"STRATA_FLIGHT_SIGNAL", ConfigType::kBool, "1",
              "SIGUSR1 dumps every live communicator's flight record to stderr (installed only where "
              "SIGUSR1 still has its default action)",
              "", &Config::flight_signal},
    ConfigVar{"STRATA_METRICS", ConfigType::kBool, "0",
              "Count bytes, messages and busy time per link and calls, bytes and latency per collective "
              "(docs/telemetry.md); on by itself when STRATA_METRICS_PORT or STRATA_TRACE is set",
              "", &Config::metrics},
    ConfigVar{"STRATA_METRICS_PORT", ConfigType::kInt, "0",
              "Serve this process's metrics in Prometheus text format at http://ADDR:PORT/metrics; ranks on "
              "one host take PORT + their local rank (or the next free port); 0: no endpoint",
              "0..65535", &Config::metrics_port},
    ConfigVar{"STRATA_METRICS_ADDR", ConfigType::kString, "127.0.0.1",
              "Address the metrics endpoint listens on (loopback by default; 0.0.0.0 for every interface)", "",
              &Config::metrics_addr},
    ConfigVar{"STRATA_TRACE", ConfigType::kString, "",
              "Write a Chrome/Perfetto trace of collectives, link busy periods and transfers to this file, "
              "one per rank (%r becomes the rank, else .rank<R> goes before .json); tools/strata-trace-merge "
              "joins them",
              "", &Config::trace},
    ConfigVar{"STRATA_COMPRESSION", ConfigType::kString, "none",
              "Encode the inter-site leg of float32 sum/average AllReduce (docs/compression.md): none, bf16, "
              "int8, fp8-e4m3, int4 (lossy, opt-in only), zstd (lossless), bf16+zstd. Every rank must agree",
              "", &Config::compression},
    ConfigVar{"STRATA_COMPRESSION_MIN_BYTES", ConfigType::kBytes, "1M",
              "Calls smaller than this stay exact under STRATA_COMPRESSION", "", &Config::compression_min_bytes},
    ConfigVar{"STRATA_COMPRESSION_MAX_GBPS", ConfigType::kFloat, "25",
              "Compress only where the slowest inter-site link the planner knows is slower than this (Gbit/s)", "",
              &Config::compression_max_gbps},
    ConfigVar{"STRATA_ADAPT", ConfigType::kBool, "1",
              "Measure each inter-site link's rate from large hierarchical collectives (no probing traffic) and "
              "re-plan, on every rank at the same call, when it drifts from the planner's model (docs/telemetry.md)",
              "", &Config::adapt},
    ConfigVar{"STRATA_ADAPT_INTERVAL", ConfigType::kInt, "4",
              "Measured collectives (of 16 MiB or more) between the ranks' exchanges of link measurements",
              "1..1000000", &Config::adapt_interval},
    ConfigVar{"STRATA_ADAPT_DRIFT", ConfigType::kFloat, "0.25",
              "Relative difference between a measured inter-site rate and the model that re-plans", "",
              &Config::adapt_drift},
    ConfigVar{"STRATA_RAIL_BALANCE", ConfigType::kBool, "1",
              "Measure each rail's inter-site throughput during large hierarchical collectives and give "
              "measurably slower rails smaller shards (0: equal shards)",
              "", &Config::rail_balance},
    ConfigVar{"STRATA_RAIL_WEIGHTS", ConfigType::kString, "",
              "Fixed share of the inter-site data per rail (the r-th rank of every site), e.g. 1,1,0.5,1; "
              "overrides STRATA_RAIL_BALANCE",
              "", &Config::rail_weights},
    ConfigVar{"STRATA_SPIN_US", ConfigType::kInt, "-1",
              "Microseconds to busy-poll before sleeping in the kernel; -1 spins only when this "
              "host has at least as many cores as ranks",
              "-1..1000000", &Config::spin_us},
    ConfigVar{"STRATA_YIELD_US", ConfigType::kInt, "-1",
              "Microseconds to poll with sched_yield() after spinning, before sleeping; -1 yields "
              "for 1000us only when this host has more ranks than cores",
              "-1..1000000", &Config::yield_us},
    ConfigVar{"STRATA_SOCKET_IFNAME", ConfigType::kString, "",
              "Network interface whose address ncclGetUniqueId advertises (default: first "
              "non-loopback interface that is up)",
              "", &Config::socket_ifname},
    ConfigVar{"STRATA_AUTH", ConfigType::kBool, "1",
              "Ranks joining the bootstrap root prove knowledge of the job secret (HMAC-SHA256 "
              "challenge-response); 0/off is logged and lets anyone who reaches the port join",
              "", &Config::auth},
    ConfigVar{"STRATA_AUTH_KEY_FILE", ConfigType::kString, "",
              "File holding the job secret (at least 16 bytes, e.g. `openssl rand -hex 32`); "
              "unique ids then carry no secret. Required to authenticate MASTER_ADDR rendezvous",
              "", &Config::auth_key_file},
    ConfigVar{"STRATA_HOSTID", ConfigType::kString, "",
              "Host identity of this rank (default: hostname plus network-namespace id)", "", &Config::hostid},
    ConfigVar{"STRATA_UCX_SHM", ConfigType::kBool, "1",
              "Let UCX use shared memory between ranks on one host (0: network transports only)", "", &Config::ucx_shm},
    ConfigVar{"STRATA_SHM", ConfigType::kBool, "1",
              "Use Strata's shared-memory transport between ranks on one host (0: UCX for every peer)", "", &Config::shm},
    ConfigVar{"STRATA_SHM_CMA", ConfigType::kBool, "1",
              "Let the shared-memory transport copy large messages once with process_vm_readv "
              "(0: stream them through the shared rings)",
              "", &Config::shm_cma},
    ConfigVar{"STRATA_UCX_NET_DEVICES", ConfigType::kString, "",
              "Network devices UCX may use (its UCX_NET_DEVICES syntax, e.g. wan0 or eth0); "
              "default: UCX's choice",
              "", &Config::ucx_net_devices},
    ConfigVar{"STRATA_SITE", ConfigType::kString, "",
              "Site of this rank: an index (0, 1, ...) or a name; set on every rank or none. Wins over "
              "STRATA_TOPO_FILE and probing (docs/topology.md)",
              "", &Config::site},
    ConfigVar{"STRATA_TOPO_FILE", ConfigType::kString, "",
              "JSON file listing the hosts of each site and optionally site-pair RTT/bandwidth "
              "(docs/topology.md); used when STRATA_SITE is unset",
              "", &Config::topo_file},
    ConfigVar{"STRATA_PROBE", ConfigType::kBool, "1",
              "Measure RTT and bandwidth between node leaders when a communicator is created (0: use "
              "assumed distances; sites then come from STRATA_SITE or STRATA_TOPO_FILE only)",
              "", &Config::probe},
    ConfigVar{"STRATA_NCCL_ASYNC_STAGING", ConfigType::kBool, "0",
              "EXPERIMENTAL: stage CUDA device buffers without blocking the caller (proxy thread + "
              "stream wait); hung with 4 ranks on one GPU, so off by default",
              "", &Config::nccl_async_staging},
    ConfigVar{"STRATA_NCCL_CUDA_IPC", ConfigType::kBool, "0",
              "EXPERIMENTAL: when every rank of a communicator is on this host, reduce and copy CUDA device "
              "buffers through CUDA IPC mappings of each other's device scratch instead of host staging; "
              "not yet run on a GPU, so off by default",
              "", &Config::nccl_cuda_ipc},
    ConfigVar{"STRATA_PROBE_MS", ConfigType::kInt, "1000",
              "Time budget in milliseconds for the link probe at communicator creation",
              "1..600000", &Config::probe_ms},
    ConfigVar{"STRATA_ROOT_PORT", ConfigType::kInt, "0",
              "Port of the rendezvous root for environment rendezvous (Python from_env); 0: "
              "MASTER_PORT + 1, since torchrun's own store listens on MASTER_PORT",
              "0..65535", &Config::root_port},
    ConfigVar{"STRATA_MPI", ConfigType::kBool, "1",
              "libstrata-mpi.so: run the MPI program's collectives on Strata (0/off: forward every call "
              "to MPI)",
              "", &Config::mpi},
    ConfigVar{"STRATA_MPI_COLLECTIVES", ConfigType::kString, "",
              "libstrata-mpi.so: the collectives to take (Allreduce,Bcast,...), or ^list for all but "
              "those; empty: all",
              "", &Config::mpi_collectives},
    ConfigVar{"STRATA_MPI_MIN_RANKS", ConfigType::kInt, "2",
              "libstrata-mpi.so: communicators with fewer ranks stay with MPI", "2..1000000",
              &Config::mpi_min_ranks},
    ConfigVar{"STRATA_MPI_HOST_MIN_BYTES", ConfigType::kBytes, "16K",
              "libstrata-mpi.so: when every rank of a communicator is on one host, calls moving fewer "
              "bytes per rank stay with MPI (its shared-memory latency is lower; measured crossover 8-32 KiB)",
              "", &Config::mpi_host_min_bytes},
    ConfigVar{"STRATA_MPI_STATS", ConfigType::kBool, "0",
              "libstrata-mpi.so: at MPI_Finalize, print per rank how many calls went to Strata and "
              "why the others went to MPI",
              "", &Config::mpi_stats},
};

[[noreturn]] void bad_value(const ConfigVar& var, std::string_view value, std::string_view why) {
  fail(ErrorCode::kInvalidArgument, {-1, -1, "configuration"}, "{}='{}': {} (expected {})", var.name,
       value, why, var.help);
}

int64_t parse_int(const ConfigVar& var, std::string_view value) {
  try {
    size_t used = 0;
    const int64_t parsed = std::stoll(std::string(value), &used);
    if (used != value.size()) bad_value(var, value, "not an integer");
    return parsed;
  } catch (const std::logic_error&) {
    bad_value(var, value, "not an integer");
  }
}

double parse_float(const ConfigVar& var, std::string_view value) {
  try {
    size_t used = 0;
    const double parsed = std::stod(std::string(value), &used);
    if (used != value.size() || parsed < 0) bad_value(var, value, "not a non-negative number");
    return parsed;
  } catch (const std::logic_error&) {
    bad_value(var, value, "not a number");
  }
}

int choice_index(const ConfigVar& var, std::string_view value) {
  std::string_view rest = var.choices;
  for (int index = 0; !rest.empty(); ++index) {
    const size_t comma = rest.find(',');
    if (rest.substr(0, comma) == value) return index;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  bad_value(var, value, fmt::format("not one of {}", var.choices));
}

bool parse_bool(const ConfigVar& var, std::string_view value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  bad_value(var, value, "not a boolean (0/1, on/off)");
}

// The variable's range "min..max" (its choices field).
int int_in_range(const ConfigVar& var, std::string_view value) {
  const int64_t parsed = parse_int(var, value);
  const size_t dots = var.choices.find("..");
  const int64_t low = std::stoll(std::string(var.choices.substr(0, dots)));
  const int64_t high = std::stoll(std::string(var.choices.substr(dots + 2)));
  if (parsed < low || parsed > high) bad_value(var, value, "out of range");
  return static_cast<int>(parsed);
}

// How a value is parsed follows from the type of the field it sets.
void assign(LogLevel& out, const ConfigVar& var, std::string_view value) {
  out = static_cast<LogLevel>(choice_index(var, value));
}
void assign(double& out, const ConfigVar& var, std::string_view value) { out = parse_float(var, value); }
void assign(int& out, const ConfigVar& var, std::string_view value) { out = int_in_range(var, value); }
void assign(bool& out, const ConfigVar& var, std::string_view value) { out = parse_bool(var, value); }
void assign(std::string& out, const ConfigVar&, std::string_view value) { out = value; }
void assign(uint64_t& out, const ConfigVar& var, std::string_view value) {
  try {
    out = parse_bytes(value);
  } catch (const Error&) {
    bad_value(var, value, "not a byte count");
  }
}

void apply(Config& config, const ConfigVar& var, std::string_view value) {
  std::visit([&](auto field) { assign(config.*field, var, value); }, var.field);
}

std::mutex g_mutex;
std::unique_ptr<Config> g_config;
// Read on every call: the hot path takes no lock once parsed.
std::atomic<const Config*> g_current{nullptr};
// Configurations replaced by reload_config() stay alive: callers may still
// hold a reference from config().
std::vector<std::unique_ptr<Config>> g_retired;

}  // namespace

std::span<const ConfigVar> config_table() { return kTable; }

uint64_t parse_bytes(std::string_view text) {
  if (text.empty()) fail(ErrorCode::kInvalidArgument, {}, "empty byte count");
  uint64_t multiplier = 1;
  switch (text.back()) {
    case 'K': case 'k': multiplier = uint64_t{1} << 10; break;
    case 'M': case 'm': multiplier = uint64_t{1} << 20; break;
    case 'G': case 'g': multiplier = uint64_t{1} << 30; break;
    default: break;
  }
  if (multiplier != 1) text.remove_suffix(1);
  uint64_t value = 0;
  if (text.empty()) fail(ErrorCode::kInvalidArgument, {}, "byte count has no digits");
  for (char c : text) {
    if (c < '0' || c > '9') fail(ErrorCode::kInvalidArgument, {}, "byte count '{}' is not a number", text);
    if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, c - '0', &value))
      fail(ErrorCode::kInvalidArgument, {}, "byte count '{}' does not fit in 64 bits", text);
  }
  if (__builtin_mul_overflow(value, multiplier, &value))
    fail(ErrorCode::kInvalidArgument, {}, "byte count '{}' times {} does not fit in 64 bits", text, multiplier);
  return value;
}

namespace {

// The variable's value: set, else what an NCCL_* variable says (nccl_env.h),
// else the table's default.
std::string value_of(const ConfigVar& var, const char* (*lookup)(const char* name)) {
  if (const char* set = lookup(std::string(var.name).c_str())) return set;
  if (std::optional<std::string> stand_in = nccl_stand_in(var.name, lookup)) return *stand_in;
  return std::string(var.default_value);
}

const char* from_environment(const char* name) { return std::getenv(name); }

}  // namespace

Config parse_config(const char* (*lookup)(const char* name)) {
  Config config;
  for (const ConfigVar& var : kTable) apply(config, var, value_of(var, lookup));
  return config;
}

const Config& config() {
  if (const Config* current = g_current.load(std::memory_order_acquire)) return *current;
  std::lock_guard lock(g_mutex);
  if (!g_config) {
    g_config = std::make_unique<Config>(parse_config(from_environment));
    set_log_level(g_config->debug);
    g_current.store(g_config.get(), std::memory_order_release);
    for (const std::string& line : ignored_nccl_settings(from_environment)) log(LogLevel::kWarn, "{}", line);
  }
  return *g_config;
}

void reload_config() {
  {
    std::lock_guard lock(g_mutex);
    if (g_config) g_retired.push_back(std::move(g_config));
    g_current.store(nullptr, std::memory_order_release);
  }
  config();
}

std::vector<std::pair<std::string, std::string>> config_values() {
  std::vector<std::pair<std::string, std::string>> values;
  for (const ConfigVar& var : kTable) values.emplace_back(var.name, value_of(var, from_environment));
  return values;
}

JoinPolicy join_policy() {
  const Config& settings = config();
  JoinPolicy policy;
  policy.authenticate = settings.auth;
  if (!settings.auth_key_file.empty()) {
    policy.key_file_secret = job_secret_from_key_file(settings.auth_key_file, "STRATA_AUTH_KEY_FILE");
  }
  return policy;
}

}  // namespace strata::runtime
