// Building communicators: from a bootstrap (one rank per process, UCX), all
// ranks in this process (loopback), and by splitting an existing one.
#include <algorithm>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "runtime/bootstrap/bootstrap.h"
#include "runtime/communicator/communicator_impl.h"
#include "runtime/config/config.h"
#include "collectives/network.h"
#include "runtime/probe/link_lanes.h"
#include "runtime/probe/topology_probe.h"
#include "runtime/telemetry/metrics_server.h"
#include "runtime/telemetry/trace.h"
#include "runtime/transport/loopback/loopback_transport.h"
#include "runtime/transport/routed_transport.h"
#include "runtime/transport/shm/shm_transport.h"
#include "runtime/transport/ucx/ucx_transport.h"
#include "topology/host_identity.h"

namespace strata::runtime {
namespace {

constexpr size_t kHostIdBytes = 256;

topology::Topology exchange_host_ids(Bootstrap& bootstrap) {
  std::string mine = topology::detect_host_id(config().hostid);
  mine.resize(kHostIdBytes, '\0');
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(mine)));
  std::vector<std::string> host_ids;
  for (int rank = 0; rank < bootstrap.size(); ++rank) {
    const char* begin = reinterpret_cast<const char*>(all.data()) + rank * kHostIdBytes;
    host_ids.emplace_back(begin, strnlen(begin, kHostIdBytes));
  }
  return topology::Topology::from_host_ids(std::move(host_ids));
}

// Busy-polling only pays when every rank on the host has a core to itself;
// otherwise spinning ranks steal the cores their peers need to progress.
int choose_spin_us(const topology::Topology& topology, int rank) {
  if (config().spin_us >= 0) return config().spin_us;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int local = topology.ranks_on_node(topology.node_of_rank[rank]);
  return static_cast<unsigned>(local) <= cores ? 100 : 0;
}

int choose_yield_us(const topology::Topology& topology, int rank) {
  if (config().yield_us >= 0) return config().yield_us;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int local = topology.ranks_on_node(topology.node_of_rank[rank]);
  return static_cast<unsigned>(local) <= cores ? 0 : 1000;
}

// Shared memory to ranks on this host, UCX to the rest. Both factories are
// collective over the bootstrap, and every rank takes the same branches
// because every rank sees the same topology.
std::shared_ptr<Transport> connect_transports(Bootstrap& bootstrap, const topology::Topology& topology) {
  const int rank = bootstrap.rank();
  const std::vector<int> local = topology.ranks_of_node(topology.node_of_rank[rank]);
  std::vector<std::unique_ptr<Transport>> owned;
  std::vector<Transport*> route(bootstrap.size(), nullptr);
  if (config().shm) {
    owned.push_back(create_shm_transport(bootstrap, local,
                                         {.timeout_s = config().timeout_s,
                                          .use_cma = config().shm_cma,
                                          .peer_timeout_s = config().peer_timeout_s}));
    for (int peer : local) route[peer] = owned.back().get();
  }
  const bool everyone_local = topology.node_count == 1;
  if (!(config().shm && everyone_local)) {
    owned.push_back(create_ucx_transport(bootstrap, {.allow_shared_memory = config().ucx_shm,
                                                     .timeout_s = config().timeout_s,
                                                     .network_devices = config().ucx_net_devices,
                                                     .lanes = config().lanes > 0 ? config().lanes
                                                                                 : automatic_ucx_lanes(),
                                                     .peer_timeout_s = config().peer_timeout_s,
                                                     .watch_local_processes = config().watch_local_peers}));
    for (Transport*& slot : route)
      if (slot == nullptr) slot = owned.back().get();
  }
  return std::make_shared<RoutedTransport>(rank, std::move(owned), std::move(route));
}

// What one rank contributes to a split: its colour, its key, and the
// communicator ids in use on its process.
struct SplitEntry {
  int32_t color = 0, key = 0;
  std::vector<uint32_t> used_ids;
};

std::vector<SplitEntry> decode_split_entries(std::span<const int32_t> all, int size) {
  const size_t stride = 2 + kCommIdBitmapWords;
  std::vector<SplitEntry> entries(size);
  for (int rank = 0; rank < size; ++rank) {
    const int32_t* entry = all.data() + rank * stride;
    entries[rank].color = entry[0];
    entries[rank].key = entry[1];
    entries[rank].used_ids.assign(entry + 2, entry + stride);
  }
  return entries;
}

}  // namespace

bool telemetry_enabled() { return config().metrics || config().metrics_port > 0 || !config().trace.empty(); }

