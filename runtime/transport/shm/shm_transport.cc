// Posting, cancel, progress and waiting: the Transport entry points, each
// one critical section under mutex_.
#include <poll.h>

#include <algorithm>

#include "common/error.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {
namespace {

void reset(Completion* done) {
  done->received_bytes = 0;
  done->error.clear();
  done->state.store(Completion::kPending, std::memory_order_relaxed);
}

}  // namespace

void wake_if_sleeping(const Peer& peer) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (peer.header->sleepers.load(std::memory_order_relaxed) != 0) peer.wake.notify();
}

Peer& ShmTransport::peer_for(int rank, Completion* done, const char* operation) {
  ErrorContext context{rank_, rank, operation};
  if (rank < 0 || rank >= size_)
    fail(ErrorCode::kInvalidArgument, context, "shm: peer {} is out of range: there are {} ranks", rank, size_);
  if (local_of_rank_[rank] < 0) {
    fail(ErrorCode::kInvalidArgument, context,
         "shm: rank {} is not on this host; the shm transport reaches only local ranks", rank);
  }
  if (done == nullptr) fail(ErrorCode::kInvalidArgument, context, "shm: no Completion given");
  return peers_[local_of_rank_[rank]];
}

Operation* ShmTransport::new_operation_locked(Completion* done, bool is_recv, int local, uint64_t tag, std::byte* data,
                                              size_t bytes) {
  Operation* op;
  if (free_operations_.empty()) {
    operation_storage_.push_back(std::make_unique<Operation>());
    op = operation_storage_.back().get();
  } else {
    op = free_operations_.back();
    free_operations_.pop_back();
  }
  *op = Operation{};
  op->done = done;
  op->is_recv = is_recv;
  op->local = local;
  op->tag = tag;
  op->data = data;
  op->bytes = bytes;
  ++pending_;
  return op;
}

void ShmTransport::complete_locked(Operation* op, size_t received_bytes) {
  op->done->received_bytes = received_bytes;
  op->done->state.store(Completion::kDone, std::memory_order_release);
  ++completions_;
  --pending_;
  free_operations_.push_back(op);
}

void ShmTransport::fail_locked(Operation* op, std::string why) {
  op->done->error = std::move(why);
  op->done->state.store(Completion::kFailed, std::memory_order_release);
  ++completions_;
  --pending_;
  free_operations_.push_back(op);
}

void ShmTransport::post_send(int peer_rank, uint64_t tag, const void* data, size_t bytes, Completion* done) {
  std::lock_guard lock(mutex_);
  Peer& peer = peer_for(peer_rank, done, "shm post_send");
  reset(done);
  auto* buffer = static_cast<std::byte*>(const_cast<void*>(data));  // only ever read
  const bool rendezvous = peer.cma && bytes >= kRendezvousMinBytes && !free_slots_.empty();
  // The fast path: an eager message that fits one cell, with nothing queued
  // ahead of it, is copied into the ring and done; no Operation, no syscall.
  if (!rendezvous && bytes <= kCellPayloadBytes && peer.gone.empty() && !peer.self && peer.backlog.empty() &&
      peer.control.empty() && send_inline_locked(peer, tag, buffer, bytes)) {
    done->state.store(Completion::kDone, std::memory_order_release);
    return;
  }
  Operation* op = new_operation_locked(done, false, peer.local, tag, buffer, bytes);
  if (!peer.gone.empty()) {
    fail_locked(op, fmt::format("{}: cannot send to it", peer.gone));
  } else if (peer.self) {
    send_to_self_locked(peer, op);
  } else {
    if (rendezvous) offer_rendezvous_locked(*op);
    peer.backlog.push_back(op);
    flush_outbound_locked(peer);
  }
  wake_local_sleepers_locked();
}

void ShmTransport::post_recv(int peer_rank, uint64_t tag, void* data, size_t bytes, Completion* done) {
  std::lock_guard lock(mutex_);
  post_recv_locked(peer_for(peer_rank, done, "shm post_recv"), tag, data, bytes, done, false);
}

void ShmTransport::post_recv_view(int peer_rank, uint64_t tag, void* staging, size_t bytes, Completion* done) {
  std::lock_guard lock(mutex_);
  Peer& peer = peer_for(peer_rank, done, "shm post_recv_view");
  done->view = static_cast<const std::byte*>(staging);  // unless the message is read in place
  post_recv_locked(peer, tag, staging, bytes, done, true);
}

void ShmTransport::post_recv_locked(Peer& peer, uint64_t tag, void* data, size_t bytes, Completion* done, bool view) {
  reset(done);
  Operation* op = new_operation_locked(done, true, peer.local, tag, static_cast<std::byte*>(data), bytes);
  op->view = view;
  // Messages already taken off the ring are older than any still in it, so
  // matching the unexpected queue first keeps (peer, tag) order.
  if (auto message = take_unexpected(peer, tag)) {
    match_unexpected_locked(peer, op, std::move(message));
  } else if (!peer.gone.empty()) {
    fail_locked(op, fmt::format("{}: receive (tag {:#x}) cannot complete", peer.gone, tag));
  } else {
    peer.posted.push_back(op);
  }
  wake_local_sleepers_locked();
}

