// Every rank's scratch for the mapped-scratch collectives
// (mapped_scratch.h), made, exchanged and grown by all ranks of a group
// together. How memory is allocated and how a peer's is mapped is left to
// a ScratchExporter: CUDA IPC on a GPU (runtime/device/cuda/ipc_scratch.h), host
// memory in the unit tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/device/mapped_scratch.h"

namespace strata::runtime {

class ScratchExporter {
 public:
  using Handle = std::array<unsigned char, 64>;
  virtual ~ScratchExporter() = default;
  // Allocates `bytes`, sets `data` and the `handle` peers open; the result
  // owns the memory. Throws Error when it cannot.
  virtual std::shared_ptr<void> allocate(uint64_t bytes, std::byte*& data, Handle& handle) = 0;
  // Maps a peer's scratch; the result unmaps it. Throws Error when it cannot.
  virtual std::shared_ptr<void> open(const Handle& handle, std::byte*& data) = 0;
};

// What the setup needs from the group (a communicator's host collectives).
struct ScratchGroup {
  int rank = 0;
  int size = 1;
  std::function<void(const void* mine, void* all, uint64_t bytes)> all_gather;  // rank order
  std::function<void()> barrier;
};

class ScratchSpace {
 public:
  // `process` identifies this process: peers with the same one are in this
  // address space and their scratch is used as is, without open().
  ScratchSpace(ScratchGroup group, ScratchExporter& exporter, uint64_t process);
  ~ScratchSpace();

  // Makes sure every rank's halves hold at least `wanted` bytes (a power of
  // two, at least kMinHalf). All ranks call it with the same `wanted`. When
  // any rank could not allocate or map, every rank frees its scratch and
  // returns false, now and on every later call.
  bool ensure(uint64_t wanted);
  bool refused() const { return refused_; }
  MappedScratch& mapped() { return mapped_; }

  static constexpr uint64_t kMinHalf = uint64_t{1} << 20;

 private:
  ScratchGroup group_;
  ScratchExporter& exporter_;
  uint64_t process_;
  bool refused_ = false;
  std::shared_ptr<void> mine_;
  std::vector<std::shared_ptr<void>> peers_;
  MappedScratch mapped_;
};

}  // namespace strata::runtime
