#include "runtime/memory/node_shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "common/error.h"

namespace strata {
namespace {

struct Allocation {
  size_t bytes = 0;
  int fd = -1;
  uint64_t id = 0;
};

// By start address. A process holds few allocations (a framework's pool
// makes a handful of large ones), so one mutex is enough.
struct Registry {
  std::mutex mutex;
  std::map<uintptr_t, Allocation> allocations;
  std::atomic<size_t> count{0};
  uint64_t next_id = 1;
};

Registry& registry() {
  static Registry* instance = new Registry;  // never destroyed: frees may come from static destructors
  return *instance;
}

[[noreturn]] void fail_system(const char* what, size_t bytes, int error_number) {
  fail(ErrorCode::kSystem, {-1, -1, "alloc_node_shared"}, "cannot allocate {} bytes of node-shared memory: {}: {}",
       bytes, what, std::strerror(error_number));
}

}  // namespace

void node_shared_name(uint64_t id, char (&name)[64]) {
  fmt::format_to_n(name, sizeof(name) - 1, "strata-node-shared-{}", id).out[0] = '\0';
}

void* alloc_node_shared(size_t bytes) {
  if (bytes == 0) fail(ErrorCode::kInvalidArgument, {-1, -1, "alloc_node_shared"}, "bytes is 0; it must be > 0");
  Registry& reg = registry();
  uint64_t id;
  {
    std::lock_guard lock(reg.mutex);
    id = reg.next_id++;
  }
  char name[64];
  node_shared_name(id, name);
  // Sealed against shrinking, so a peer that maps it can never fault on a truncated page.
  const int fd = ::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) fail_system("memfd_create", bytes, errno);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0 || ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
    const int error_number = errno;
    ::close(fd);
    fail_system("sizing the memfd", bytes, error_number);
  }
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    const int error_number = errno;
    ::close(fd);
    fail_system("mmap", bytes, error_number);
  }
  std::lock_guard lock(reg.mutex);
  reg.allocations.emplace(reinterpret_cast<uintptr_t>(base), Allocation{bytes, fd, id});
  reg.count.fetch_add(1, std::memory_order_release);
  return base;
}

void free_node_shared(void* ptr) {
  if (ptr == nullptr) return;
  Registry& reg = registry();
  Allocation allocation;
  {
    std::lock_guard lock(reg.mutex);
    auto found = reg.allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (found == reg.allocations.end())
      fail(ErrorCode::kInvalidArgument, {-1, -1, "free_node_shared"}, "ptr {} was not returned by alloc_node_shared",
           ptr);
    allocation = found->second;
    reg.allocations.erase(found);
    reg.count.fetch_sub(1, std::memory_order_release);
  }
  // Give the pages back now: peers that mapped the allocation keep their
  // mappings (bounded per peer) until they evict them, and would otherwise
  // keep its memory alive. They never read it again (a send's buffer is
  // not freed before the send ends); if one did, it would read zeros.
  ::fallocate(allocation.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(allocation.bytes));
  ::munmap(ptr, allocation.bytes);
  ::close(allocation.fd);
}

std::optional<NodeSharedRange> find_node_shared(const void* ptr, size_t bytes) {
  Registry& reg = registry();
  if (reg.count.load(std::memory_order_acquire) == 0) return std::nullopt;
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  std::lock_guard lock(reg.mutex);
  auto after = reg.allocations.upper_bound(address);
  if (after == reg.allocations.begin()) return std::nullopt;
  const auto& [base, allocation] = *std::prev(after);
  const uint64_t offset = address - base;
  if (offset >= allocation.bytes || bytes > allocation.bytes - offset) return std::nullopt;
  return NodeSharedRange{allocation.fd, allocation.id, allocation.bytes, offset};
}

HostBuffer::HostBuffer(size_t bytes, bool node_shared) : bytes_(bytes), node_shared_(node_shared) {
  if (node_shared_) {
    data_ = static_cast<std::byte*>(alloc_node_shared(bytes == 0 ? 1 : bytes));
  } else {
    heap_.resize(bytes);
    data_ = heap_.data();
  }
}

HostBuffer::~HostBuffer() {
  if (node_shared_) free_node_shared(data_);
}

}  // namespace strata
