// Setup, endpoints, peer failure and teardown of the UCX transport.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "runtime/transport/ucx/ucx_transport_impl.h"

namespace strata::runtime {
namespace {

// Teardown waits this long at most for endpoints to flush: a dead or stalled
// peer must not hold up the destruction of a communicator for STRATA_TIMEOUT.
constexpr double kCloseWaitLimitS = 10.0;

// How often peers on this host with transfers pending are checked for life:
// reading one /proc file each, so cheap enough to do every second.
constexpr auto kProcessCheckInterval = std::chrono::seconds(1);

std::string print_endpoint(ucp_ep_h endpoint) {
  char* buffer = nullptr;
  size_t length = 0;
  FILE* stream = open_memstream(&buffer, &length);
  if (stream == nullptr) return "(open_memstream failed)";
  ucp_ep_print_info(endpoint, stream);
  std::fclose(stream);
  std::string text(buffer, length);
  std::free(buffer);
  return text;
}

}  // namespace

UcxTransport::UcxTransport(Bootstrap& bootstrap, const UcxTransportOptions& options)
    : options_(options), rank_(bootstrap.rank()), worker_(options, bootstrap.rank()) {
  if (options.lanes < 1 || options.lanes > kMaxUcxLanes) {
    fail(ErrorCode::kInvalidArgument, {rank_, -1, "UCX transport setup"}, "lanes is {}; it must be 1..{}",
         options.lanes, kMaxUcxLanes);
  }
  std::vector<PeerContact> contacts = exchange_contacts(bootstrap, worker_.address());
  const ProcessIdentity& self = contacts[rank_].process;
  peers_.reserve(contacts.size());
  for (size_t rank = 0; rank < contacts.size(); ++rank) {
    Peer& peer = peers_.emplace_back();
    peer.owner = this;
    peer.rank = static_cast<int>(rank);
    peer.address = std::move(contacts[rank].address);
    peer.process = contacts[rank].process;
    // Messages to itself never touch a network: more lanes would only add endpoints.
    peer.lane_count = static_cast<int>(rank) == rank_ ? 1 : options.lanes;
    peer.endpoint_count = peer.lane_count;
    peer.watchable = options.watch_local_processes && static_cast<int>(rank) != rank_ &&
                     can_watch(self, peer.process);
    watches_processes_ |= peer.watchable;
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    fail(ErrorCode::kSystem, {rank_, -1, "UCX transport setup"}, "eventfd failed: {}", std::strerror(errno));
  }
  std::lock_guard lock(mutex_);
  post_control_receive_locked();
  if (options.peer_timeout_s > 0) liveness_thread_ = std::thread([this] { run_liveness_thread(); });
}

UcxTransport::~UcxTransport() {
  stop_liveness_thread();
  std::unique_lock lock(mutex_);
  shut_down_locked(lock);
  lock.unlock();
  ::close(wake_fd_);
}

// Endpoints are created on first use rather than to every rank up front: a
// schedule talks to a few peers (ring neighbours, tree parent and children,
// one rail per site), so eager creation would open O(ranks) connections per
// process for nothing at hundreds of ranks. All lanes of a peer are created
// together, so that the k-th endpoint each side makes pairs with the other's
// k-th (UCX matches them by creation order) and every lane reports failures.
bool UcxTransport::connect_locked(int rank) {
  Peer& peer = peers_[rank];
  if (!peer.endpoints.empty()) return true;
  if (!peer.failure.empty()) return false;  // never reconnect: the peer's state is gone
  if (peer.departed) return false;          // nor to a peer that has left
  for (int lane = 0; lane < peer.endpoint_count; ++lane) {
    ucp_ep_h endpoint = create_endpoint_locked(peer, lane);
    if (endpoint == nullptr) {
      close_endpoints_locked(peer, true);  // all lanes or none: a message may take any of them
      return false;
    }
    peer.endpoints.push_back(endpoint);
  }
  return true;
}

// Extra endpoints only before the first message: all of a peer's endpoints
// are created together, so that the k-th pairs with the other side's k-th.
// post_send keeps to the first lane_count: on the testbed, collectives
// spread over 16 lanes ran 15-40% slower than over one (docs/topology.md).
int UcxTransport::connect(int rank, int connections) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= size())
    fail(ErrorCode::kInvalidArgument, {rank_, rank, "ucx connect"}, "peer {} is out of range", rank);
  Peer& peer = peers_[rank];
  if (peer.endpoints.empty() && rank != rank_)
    peer.endpoint_count = std::clamp(connections, peer.lane_count, kMaxUcxLanes);
  return connect_locked(rank) ? static_cast<int>(peer.endpoints.size()) : 1;
}

