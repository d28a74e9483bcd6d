// What a caller asks of a group of ranks, independent of how it is done.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/datatype.h"
#include "compression/codec.h"

namespace strata::collectives {

enum class Collective : uint8_t {
  kAllReduce,
  kBroadcast,
  kReduce,
  kAllGather,
  kReduceScatter,
  kAllToAll,
  kGather,
  kScatter,
  kSend,
  kRecv,
};
inline constexpr int kCollectiveCount = 10;

std::string_view collective_name(Collective collective);

// `count` follows NCCL: elements per rank-sized block (AllGather: send count;
// ReduceScatter: receive count; AllToAll, Gather, Scatter: per peer).
struct CollectiveRequest {
  Collective collective = Collective::kAllReduce;
  uint64_t count = 0;
  DataType dtype = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  Finish finish{};
  int root = 0;  // Broadcast, Reduce, Gather, Scatter; the peer for Send/Recv
  int nranks = 1;
  uint64_t segment_bytes = 0;  // pipelining unit; 0 lets the algorithm choose
  uint32_t window = 0;         // sends in flight per inter-site peer; 0 lets the algorithm choose
  bool in_place = false;       // this rank's send and receive data share memory, as NCCL defines it
  // How hierarchical algorithms encode what crosses between sites
  // (docs/compression.md). The runtime sets it only for calls that qualify:
  // float32 sums of at least the threshold, on a communicator that opted in.
  compression::Format wan_format = compression::Format::kNone;
  bool error_feedback = false;  // lossy encodes keep what they lost in the feedback buffer

  uint64_t bytes_per_block() const;       // count × element size
  uint64_t send_buffer_bytes() const;     // bytes the send buffer must hold
  uint64_t recv_buffer_bytes(int rank) const;
};

}  // namespace strata::collectives
