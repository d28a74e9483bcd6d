// What lives in a shared-memory segment. Each transport owns one segment:
// a header (sleeping flag, rendezvous slots) followed by one inbound ring per local
// peer. A peer writes its messages into its ring in the receiver's segment,
// so a receiver polls only its own memory and a ring has exactly one producer
// and one consumer.
//
// Only lock-free integer atomics live here: they are address-free, so
// processes that map the segment at different addresses can share them, and
// their object representation is the integer, so the zero-filled pages of a
// fresh segment already hold valid atomics of value 0.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/transport/shm/shm_peer_memory.h"

namespace strata::runtime::shm {

constexpr uint64_t kSegmentMagic = 0x3168732d61746172;  // "rata-sh1"
constexpr size_t kCacheLineBytes = 64;

// A cell is a fixed 16 KiB slot: eager messages (up to 8 KiB, see
// kRendezvousMinBytes) take one cell, and streamed messages pay the per-cell
// handshake once per 16 KiB. Streaming 8 MiB between two threads on the
// 2-core box: 4 KiB cells 8.2 GB/s one way, 5.6 GB/s both ways at once;
// 16 KiB cells 9.1 and 7.0 GB/s. Small messages touch only the first page of
// a cell, so the rings' memory mostly stays unallocated until streaming uses it.
constexpr size_t kCellBytes = 16384;
constexpr size_t kCellHeaderBytes = 32;
constexpr size_t kCellPayloadBytes = kCellBytes - kCellHeaderBytes;

// Rendezvous sends in flight per transport. When all are taken, a large send
// streams through the ring instead, so running out never blocks.
constexpr uint32_t kRendezvousSlots = 4096;

enum class CellKind : uint32_t {
  kMessage = 1,  // first cell of an eager message; more kData cells follow if it does not fit
  kData,         // the next part of the message being streamed
  kAbort,        // the sender withdrew the message being streamed
  kRendezvous,   // a large message the receiver reads itself (RendezvousPayload)
  kFinish,       // receiver to sender: a rendezvous ended (FinishPayload)
};

// Ring protocol (one producer, one consumer): the cell for ring position p
// is cells[p % ncells]. The producer fills it and then stores sequence = p+1;
// the consumer polls that one word. The consumer hands cells back by
// publishing how many positions it has finished (`consumed`), and only now
// and then: the producer keeps its own copy and reads the shared one only
// when its copy says the ring is full. So a message costs the two cache-line
// transfers of the cell itself (producer writes, consumer reads) and nothing
// per message in the other direction. Zero-filled memory is a valid empty
// ring (position 0 waits for sequence 1).
struct alignas(kCacheLineBytes) Cell {
  std::atomic<uint64_t> sequence;
  CellKind kind;
  uint32_t chunk_bytes;    // payload bytes in this cell
  uint64_t tag;            // kMessage, kRendezvous
  uint64_t message_bytes;  // kMessage, kRendezvous: the whole message
  std::byte payload[kCellPayloadBytes];
};
static_assert(sizeof(Cell) == kCellBytes);
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free);

struct alignas(kCacheLineBytes) RingHeader {
  std::atomic<uint64_t> consumed;  // written by the consumer
  // Set by the producer when it found the ring full; the consumer then rings
  // the producer after handing cells back, so a sleeping sender resumes.
  alignas(kCacheLineBytes) std::atomic<uint32_t> producer_waiting;
};

// Rendezvous slot states, in the low 2 bits of a slot word; the rest is the
// generation, so a stale descriptor can never claim a reused slot.
enum SlotState : uint64_t { kSlotRevoked = 0, kSlotOffered = 1, kSlotReading = 2, kSlotFinished = 3 };
constexpr uint64_t slot_word(uint64_t generation, SlotState state) { return (generation << 2) | state; }

struct RendezvousPayload {
  uint64_t address;     // the send buffer in the sender's address space
  uint64_t generation;  // of the slot
  uint32_t slot;        // in the sender's segment header
  SharedOffer shared;   // the send buffer's node-shared allocation, if it is in one
};

enum class FinishStatus : uint32_t { kOk = 0, kTruncated, kCanceled, kReadFailed };

struct FinishPayload {
  uint64_t generation;
  uint64_t receive_bytes;  // kTruncated: the receive buffer's size
  uint32_t slot;
  FinishStatus status;
  int32_t error_number;  // kReadFailed: errno of process_vm_readv
};

struct alignas(kCacheLineBytes) SegmentHeader {
  uint64_t magic;
  uint64_t nonce;  // random; a peer reads it over CMA to prove CMA reaches this process
  uint32_t nlocal;
  uint32_t ncells;  // per inbound ring
  uint64_t ring_offset;
  uint64_t ring_bytes;
  // Threads of the owner that are about to sleep or sleep. Senders wake the
  // owner (through its wake socket) only while this is non-zero, so the fast
  // path makes no syscall. Its own line: senders read it on every message.
  alignas(kCacheLineBytes) std::atomic<uint32_t> sleepers;
  std::atomic<uint32_t> closed;  // set when the owner destroyed its transport
  // Rendezvous slots of sends from this transport; receivers claim them
  // while they read the send buffer, so a sender can cancel safely.
  alignas(kCacheLineBytes) std::atomic<uint64_t> slots[kRendezvousSlots];
};

// Offsets inside a segment of `nlocal` inbound rings of `ncells` cells.
struct SegmentLayout {
  uint64_t ring_offset;
  uint64_t ring_bytes;
  uint64_t total_bytes;

  static constexpr SegmentLayout of(uint32_t nlocal, uint32_t ncells) {
    const uint64_t page = 4096;
    const uint64_t ring_offset = (sizeof(SegmentHeader) + page - 1) / page * page;
    const uint64_t ring_bytes = sizeof(RingHeader) + uint64_t{ncells} * sizeof(Cell);
    return {ring_offset, ring_bytes, ring_offset + ring_bytes * nlocal};
  }
};

// The ring that local peer `sender` writes into, inside a segment at `base`.
inline RingHeader* ring_header(std::byte* base, const SegmentHeader& header, int sender) {
  return reinterpret_cast<RingHeader*>(base + header.ring_offset + header.ring_bytes * sender);
}
inline Cell* ring_cells(std::byte* base, const SegmentHeader& header, int sender) {
  return reinterpret_cast<Cell*>(reinterpret_cast<std::byte*>(ring_header(base, header, sender)) + sizeof(RingHeader));
}

}  // namespace strata::runtime::shm
