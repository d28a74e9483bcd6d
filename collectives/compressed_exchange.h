// The inter-site exchange of a hierarchical AllReduce with the WAN leg
// encoded (docs/compression.md). Each contribution is encoded once, sent,
// decoded and summed in float32 in site order; a reduced piece is encoded
// once more for the all-gather and its owner keeps the decoded copy, so
// every rank ends with the same bytes. Error feedback, when asked for,
// keeps each encode's loss in the feedback buffer at the same element
// offsets as the data, so it survives re-planning.
#pragma once

#include "collectives/site_phases.h"

namespace strata::collectives {

// Whether `request` encodes its inter-site leg: a float32 sum with a wire format.
bool wan_compressed(const CollectiveRequest& request);

// direct_reduce_scatter + direct_all_gather, encoded. Uses scratch from
// `scratch_byte_offset`; returns the end of what it used.
uint64_t compressed_direct_all_reduce(WorkArea work, const std::vector<int>& peers, int me,
                                      const std::vector<Block>& pieces, uint64_t scratch_byte_offset,
                                      WindowedSends& sends);
// oneshot_all_reduce, encoded: one encoding per contribution, nothing re-encoded.
uint64_t compressed_oneshot_all_reduce(WorkArea work, const std::vector<int>& peers, int me, const Block& data,
                                       uint64_t scratch_byte_offset, WindowedSends& sends);

}  // namespace strata::collectives
