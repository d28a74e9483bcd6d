#include "runtime/communicator/comm_ids.h"

#include <bit>

#include "common/error.h"

namespace strata::runtime {

CommIdSpace::CommIdSpace() {
  used_.set(0);
  used_.set(kProbeCommId);
  used_.set(kShrinkCommId);
  used_.set(kWorldCommId);
}

std::vector<uint32_t> CommIdSpace::used_words() const {
  std::lock_guard lock(mutex_);
  std::vector<uint32_t> words(kCommIdBitmapWords, 0);
  for (uint32_t id = 0; id < kCommIdCount; ++id)
    if (used_.test(id)) words[id / 32] |= uint32_t{1} << (id % 32);
  return words;
}

void CommIdSpace::claim(uint32_t id, int rank) {
  std::lock_guard lock(mutex_);
  if (used_.test(id))
    fail(ErrorCode::kInvalidUsage, {rank, -1, "split"},
         "communicator id {} was taken by another split running at the same time on this process; "
         "split communicators that share ranks one at a time", id);
  used_.set(id);
}

void CommIdSpace::release(uint32_t id) {
  std::lock_guard lock(mutex_);
  if (id != kWorldCommId && id != kProbeCommId && id != 0) used_.reset(id);
}

uint32_t CommIdSpace::lowest_free_in(std::span<const std::vector<uint32_t>> members_used, int rank) {
  for (size_t word = 0; word < kCommIdBitmapWords; ++word) {
    uint32_t taken = 0;
    for (const auto& used : members_used) taken |= used[word];
    if (taken != ~uint32_t{0}) return static_cast<uint32_t>(word * 32 + std::countr_one(taken));
  }
  fail(ErrorCode::kInvalidUsage, {rank, -1, "split"},
       "all {} communicator ids are in use on some member; destroy communicators you no longer need",
       kCommIdCount - 2);
}

}  // namespace strata::runtime
