// Every STRATA_* environment variable, declared once in one table (config.cc)
// with its type, default and help, parsed once into a typed Config.
// Nothing else in Strata reads the environment for STRATA_* settings.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/log.h"
#include "runtime/bootstrap/join_auth.h"

namespace strata::runtime {

// Defaults live in the table only (config.cc), and parse_config applies
// them; the fields here start zeroed, never with a second opinion.
struct Config {
  LogLevel debug{};
  double timeout_s{};
  double peer_timeout_s{};     // STRATA_PEER_TIMEOUT: liveness; 0 = off
  bool watch_local_peers{};    // STRATA_WATCH_LOCAL_PEERS: look at same-host peers' processes
  std::string algo;            // "" = planner's choice; "ring" or "allreduce=ring,broadcast=tree"
  uint64_t chunk_bytes{};      // pipelining segment; 0 = algorithm's default
  int window{};                // STRATA_WINDOW: chunks in flight per inter-site peer; 0 = from the BDP
  int lanes{};                 // STRATA_LANES: UCX endpoints per remote peer; 0 = automatic
  int flight_recorder{};       // STRATA_FLIGHT_RECORDER: operations kept per communicator; 0 = off
  bool flight_signal{};        // STRATA_FLIGHT_SIGNAL: SIGUSR1 dumps every communicator's record
  bool metrics{};              // STRATA_METRICS: count per link and per collective (docs/telemetry.md)
  int metrics_port{};          // STRATA_METRICS_PORT: Prometheus endpoint base port; 0 = none
  std::string metrics_addr;    // STRATA_METRICS_ADDR: its listening address
  std::string trace;           // STRATA_TRACE: Chrome trace file pattern; "" = off
  std::string compression;      // STRATA_COMPRESSION: inter-site wire format ("" / none = exact)
  uint64_t compression_min_bytes{};  // STRATA_COMPRESSION_MIN_BYTES: smaller calls stay exact
  double compression_max_gbps{};     // STRATA_COMPRESSION_MAX_GBPS: faster WAN links stay exact
  bool adapt{};                // STRATA_ADAPT: update the link model from large collectives and re-plan
  int adapt_interval{};        // STRATA_ADAPT_INTERVAL: measured collectives between exchanges
  double adapt_drift{};        // STRATA_ADAPT_DRIFT: relative change that re-plans
  bool rail_balance{};         // STRATA_RAIL_BALANCE: shrink the shards of measurably slower rails
  std::string rail_weights;    // STRATA_RAIL_WEIGHTS: fixed per-rail shares ("1,1,0.5,1"); "" = measured
  int spin_us{};               // busy-poll this long before sleeping; -1 = decide from core count
  int yield_us{};              // then poll with sched_yield(); -1 = decide from core count
  std::string socket_ifname;   // interface for the unique-id rendezvous
  bool auth{};                 // STRATA_AUTH: ranks prove the job secret when they join (docs/security.md)
  std::string auth_key_file;   // STRATA_AUTH_KEY_FILE: the job secret from a file every rank can read
  std::string hostid;          // overrides the detected host identity
  bool ucx_shm{};              // let UCX use shared memory between ranks of one host
  bool shm{};                  // Strata's own shared-memory transport between ranks of one host
  bool shm_cma{};              // single-copy large messages with process_vm_readv
  std::string ucx_net_devices; // UCX_NET_DEVICES for Strata's UCX context
  std::string site;            // STRATA_SITE: this rank's site (index or name); "" = not set
  std::string topo_file;       // STRATA_TOPO_FILE: JSON sites/links file; "" = none
  bool probe{};                // STRATA_PROBE: measure leader-to-leader links at creation
  int probe_ms{};              // STRATA_PROBE_MS: budget for that probe
  bool nccl_async_staging{};   // experimental non-blocking staging of device buffers
  bool nccl_cuda_ipc{};        // experimental CUDA IPC path for device buffers on one host
  int root_port{};             // STRATA_ROOT_PORT: environment rendezvous root; 0 = MASTER_PORT + 1
  bool mpi{};                  // STRATA_MPI: libstrata-mpi.so takes collectives
  std::string mpi_collectives; // STRATA_MPI_COLLECTIVES: which ones ("" all, "^list" all but)
  int mpi_min_ranks{};         // STRATA_MPI_MIN_RANKS: smaller communicators stay with MPI
  uint64_t mpi_host_min_bytes{};  // STRATA_MPI_HOST_MIN_BYTES: one-host calls below this stay with MPI
  bool mpi_stats{};            // STRATA_MPI_STATS: a summary line per rank at MPI_Finalize
};

enum class ConfigType { kInt, kFloat, kBytes, kString, kChoice, kBool };

using ConfigField = std::variant<LogLevel Config::*, double Config::*, uint64_t Config::*, int Config::*,
                                 bool Config::*, std::string Config::*>;

struct ConfigVar {
  std::string_view name;
  ConfigType type;
  std::string_view default_value;
  std::string_view help;
  std::string_view choices;  // kChoice: comma-separated; kInt: "min..max"
  ConfigField field;         // what it sets; the field's type says how the value is parsed
};

// The table, in declaration order.
std::span<const ConfigVar> config_table();

// The process's configuration, parsed from the environment on first use.
// Throws Error(kInvalidArgument) naming the variable for a bad value.
const Config& config();

// Parses a configuration from `lookup` (name -> value or nullptr); for tests.
Config parse_config(const char* (*lookup)(const char* name));

// Re-reads the environment (tests that setenv between cases).
void reload_config();

// Current value of each variable as text (set, or the default), for strata-info.
std::vector<std::pair<std::string, std::string>> config_values();

// How this process's joins are authenticated: STRATA_AUTH, and the digest of
// STRATA_AUTH_KEY_FILE when set (read on every call; throws naming the variable).
JoinPolicy join_policy();

// Parses "64K", "1M", "2G", "4096" into bytes.
uint64_t parse_bytes(std::string_view text);

}  // namespace strata::runtime
