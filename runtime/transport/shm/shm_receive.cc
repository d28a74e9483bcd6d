// The receiving side: draining each peer's ring in this transport's
// segment, matching messages to receives by (peer, tag), keeping unexpected
// ones, and routing streamed data cells.
//
// Matching scans short vectors instead of hashing: a peer rarely has more
// than a few dozen receives outstanding, and at that size a scan costs less
// than a hash lookup on the latency-critical path. Thousands outstanding
// still work, at O(outstanding) per message.
#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {
namespace {

// Bounds one drain so that one busy peer cannot starve the others (or the
// CMA reads) within a progress() call.
constexpr int kMaxCellsPerDrain = 64;

}  // namespace

bool ShmTransport::drain_inbound_locked(Peer& peer) {
  RingEnd& in = peer.in;
  int handled = 0;
  while (handled < kMaxCellsPerDrain) {
    Cell& cell = in.cell();
    if (cell.sequence.load(std::memory_order_acquire) != in.position + 1) break;
    handle_cell_locked(peer, cell);
    ++in.position;
    ++handled;
  }
  // Hand cells back in batches of half a ring. A producer can only be out of
  // room with a whole ring of cells ahead of the last batch, so this drain
  // or a later one reaches the next batch without it; meanwhile the
  // producer's copy of `consumed` is good for half a ring of messages.
  if (in.position - in.consumed >= in.ncells / 2) {
    in.consumed = in.position;
    in.header->consumed.store(in.consumed, std::memory_order_release);
    // Pairs with the producer's fence in claim_out_cell: either it sees the
    // cells handed back or this sees its request to be woken.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (in.header->producer_waiting.load(std::memory_order_relaxed) != 0 &&
        in.header->producer_waiting.exchange(0, std::memory_order_relaxed) != 0) {
      wake_if_sleeping(peer);
    }
  }
  return handled != 0;
}

void ShmTransport::handle_cell_locked(Peer& peer, const Cell& cell) {
  switch (cell.kind) {
    case CellKind::kMessage:
      on_message_locked(peer, cell);
      return;
    case CellKind::kData:
      on_data_locked(peer, cell.payload, cell.chunk_bytes);
      return;
    case CellKind::kAbort:
      on_abort_locked(peer);
      return;
    case CellKind::kRendezvous:
      on_rendezvous_locked(peer, cell);
      return;
    case CellKind::kFinish: {
      FinishPayload finish;
      std::memcpy(&finish, cell.payload, sizeof(finish));
      on_finish_locked(peer, finish);
      return;
    }
  }
  log(LogLevel::kWarn, "shm: rank {}: ignoring a cell of unknown kind {} from peer {}", rank_,
      static_cast<uint32_t>(cell.kind), peer.rank);
}

Operation* ShmTransport::take_posted(Peer& peer, uint64_t tag) {
  auto found = std::find_if(peer.posted.begin(), peer.posted.end(), [&](Operation* op) { return op->tag == tag; });
  if (found == peer.posted.end()) return nullptr;
  Operation* op = *found;
  peer.posted.erase(found);
  return op;
}

std::unique_ptr<Message> ShmTransport::take_unexpected(Peer& peer, uint64_t tag) {
  auto found = std::find_if(peer.unexpected.begin(), peer.unexpected.end(),
                            [&](const std::unique_ptr<Message>& message) { return message->tag == tag; });
  if (found == peer.unexpected.end()) return nullptr;
  std::unique_ptr<Message> message = std::move(*found);
  peer.unexpected.erase(found);
  return message;
}

// Fails `recv` (and returns false) if a message of `message_bytes` does not fit.
bool ShmTransport::fits_locked(Operation* recv, size_t message_bytes) {
  if (message_bytes <= recv->bytes) return true;
  fail_locked(recv,
              fmt::format("shm: message of {} bytes from peer {} (tag {:#x}) does not fit the {}-byte receive buffer",
                          message_bytes, peers_[recv->local].rank, recv->tag, recv->bytes));
  return false;
}

