// The node-shared allocator: what find_node_shared reports for ranges in,
// across and outside allocations, and its errors.
#include "runtime/memory/node_shared_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/error.h"

namespace strata {
namespace {

TEST(NodeSharedMemory, RangesInsideOneAllocationAreFound) {
  constexpr size_t kBytes = 3 * 4096 + 100;
  auto* base = static_cast<std::byte*>(alloc_node_shared(kBytes));
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(base) % 4096, 0u);
  for (size_t i = 0; i < kBytes; ++i) ASSERT_EQ(base[i], std::byte{0}) << "not zero-filled at " << i;
  std::memset(base, 0x3c, kBytes);  // writable throughout

  const auto whole = find_node_shared(base, kBytes);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->offset, 0u);
  EXPECT_EQ(whole->allocation_bytes, kBytes);
  struct stat status{};
  ASSERT_EQ(fstat(whole->fd, &status), 0);
  EXPECT_EQ(static_cast<size_t>(status.st_size), kBytes);

  const auto tail = find_node_shared(base + 5000, kBytes - 5000);
  ASSERT_TRUE(tail.has_value());
  EXPECT_EQ(tail->offset, 5000u);
  EXPECT_EQ(tail->id, whole->id);

  EXPECT_FALSE(find_node_shared(base + 5000, kBytes - 4999).has_value()) << "one byte past the end";
  EXPECT_FALSE(find_node_shared(base + kBytes, 1).has_value());
  EXPECT_FALSE(find_node_shared(base - 1, 2).has_value());
  free_node_shared(base);
  EXPECT_FALSE(find_node_shared(base, 1).has_value()) << "freed";
}

TEST(NodeSharedMemory, EveryAllocationHasItsOwnIdAndName) {
  void* a = alloc_node_shared(4096);
  void* b = alloc_node_shared(4096);
  const auto range_a = find_node_shared(a, 1), range_b = find_node_shared(b, 1);
  ASSERT_TRUE(range_a && range_b);
  EXPECT_NE(range_a->id, range_b->id);
  char name[64];
  node_shared_name(range_a->id, name);
  char link[128] = {};
  ASSERT_GT(readlink(("/proc/self/fd/" + std::to_string(range_a->fd)).c_str(), link, sizeof(link) - 1), 0);
  EXPECT_EQ(std::string(link).rfind(std::string("/memfd:") + name, 0), 0u) << link;
  free_node_shared(a);
  free_node_shared(b);
}

// A peer's mapping outlives the allocation; its pages must not.
TEST(NodeSharedMemory, FreeReturnsThePagesThatAPeerStillMaps) {
  constexpr size_t kBytes = 1 << 20;
  auto* base = static_cast<std::byte*>(alloc_node_shared(kBytes));
  std::memset(base, 0x42, kBytes);
  const int peer_fd = dup(find_node_shared(base, 1)->fd);  // as pidfd_getfd gives a peer
  ASSERT_GE(peer_fd, 0);
  auto* peer_view = static_cast<const std::byte*>(mmap(nullptr, kBytes, PROT_READ, MAP_SHARED, peer_fd, 0));
  ASSERT_NE(peer_view, MAP_FAILED);
  EXPECT_EQ(peer_view[kBytes - 1], std::byte{0x42});
  struct stat status{};
  ASSERT_EQ(fstat(peer_fd, &status), 0);
  EXPECT_GE(status.st_blocks * 512, static_cast<off_t>(kBytes));
  free_node_shared(base);
  ASSERT_EQ(fstat(peer_fd, &status), 0);
  EXPECT_EQ(status.st_blocks, 0) << "freed pages still held through the peer's mapping";
  EXPECT_EQ(static_cast<size_t>(status.st_size), kBytes) << "shrunk: the peer's mapping would fault";
  EXPECT_EQ(peer_view[kBytes - 1], std::byte{0});
  munmap(const_cast<std::byte*>(peer_view), kBytes);
  close(peer_fd);
}

TEST(NodeSharedMemory, BadArgumentsAreNamed) {
  try {
    alloc_node_shared(0);
    FAIL() << "0 bytes allocated";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("bytes"), std::string::npos) << error.what();
  }
  int not_shared = 0;
  try {
    free_node_shared(&not_shared);
    FAIL() << "freed a pointer it did not allocate";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("ptr"), std::string::npos) << error.what();
  }
  free_node_shared(nullptr);
  EXPECT_FALSE(find_node_shared(&not_shared, sizeof(not_shared)).has_value());
}

}  // namespace
}  // namespace strata
