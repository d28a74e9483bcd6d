// Recycled packet buffers in two size classes.
//
// Every read needs a buffer large enough for the biggest TUN frame (64 KiB),
// but most packets in flight can be 40-byte ACKs: holding those in 64 KiB
// buffers would turn a few hundred thousand queued ACKs into gigabytes. So
// reads land in a big buffer, and small packets are copied into a small one.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace strata::sites {

class PacketPool {
 public:
  static constexpr uint32_t kBigBytes = 65536;
  static constexpr uint32_t kSmallBytes = 2048;

  uint8_t* take(bool big) {
    auto& free_list = big ? free_big_ : free_small_;
    if (free_list.empty()) {
      owned_.push_back(std::make_unique<uint8_t[]>(big ? kBigBytes
                                                       : kSmallBytes));
      allocated_bytes_ += big ? kBigBytes : kSmallBytes;
      return owned_.back().get();
    }
    uint8_t* buffer = free_list.back();
    free_list.pop_back();
    return buffer;
  }

  void give(uint8_t* buffer, bool big) {
    (big ? free_big_ : free_small_).push_back(buffer);
  }

  // The pool never shrinks: this is the emulator's packet memory high-water.
  uint64_t allocated_bytes() const { return allocated_bytes_; }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> owned_;
  std::vector<uint8_t*> free_big_, free_small_;
  uint64_t allocated_bytes_ = 0;
};

}  // namespace strata::sites
