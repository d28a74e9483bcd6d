// Collectives among ranks of one node that can all address each other's
// scratch memory (CUDA IPC mappings of device memory, or host memory shared
// between threads). Each rank copies its input into its own scratch, the
// ranks meet at a barrier, and then every rank reads its peers' scratch
// directly: no messages carry the data.
//
// The protocol is written against two small interfaces, so the same code
// runs with CUDA streams (runtime/device/cuda/ipc_scratch.h) and, in the unit
// tests, with host memory and threads.
//
// Scratch layout: each rank's scratch is two halves of `half_bytes`; the
// call's data goes through in pieces that fit one half, alternating halves.
// One barrier after a piece's inputs are in place is enough to reuse a half
// two pieces later: a rank reaching that barrier has waited for its own
// reads of the piece before (ScratchMemory::wait).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "common/datatype.h"

namespace strata::runtime {

// The memory operations of one rank, run in the order issued (a CUDA
// stream, or at once on the host). wait() returns once all issued ones are done.
class ScratchMemory {
 public:
  virtual ~ScratchMemory() = default;
  virtual void copy(void* dst, const void* src, uint64_t bytes) = 0;
  // dst[i] = a[i] op b[i]; dst may alias a or b exactly.
  virtual void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, uint64_t count) = 0;
  virtual void finish(DataType type, const Finish& finish, void* data, uint64_t count) = 0;
  virtual void wait() = 0;
};

// Every rank's scratch as this rank addresses it, and a barrier over them.
struct MappedScratch {
  int rank = 0;
  int size = 1;
  uint64_t half_bytes = 0;
  std::vector<std::byte*> base;  // per rank: two halves of half_bytes
  std::function<void()> barrier;  // all ranks of the group; throws on failure or timeout
  uint64_t pieces = 0;            // pieces run so far: picks the half

  std::byte* half_of(int owner) const { return base.at(owner) + (pieces % 2) * half_bytes; }
};

enum class ScratchCollective { kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce };

// One call, in the runtime's terms. `count` is the element count of the
// call as its Communicator method takes it: AllReduce/Broadcast/Reduce the
// whole buffer, ReduceScatter the receive count, AllGather the send count.
struct ScratchCall {
  ScratchCollective collective = ScratchCollective::kAllReduce;
  const void* send = nullptr;
  void* recv = nullptr;
  uint64_t count = 0;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  Finish finish{};
  int root = 0;
};

// The half size a call would like, at most `cap` bytes, at least the
// smallest piece the call can run in (one element per rank). The same on
// every rank for the same call.
uint64_t scratch_half_bytes_wanted(const ScratchCall& call, int size, uint64_t cap);

// Runs `call` on this rank. Every rank of the group must make the same call
// (same collective, count, type, op, root) with its own buffers. Needs
// scratch.half_bytes >= the smallest piece (scratch_half_bytes_wanted with
// cap 0). Returns once this rank's results are in place (memory.wait()) and
// every rank has stopped reading the others' scratch.
void run_scratch_collective(MappedScratch& scratch, ScratchMemory& memory, const ScratchCall& call);

}  // namespace strata::runtime
