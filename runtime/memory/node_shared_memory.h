// Host memory that the other processes of this node can map. A buffer from
// alloc_node_shared() lets the shared-memory transport read a peer's data in
// place: the receiver reduces straight from the sender's buffer, or copies
// it with a plain memcpy, instead of first pulling it over CMA
// (process_vm_readv), which copies in the kernel and pins every page. The
// analogue of NCCL's ncclMemAlloc + user-buffer registration, for host
// memory. Any other memory still works, through CMA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace strata {

// Zero-filled, page-aligned, `bytes` long (> 0), backed by an anonymous
// memfd that a peer process can map once it holds the right to read this
// process's memory (the same right CMA needs). Throws Error(kInvalidArgument)
// for 0 bytes and Error(kSystem) when the memory cannot be had. Unlike heap
// memory it stays shared with a child after fork() (no copy-on-write).
void* alloc_node_shared(size_t bytes);

// Returns memory from alloc_node_shared; nullptr does nothing. Throws
// Error(kInvalidArgument) for any other pointer. The pages go back to the
// system at once, even while peers still map the allocation (their
// transports keep a bounded number of mappings per peer).
void free_node_shared(void* ptr);

// Where [ptr, ptr + bytes) lies in a node-shared allocation, if wholly
// inside one. `fd` is the allocation's memfd in this process and `id` a
// number no other allocation of this process has had, so a peer never
// mistakes a later allocation for an earlier one. Cheap when this process
// has no allocations.
struct NodeSharedRange {
  int fd = -1;
  uint64_t id = 0;
  uint64_t allocation_bytes = 0;
  uint64_t offset = 0;  // of ptr from the allocation's start
};
std::optional<NodeSharedRange> find_node_shared(const void* ptr, size_t bytes);

// The memfd name an allocation with `id` has in /proc/<pid>/fd (without
// the "/memfd:" prefix and " (deleted)" suffix the kernel adds), so a peer
// can check that the descriptor it fetched is the allocation it was offered.
void node_shared_name(uint64_t id, char (&name)[64]);

// A zero-filled host buffer that owns its memory: from the heap, or
// node-shared (alloc_node_shared). For benchmarks and tests that run the
// same code on both.
class HostBuffer {
 public:
  HostBuffer(size_t bytes, bool node_shared);
  ~HostBuffer();
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  std::byte* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  std::vector<std::byte> heap_;
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
  bool node_shared_ = false;
};

}  // namespace strata