// Endpoints made already (the topology probe's) stay; the lanes are the
// first of them.
void UcxTransport::set_lanes(int rank, int lanes) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= size())
    fail(ErrorCode::kInvalidArgument, {rank_, rank, "ucx set_lanes"}, "peer {} is out of range", rank);
  if (lanes < 1 || lanes > kMaxUcxLanes)
    fail(ErrorCode::kInvalidArgument, {rank_, rank, "ucx set_lanes"}, "lanes is {}; it must be 1..{}", lanes,
         kMaxUcxLanes);
  Peer& peer = peers_[rank];
  if (rank == rank_) return;  // messages to itself never touch a network
  if (peer.endpoints.empty()) {
    peer.lane_count = lanes;
    peer.endpoint_count = lanes;
  } else {
    peer.lane_count = std::min(lanes, static_cast<int>(peer.endpoints.size()));
  }
}

ucp_ep_h UcxTransport::endpoint_locked(int rank, uint64_t tag) {
  if (!connect_locked(rank)) return nullptr;
  return peers_[rank].endpoints[ucx_lane_for_tag(tag, peers_[rank].lane_count)];
}

int UcxTransport::lane_of(int rank, uint64_t tag) {
  std::lock_guard lock(mutex_);
  return ucx_lane_for_tag(tag, peers_[static_cast<size_t>(rank)].lane_count);
}

ucp_ep_h UcxTransport::endpoint_via_locked(int rank, int connection) {
  if (!connect_locked(rank)) return nullptr;
  const std::vector<ucp_ep_h>& endpoints = peers_[rank].endpoints;
  return endpoints[static_cast<size_t>(connection) % endpoints.size()];
}

ucp_ep_h UcxTransport::create_endpoint_locked(Peer& peer, int lane) {
  ucp_ep_params_t params{};
  params.field_mask =
      UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(peer.address.data());
  // PEER mode makes a dead peer fail pending operations instead of hanging them.
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = on_endpoint_error;
  params.err_handler.arg = &peer;
  ucp_ep_h endpoint = nullptr;
  ucs_status_t status = ucp_ep_create(worker_.get(), &params, &endpoint);
  if (status != UCS_OK) {
    peer.failure = fmt::format("cannot create an endpoint (lane {} of {}): {}", lane, peer.endpoint_count,
                               ucs_status_string(status));
    log(LogLevel::kWarn, "ucx: rank {}: peer {}: {}", rank_, peer.rank, peer.failure);
    return nullptr;
  }
  if (log_level() >= LogLevel::kInfo) {
    log(LogLevel::kInfo, "ucx: rank {} -> peer {} (lane {} of {}):\n{}", rank_, peer.rank, lane, peer.endpoint_count,
        print_endpoint(endpoint));
  }
  return endpoint;
}

std::string UcxTransport::describe_path(int rank) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= size()) {
    fail(ErrorCode::kInvalidArgument, {rank_, rank, "describe_ucx_path"}, "peer {} is out of range", rank);
  }
  if (!connect_locked(rank)) return "unreachable: " + peers_[rank].failure;
  const std::vector<ucp_ep_h>& endpoints = peers_[rank].endpoints;
  if (endpoints.size() == 1) return print_endpoint(endpoints[0]);
  std::string text;
  for (size_t lane = 0; lane < endpoints.size(); ++lane) {
    text += fmt::format("endpoint {} of {}:\n{}", lane, endpoints.size(), print_endpoint(endpoints[lane]));
  }
  return text;
}

// Acted on after the UCX call that reported it returns, not inside it.
void UcxTransport::on_endpoint_error(void* arg, ucp_ep_h endpoint, ucs_status_t status) {
  auto* peer = static_cast<Peer*>(arg);
  std::string reason = ucs_status_string(status);
  auto found = std::find(peer->endpoints.begin(), peer->endpoints.end(), endpoint);
  if (peer->endpoints.size() > 1 && found != peer->endpoints.end()) {
    reason += fmt::format(" (lane {} of {})", found - peer->endpoints.begin(), peer->endpoints.size());
  }
  peer->owner->suspicions_.push_back({peer->rank, endpoint, std::move(reason)});
}

void UcxTransport::suspect_locked(int rank, ucp_ep_h endpoint, std::string reason) {
  suspicions_.push_back({rank, endpoint, std::move(reason)});
}

