// Building blocks of hierarchical algorithms, emitted through a
// DataflowBuilder so that consecutive phases overlap wherever their bytes
// allow. Each works on one buffer of the schedule (the "work" buffer) in
// element units; blocks are lists of spans because a block of a
// hierarchical ReduceScatter or AllGather (a "column": one block per site)
// is not contiguous.
#pragma once

#include <map>
#include <vector>

#include "collectives/dataflow.h"
#include "collectives/site_layout.h"

namespace strata::collectives {

struct Span {
  uint64_t offset = 0;  // elements
  uint64_t count = 0;
};
using Block = std::vector<Span>;

uint64_t element_count(const Block& block);
// The block of each of `ranks` in a buffer of `count`-element blocks, one per rank.
std::vector<Block> rank_blocks(const std::vector<int>& ranks, uint64_t count);
// `count` elements from `offset` split into `parts` nearly equal blocks.
std::vector<Block> split_blocks(uint64_t offset, uint64_t count, uint64_t parts);
// `count` elements split among `rails` rails in proportion to the first
// `rails` of `weights` (equal when there are fewer weights than rails).
std::vector<Block> rail_shards(uint64_t count, int rails, const std::vector<double>& weights);
// The same blocks with every span cut into segments of at most `segment` elements.
std::vector<Block> segmented(const std::vector<Block>& blocks, uint64_t segment);
// One block (or one span) cut the same way.
Block segmented(const Block& block, uint64_t segment);
inline Block segmented(Span span, uint64_t segment) { return segmented(Block{span}, segment); }

// Sends with at most `window` messages in flight per peer (0: no limit):
// the k-th send to a peer waits for the (k - window)-th to complete.
class WindowedSends {
 public:
  WindowedSends(DataflowBuilder& builder, uint32_t window) : builder_(builder), window_(window) {}
  // To a peer of another site: that site's window (WanPipelining::window_to_site).
  WindowedSends(DataflowBuilder& builder, const WanPipelining& pipelining, const SiteLayout& layout);
  // `encoded`: src holds an encoded message (Step::encoded).
  StepId send(int peer, Region src, bool encoded = false);

 private:
  uint32_t window_for(int peer) const;

  DataflowBuilder& builder_;
  uint32_t window_;
  const SiteLayout* layout_ = nullptr;
  std::vector<uint32_t> window_to_site_;
  std::map<int, StepWindow> sent_;  // per peer
};

struct WorkArea {
  DataflowBuilder& builder;
  uint32_t buffer;  // where the data is reduced and gathered
  Region at(const Span& span) const { return builder.region(buffer, span.offset, span.count); }
};

// Ring reduce-scatter over `members` (this rank is members[me]): afterwards
// member i holds the reduction of blocks[i] over all members.
void ring_reduce_scatter(WorkArea work, const std::vector<int>& members, int me, const std::vector<Block>& blocks,
                         WindowedSends* sends = nullptr);
// Ring all-gather: member i starts with blocks[i]; afterwards everyone has all.
void ring_all_gather(WorkArea work, const std::vector<int>& members, int me, const std::vector<Block>& blocks,
                     WindowedSends* sends = nullptr);

// Reduce-scatter among the members of one site (this rank is members[me],
// member i ends with the reduction of blocks[i]), node level first: when
// node_grid() finds several nodes of several members each, a ring inside
// each node over every node-mate's blocks (the fast links carry all the
// data), then a ring over the members with the same position on every node
// (the site network carries 1/per_node of it per member, every member's NIC
// at once). (per_node - 1) + (nodes - 1) steps instead of members - 1.
// Otherwise one ring over all members.
void site_reduce_scatter(WorkArea work, const Network& network, const std::vector<int>& members, int me,
                         const std::vector<Block>& blocks);
// The matching all-gather: site level first, then inside each node.
void site_all_gather(WorkArea work, const Network& network, const std::vector<int>& members, int me,
                     const std::vector<Block>& blocks);

// Direct reduce-scatter among `peers` (one per site): every peer sends
// pieces[j] to peer j at once, and peer j reduces what it receives in site
// order, so the result does not depend on arrival order. Needs
// `scratch_offset` .. + peers.size() × element_count(pieces[me]) scratch elements.
void direct_reduce_scatter(WorkArea work, const std::vector<int>& peers, int me, const std::vector<Block>& pieces,
                           uint64_t scratch_offset, WindowedSends& sends);
// Direct all-gather: peer j starts with pieces[j] and sends it to every other peer.
void direct_all_gather(WorkArea work, const std::vector<int>& peers, int me, const std::vector<Block>& pieces,
                       WindowedSends& sends);
// Every peer sends all of `data` to every other peer and reduces the
// contributions in site order: one crossing of the WAN instead of two,
// for (peers - 1)× the bytes. Needs peers.size() × element_count(data) scratch.
void oneshot_all_reduce(WorkArea work, const std::vector<int>& peers, int me, const Block& data,
                        uint64_t scratch_offset, WindowedSends& sends);
// The peers send `data` to peers[me], which reduces them in site order.
void direct_reduce_to(WorkArea work, const std::vector<int>& peers, int me, int target, const Block& data,
                      uint64_t scratch_offset, WindowedSends& sends);

// dst = sources[0] op sources[1] op ... in that order, using `accumulator`
// for partial results when there are more than two.
void reduce_in_order(DataflowBuilder& builder, Region dst, const std::vector<Region>& sources, Region accumulator);

}  // namespace strata::collectives
