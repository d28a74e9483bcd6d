// Rendezvous receives: the receiver copies the message straight from the
// sender's buffer with process_vm_readv (Cross Memory Attach), one copy
// instead of two through the ring; or, when the buffer is in a node-shared
// allocation it could map (shm_peer_memory.h), with memcpy, or not at all
// for a view receive, whose reader reads the mapping itself. It reads in
// chunks, one per progress() call, claiming the sender's slot around each
// chunk: a sender that cancels waits at most one chunk and is then sure its
// buffer is no longer read.
#include <fmt/format.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {

void ShmTransport::start_reading_locked(Peer& peer, Operation* recv, const RendezvousPayload& offer,
                                        size_t message_bytes) {
  if (message_bytes > recv->bytes) {
    ControlCell finish{CellKind::kFinish};
    finish.finish = {offer.generation, recv->bytes, offer.slot, FinishStatus::kTruncated, 0};
    fits_locked(recv, message_bytes);  // fails it with the same words as an eager truncation
    send_control_locked(peer, finish);
    return;
  }
  recv->rendezvous = true;
  recv->slot = offer.slot;
  recv->generation = offer.generation;
  recv->remote_address = offer.address;
  recv->message_bytes = message_bytes;
  recv->offset = 0;
  recv->mapped = nullptr;  // a receive rematched after a withdrawn offer may carry the old one's
  recv->shared_id = 0;
  if (const std::byte* base = map_offer_locked(peer, offer)) {
    recv->mapped = base + offer.shared.offset;
    recv->shared_id = offer.shared.id;
    if (recv->view) {
      hold_view_locked(peer, recv);
      return;
    }
  }
  reading_.push_back(recv);
}

const std::byte* ShmTransport::map_offer_locked(Peer& peer, const RendezvousPayload& offer) {
  if (offer.shared.id == 0) return nullptr;
  std::string why_not;
  const std::byte* base = peer.mappings.map(peer.watch.pidfd(), offer.shared, &why_not);
  if (!why_not.empty()) {
    log(LogLevel::kInfo, "shm: rank {}: cannot map peer {}'s node-shared buffers ({}); reading them over CMA", rank_,
        peer.rank, why_not);
  }
  return base;
}

// Completes a view receive without reading anything: the executor reduces
// straight from the sender's buffer. The slot stays claimed until
// release_view, as during a CMA read, so a cancelling sender waits for it.
void ShmTransport::hold_view_locked(Peer& peer, Operation* recv) {
  uint64_t offered = slot_word(recv->generation, kSlotOffered);
  if (!peer.header->slots[recv->slot].compare_exchange_strong(
          offered, slot_word(recv->generation, kSlotReading), std::memory_order_acq_rel)) {
    rematch_locked(peer, recv);  // the sender withdrew it and expects no kFinish
    return;
  }
  peer.mappings.hold(recv->shared_id);
  held_views_.push_back({recv->done, recv->local, recv->slot, recv->generation, recv->shared_id});
  recv->done->view = recv->mapped;
  complete_locked(recv, recv->message_bytes);
}

void ShmTransport::release_view(int peer_rank, Completion* done) {
  std::lock_guard lock(mutex_);
  (void)peer_for(peer_rank, done, "shm release_view");
  release_held_locked(done);
}

bool ShmTransport::release_held_locked(Completion* done) {
  auto found = std::find_if(held_views_.begin(), held_views_.end(), [&](const HeldView& h) { return h.done == done; });
  if (found == held_views_.end()) return false;  // landed in staging: nothing is held
  const HeldView held = *found;
  held_views_.erase(found);
  Peer& peer = peers_[held.local];
  peer.mappings.let_go(held.shared_id);
  // Release: the reads of the view happen before the sender may reuse its buffer.
  peer.header->slots[held.slot].store(slot_word(held.generation, kSlotFinished), std::memory_order_release);
  ControlCell finish{CellKind::kFinish};
  finish.finish = {held.generation, done->received_bytes, held.slot, FinishStatus::kOk, 0};
  send_control_locked(peer, finish);
  return true;
}

// One chunk per call, oldest receive first. The caller gets each finished
// message back while it is still in cache: the executor reduces a received
// segment right after this returns, where reading every pending receive
// first (32 MiB for a 64 MiB AllReduce on 2 ranks) left it to reduce data
// long evicted.
bool ShmTransport::read_rendezvous_locked() {
  if (reading_.empty()) return false;
  if (read_chunk_locked(*reading_.front())) reading_.erase(reading_.begin());
  return true;
}

bool ShmTransport::read_chunk_locked(Operation& recv) {
  Peer& peer = peers_[recv.local];
  std::atomic<uint64_t>& word = peer.header->slots[recv.slot];
  uint64_t offered = slot_word(recv.generation, kSlotOffered);
  if (!word.compare_exchange_strong(offered, slot_word(recv.generation, kSlotReading), std::memory_order_acq_rel)) {
    rematch_locked(peer, &recv);  // the sender withdrew it and expects no kFinish
    return true;
  }
  const size_t chunk = std::min(kReadChunkBytes, recv.message_bytes - recv.offset);
  ssize_t got;
  if (recv.mapped != nullptr) {
    std::memcpy(recv.data + recv.offset, recv.mapped + recv.offset, chunk);
    got = static_cast<ssize_t>(chunk);
  } else {
    iovec local{recv.data + recv.offset, chunk};
    iovec remote{reinterpret_cast<void*>(recv.remote_address + recv.offset), chunk};
    got = ::process_vm_readv(peer.watch.pid(), &local, 1, &remote, 1, 0);
  }
  const int error_number = got < 0 ? errno : EFAULT;  // 0 bytes read: the range is not mapped
  const bool ended = got <= 0 || recv.offset + static_cast<size_t>(got) == recv.message_bytes;
  word.store(slot_word(recv.generation, ended && got > 0 ? kSlotFinished : kSlotOffered), std::memory_order_release);
  ControlCell finish{CellKind::kFinish};
  finish.finish = {recv.generation, recv.bytes, recv.slot, FinishStatus::kOk, 0};
  if (got <= 0) {
    finish.finish.status = FinishStatus::kReadFailed;
    finish.finish.error_number = error_number;
    fail_locked(&recv,
                fmt::format("shm: reading {} bytes from peer {} (pid {}, tag {:#x}) failed: {}", recv.message_bytes,
                            peer.rank, peer.watch.pid(), recv.tag, std::strerror(error_number)));
    send_control_locked(peer, finish);
    return true;
  }
  recv.offset += static_cast<size_t>(got);
  if (!ended) return false;
  send_control_locked(peer, finish);
  complete_locked(&recv, recv.message_bytes);
  return true;
}

}  // namespace strata::runtime::shm
