// The flat algorithms. Each lives in its own file as a class in an anonymous
// namespace; these functions hand out the single instance for the registry.
#pragma once

#include "collectives/algorithm.h"

namespace strata::collectives {

// Default pipelining unit: big enough that per-message overhead is small next
// to the copy, small enough that a ring's stages overlap.
inline constexpr uint64_t kDefaultSegmentBytes = uint64_t{1} << 20;

// Reduce-scatter receives a ring posts ahead (WindowedRecvReduce). With one
// landing area per segment, a 64 MiB AllReduce on 2 ranks wrote 32 MiB of
// staging out to memory; four reused areas stay in cache (docs/performance.md,
// issue 7: 64 MiB in place 4.1 -> 5.1 GB/s busbw). 2 and 4 measured alike.
inline constexpr uint32_t kReceiveWindow = 4;

// Segments to cut a block of `bytes` into when an operation sends `stages`
// blocks to the same peer.
uint64_t pipeline_segments(const CollectiveRequest& request, uint64_t bytes, uint64_t stages);

int ceil_log2(int n);

const Algorithm& allreduce_ring();
const Algorithm& allreduce_recursive_doubling();
const Algorithm& allgather_ring();
const Algorithm& reduce_scatter_ring();
const Algorithm& broadcast_tree();
const Algorithm& broadcast_chain();
const Algorithm& reduce_tree();
const Algorithm& reduce_chain();
const Algorithm& alltoall_pairwise();
const Algorithm& gather_direct();
const Algorithm& scatter_direct();
const Algorithm& send_direct();
const Algorithm& recv_direct();

// Hierarchical algorithms (groups that span sites).
const Algorithm& allreduce_hier();
const Algorithm& allreduce_hier_direct();
const Algorithm& allreduce_hier_ring();
const Algorithm& allreduce_hier_oneshot();
const Algorithm& broadcast_hier();
const Algorithm& reduce_hier();
const Algorithm& allgather_hier();
const Algorithm& reduce_scatter_hier();
const Algorithm& alltoall_hier();

}  // namespace strata::collectives
