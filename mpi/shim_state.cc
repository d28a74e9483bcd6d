#include "shim_state.h"

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>

#include "common/log.h"
#include "runtime/bootstrap/tcp_bootstrap.h"
#include "runtime/config/config.h"

namespace strata::mpi {
namespace {

constexpr std::string_view kCallNames[] = {"Allreduce", "Reduce", "Bcast", "Allgather", "Reduce_scatter_block",
                                           "Reduce_scatter", "Alltoall", "Gather", "Scatter", "Barrier"};
constexpr std::string_view kFallbackNames[] = {"strata", "disabled", "count0", "ranks",     "inter",
                                               "dtype",  "op",       "counts", "host-small"};

std::atomic<uint64_t> counters[static_cast<int>(Call::kCount)][static_cast<int>(Fallback::kCount)];

// One MPI communicator's Strata side.
struct Entry {
  std::shared_ptr<runtime::Communicator> comm;
  Fallback ineligible = Fallback::kNone;
  bool single_host = false;  // every rank on one host (Strata's topology, the same on every rank)
};

std::mutex registry_mutex;               // guards the keyval and the registry, never a collective
std::unordered_set<Entry*> registry;     // every live entry, for teardown at finalize
int entry_keyval = MPI_KEYVAL_INVALID;

void print_stats() {
  int rank = -1;
  PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string line = fmt::format("strata-mpi: rank {}:", rank);
  for (int call = 0; call < static_cast<int>(Call::kCount); ++call) {
    std::string parts;
    for (int reason = 0; reason < static_cast<int>(Fallback::kCount); ++reason) {
      const uint64_t n = counters[call][reason].load(std::memory_order_relaxed);
      if (n) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", kFallbackNames[reason], n);
    }
    if (!parts.empty()) line += fmt::format(" {}({})", kCallNames[call], parts);
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

// MPI_Comm_free of a communicator: local teardown only, no communication.
int delete_entry(MPI_Comm, int, void* value, void*) {
  auto* entry = static_cast<Entry*>(value);
  std::lock_guard lock(registry_mutex);
  if (registry.erase(entry)) delete entry;
  return MPI_SUCCESS;
}

// Runs first inside MPI_Finalize (COMM_SELF's attributes go first, MPI still
// usable): destroys every Strata communicator, including those of
// communicators the program never freed, whose callbacks never run.
int finalize_all(MPI_Comm, int, void*, void*) {
  if (settings().stats) print_stats();
  std::lock_guard lock(registry_mutex);
  for (Entry* entry : registry) delete entry;
  registry.clear();
  return MPI_SUCCESS;
}

// The keyval, and the COMM_SELF hook, made once.
int keyval() {
  std::lock_guard lock(registry_mutex);
  if (entry_keyval == MPI_KEYVAL_INVALID) {
    PMPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, delete_entry, &entry_keyval, nullptr);
    int self_keyval = MPI_KEYVAL_INVALID;
    PMPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, finalize_all, &self_keyval, nullptr);
    PMPI_Comm_set_attr(MPI_COMM_SELF, self_keyval, nullptr);
  }
  return entry_keyval;
}

// Rank 0 makes a unique id and broadcasts it over `comm` (PMPI: never
// through these wrappers); every rank then joins over TCP and UCX.
Entry* create_entry(MPI_Comm comm, int rank, int size) {
  auto entry = std::make_unique<Entry>();
  runtime::UniqueId id{};
  const runtime::Config& config = runtime::config();
  if (rank == 0) id = runtime::create_unique_id(config.socket_ifname, config.timeout_s, runtime::join_policy());
  PMPI_Bcast(id.bytes.data(), static_cast<int>(id.bytes.size()), MPI_BYTE, 0, comm);
  // The communicator needs the bootstrap only while it is created. Kept open,
  // rank 0's root thread and sockets measurably slowed Open MPI's own
  // 8-byte calls beside it (0.6 -> 1.1 us), so it closes here.
  const std::unique_ptr<runtime::Bootstrap> bootstrap =
      runtime::connect_tcp_bootstrap(id, rank, size, config.timeout_s, runtime::join_policy());
  entry->comm = runtime::Communicator::create(*bootstrap, {"mpi"});
  entry->single_host = entry->comm->topology().node_count == 1;
  return entry.release();
}

void parse_collectives(const char* text, bool* takes) {
  const int n = static_cast<int>(Call::kCount);
  if (text == nullptr || *text == '\0') {
    for (int i = 0; i < n; ++i) takes[i] = true;
    return;
  }
  const bool exclude = text[0] == '^';
  for (int i = 0; i < n; ++i) takes[i] = exclude;
  std::string list(text + (exclude ? 1 : 0));
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, end - start);
    bool known = name.empty();
    for (int i = 0; i < n; ++i) {
      if (strcasecmp(name.c_str(), std::string(kCallNames[i]).c_str()) == 0) {
        takes[i] = !exclude;
        known = true;
      }
    }
    if (!known) log(LogLevel::kWarn, "STRATA_MPI_COLLECTIVES: '{}' is not a collective this library takes", name);
    start = end + 1;
  }
}

