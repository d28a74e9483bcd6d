// The sending side: cells into a peer's ring (eager messages in one cell,
// longer ones streamed cell by cell), rendezvous offers that the receiver
// reads over CMA, and the receiver's kFinish that ends them.
//
// Why 8 KiB is where rendezvous starts (kRendezvousMinBytes): eager costs
// two copies (into the cell, out of it) but no syscall and no round trip;
// CMA costs one copy plus a kRendezvous/kFinish round trip and a
// process_vm_readv. Median one-way µs on the 2-core box, ping-pong: eager
// 6.1 KiB 1.14, 7.6 KiB 1.31; CMA 9.5 KiB 1.15. Both ways at once: eager
// 7.6 KiB 1.40; CMA 9.5 KiB 1.41.
#include <cstring>
#include <thread>

#include "common/error.h"
#include "common/log.h"
#include "runtime/memory/node_shared_memory.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {

// The next cell toward `peer` if the consumer has handed it back. When it
// has not, asks the consumer to wake this transport once it does.
Cell* ShmTransport::claim_out_cell(Peer& peer) {
  RingEnd& out = peer.out;
  if (out.position - out.consumed < out.ncells) return &out.cell();
  out.consumed = out.header->consumed.load(std::memory_order_acquire);
  if (out.position - out.consumed < out.ncells) return &out.cell();
  out.header->producer_waiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the consumer's fence after publishing
  out.consumed = out.header->consumed.load(std::memory_order_acquire);
  return out.position - out.consumed < out.ncells ? &out.cell() : nullptr;
}

namespace {

void publish(RingEnd& out, Cell& cell) {
  cell.sequence.store(out.position + 1, std::memory_order_release);
  ++out.position;
}

}  // namespace

bool ShmTransport::send_inline_locked(Peer& peer, uint64_t tag, const std::byte* data, size_t bytes) {
  Cell* cell = claim_out_cell(peer);
  if (cell == nullptr) return false;
  cell->kind = CellKind::kMessage;
  cell->chunk_bytes = static_cast<uint32_t>(bytes);
  cell->tag = tag;
  cell->message_bytes = bytes;
  if (bytes != 0) std::memcpy(cell->payload, data, bytes);
  publish(peer.out, *cell);
  wake_if_sleeping(peer);
  return true;
}

// Reserves a slot for a send the receiver will read itself. The slot word
// is set before the kRendezvous cell is published (release), so the
// receiver never sees an offer it cannot claim.
void ShmTransport::offer_rendezvous_locked(Operation& op) {
  op.rendezvous = true;
  op.slot = free_slots_.back();
  free_slots_.pop_back();
  op.generation = ++slot_generations_[op.slot];
  header_->slots[op.slot].store(slot_word(op.generation, kSlotOffered), std::memory_order_release);
}

void ShmTransport::release_slot_locked(uint32_t slot, uint64_t generation) {
  header_->slots[slot].store(slot_word(generation, kSlotRevoked), std::memory_order_release);
  slot_sends_[slot] = nullptr;
  free_slots_.push_back(slot);
}

// Writes queued control cells, then queued sends, as far as the ring has
// room. Returns whether any cell was written.
bool ShmTransport::flush_outbound_locked(Peer& peer) {
  const uint64_t before = peer.out.position;
  while (!peer.control.empty()) {
    Cell* cell = claim_out_cell(peer);
    if (cell == nullptr) break;
    const ControlCell& control = peer.control.front();
    cell->kind = control.kind;
    cell->chunk_bytes = sizeof(FinishPayload);
    std::memcpy(cell->payload, &control.finish, sizeof(FinishPayload));
    publish(peer.out, *cell);
    peer.control.pop_front();
  }
  while (peer.control.empty() && !peer.backlog.empty()) {
    Operation* op = peer.backlog.front();
    if (!write_operation_locked(peer, *op)) break;
    peer.backlog.pop_front();
  }
  if (peer.out.position == before) return false;
  wake_if_sleeping(peer);
  return true;
}

