#include "runtime/transport/shm/shm_peer_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "runtime/memory/node_shared_memory.h"

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace strata::runtime::shm {
namespace {

// Whether `fd` (fetched from the peer) is the memfd of allocation `id`:
// its /proc link reads "/memfd:<name> (deleted)". The peer may have freed
// the allocation and reused the descriptor number since it made the offer
// only if it broke the rule that a send buffer lives until the send ends;
// this check keeps even that from mapping the wrong memory.
bool is_allocation(int fd, uint64_t id, uint64_t bytes) {
  char name[64];
  node_shared_name(id, name);
  const std::string expected = fmt::format("/memfd:{}", name);
  char link[128];
  const ssize_t length = ::readlink(fmt::format("/proc/self/fd/{}", fd).c_str(), link, sizeof(link) - 1);
  if (length < 0) return false;
  const std::string_view target(link, static_cast<size_t>(length));
  if (!target.starts_with(expected)) return false;
  const std::string_view rest = target.substr(expected.size());
  if (!rest.empty() && rest != " (deleted)") return false;
  struct stat status{};
  return ::fstat(fd, &status) == 0 && static_cast<uint64_t>(status.st_size) >= bytes;
}

}  // namespace

PeerMappings::~PeerMappings() { unmap_all(); }

PeerMappings::PeerMappings(PeerMappings&& other) noexcept
    : mappings_(std::exchange(other.mappings_, {})), uses_(other.uses_), refused_(other.refused_) {}

PeerMappings& PeerMappings::operator=(PeerMappings&& other) noexcept {
  if (this != &other) {
    unmap_all();
    mappings_ = std::exchange(other.mappings_, {});
    uses_ = other.uses_;
    refused_ = other.refused_;
  }
  return *this;
}

void PeerMappings::unmap_all() {
  for (const Mapping& mapping : mappings_) ::munmap(const_cast<std::byte*>(mapping.base), mapping.bytes);
  mappings_.clear();
}

PeerMappings::Mapping* PeerMappings::find(uint64_t id) {
  auto found = std::find_if(mappings_.begin(), mappings_.end(), [&](const Mapping& m) { return m.id == id; });
  return found == mappings_.end() ? nullptr : &*found;
}

bool PeerMappings::make_room() {
  if (mappings_.size() < kMaxPeerMappings) return true;
  auto oldest = mappings_.end();
  for (auto it = mappings_.begin(); it != mappings_.end(); ++it)
    if (it->holds == 0 && (oldest == mappings_.end() || it->last_use < oldest->last_use)) oldest = it;
  if (oldest == mappings_.end()) return false;
  ::munmap(const_cast<std::byte*>(oldest->base), oldest->bytes);
  mappings_.erase(oldest);
  return true;
}

const std::byte* PeerMappings::map(int peer_pidfd, const SharedOffer& offer, std::string* why_not) {
  if (offer.id == 0 || refused_) return nullptr;
  if (peer_pidfd < 0) {
    refused_ = true;
    if (why_not) *why_not = "no pidfd for the peer (pidfd_open unavailable)";
    return nullptr;
  }
  if (Mapping* mapping = find(offer.id)) {
    mapping->last_use = ++uses_;
    return mapping->base;
  }
  if (!make_room()) return nullptr;
  const int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, peer_pidfd, offer.fd, 0));
  if (fd < 0) {
    // EPERM/ENOSYS (no right, old kernel, seccomp) will not change; EBADF
    // (the peer closed it) is the peer's business, and CMA reports it.
    if (errno != EBADF) {
      refused_ = true;
      if (why_not) *why_not = fmt::format("pidfd_getfd: {}", std::strerror(errno));
    }
    return nullptr;
  }
  void* base = MAP_FAILED;
  if (is_allocation(fd, offer.id, offer.allocation_bytes))
    base = ::mmap(nullptr, offer.allocation_bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) return nullptr;
  mappings_.push_back({offer.id, static_cast<const std::byte*>(base), offer.allocation_bytes, ++uses_, 0});
  return mappings_.back().base;
}

void PeerMappings::hold(uint64_t id) {
  if (Mapping* mapping = find(id)) ++mapping->holds;
}

void PeerMappings::let_go(uint64_t id) {
  if (Mapping* mapping = find(id); mapping && mapping->holds > 0) --mapping->holds;
}

}  // namespace strata::runtime::shm