Settings read_settings() {
  const runtime::Config& config = runtime::config();
  Settings out;
  out.enabled = config.mpi;
  out.stats = config.mpi_stats;
  out.min_ranks = config.mpi_min_ranks;
  out.host_min_bytes = config.mpi_host_min_bytes;
  parse_collectives(config.mpi_collectives.c_str(), out.takes);
  return out;
}

}  // namespace

std::string_view call_name(Call call) { return kCallNames[static_cast<int>(call)]; }
std::string_view fallback_name(Fallback reason) { return kFallbackNames[static_cast<int>(reason)]; }

const Settings& settings() {
  static const Settings value = read_settings();
  return value;
}

void count_call(Call call, Fallback reason) {
  counters[static_cast<int>(call)][static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
  // The summary prints from the COMM_SELF hook, which calls that never reach
  // communicator_for (every call disabled, say) must install too.
  static std::atomic<bool> hooked{false};
  if (settings().stats && !hooked.load(std::memory_order_relaxed)) {
    keyval();
    hooked.store(true, std::memory_order_relaxed);
  }
}

namespace {

std::shared_ptr<runtime::Communicator> decide(const Entry& entry, uint64_t bytes, Fallback* reason) {
  *reason = entry.ineligible;
  if (*reason == Fallback::kNone && entry.single_host && bytes < settings().host_min_bytes) {
    *reason = Fallback::kSmallOnHost;
    return nullptr;
  }
  return entry.comm;
}

}  // namespace

std::shared_ptr<runtime::Communicator> communicator_for(MPI_Comm comm, uint64_t bytes, Fallback* reason) {
  const int key = keyval();
  void* value = nullptr;
  int found = 0;
  PMPI_Comm_get_attr(comm, key, &value, &found);
  if (found) return decide(*static_cast<Entry*>(value), bytes, reason);
  // Decided from what every rank of `comm` sees alike: its kind and size.
  int inter = 0, size = 0, rank = 0;
  PMPI_Comm_test_inter(comm, &inter);
  PMPI_Comm_size(comm, &size);
  PMPI_Comm_rank(comm, &rank);
  Entry* entry = nullptr;
  if (inter) {
    entry = new Entry{nullptr, Fallback::kInterComm};
  } else if (size < settings().min_ranks) {
    entry = new Entry{nullptr, Fallback::kSmallComm};
  } else {
    entry = create_entry(comm, rank, size);
  }
  {
    std::lock_guard lock(registry_mutex);
    registry.insert(entry);
  }
  PMPI_Comm_set_attr(comm, key, entry);
  return decide(*entry, bytes, reason);
}

}  // namespace strata::mpi