// A peer's goodbye may still be in flight on another connection than the
// one that reported the error, or sit unread while its process is already
// gone: read what the worker has first. Then a peer that said goodbye has
// simply left (only the endpoint that failed is closed: its other lanes may
// still hold its last messages); any other is gone. One lane failing fails
// the peer: its messages may be on any lane, and a lost one would leave a
// receive waiting forever.
void UcxTransport::judge_suspicions_locked() {
  constexpr int kDrainRounds = 64;
  for (int round = 0; round < kDrainRounds && ucp_worker_progress(worker_.get()) > 0; ++round) {
  }
  take_control_messages_locked();
  while (!suspicions_.empty()) {
    Suspicion suspicion = std::move(suspicions_.back());
    suspicions_.pop_back();
    Peer& peer = peers_[suspicion.rank];
    if (peer.departed) {
      if (suspicion.endpoint != nullptr) close_endpoint_locked(peer, suspicion.endpoint);
      continue;
    }
    if (!peer.failure.empty()) continue;
    peer.failure = std::move(suspicion.reason);
    // Endpoints made only to carry notices fail quietly: announcing those
    // would make every exited rank that never said goodbye here a "death".
    mark_failed_locked(peer.rank, peer.used);
  }
}

void UcxTransport::mark_failed_locked(int rank, bool announce) {
  if (std::find(failed_peers_.begin(), failed_peers_.end(), rank) == failed_peers_.end()) failed_peers_.push_back(rank);
  if (announce && std::find(to_announce_.begin(), to_announce_.end(), rank) == to_announce_.end()) {
    to_announce_.push_back(rank);
  }
}

void UcxTransport::close_endpoint_locked(Peer& peer, ucp_ep_h endpoint) {
  auto found = std::find(peer.endpoints.begin(), peer.endpoints.end(), endpoint);
  if (found == peer.endpoints.end()) return;  // being closed already
  peer.endpoints.erase(found);
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = UCP_EP_CLOSE_FLAG_FORCE;
  ucs_status_ptr_t request = ucp_ep_close_nbx(endpoint, &param);
  if (UCS_PTR_IS_PTR(request)) close_requests_.push_back(request);
}

// A peer on this host that this transport carried traffic with is also
// looked at directly: its death may make no event while nothing is pending
// with it. Peers it never used are another transport's business (a routed
// peer on shared memory), and their deaths reach here as failure notices.
std::string UcxTransport::peer_failure(int rank) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= static_cast<int>(peers_.size())) return {};
  Peer& peer = peers_[rank];
  if (peer.failure.empty() && !peer.departed && peer.used && peer.watchable && !process_alive(peer.process)) {
    suspect_locked(rank, nullptr, fmt::format("its process (pid {} on this host) has exited", peer.process.pid));
    handle_peer_failures_locked();
  }
  return peer.failure.empty() ? std::string() : fmt::format("ucx: peer {} failed: {}", rank, peer.failure);
}

void UcxTransport::handle_peer_failures_locked() {
  if (!suspicions_.empty()) judge_suspicions_locked();
  std::vector<int> announce = std::move(to_announce_);
  to_announce_.clear();
  for (int rank : announce) announce_failure_locked(rank);
  while (!failed_peers_.empty()) {
    int rank = failed_peers_.back();
    failed_peers_.pop_back();
    Peer& peer = peers_[rank];
    // A peer that goes away with nothing pending toward it has simply finished.
    bool involved = std::any_of(operations_.begin(), operations_.end(),
                                [&](const auto& entry) { return entry.second->peer == rank; });
    log(involved ? LogLevel::kWarn : LogLevel::kInfo, "ucx: rank {}: peer {} failed: {}", rank_, rank, peer.failure);
    // UCX wants a failed endpoint closed; that ends its sends as canceled.
    // The healthy lanes go too, so no send to this peer stays pending.
    close_endpoints_locked(peer, true);
    cancel_receives_from_locked(rank);
  }
}

void UcxTransport::check_peer_processes_locked() {
  if (operations_.empty()) return;
  auto now = Clock::now();
  if (now < next_process_check_) return;
  next_process_check_ = now + kProcessCheckInterval;
  std::vector<bool> involved(peers_.size(), false);
  for (const auto& entry : operations_) involved[entry.second->peer] = true;
  for (Peer& peer : peers_) {
    if (!involved[peer.rank] || !peer.watchable || !peer.failure.empty() || peer.departed) continue;
    if (process_alive(peer.process)) continue;
    suspect_locked(peer.rank, nullptr, fmt::format("its process (pid {} on this host) has exited", peer.process.pid));
  }
}