// Writes as much of `op` as fits; true once all of it is in the ring.
bool ShmTransport::write_operation_locked(Peer& peer, Operation& op) {
  if (op.rendezvous) {
    Cell* cell = claim_out_cell(peer);
    if (cell == nullptr) return false;
    cell->kind = CellKind::kRendezvous;
    cell->tag = op.tag;
    cell->message_bytes = op.bytes;
    RendezvousPayload offer{reinterpret_cast<uint64_t>(op.data), op.generation, op.slot};
    if (const auto range = find_node_shared(op.data, op.bytes))
      offer.shared = {range->id, range->allocation_bytes, range->offset, range->fd};
    cell->chunk_bytes = sizeof(offer);
    std::memcpy(cell->payload, &offer, sizeof(offer));
    publish(peer.out, *cell);
    slot_sends_[op.slot] = &op;  // ends with the receiver's kFinish
    return true;
  }
  while (!op.started || op.offset < op.bytes) {
    Cell* cell = claim_out_cell(peer);
    if (cell == nullptr) return false;
    const size_t chunk = std::min(kCellPayloadBytes, op.bytes - op.offset);
    cell->kind = op.started ? CellKind::kData : CellKind::kMessage;
    cell->chunk_bytes = static_cast<uint32_t>(chunk);
    cell->tag = op.tag;
    cell->message_bytes = op.bytes;
    if (chunk != 0) std::memcpy(cell->payload, op.data + op.offset, chunk);
    publish(peer.out, *cell);
    op.started = true;
    op.offset += chunk;
  }
  complete_locked(&op, 0);  // all of it is in the ring: the buffer is free again
  return true;
}

void ShmTransport::send_control_locked(Peer& peer, const ControlCell& control) {
  if (!peer.gone.empty()) return;
  peer.control.push_back(control);
  flush_outbound_locked(peer);
}

void ShmTransport::on_finish_locked(Peer& peer, const FinishPayload& finish) {
  if (finish.slot >= kRendezvousSlots) return;
  Operation* op = slot_sends_[finish.slot];
  if (op == nullptr || op->generation != finish.generation) return;  // canceled meanwhile
  release_slot_locked(finish.slot, finish.generation);
  switch (finish.status) {
    case FinishStatus::kOk:
      complete_locked(op, 0);
      return;
    case FinishStatus::kTruncated:
      fail_locked(op,
                  fmt::format("shm: message of {} bytes to peer {} (tag {:#x}) does not fit its {}-byte receive buffer",
                              op->bytes, peer.rank, op->tag, finish.receive_bytes));
      return;
    case FinishStatus::kCanceled:
      fail_locked(op, fmt::format("shm: peer {} canceled the receive of this send (tag {:#x})", peer.rank, op->tag));
      return;
    case FinishStatus::kReadFailed:
      fail_locked(op, fmt::format("shm: peer {} could not read the {}-byte send buffer (tag {:#x}): {}", peer.rank,
                                  op->bytes, op->tag, std::strerror(finish.error_number)));
      return;
  }
  fail_locked(op, fmt::format("shm: peer {} ended send (tag {:#x}) with unknown status {}", peer.rank, op->tag,
                              static_cast<uint32_t>(finish.status)));
}

// Takes back an offered rendezvous send so the receiver can no longer read
// its buffer. The receiver holds the slot only inside one bounded
// process_vm_readv or memcpy, or while its executor reduces from a view of
// the buffer, so waiting for it is short unless it died, which the loop
// notices. Returns true if the receiver had already read all of it.
bool ShmTransport::revoke_locked(Operation& op) {
  std::atomic<uint64_t>& word = header_->slots[op.slot];
  const Peer& peer = peers_[op.local];
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_s));
  bool finished = false;
  for (int round = 0;; ++round) {
    uint64_t expected = slot_word(op.generation, kSlotOffered);
    if (word.compare_exchange_strong(expected, slot_word(op.generation, kSlotRevoked), std::memory_order_acq_rel))
      break;
    if (expected == slot_word(op.generation, kSlotFinished)) {
      finished = true;
      break;
    }
    if (expected != slot_word(op.generation, kSlotReading)) break;  // already revoked
    if (round % 1024 == 1023 && (!peer.watch.alive() || Clock::now() > deadline)) {
      log(LogLevel::kWarn, "shm: rank {}: peer {} kept reading a canceled send; giving its buffer back anyway", rank_,
          peer.rank);
      break;
    }
    std::this_thread::yield();
  }
  release_slot_locked(op.slot, op.generation);
  return finished;
}

void ShmTransport::send_to_self_locked(Peer& self, Operation* send) {
  if (Operation* recv = take_posted(self, send->tag)) {
    deliver_self_locked(send, recv);
    return;
  }
  // Unexpected: keep the send pending and copy when the receive comes, as a
  // rendezvous would.
  auto message = std::make_unique<Message>();
  message->tag = send->tag;
  message->bytes = send->bytes;
  message->self_send = send;
  self.unexpected.push_back(std::move(message));
}

void ShmTransport::deliver_self_locked(Operation* send, Operation* recv) {
  if (send->bytes > recv->bytes) {
    std::string why =
        fmt::format("shm: message of {} bytes to self (tag {:#x}) does not fit the {}-byte receive buffer", send->bytes,
                    send->tag, recv->bytes);
    fail_locked(recv, why);
    fail_locked(send, std::move(why));
    return;
  }
  if (send->bytes != 0) std::memcpy(recv->data, send->data, send->bytes);
  complete_locked(recv, send->bytes);
  complete_locked(send, 0);
}

}  // namespace strata::runtime::shm
