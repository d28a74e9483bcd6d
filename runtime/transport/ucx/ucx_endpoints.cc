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
  std::vector<PeerContact> contacts = exchange_contacts(bootstrap, worker_.address());
  const ProcessIdentity& self = contacts[rank_].process;
  peers_.reserve(contacts.size());
  for (size_t rank = 0; rank < contacts.size(); ++rank) {
    Peer& peer = peers_.emplace_back();
    peer.owner = this;
    peer.rank = static_cast<int>(rank);
    peer.address = std::move(contacts[rank].address);
    peer.process = contacts[rank].process;
    peer.watchable = static_cast<int>(rank) != rank_ && can_watch(self, peer.process);
    watches_processes_ |= peer.watchable;
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    fail(ErrorCode::kSystem, {rank_, -1, "UCX transport setup"}, "eventfd failed: {}", std::strerror(errno));
  }
}

UcxTransport::~UcxTransport() {
  std::unique_lock lock(mutex_);
  shut_down_locked(lock);
  lock.unlock();
  ::close(wake_fd_);
}

// Endpoints are created on first use rather than to every rank up front: a
// schedule talks to a few peers (ring neighbours, tree parent and children,
// one rail per site), so eager creation would open O(ranks) connections per
// process for nothing at hundreds of ranks.
ucp_ep_h UcxTransport::endpoint_locked(int rank) {
  Peer& peer = peers_[rank];
  if (peer.endpoint != nullptr) return peer.endpoint;
  if (!peer.failure.empty()) return nullptr;  // never reconnect: the peer's state is gone
  ucp_ep_params_t params{};
  params.field_mask =
      UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER;
  params.address = reinterpret_cast<const ucp_address_t*>(peer.address.data());
  // PEER mode makes a dead peer fail pending operations instead of hanging them.
  params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  params.err_handler.cb = on_endpoint_error;
  params.err_handler.arg = &peer;
  ucs_status_t status = ucp_ep_create(worker_.get(), &params, &peer.endpoint);
  if (status != UCS_OK) {
    peer.endpoint = nullptr;
    peer.failure = fmt::format("cannot create an endpoint: {}", ucs_status_string(status));
    log(LogLevel::kWarn, "ucx: rank {}: peer {}: {}", rank_, rank, peer.failure);
    return nullptr;
  }
  if (log_level() >= LogLevel::kInfo) {
    log(LogLevel::kInfo, "ucx: rank {} -> peer {}:\n{}", rank_, rank, print_endpoint(peer.endpoint));
  }
  return peer.endpoint;
}

std::string UcxTransport::describe_path(int rank) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= size()) {
    fail(ErrorCode::kInvalidArgument, {rank_, rank, "describe_ucx_path"}, "peer {} is out of range", rank);
  }
  ucp_ep_h endpoint = endpoint_locked(rank);
  if (endpoint == nullptr) return "unreachable: " + peers_[rank].failure;
  return print_endpoint(endpoint);
}

void UcxTransport::on_endpoint_error(void* arg, ucp_ep_h /*endpoint*/, ucs_status_t status) {
  auto* peer = static_cast<Peer*>(arg);
  if (peer->failure.empty()) peer->failure = ucs_status_string(status);
  // Acted on after the UCX call that reported it returns, not inside it.
  peer->owner->failed_peers_.push_back(peer->rank);
}

void UcxTransport::handle_peer_failures_locked() {
  while (!failed_peers_.empty()) {
    int rank = failed_peers_.back();
    failed_peers_.pop_back();
    Peer& peer = peers_[rank];
    // A peer that goes away with nothing pending toward it has simply finished.
    bool involved = std::any_of(operations_.begin(), operations_.end(),
                                [&](const auto& entry) { return entry.second->peer == rank; });
    log(involved ? LogLevel::kWarn : LogLevel::kInfo, "ucx: rank {}: peer {} failed: {}", rank_, rank, peer.failure);
    // UCX wants a failed endpoint closed; that ends its sends as canceled.
    if (peer.endpoint != nullptr) close_endpoint_locked(peer, true);
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
    if (!involved[peer.rank] || !peer.watchable || !peer.failure.empty()) continue;
    if (process_alive(peer.process)) continue;
    peer.failure = fmt::format("its process (pid {} on this host) has exited", peer.process.pid);
    failed_peers_.push_back(peer.rank);
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

void UcxTransport::close_endpoint_locked(Peer& peer, bool force) {
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
  param.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  ucp_ep_h endpoint = peer.endpoint;
  peer.endpoint = nullptr;
  ucs_status_ptr_t request = ucp_ep_close_nbx(endpoint, &param);
  if (UCS_PTR_IS_PTR(request)) close_requests_.push_back(request);
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
  for (Peer& peer : peers_) {
    if (peer.endpoint == nullptr) continue;
    // Flush what was sent, unless sends to this peer are still pending: the
    // caller gave up on those, and flushing would wait for them.
    bool abandoned = std::any_of(operations_.begin(), operations_.end(), [&](const auto& entry) {
      return entry.second->peer == peer.rank;
    });
    close_endpoint_locked(peer, abandoned);
  }
  auto limit = std::chrono::duration<double>(std::min(options_.timeout_s, kCloseWaitLimitS));
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(limit);
  while ((!close_requests_.empty() || !operations_.empty()) && Clock::now() < deadline) {
    if (progress_locked()) continue;
    if (ucp_worker_arm(worker_.get()) == UCS_ERR_BUSY) continue;
    lock.unlock();
    pollfd fd{worker_.event_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
    lock.lock();
  }
  if (!close_requests_.empty() || !operations_.empty()) {
    log(LogLevel::kWarn, "ucx: rank {}: teardown gave up on {} endpoint closes and {} transfers after {:.3g} s",
        rank_, close_requests_.size(), operations_.size(), limit.count());
  }
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