void ShmTransport::on_message_locked(Peer& peer, const Cell& cell) {
  const size_t bytes = cell.message_bytes;
  const size_t chunk = std::min<size_t>(cell.chunk_bytes, bytes);
  if (peer.stream.active) {  // the sender never starts a message inside another
    log(LogLevel::kWarn, "shm: rank {}: peer {} started a message while streaming another", rank_, peer.rank);
  }
  peer.stream = Stream{};
  if (chunk < bytes) peer.stream = Stream{true, nullptr, nullptr, chunk, bytes};
  Operation* recv = take_posted(peer, cell.tag);
  if (recv == nullptr) {
    auto message = std::make_unique<Message>();
    message->tag = cell.tag;
    message->bytes = bytes;
    message->data.resize(bytes);
    if (chunk != 0) std::memcpy(message->data.data(), cell.payload, chunk);
    message->arrived = chunk;
    peer.stream.message = peer.stream.active ? message.get() : nullptr;
    peer.unexpected.push_back(std::move(message));
    return;
  }
  if (!fits_locked(recv, bytes)) return;  // the stream, if any, is discarded
  if (chunk != 0) std::memcpy(recv->data, cell.payload, chunk);
  if (peer.stream.active) {
    peer.stream.recv = recv;
  } else {
    complete_locked(recv, bytes);
  }
}

void ShmTransport::on_data_locked(Peer& peer, const std::byte* payload, size_t chunk_bytes) {
  Stream& stream = peer.stream;
  if (!stream.active) {
    log(LogLevel::kWarn, "shm: rank {}: peer {} sent data outside a message", rank_, peer.rank);
    return;
  }
  const size_t chunk = std::min(chunk_bytes, stream.bytes - stream.received);
  if (stream.recv != nullptr) {
    std::memcpy(stream.recv->data + stream.received, payload, chunk);
  } else if (stream.message != nullptr) {
    std::memcpy(stream.message->data.data() + stream.received, payload, chunk);
    stream.message->arrived += chunk;
  }
  stream.received += chunk;
  if (stream.received < stream.bytes) return;
  if (stream.recv != nullptr) complete_locked(stream.recv, stream.bytes);
  stream = Stream{};
}

void ShmTransport::on_abort_locked(Peer& peer) {
  Stream& stream = peer.stream;
  Operation* recv = stream.recv;
  if (stream.message != nullptr) {
    std::erase_if(peer.unexpected,
                  [&](const std::unique_ptr<Message>& message) { return message.get() == stream.message; });
  }
  stream = Stream{};
  if (recv != nullptr) rematch_locked(peer, recv);
}

// The sender withdrew the message `recv` had matched. As if it had never
// been sent, the receive takes the next message with its tag. (It goes
// first among the receives still posted; one posted later may already have
// taken a newer message, a reordering only cancel can cause.)
void ShmTransport::rematch_locked(Peer& peer, Operation* recv) {
  recv->rendezvous = false;
  recv->offset = 0;
  recv->mapped = nullptr;
  if (auto message = take_unexpected(peer, recv->tag)) {
    match_unexpected_locked(peer, recv, std::move(message));
  } else {
    peer.posted.insert(peer.posted.begin(), recv);
  }
}

void ShmTransport::on_rendezvous_locked(Peer& peer, const Cell& cell) {
  RendezvousPayload offer;
  std::memcpy(&offer, cell.payload, sizeof(offer));
  if (Operation* recv = take_posted(peer, cell.tag)) {
    start_reading_locked(peer, recv, offer, cell.message_bytes);
    return;
  }
  auto message = std::make_unique<Message>();
  message->tag = cell.tag;
  message->bytes = cell.message_bytes;
  message->rendezvous = true;
  message->offer = offer;
  peer.unexpected.push_back(std::move(message));
}

void ShmTransport::match_unexpected_locked(Peer& peer, Operation* recv, std::unique_ptr<Message> message) {
  if (message->self_send != nullptr) {
    deliver_self_locked(message->self_send, recv);
    return;
  }
  if (message->rendezvous) {
    start_reading_locked(peer, recv, message->offer, message->bytes);
    return;
  }
  const bool streaming = peer.stream.message == message.get();
  if (streaming) peer.stream.message = nullptr;  // from here on: discard, or straight into `recv`
  if (!fits_locked(recv, message->bytes)) return;
  if (message->arrived != 0) std::memcpy(recv->data, message->data.data(), message->arrived);
  if (streaming) {
    peer.stream.recv = recv;
  } else {
    complete_locked(recv, message->bytes);
  }
}

}  // namespace strata::runtime::shm
