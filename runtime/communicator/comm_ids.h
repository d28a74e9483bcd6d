// Communicator ids: the 12-bit field of every wire tag (wire_tag.h). All
// communicators that share a transport (a world and everything split from it)
// draw from one CommIdSpace, and a split agrees on an id that is free on
// every member, so two communicators never share a tag space.
#pragma once

#include <bitset>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "runtime/engine/wire_tag.h"

namespace strata::runtime {

inline constexpr uint32_t kCommIdCount = 4096;       // 12 bits
inline constexpr uint32_t kWorldCommId = 1;          // the first communicator on a transport
inline constexpr uint32_t kProbeCommId = 0xfff;      // link probing (link_probe.cc)
// A shrink's agreement among the survivors (communicator_create.cc): its
// sequence number is the parent's id and attempt, so shrinks never meet.
inline constexpr uint32_t kShrinkCommId = 0xffe;
inline constexpr size_t kCommIdBitmapWords = kCommIdCount / 32;  // what a split's all-gather carries

using CommIdBitmap = std::bitset<kCommIdCount>;

class CommIdSpace {
 public:
  CommIdSpace();  // ids 0, the probe's and the shrink's are reserved; the world's is taken

  // This process's ids in use, as 32-bit words for an all-gather.
  std::vector<uint32_t> used_words() const;

  // Takes `id` (the lowest free on every member, from lowest_free_in);
  // throws kInvalidUsage if another split on this process took it meanwhile.
  void claim(uint32_t id, int rank);
  void release(uint32_t id);

  // The lowest id free in every member's used words, or throws kInvalidUsage
  // naming `rank` when the space is exhausted.
  static uint32_t lowest_free_in(std::span<const std::vector<uint32_t>> members_used, int rank);

 private:
  mutable std::mutex mutex_;
  CommIdBitmap used_;
};

}  // namespace strata::runtime
