// A peer's node-shared allocations (runtime/memory/node_shared_memory.h) mapped
// into this process, so that rendezvous receives can read a send buffer in
// place: the executor reduces straight from it (post_recv_view), and plain
// receives copy it with memcpy instead of process_vm_readv.
//
// The descriptor comes from the peer with pidfd_getfd, which needs the same
// right to the peer as CMA. Mappings are kept by allocation id, at most
// kMaxPeerMappings per peer; the least recently used one that no receive
// holds goes first. A mapping the peer has since freed stays valid (its
// pages live until unmapped) and is simply never offered again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace strata::runtime::shm {

constexpr size_t kMaxPeerMappings = 64;

// What a sender says about a send buffer in a node-shared allocation.
struct SharedOffer {
  uint64_t id = 0;  // 0: not in one
  uint64_t allocation_bytes = 0;
  uint64_t offset = 0;  // of the send buffer in the allocation
  int32_t fd = -1;      // the allocation's descriptor in the sender
};

class PeerMappings {
 public:
  PeerMappings() = default;
  ~PeerMappings();
  PeerMappings(PeerMappings&& other) noexcept;
  PeerMappings& operator=(PeerMappings&& other) noexcept;
  PeerMappings(const PeerMappings&) = delete;
  PeerMappings& operator=(const PeerMappings&) = delete;

  // The start of the offered allocation mapped read-only, given the peer's
  // pidfd (ProcessWatch::pidfd), or nullptr when it cannot be mapped (no
  // pidfd, no pidfd_getfd, no right to the peer's descriptors, too many
  // mappings held): the caller then reads over CMA. After the first refusal
  // it stops asking; `why_not` says what failed, that once.
  const std::byte* map(int peer_pidfd, const SharedOffer& offer, std::string* why_not);

  // A receive reads from allocation `id` until it lets go; held mappings
  // are never evicted.
  void hold(uint64_t id);
  void let_go(uint64_t id);

  size_t size() const { return mappings_.size(); }

 private:
  struct Mapping {
    uint64_t id = 0;
    const std::byte* base = nullptr;
    size_t bytes = 0;
    uint64_t last_use = 0;
    int holds = 0;
  };
  Mapping* find(uint64_t id);
  bool make_room();
  void unmap_all();

  std::vector<Mapping> mappings_;
  uint64_t uses_ = 0;
  bool refused_ = false;  // the kernel refused once: never ask again
};

}  // namespace strata::runtime::shm
