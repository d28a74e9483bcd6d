// Peers that go away, and transfers withdrawn by cancel(). A peer is gone
// when its process exits (pidfd) or it destroys its transport (the closed
// flag in its segment); its pending transfers then fail with a message
// naming it, instead of waiting forever.
#include <algorithm>
#include <utility>

#include "common/log.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {

std::string ShmTransport::describe(const Operation& op) const {
  return fmt::format("{} peer {} (tag {:#x})", op.is_recv ? "receive from" : "send to", peers_[op.local].rank, op.tag);
}

std::string ShmTransport::peer_failure(int rank) {
  std::lock_guard lock(mutex_);
  if (rank < 0 || rank >= static_cast<int>(local_of_rank_.size()) || local_of_rank_[rank] < 0) return {};
  // A peer that closed its transport finished its part first; only a death
  // dooms collectives that do not wait on it directly.
  const Peer& peer = peers_[local_of_rank_[rank]];
  return peer.left ? std::string() : peer.gone;
}

void ShmTransport::check_peers_locked() {
  next_peer_check_ = Clock::now() + kPeerCheckInterval;
  for (Peer& peer : peers_) {
    if (peer.self || !peer.gone.empty()) continue;
    if (peer.header->closed.load(std::memory_order_acquire) != 0) {
      peer.left = true;
      fail_peer_locked(peer, fmt::format("shm: peer {} closed its transport", peer.rank));
    } else if (!peer.watch.alive()) {
      fail_peer_locked(peer, fmt::format("shm: peer {} (pid {}) died", peer.rank, peer.watch.pid()));
    } else if (options_.peer_timeout_s > 0) {
      check_stopped_locked(peer);
    }
  }
}

// Shared memory needs nothing from a live peer's threads, so only a
// process that stays stopped is a silent peer here.
void ShmTransport::check_stopped_locked(Peer& peer) {
  if (!peer.watch.stopped()) {
    peer.stopped_since = {};
    return;
  }
  const auto now = Clock::now();
  if (peer.stopped_since == Clock::time_point{}) peer.stopped_since = now;
  const double stopped_s = std::chrono::duration<double>(now - peer.stopped_since).count();
  if (stopped_s < options_.peer_timeout_s) return;
  fail_peer_locked(peer, fmt::format("shm: peer {} (pid {}) has been stopped for {:.1f} s (STRATA_PEER_TIMEOUT={:g} s)",
                                     peer.rank, peer.watch.pid(), stopped_s, options_.peer_timeout_s));
}

void ShmTransport::fail_peer_locked(Peer& peer, const std::string& reason) {
  log(LogLevel::kInfo, "shm: rank {}: {}", rank_, reason);
  // Whatever it wrote before it went away is complete and still deliverable.
  while (drain_inbound_locked(peer)) {
  }
  peer.gone = reason;
  const std::string why = reason + "; the transfer cannot complete";
  for (Operation* op : std::exchange(peer.posted, {})) fail_locked(op, why);
  if (peer.stream.recv != nullptr) fail_locked(peer.stream.recv, why);
  // Unexpected messages it will never finish, or whose buffer died with it,
  // go; complete eager ones stay for receives still to come.
  std::erase_if(peer.unexpected, [&](const std::unique_ptr<Message>& message) {
    return message->rendezvous || message.get() == peer.stream.message;
  });
  peer.stream = Stream{};
  std::erase_if(reading_, [&](Operation* op) {
    if (op->local != peer.local) return false;
    fail_locked(op, why);
    return true;
  });
  fail_sends_to_locked(peer);
}

void ShmTransport::fail_sends_to_locked(Peer& peer) {
  const std::string why = peer.gone + "; the send cannot complete";
  peer.control.clear();
  for (Operation* op : std::exchange(peer.backlog, {})) {
    if (op->rendezvous) release_slot_locked(op->slot, op->generation);
    fail_locked(op, why);
  }
  // A peer that is gone reads nothing more, so its offered slots can be reused.
  for (uint32_t slot = 0; slot < kRendezvousSlots; ++slot) {
    Operation* op = slot_sends_[slot];
    if (op == nullptr || op->local != peer.local) continue;
    release_slot_locked(slot, op->generation);
    fail_locked(op, why);
  }
}

bool ShmTransport::withdraw_receive_locked(Completion* done) {
  for (Peer& peer : peers_) {
    auto posted = std::find_if(peer.posted.begin(), peer.posted.end(), [&](Operation* op) { return op->done == done; });
    if (posted != peer.posted.end()) {
      Operation* op = *posted;
      peer.posted.erase(posted);
      fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
      return true;
    }
    if (peer.stream.recv != nullptr && peer.stream.recv->done == done) {
      Operation* op = std::exchange(peer.stream.recv, nullptr);  // the rest of the stream is discarded
      fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
      return true;
    }
  }
  auto reading = std::find_if(reading_.begin(), reading_.end(), [&](Operation* op) { return op->done == done; });
  if (reading == reading_.end()) return false;
  Operation* op = *reading;
  reading_.erase(reading);
  // No chunk is being read (reads happen under the mutex held here); tell
  // the sender, whose send cannot complete now.
  ControlCell finish{CellKind::kFinish};
  finish.finish = {op->generation, op->bytes, op->slot, FinishStatus::kCanceled, 0};
  send_control_locked(peers_[op->local], finish);
  fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
  return true;
}

bool ShmTransport::withdraw_send_locked(Completion* done) {
  for (Peer& peer : peers_) {
    auto queued =
        std::find_if(peer.backlog.begin(), peer.backlog.end(), [&](Operation* op) { return op->done == done; });
    if (queued != peer.backlog.end()) {
      Operation* op = *queued;
      peer.backlog.erase(queued);
      if (op->started) peer.control.push_back({CellKind::kAbort});        // the receiver has part of it
      if (op->rendezvous) release_slot_locked(op->slot, op->generation);  // not offered yet
      fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
      flush_outbound_locked(peer);
      return true;
    }
    auto self_send = std::find_if(peer.unexpected.begin(), peer.unexpected.end(), [&](const auto& message) {
      return message->self_send != nullptr && message->self_send->done == done;
    });
    if (self_send != peer.unexpected.end()) {
      Operation* op = (*self_send)->self_send;
      peer.unexpected.erase(self_send);
      fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
      return true;
    }
  }
  for (Operation* op : slot_sends_) {
    if (op == nullptr || op->done != done) continue;
    if (revoke_locked(*op)) {
      complete_locked(op, 0);  // the receiver had read all of it; only its kFinish was on the way
    } else {
      fail_locked(op, fmt::format("shm: {} was canceled", describe(*op)));
    }
    return true;
  }
  return false;
}

}  // namespace strata::runtime::shm