Communicator::Communicator(int rank, int size, const CommOptions& options, topology::Topology topology,
                           std::unique_ptr<Impl> impl)
    : rank_(rank), size_(size), name_(options.name), topology_(std::move(topology)), impl_(std::move(impl)) {
  impl_->sends_to.assign(size, 0);
  impl_->receives_from.assign(size, 0);
  impl_->limits.timeout_s = options.timeout_s > 0 ? options.timeout_s : config().timeout_s;
  impl_->compression = compression_with_options(impl_->compression, options.compression, options.compression_min_bytes,
                                                options.compression_max_gbps, rank);
  impl_->network = collectives::network_from_topology(topology_);
  impl_->rails.configure(impl_->network, rank_, size_);
  impl_->adapter.configure(impl_->network, rank_);
  impl_->recorder = std::make_unique<FlightRecorder>(fmt::format("comm '{}' rank {}/{}", name_, rank_, size_),
                                                     static_cast<size_t>(config().flight_recorder));
  install_flight_signal();
  if (telemetry_enabled()) {
    impl_->metrics = std::make_unique<telemetry::CommMetrics>(name_, impl_->comm_id, rank_, size_, impl_->network,
                                                              kMaxUcxLanes, telemetry::TraceLog::get());
    telemetry::start_metrics_endpoint();
  }
  log(LogLevel::kInfo, "comm '{}' rank {}/{}: transport {}, {} host(s), {} rank(s) on this host, spin {}us",
      name_, rank_, size_, impl_->transport->name(), topology_.node_count,
      topology_.ranks_on_node(topology_.node_of_rank[rank_]), impl_->limits.spin_us);
}

Communicator::~Communicator() = default;

std::shared_ptr<Communicator> Communicator::create(Bootstrap& bootstrap, const CommOptions& options) {
  topology::Topology topology = exchange_host_ids(bootstrap);
  share_node_hardware(bootstrap, topology);  // NUMA, cores, GPUs, NICs per node (hwloc)
  auto impl = std::make_unique<Impl>();
  impl->transport = connect_transports(bootstrap, topology);
  impl->node_shared_arenas = config().shm && topology.ranks_on_node(topology.node_of_rank[bootstrap.rank()]) > 1;
  // Sites and link distances, before any other traffic (the probe uses the transport's tags alone).
  discover_sites_and_distances(bootstrap, *impl->transport, topology);
  if (config().lanes == 0) {  // automatic: each link's own count, where it was measured
    const std::vector<int> lanes = lanes_per_peer(topology, bootstrap.rank(), tcp_rmem_max());
    for (int peer = 0; peer < static_cast<int>(lanes.size()); ++peer)
      if (lanes[peer] > 0) impl->transport->set_lanes(peer, lanes[peer]);
  }
  for (int rank = 0; rank < bootstrap.size(); ++rank) impl->transport_rank_of.push_back(rank);
  impl->ids = std::make_shared<CommIdSpace>();
  impl->limits.spin_us = choose_spin_us(topology, bootstrap.rank());
  impl->limits.yield_us = choose_yield_us(topology, bootstrap.rank());
  impl->compression = compression_from_config();
  std::shared_ptr<Communicator> comm(
      new Communicator(bootstrap.rank(), bootstrap.size(), options, std::move(topology), std::move(impl)));
  const uint64_t mine = comm->impl_->compression.hash();
  const std::vector<std::byte> all = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  std::vector<uint64_t> hashes(static_cast<size_t>(bootstrap.size()));
  std::memcpy(hashes.data(), all.data(), hashes.size() * sizeof(uint64_t));
  check_compression_agreement(hashes, comm->impl_->compression, comm->rank());
  return comm;
}

std::vector<std::shared_ptr<Communicator>> Communicator::create_local(int nranks, const CommOptions& options) {
  if (nranks < 1) fail(ErrorCode::kInvalidArgument, {}, "ndev={} must be at least 1", nranks);
  const std::string host = topology::detect_host_id(config().hostid);
  const topology::Topology topology = topology::Topology::from_host_ids(std::vector<std::string>(nranks, host));
  std::vector<std::shared_ptr<Communicator>> communicators;
  for (auto& transport : create_loopback_transports(nranks)) {
    auto impl = std::make_unique<Impl>();
    const int rank = transport->rank();
    impl->transport = std::move(transport);
    for (int peer = 0; peer < nranks; ++peer) impl->transport_rank_of.push_back(peer);
    impl->ids = std::make_shared<CommIdSpace>();
    impl->limits.spin_us = 0;  // loopback transfers complete inside post; waiting is a condition variable
    impl->compression = compression_from_config();  // one options object: every rank agrees
    communicators.push_back(
        std::shared_ptr<Communicator>(new Communicator(rank, nranks, options, topology, std::move(impl))));
  }
  return communicators;
}

std::shared_ptr<Communicator> Communicator::split(int color, int key, const CommOptions& options) {
  if (group_depth() > 0)
    fail(ErrorCode::kInvalidUsage, {rank_, -1, "split"}, "cannot split a communicator inside a group");
  // Everyone learns everyone's (color, key) and used ids over the data plane.
  std::vector<int32_t> mine{color, key};
  for (uint32_t word : impl_->ids->used_words()) mine.push_back(static_cast<int32_t>(word));
  std::vector<int32_t> all(mine.size() * size_);
  all_gather(mine.data(), all.data(), mine.size(), DataType::kInt32);
  const std::vector<SplitEntry> entries = decode_split_entries(all, size_);
  if (color < 0) return nullptr;

  std::vector<int> members;
  std::vector<std::vector<uint32_t>> members_used;
  for (int rank = 0; rank < size_; ++rank)
    if (entries[rank].color == color) members.push_back(rank);
  std::stable_sort(members.begin(), members.end(),
                   [&](int a, int b) { return entries[a].key < entries[b].key; });
  for (int member : members) members_used.push_back(entries[member].used_ids);
  const uint32_t child_id = CommIdSpace::lowest_free_in(members_used, rank_);
  impl_->ids->claim(child_id, rank_);
  return agreed(sub_communicator(members, child_id, options));
}

