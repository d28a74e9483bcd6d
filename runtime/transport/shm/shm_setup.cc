// Creation and teardown. Every rank of the bootstrap takes part in exactly
// two allgathers of fixed-size records, whether or not it has local peers
// and whether or not its own setup worked, so ranks on other hosts (and
// ranks that failed) never leave the others waiting:
//   1. SetupRecord: each rank's segment (name, size, pid, CMA probe address);
//      then each rank maps its local peers' segments and tries CMA on them.
//   2. ReadyRecord: whether that worked. After it every local peer has mapped
//      this rank's segment and connected to its wake socket, so both names
//      are unlinked at once: a crash from here on leaves nothing in /dev/shm.
#include <fmt/ranges.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <optional>
#include <random>

#include "common/error.h"
#include "common/log.h"
#include "runtime/transport/shm/shm_transport_impl.h"

namespace strata::runtime::shm {

struct SetupRecord {
  uint64_t magic;
  uint64_t segment_bytes;
  uint64_t nonce;
  uint64_t nonce_address;  // &header->nonce in the owner's address space, for the CMA probe
  int32_t pid;
  uint32_t ok;
  char name[64];
};

namespace {

struct ReadyRecord {
  uint32_t ok;
  uint32_t can_read_peers;  // CMA from every local peer works (and is allowed)
};

template <typename Record>
std::vector<Record> allgather_records(Bootstrap& bootstrap, const Record& mine) {
  auto bytes = bootstrap.allgather(std::as_bytes(std::span(&mine, 1)));
  if (bytes.size() != sizeof(Record) * static_cast<size_t>(bootstrap.size())) {
    fail(ErrorCode::kInternal, {bootstrap.rank(), -1, "shm setup"}, "shm: allgather returned {} bytes, expected {}",
         bytes.size(), sizeof(Record) * bootstrap.size());
  }
  std::vector<Record> records(bootstrap.size());
  std::memcpy(records.data(), bytes.data(), bytes.size());
  return records;
}

// Per-peer rings of up to 64 cells (1 MiB), fewer when many ranks share
// the host, so each segment's rings stay within about 16 MiB (not counting
// the 8-cell minimum beyond 129 local ranks).
uint32_t cells_per_ring(size_t nlocal) {
  const size_t budget_cells = (size_t{16} << 20) / kCellBytes / std::max<size_t>(nlocal - 1, 1);
  return static_cast<uint32_t>(std::clamp<size_t>(std::bit_floor(std::max<size_t>(budget_cells, 1)), 8, 64));
}

}  // namespace

ShmTransport::ShmTransport(Bootstrap& bootstrap, const std::vector<int>& local_ranks,
                           const ShmTransportOptions& options)
    : options_(options), rank_(bootstrap.rank()), size_(bootstrap.size()) {
  std::optional<Error> problem;
  SetupRecord mine{};
  try {
    index_local_ranks(local_ranks);
    create_own_segment();
    mine = {
        kSegmentMagic, own_.bytes(), header_->nonce, reinterpret_cast<uint64_t>(&header_->nonce), ::getpid(), 1, {}};
    std::snprintf(mine.name, sizeof(mine.name), "%s", own_.name().c_str());
  } catch (const Error& error) {
    problem = error;
  }
  const std::vector<SetupRecord> records = allgather_records(bootstrap, mine);

  ReadyRecord ready{0, options_.use_cma ? 1u : 0u};
  if (!problem) {
    try {
      for (Peer& peer : peers_) {
        if (peer.self) continue;
        map_peer(peer, records[peer.rank]);
        if (ready.can_read_peers != 0 && !probe_cma(peer, records[peer.rank])) ready.can_read_peers = 0;
      }
      ready.ok = 1;
    } catch (const Error& error) {
      problem = error;
    }
  }
  const std::vector<ReadyRecord> readies = allgather_records(bootstrap, ready);
  own_.unlink();
  wake_.unlink();
  if (problem) throw *problem;
  std::vector<int> failed;
  for (int rank = 0; rank < size_; ++rank)
    if (readies[rank].ok == 0) failed.push_back(rank);
  if (!failed.empty()) {
    fail(ErrorCode::kSystem, {rank_, failed.front(), "shm setup"},
         "shm: rank(s) {} could not set up the shared-memory transport", fmt::join(failed, ", "));
  }
  for (Peer& peer : peers_) peer.cma = !peer.self && options_.use_cma && readies[peer.rank].can_read_peers != 0;
  log(LogLevel::kInfo, "shm: rank {}: {} local ranks, {} cells per ring, CMA {}", rank_, peers_.size(), header_->ncells,
      ready.can_read_peers != 0 ? "on" : "off");
}

// Local indexes follow rank order, so ranks that list the same set in
// different orders still agree on which ring in a segment is whose.
void ShmTransport::index_local_ranks(const std::vector<int>& local_ranks) {
  ErrorContext context{rank_, -1, "create_shm_transport"};
  std::vector<int> sorted = local_ranks;
  std::sort(sorted.begin(), sorted.end());
  local_of_rank_.assign(size_, -1);
  for (int rank : sorted) {
    if (rank < 0 || rank >= size_)
      fail(ErrorCode::kInvalidArgument, context, "shm: local rank {} is out of range: there are {} ranks", rank, size_);
    if (local_of_rank_[rank] >= 0)
      fail(ErrorCode::kInvalidArgument, context, "shm: local rank {} is listed twice", rank);
    local_of_rank_[rank] = static_cast<int>(peers_.size());
    peers_.emplace_back();
    peers_.back().rank = rank;
    peers_.back().local = local_of_rank_[rank];
  }
  if (local_of_rank_[rank_] < 0)
    fail(ErrorCode::kInvalidArgument, context, "shm: local_ranks does not contain this rank ({})", rank_);
  self_local_ = local_of_rank_[rank_];
  peers_[self_local_].self = true;
}

void ShmTransport::create_own_segment() {
  const auto nlocal = static_cast<uint32_t>(peers_.size());
  const uint32_t ncells = cells_per_ring(nlocal);
  const SegmentLayout layout = SegmentLayout::of(nlocal, ncells);
  own_ = Segment::create(layout.total_bytes);
  wake_ = WakeReceiver::bind(wake_path(own_.name()));
  peers_[self_local_].wake = WakeSender::connect(wake_path(own_.name()));
  header_ = reinterpret_cast<SegmentHeader*>(own_.base());
  header_->magic = kSegmentMagic;
  header_->nonce = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  header_->nlocal = nlocal;
  header_->ncells = ncells;
  header_->ring_offset = layout.ring_offset;
  header_->ring_bytes = layout.ring_bytes;
  for (Peer& peer : peers_) {
    if (peer.self) continue;
    peer.in.header = ring_header(own_.base(), *header_, peer.local);
    peer.in.cells = ring_cells(own_.base(), *header_, peer.local);
    peer.in.ncells = ncells;
  }
  slot_sends_.assign(kRendezvousSlots, nullptr);
  slot_generations_.assign(kRendezvousSlots, 0);
  free_slots_.resize(kRendezvousSlots);
  for (uint32_t slot = 0; slot < kRendezvousSlots; ++slot) free_slots_[slot] = kRendezvousSlots - 1 - slot;
}

void ShmTransport::map_peer(Peer& peer, const SetupRecord& record) {
  ErrorContext context{rank_, peer.rank, "shm setup"};
  if (record.ok == 0 || record.magic != kSegmentMagic) {
    fail(ErrorCode::kSystem, context, "shm: local rank {} did not create a segment", peer.rank);
  }
  std::string name(record.name, strnlen(record.name, sizeof(record.name)));
  peer.segment = Segment::open(name, record.segment_bytes);
  peer.header = reinterpret_cast<SegmentHeader*>(peer.segment.base());
  const SegmentHeader& header = *peer.header;
  if (header.magic != kSegmentMagic || header.nonce != record.nonce || header.nlocal != peers_.size() ||
      std::popcount(header.ncells) != 1 ||
      SegmentLayout::of(header.nlocal, header.ncells).total_bytes > record.segment_bytes) {
    fail(ErrorCode::kSystem, context,
         "shm: segment '{}' of rank {} is not the one it announced (is rank {} really on this host, with the same "
         "local_ranks?)",
         name, peer.rank, peer.rank);
  }
  peer.out.header = ring_header(peer.segment.base(), header, self_local_);
  peer.out.cells = ring_cells(peer.segment.base(), header, self_local_);
  peer.out.ncells = header.ncells;
  peer.watch = ProcessWatch(record.pid);
  peer.wake = WakeSender::connect(wake_path(name));
}

// Reads the peer's nonce from its own address space: succeeds only where the
// kernel lets this process use process_vm_readv on it (same user, ptrace
// scope) and the pid means the same process here (same pid namespace).
bool ShmTransport::probe_cma(const Peer& peer, const SetupRecord& record) const {
  uint64_t value = 0;
  iovec local{&value, sizeof(value)};
  iovec remote{reinterpret_cast<void*>(record.nonce_address), sizeof(value)};
  const ssize_t got = ::process_vm_readv(record.pid, &local, 1, &remote, 1, 0);
  if (got == sizeof(value) && value == record.nonce) return true;
  log(LogLevel::kInfo,
      "shm: rank {}: CMA from peer {} (pid {}) unavailable ({}); large messages stream through the ring", rank_,
      peer.rank, record.pid, got < 0 ? std::strerror(errno) : "wrong value");
  return false;
}

ShmTransport::~ShmTransport() {
  std::lock_guard lock(mutex_);
  if (header_ == nullptr) return;
  // No peer may read a buffer of this transport once it is gone.
  for (Peer& peer : peers_) {
    for (Operation* op : peer.backlog)
      if (op->rendezvous) release_slot_locked(op->slot, op->generation);
  }
  for (Operation* op : slot_sends_)
    if (op != nullptr) revoke_locked(*op);
  header_->closed.store(1, std::memory_order_release);
  for (Peer& peer : peers_)
    if (!peer.self && peer.header != nullptr) wake_if_sleeping(peer);
}

}  // namespace strata::runtime::shm
