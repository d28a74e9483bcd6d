// Posting, completion, progress and waiting. Every UCX call happens under
// mutex_, so UCX callbacks (which only run inside UCX calls) run under it too
// and touch state without locking.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/error.h"
#include "common/log.h"
#include "runtime/transport/ucx/ucx_transport_impl.h"

namespace strata::runtime {
namespace {

// The caller encodes the sender in the tag, so receives match the whole tag.
constexpr ucp_tag_t kFullTagMask = ~ucp_tag_t{0};

// How long cancel() waits for UCX to let go of a transfer with a peer known gone.
constexpr double kGoneCancelWaitS = 0.2;

// How long cancel() and teardown wait for UCX to let go of a buffer.
std::chrono::duration<double> bounded_wait(const UcxTransportOptions& options) {
  return std::chrono::duration<double>(std::min(options.timeout_s, 10.0));
}

}  // namespace

UcxTransport::Operation* UcxTransport::add_operation_locked(Completion* done, int peer, bool is_recv, uint64_t tag,
                                                            size_t bytes) {
  ErrorContext context{rank_, peer, is_recv ? "ucx post_recv" : "ucx post_send"};
  if (peer < 0 || peer >= size()) fail(ErrorCode::kInvalidArgument, context, "peer {} is out of range: there are {} ranks", peer, size());
  if (done == nullptr) fail(ErrorCode::kInvalidArgument, context, "no Completion given");
  if (by_completion_.contains(done)) {
    fail(ErrorCode::kInvalidUsage, context, "the Completion is still in use by a pending transfer");
  }
  done->state.store(Completion::kPending, std::memory_order_relaxed);
  done->received_bytes = 0;
  done->error.clear();
  auto operation = std::make_unique<Operation>();
  operation->owner = this;
  operation->done = done;
  operation->peer = peer;
  operation->is_recv = is_recv;
  operation->tag = tag;
  operation->bytes = bytes;
  Operation* raw = operation.get();
  operations_.emplace(raw, std::move(operation));
  by_completion_.emplace(done, raw);
  return raw;
}

void UcxTransport::post_send(int peer, uint64_t tag, const void* data, size_t bytes, Completion* done) {
  std::lock_guard lock(mutex_);
  handle_peer_failures_locked();
  send_locked(peer, -1, tag, data, bytes, done);
}

void UcxTransport::post_send_via(int peer, int connection, uint64_t tag, const void* data, size_t bytes,
                                 Completion* done) {
  std::lock_guard lock(mutex_);
  handle_peer_failures_locked();
  send_locked(peer, std::max(connection, 0), tag, data, bytes, done);
}

// `connection` < 0: the lane the tag picks.
void UcxTransport::send_locked(int peer, int connection, uint64_t tag, const void* data, size_t bytes,
                               Completion* done) {
  Operation* operation = add_operation_locked(done, peer, false, tag, bytes);  // checks `peer`
  peers_[peer].used = true;
  ucp_ep_h endpoint = connection < 0 ? endpoint_locked(peer, tag) : endpoint_via_locked(peer, connection);
  if (endpoint == nullptr) {
    complete_locked(operation, UCS_ERR_UNREACHABLE, 0);
    return;
  }
  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  param.cb.send = on_send_done;
  param.user_data = operation;
  post_locked(operation, ucp_tag_send_nbx(endpoint, data, bytes, tag, &param), 0);
}

void UcxTransport::post_recv(int peer, uint64_t tag, void* data, size_t bytes, Completion* done) {
  std::lock_guard lock(mutex_);
  handle_peer_failures_locked();
  Operation* operation = add_operation_locked(done, peer, true, tag, bytes);
  peers_[peer].used = true;
  // Tag receives are not tied to an endpoint (a message matches here whichever
  // lane it came on); having the endpoints to the sender is what lets UCX
  // report the sender's death, which fails this receive.
  connect_locked(peer);
  ucp_request_param_t param{};
  // UCX 1.13.1 leaves recv_info.tag_info unset when a receive completes
  // inside the call (a message already waiting), so the length would be
  // lost: insist on a request, whose callback (run inside the call) has it.
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  param.cb.recv = on_recv_done;
  param.user_data = operation;
  ucs_status_ptr_t result = ucp_tag_recv_nbx(worker_.get(), data, bytes, tag, kFullTagMask, &param);
  operation = post_locked(operation, result, 0);
  // A message that is not here yet will never come from a failed peer.
  if (operation != nullptr && !peers_[peer].failure.empty()) ucp_request_cancel(worker_.get(), operation->request);
}

UcxTransport::Operation* UcxTransport::post_locked(Operation* operation, ucs_status_ptr_t result,
                                                   size_t immediate_bytes) {
  operation->posting = false;
  if (result == nullptr) {  // UCS_OK: done before the call returned, and no callback will come
    complete_locked(operation, UCS_OK, immediate_bytes);
    return nullptr;
  }
  if (UCS_PTR_IS_ERR(result)) {
    complete_locked(operation, UCS_PTR_STATUS(result), 0);
    return nullptr;
  }
  operation->request = result;
  if (operation->completed_while_posting) {
    complete_locked(operation, operation->status, operation->received_bytes);
    return nullptr;
  }
  return operation;
}

// Both UCX callbacks end here: free an abandoned operation, record a
// completion that arrived inside the posting call, or apply it.
void UcxTransport::on_done(void* request, ucs_status_t status, size_t received_bytes, void* user_data) {
  auto* operation = static_cast<Operation*>(user_data);
  if (operation->owner == nullptr) {  // abandoned at teardown
    ucp_request_free(request);
    delete operation;
    return;
  }
  if (operation->posting) {
    operation->completed_while_posting = true;
    operation->status = status;
    operation->received_bytes = received_bytes;
    return;
  }
  operation->owner->complete_locked(operation, status, received_bytes);
}

void UcxTransport::on_send_done(void* request, ucs_status_t status, void* user_data) {
  on_done(request, status, 0, user_data);
}

void UcxTransport::on_recv_done(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                                void* user_data) {
  on_done(request, status, info != nullptr ? info->length : 0, user_data);
}

void UcxTransport::complete_locked(Operation* operation, ucs_status_t status, size_t received_bytes) {
  if (operation->request != nullptr) ucp_request_free(operation->request);
  Completion* done = operation->done;
  std::string error = status == UCS_OK ? std::string() : describe_failure_locked(*operation, status);
  const bool operation_was_recv = operation->is_recv;
  const int peer = operation->peer;
  if (done != nullptr) by_completion_.erase(done);
  operations_.erase(operation);  // frees it
  ++completions_;
  if (waiters_ > 0) {  // they may be waiting for this one: see wake_fd_
    uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(wake_fd_, &one, sizeof(one));
  }
  if (status == UCS_OK && operation_was_recv) {  // a sign of life, for liveness and goodbyes
    Peer& from = peers_[peer];
    from.heard_from = true;
    if (options_.peer_timeout_s > 0) from.heard = Clock::now();
  }
  if (done == nullptr) return;  // orphaned by a cancel that gave up waiting
  if (status == UCS_OK) {
    done->received_bytes = received_bytes;
    done->state.store(Completion::kDone, std::memory_order_release);
  } else {
    done->error = std::move(error);
    done->state.store(Completion::kFailed, std::memory_order_release);
  }
}

std::string UcxTransport::describe_failure_locked(const Operation& operation, ucs_status_t status) const {
  const char* direction = operation.is_recv ? "receive from" : "send to";
  const Peer& peer = peers_[operation.peer];
  if (operation.is_recv && status == UCS_ERR_MESSAGE_TRUNCATED) {
    return fmt::format("ucx: message from peer {} with tag {:#x} does not fit the {}-byte receive buffer", operation.peer,
                       operation.tag, operation.bytes);
  }
  if (!peer.failure.empty()) {
    return fmt::format("ucx: {} peer {} failed: the peer is gone ({})", direction, operation.peer, peer.failure);
  }
  if (peer.departed) {
    return fmt::format("ucx: {} peer {} failed: the peer has left (it destroyed its transport)", direction,
                       operation.peer);
  }
  if (status == UCS_ERR_CANCELED) {
    return fmt::format("ucx: {} peer {} (tag {:#x}) was canceled", direction, operation.peer, operation.tag);
  }
  return fmt::format("ucx: {} peer {} ({} bytes, tag {:#x}) failed: {}", direction, operation.peer, operation.bytes,
                     operation.tag, ucs_status_string(status));
}

bool UcxTransport::progress() {
  std::lock_guard lock(mutex_);
  return progress_locked();
}

bool UcxTransport::progress_locked() {
  uint64_t before = completions_;
  unsigned events = ucp_worker_progress(worker_.get());
  take_control_messages_locked();
  check_peer_processes_locked();
  handle_peer_failures_locked();
  reap_close_requests_locked();
  reap_control_sends_locked();
  seen_completions_[std::this_thread::get_id()] = completions_;
  return events > 0 || completions_ != before;
}

Transport::Armed UcxTransport::arm_wait(WaitSet& set) {
  std::lock_guard lock(mutex_);
  uint64_t& seen = seen_completions_[std::this_thread::get_id()];
  if (seen != completions_ || !failed_peers_.empty() || !suspicions_.empty() || control_arrived_) {  // something happened that this thread has not seen
    seen = completions_;
    return Armed::kBusy;
  }
  if (waiters_ == 0) {  // nobody sleeps on the wake fd, so clearing it cannot strand anyone
    uint64_t count;
    [[maybe_unused]] ssize_t got = ::read(wake_fd_, &count, sizeof(count));
  }
  // Arm fails with BUSY when events are already queued: the caller should progress, not sleep.
  ucs_status_t status = ucp_worker_arm(worker_.get());
  if (status == UCS_ERR_BUSY) return Armed::kBusy;
  if (status != UCS_OK) log(LogLevel::kWarn, "ucx: ucp_worker_arm failed: {}", ucs_status_string(status));
  // A peer process dying makes no event; wake for the next check of it.
  if (watches_processes_ && !operations_.empty()) {
    auto until_check = std::chrono::duration_cast<std::chrono::microseconds>(next_process_check_ - Clock::now());
    set.timeout = std::clamp(until_check, std::chrono::microseconds(0), set.timeout);
  }
  ++waiters_;
  set.fds.push_back({worker_.event_fd(), POLLIN, 0});
  set.fds.push_back({wake_fd_, POLLIN, 0});
  return Armed::kArmed;
}

void UcxTransport::disarm_wait() {
  std::lock_guard lock(mutex_);
  --waiters_;
}

void UcxTransport::cancel(Completion* done) {
  std::unique_lock lock(mutex_);
  auto found = by_completion_.find(done);
  if (found == by_completion_.end()) return;  // finished already
  Operation* operation = found->second;
  if (operation->is_recv) {
    ucp_request_cancel(worker_.get(), operation->request);  // completes it at once unless data is already landing
  } else {
    // UCX 1.13 cannot cancel a send. Treating the peer as failed closes its
    // endpoints (every lane), which ends every send on them as canceled, and fails the
    // receives from it, which the peer (seeing its endpoint reset) would never
    // send. That is what cancel is for: abort and timeout.
    // The peer is told first, so that it does not take this for a death.
    Peer& peer = peers_[operation->peer];
    if (peer.failure.empty()) {
      send_control_locked(peer.rank, make_control_message(ControlKind::kReset, rank_), -1);
      peer.failure = "its endpoint was closed to cancel a pending send";
    }
    mark_failed_locked(peer.rank, false);
    handle_peer_failures_locked();
  }
  // A peer known gone sends nothing more into the buffer: a receive UCX
  // still holds (its rendezvous had begun) is abandoned soon.
  const bool peer_gone = !peers_[operation->peer].failure.empty();
  const auto limit = peer_gone ? std::chrono::duration<double>(kGoneCancelWaitS) : bounded_wait(options_);
  wait_until_done_locked(lock, done, Clock::now() + std::chrono::duration_cast<Clock::duration>(limit));
  found = by_completion_.find(done);
  if (found == by_completion_.end()) return;
  // UCX kept the request: forget `done` so a late completion cannot touch it.
  log(LogLevel::kWarn, "ucx: rank {}: cancel of a transfer with peer {} timed out; abandoning it", rank_,
      found->second->peer);
  found->second->done = nullptr;
  by_completion_.erase(found);
  done->error = "ucx: cancel timed out; the transfer was abandoned";
  done->state.store(Completion::kFailed, std::memory_order_release);
}

void UcxTransport::wait_until_done_locked(std::unique_lock<std::mutex>& lock, Completion* done,
                                          Clock::time_point deadline) {
  while (by_completion_.contains(done) && Clock::now() < deadline) {
    if (progress_locked()) continue;
    if (ucp_worker_arm(worker_.get()) == UCS_ERR_BUSY) continue;  // more to progress
    lock.unlock();
    pollfd fd{worker_.event_fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);  // short: another thread may be the one that progresses
    lock.lock();
  }
}

std::unique_ptr<Transport> create_ucx_transport(Bootstrap& bootstrap, const UcxTransportOptions& options) {
  return std::make_unique<UcxTransport>(bootstrap, options);
}

std::string describe_ucx_path(Transport& transport, int peer) {
  auto* ucx = dynamic_cast<UcxTransport*>(&transport);
  if (ucx == nullptr) {
    fail(ErrorCode::kInvalidArgument, {transport.rank(), peer, "describe_ucx_path"}, "transport '{}' is not UCX",
         transport.name());
  }
  return ucx->describe_path(peer);
}

}  // namespace strata::runtime