std::shared_ptr<Communicator> Communicator::agreed(std::shared_ptr<Communicator> child) {
  const uint64_t mine = child->impl_->compression.hash();
  std::vector<uint64_t> hashes(static_cast<size_t>(child->size()));
  child->all_gather(&mine, hashes.data(), 1, DataType::kUint64);
  check_compression_agreement(hashes, child->impl_->compression, child->rank());
  return child;
}

std::shared_ptr<Communicator> Communicator::sub_communicator(const std::vector<int>& members, uint32_t comm_id,
                                                             const CommOptions& options) const {
  auto impl = std::make_unique<Impl>();
  impl->transport = impl_->transport;
  impl->node_shared_arenas = impl_->node_shared_arenas;
  for (int member : members) impl->transport_rank_of.push_back(impl_->transport_rank_of[member]);
  impl->ids = impl_->ids;
  impl->comm_id = comm_id;
  impl->limits.spin_us = impl_->limits.spin_us;
  impl->limits.yield_us = impl_->limits.yield_us;
  impl->compression = impl_->compression;  // CommOptions may override it (the constructor)
  const int new_rank = static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
  // The child inherits what the caller leaves unset.
  CommOptions child = options;
  if (child.name.empty()) child.name = name_;
  if (child.timeout_s <= 0) child.timeout_s = impl_->limits.timeout_s;
  return std::shared_ptr<Communicator>(
      new Communicator(new_rank, static_cast<int>(members.size()), child, topology_.subset(members), std::move(impl)));
}

namespace {

// The ranks that stay, in order; throws naming `rank` for a list that is
// out of range, repeats a rank, or names the caller.
std::vector<int> survivors_of(std::span<const int> excluded, int rank, int size) {
  std::vector<bool> out(static_cast<size_t>(size), false);
  for (size_t i = 0; i < excluded.size(); ++i) {
    const int r = excluded[i];
    const ErrorContext context{rank, -1, "shrink"};
    if (r < 0 || r >= size)
      fail(ErrorCode::kInvalidArgument, context, "excluded rank [{}] = {} is not in 0..{}", i, r, size - 1);
    if (out[r]) fail(ErrorCode::kInvalidArgument, context, "excluded rank {} is listed twice", r);
    if (r == rank)
      fail(ErrorCode::kInvalidUsage, context, "rank {} is in its own exclude list (excluded ranks do not call shrink)",
           r);
    out[r] = true;
  }
  std::vector<int> survivors;
  for (int r = 0; r < size; ++r)
    if (!out[r]) survivors.push_back(r);
  return survivors;
}

}  // namespace

// The survivors agree on a child id over a private tag space (the shrink's
// id, sequence = parent id and attempt parity), never over this
// communicator's own, which may be failed and hold stale messages. Ranks
// that passed different lists wait for different peers, so the one left
// out times out naming whom it waited for.
std::shared_ptr<Communicator> Communicator::shrink(std::span<const int> excluded, const CommOptions& options) {
  if (group_depth() > 0)
    fail(ErrorCode::kInvalidUsage, {rank_, -1, "shrink"}, "cannot shrink a communicator inside a group");
  const std::vector<int> survivors = survivors_of(excluded, rank_, size_);
  const uint32_t attempt = impl_->shrink_attempts++;
  CommOptions child = options;
  if (child.timeout_s <= 0) child.timeout_s = impl_->limits.timeout_s;
  std::shared_ptr<Communicator> agreement =
      sub_communicator(survivors, kShrinkCommId, {.name = name_ + "/shrink", .timeout_s = child.timeout_s});
  agreement->impl_->ids = nullptr;  // kShrinkCommId is reserved, never released
  agreement->impl_->collective_sequence = (impl_->comm_id << 1) | (attempt & 1);

  const std::vector<uint32_t> mine = impl_->ids->used_words();
  const size_t n = survivors.size();
  std::vector<uint32_t> all(mine.size() * n);
  agreement->all_gather(mine.data(), all.data(), mine.size(), DataType::kUint32);
  std::vector<std::vector<uint32_t>> members_used;
  for (size_t i = 0; i < n; ++i)
    members_used.emplace_back(all.begin() + i * mine.size(), all.begin() + (i + 1) * mine.size());
  const uint32_t child_id = CommIdSpace::lowest_free_in(members_used, rank_);
  impl_->ids->claim(child_id, rank_);
  return agreed(sub_communicator(survivors, child_id, child));
}

}  // namespace strata::runtime