void UcxTransport::cancel_receives_from_locked(int rank) {
  std::vector<void*> requests;
  for (const auto& [raw, operation] : operations_) {
    if (operation->is_recv && operation->peer == rank && operation->request != nullptr) {
      requests.push_back(operation->request);
    }
  }
  // Each cancel may complete (and free) its own operation, never another.
  for (void* request : requests) ucp_request_cancel(worker_.get(), request);
}

void UcxTransport::close_endpoints_locked(Peer& peer, bool force) {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  // Emptied first, so that an error reported while closing finds no lane to name.
  std::vector<ucp_ep_h> endpoints = std::move(peer.endpoints);
  peer.endpoints.clear();
  for (ucp_ep_h endpoint : endpoints) {
    ucs_status_ptr_t request = ucp_ep_close_nbx(endpoint, &param);
    if (UCS_PTR_IS_PTR(request)) close_requests_.push_back(request);
  }
}

void UcxTransport::reap_close_requests_locked() {
  std::erase_if(close_requests_, [](void* request) {
    if (ucp_request_check_status(request) == UCS_INPROGRESS) return false;
    ucp_request_free(request);
    return true;
  });
}

void UcxTransport::shut_down_locked(std::unique_lock<std::mutex>& lock) {
  handle_peer_failures_locked();
  for (int rank = 0; rank < size(); ++rank) cancel_receives_from_locked(rank);
  say_goodbye_locked();  // before the closes: each goodbye must precede its connection's end
  control_closing_ = true;
  if (control_request_ != nullptr && !control_arrived_) ucp_request_cancel(worker_.get(), control_request_);
  for (Peer& peer : peers_) {
    if (peer.endpoints.empty()) continue;
    // Flush what was sent, unless sends to this peer are still pending: the
    // caller gave up on those, and flushing would wait for them.
    bool abandoned = std::any_of(operations_.begin(), operations_.end(), [&](const auto& entry) {
      return entry.second->peer == peer.rank;
    });
    // A peer left with a transfer pending is told this rank abandons it
    // (its receives then fail at once); the others get their goodbye above.
    if (abandoned) send_control_locked(peer.rank, make_control_message(ControlKind::kReset, rank_), -1);
    close_endpoints_locked(peer, abandoned);
  }
  auto limit = std::chrono::duration<double>(std::min(options_.timeout_s, kCloseWaitLimitS));
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(limit);
  // Transfers with a peer known gone will not finish: they are abandoned below.
  auto live_transfers = [&] {
    return std::count_if(operations_.begin(), operations_.end(),
                         [&](const auto& entry) { return peers_[entry.second->peer].failure.empty(); });
  };
  auto busy = [&] {
    reap_control_sends_locked();
    return !close_requests_.empty() || live_transfers() > 0 || !control_sends_.empty() ||
           (control_request_ != nullptr && !control_arrived_);
  };
  while (busy() && Clock::now() < deadline) {
    if (progress_locked()) continue;
    if (ucp_worker_arm(worker_.get()) == UCS_ERR_BUSY) continue;
    lock.unlock();
    pollfd fd{worker_.event_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    lock.lock();
  }
  if (!close_requests_.empty() || live_transfers() > 0) {
    log(LogLevel::kWarn, "ucx: rank {}: teardown gave up on {} endpoint closes and {} transfers after {:.3g} s",
        rank_, close_requests_.size(), live_transfers(), limit.count());
  }
  // Requests still held are freed now and released by UCX when the worker goes.
  take_control_messages_locked();
  if (control_request_ != nullptr) ucp_request_free(control_request_);
  control_request_ = nullptr;
  // Their buffers stay (control_sends_ outlives worker_) until UCX lets go.
  for (ControlSend& send : control_sends_) ucp_request_free(send.request);
  // Whatever UCX still holds may complete while the worker is destroyed:
  // leave those operations ownerless (their callbacks then free themselves).
  for (auto& [raw, operation] : operations_) {
    if (operation->done != nullptr) {
      operation->done->error = "ucx: the transport was destroyed with this transfer pending";
      operation->done->state.store(Completion::kFailed, std::memory_order_release);
    }
    operation->done = nullptr;
    operation->owner = nullptr;
    operation.release();
  }
  operations_.clear();
  by_completion_.clear();
  for (void* request : close_requests_) ucp_request_free(request);
  close_requests_.clear();
}

}  // namespace strata::runtime