void ShmTransport::cancel(Completion* done) {
  std::lock_guard lock(mutex_);
  if (!release_held_locked(done) && !withdraw_receive_locked(done)) withdraw_send_locked(done);
  wake_local_sleepers_locked();
}

bool ShmTransport::progress() {
  std::lock_guard lock(mutex_);
  bool active = progress_locked();
  wake_local_sleepers_locked();
  seen_by_this_thread_locked() = completions_;
  return active;
}

bool ShmTransport::progress_locked() {
  bool active = false;
  for (Peer& peer : peers_) {
    if (peer.self || !peer.gone.empty()) continue;
    active |= drain_inbound_locked(peer);
    if (!peer.control.empty() || !peer.backlog.empty()) active |= flush_outbound_locked(peer);
  }
  if (!reading_.empty()) active |= read_rendezvous_locked();
  // Only when idle with something outstanding, and only every few hundred
  // idle calls: even the vDSO clock would add to every poll of a spinning
  // caller, and checking peers costs a syscall each, so at most every 100 ms.
  if (!active && pending_ > 0 && --idle_polls_until_clock_ <= 0) {
    idle_polls_until_clock_ = kIdlePollsPerClockRead;
    if (Clock::now() >= next_peer_check_) check_peers_locked();
  }
  return active;
}

uint64_t& ShmTransport::seen_by_this_thread_locked() {
  const std::thread::id me = std::this_thread::get_id();
  for (auto& [thread, seen] : seen_completions_)
    if (thread == me) return seen;
  return seen_completions_.emplace_back(me, completions_).second;
}

// Whether progress() would do something right now. Called by a thread that
// is about to sleep, after it announced so in `sleepers`.
bool ShmTransport::has_work_locked() {
  if (!reading_.empty()) return true;
  for (Peer& peer : peers_) {
    if (peer.self || !peer.gone.empty()) continue;
    if (peer.in.cell().sequence.load(std::memory_order_acquire) == peer.in.position + 1) return true;
    if ((!peer.control.empty() || !peer.backlog.empty()) && claim_out_cell(peer) != nullptr) return true;
  }
  return false;
}

void ShmTransport::wake_local_sleepers_locked() {
  if (local_sleepers_ == 0 || completions_ == completions_at_wake_) return;
  completions_at_wake_ = completions_;
  peers_[self_local_].wake.notify();
}

// Announces that this thread is about to sleep, unless there is something
// to progress already.
bool ShmTransport::try_arm() {
  std::lock_guard lock(mutex_);
  uint64_t& seen = seen_by_this_thread_locked();
  if (seen != completions_) {  // another thread completed something this one has not looked at
    seen = completions_;
    return false;
  }
  header_->sleepers.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wake_if_sleeping's
  if (has_work_locked()) {
    header_->sleepers.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  ++local_sleepers_;
  return true;
}

void ShmTransport::disarm_wait() {
  std::lock_guard lock(mutex_);
  --local_sleepers_;
  header_->sleepers.fetch_sub(1, std::memory_order_relaxed);
  wake_.drain();
  if (pending_ > 0 && Clock::now() >= next_peer_check_) check_peers_locked();
  wake_local_sleepers_locked();
}

Transport::Armed ShmTransport::arm_wait(WaitSet& set) {
  if (!try_arm()) return Armed::kBusy;
  // With transfers outstanding, wake up in time to check that peers live.
  std::lock_guard lock(mutex_);
  if (pending_ > 0) {
    auto until_check = std::chrono::duration_cast<std::chrono::microseconds>(next_peer_check_ - Clock::now());
    set.timeout = std::clamp(until_check, std::chrono::microseconds(0), set.timeout);
  }
  set.fds.push_back({wake_.fd(), POLLIN, 0});
  return Armed::kArmed;
}

static ShmTransport& as_shm(Transport& transport, const char* operation) {
  auto* shm = dynamic_cast<ShmTransport*>(&transport);
  if (shm == nullptr) {
    fail(ErrorCode::kInvalidArgument, {transport.rank(), -1, operation}, "transport '{}' is not the shm transport",
         transport.name());
  }
  return *shm;
}

}  // namespace strata::runtime::shm

namespace strata::runtime {

std::unique_ptr<Transport> create_shm_transport(Bootstrap& bootstrap, const std::vector<int>& local_ranks,
                                                const ShmTransportOptions& options) {
  return std::make_unique<shm::ShmTransport>(bootstrap, local_ranks, options);
}

int shm_wait_fd(Transport& transport) { return shm::as_shm(transport, "shm_wait_fd").wait_fd(); }
bool shm_arm_wait(Transport& transport) { return shm::as_shm(transport, "shm_arm_wait").try_arm(); }
void shm_disarm_wait(Transport& transport) { shm::as_shm(transport, "shm_disarm_wait").disarm_wait(); }

}  // namespace strata::runtime
