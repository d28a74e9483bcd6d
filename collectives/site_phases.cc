#include "collectives/site_phases.h"

#include <algorithm>

#include "collectives/schedule.h"

namespace strata::collectives {

uint64_t element_count(const Block& block) {
  uint64_t count = 0;
  for (const Span& span : block) count += span.count;
  return count;
}

std::vector<Block> rank_blocks(const std::vector<int>& ranks, uint64_t count) {
  std::vector<Block> blocks;
  for (int rank : ranks) blocks.push_back({{static_cast<uint64_t>(rank) * count, count}});
  return blocks;
}

std::vector<Block> split_blocks(uint64_t offset, uint64_t count, uint64_t parts) {
  const BlockSplit split{count, parts};
  std::vector<Block> blocks(parts);
  for (uint64_t i = 0; i < parts; ++i) blocks[i] = {{offset + split.block_offset(i), split.block_count(i)}};
  return blocks;
}

std::vector<Block> rail_shards(uint64_t count, int rails, const std::vector<double>& weights) {
  const auto parts = static_cast<size_t>(std::max(rails, 1));
  if (weights.size() < parts) return split_blocks(0, count, parts);
  double total = 0;
  for (size_t r = 0; r < parts; ++r) total += weights[r];
  std::vector<Block> blocks(parts);
  double before = 0;
  uint64_t start = 0;
  for (size_t r = 0; r < parts; ++r) {
    before += weights[r];
    const uint64_t end = r + 1 == parts ? count : std::min(count, static_cast<uint64_t>(count * (before / total)));
    blocks[r] = {{start, end - start}};
    start = end;
  }
  return blocks;
}

std::vector<Block> segmented(const std::vector<Block>& blocks, uint64_t segment) {
  segment = std::max<uint64_t>(segment, 1);
  std::vector<Block> out(blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    for (const Span& span : blocks[b]) {
      const uint64_t pieces = std::max<uint64_t>(1, (span.count + segment - 1) / segment);
      const BlockSplit split{span.count, pieces};
      for (uint64_t s = 0; s < pieces; ++s)
        out[b].push_back({span.offset + split.block_offset(s), split.block_count(s)});
    }
  }
  return out;
}

Block segmented(const Block& block, uint64_t segment) { return segmented(std::vector<Block>{block}, segment)[0]; }

WindowedSends::WindowedSends(DataflowBuilder& builder, const WanPipelining& pipelining, const SiteLayout& layout)
    : builder_(builder), window_(pipelining.window), layout_(&layout), window_to_site_(pipelining.window_to_site) {}

uint32_t WindowedSends::window_for(int peer) const {
  if (layout_ == nullptr) return window_;
  const int site = layout_->place_of[static_cast<size_t>(peer)].first;
  return site == layout_->my_site ? window_ : window_to_site_[static_cast<size_t>(site)];
}

StepId WindowedSends::send(int peer, Region src, bool encoded) {
  const StepId id = encoded ? builder_.send_encoded(peer, src) : builder_.send(peer, src);
  auto window = sent_.find(peer);
  if (window == sent_.end()) window = sent_.emplace(peer, StepWindow(window_for(peer))).first;
  window->second.admit(builder_, id);
  return id;
}

namespace {

StepId send_via(WorkArea work, WindowedSends* sends, int peer, Region src) {
  return sends ? sends->send(peer, src) : work.builder.send(peer, src);
}

int mod(int a, int m) { return ((a % m) + m) % m; }

// Scratch region for the k-th span of `block` in slot `slot` of a slotted area.
struct Slots {
  DataflowBuilder& builder;
  uint64_t base;
  uint64_t slot_count;  // elements per slot
  Region at(int slot, uint64_t offset_in_slot, uint64_t count) const {
    return builder.region(kScratchBuffer, base + slot * slot_count + offset_in_slot, count);
  }
};

// Receives every other peer's copy of `block` into its slot, then reduces
// all contributions span by span in site order into the work area.
void gather_and_reduce(WorkArea work, const std::vector<int>& peers, int me, const Block& block, Slots slots) {
  const int s = static_cast<int>(peers.size());
  for (int d = 1; d < s; ++d) {
    const int j = mod(me - d, s);
    uint64_t at = 0;
    for (const Span& span : block) {
      work.builder.recv(peers[j], slots.at(j, at, span.count));
      at += span.count;
    }
  }
  uint64_t at = 0;
  for (const Span& span : block) {
    std::vector<Region> sources;
    for (int j = 0; j < s; ++j) sources.push_back(j == me ? work.at(span) : slots.at(j, at, span.count));
    reduce_in_order(work.builder, work.at(span), sources, slots.at(me, at, span.count));
    at += span.count;
  }
}

}  // namespace

void reduce_in_order(DataflowBuilder& builder, Region dst, const std::vector<Region>& sources, Region accumulator) {
  if (sources.size() == 1) {
    if (!(sources[0] == dst)) builder.copy(dst, sources[0]);
    return;
  }
  Region partial = sources[0];
  for (size_t i = 1; i < sources.size(); ++i) {
    const Region target = i + 1 == sources.size() ? dst : accumulator;
    builder.reduce(target, partial, sources[i]);
    partial = target;
  }
}

void ring_reduce_scatter(WorkArea work, const std::vector<int>& members, int me, const std::vector<Block>& blocks,
                         WindowedSends* sends) {
  const int m = static_cast<int>(members.size());
  if (m == 1) return;
  const int right = members[mod(me + 1, m)], left = members[mod(me - 1, m)];
  // Step t: pass on block me-t-1, fold block me-t-2 in; the last fold is block me.
  for (int t = 0; t < m - 1; ++t) {
    for (const Span& span : blocks[mod(me - t - 1, m)]) send_via(work, sends, right, work.at(span));
    for (const Span& span : blocks[mod(me - t - 2, m)]) work.builder.recv_reduce(left, work.at(span), work.at(span));
  }
}

void ring_all_gather(WorkArea work, const std::vector<int>& members, int me, const std::vector<Block>& blocks,
                     WindowedSends* sends) {
  const int m = static_cast<int>(members.size());
  if (m == 1) return;
  const int right = members[mod(me + 1, m)], left = members[mod(me - 1, m)];
  for (int t = 0; t < m - 1; ++t) {
    for (const Span& span : blocks[mod(me - t, m)]) send_via(work, sends, right, work.at(span));
    for (const Span& span : blocks[mod(me - t - 1, m)]) work.builder.recv(left, work.at(span));
  }
}

namespace {

// The two rings of a two-level site phase, seen from member `me`.
struct GridRings {
  std::vector<int> node_mates;       // members on my node, in order
  std::vector<Block> node_blocks;    // per node-mate j: blocks of position j on every node
  std::vector<int> same_position;    // the member at my position on every node
  std::vector<Block> position_blocks;
  int my_node = 0, my_position = 0;
};

GridRings grid_rings(const NodeGrid& grid, const std::vector<int>& members, int me, const std::vector<Block>& blocks) {
  const int k = grid.per_node;
  GridRings rings;
  rings.my_node = me / k;
  rings.my_position = me % k;
  rings.node_blocks.resize(static_cast<size_t>(k));
  for (int q = 0; q < grid.nodes; ++q) {
    const int at_my_position = q * k + rings.my_position;
    rings.same_position.push_back(members[at_my_position]);
    rings.position_blocks.push_back(blocks[at_my_position]);
    for (int j = 0; j < k; ++j) {
      const Block& block = blocks[q * k + j];
      rings.node_blocks[j].insert(rings.node_blocks[j].end(), block.begin(), block.end());
    }
  }
  for (int j = 0; j < k; ++j) rings.node_mates.push_back(members[rings.my_node * k + j]);
  return rings;
}

// The reduce-scatter runs the node ring, then the position ring; the
// all-gather the same rings in the opposite order.
void site_rings(WorkArea work, const Network& network, const std::vector<int>& members, int me,
                const std::vector<Block>& blocks, bool reduce) {
  const auto ring = reduce ? ring_reduce_scatter : ring_all_gather;
  const NodeGrid grid = node_grid(network, members);
  if (!grid.two_level()) return ring(work, members, me, blocks, nullptr);
  const GridRings rings = grid_rings(grid, members, me, blocks);
  if (reduce) ring(work, rings.node_mates, rings.my_position, rings.node_blocks, nullptr);
  ring(work, rings.same_position, rings.my_node, rings.position_blocks, nullptr);
  if (!reduce) ring(work, rings.node_mates, rings.my_position, rings.node_blocks, nullptr);
}

}  // namespace

void site_reduce_scatter(WorkArea work, const Network& network, const std::vector<int>& members, int me,
                         const std::vector<Block>& blocks) {
  site_rings(work, network, members, me, blocks, true);
}

void site_all_gather(WorkArea work, const Network& network, const std::vector<int>& members, int me,
                     const std::vector<Block>& blocks) {
  site_rings(work, network, members, me, blocks, false);
}

void direct_reduce_scatter(WorkArea work, const std::vector<int>& peers, int me, const std::vector<Block>& pieces,
                           uint64_t scratch_offset, WindowedSends& sends) {
  const int s = static_cast<int>(peers.size());
  if (s == 1) return;
  // Rotated so that the peers do not all send to the same site first.
  for (int d = 1; d < s; ++d) {
    const int j = mod(me + d, s);
    for (const Span& span : pieces[j]) sends.send(peers[j], work.at(span));
  }
  gather_and_reduce(work, peers, me, pieces[me], {work.builder, scratch_offset, element_count(pieces[me])});
}

void direct_all_gather(WorkArea work, const std::vector<int>& peers, int me, const std::vector<Block>& pieces,
                       WindowedSends& sends) {
  const int s = static_cast<int>(peers.size());
  for (int d = 1; d < s; ++d)
    for (const Span& span : pieces[me]) sends.send(peers[mod(me + d, s)], work.at(span));
  for (int d = 1; d < s; ++d) {
    const int j = mod(me - d, s);
    for (const Span& span : pieces[j]) work.builder.recv(peers[j], work.at(span));
  }
}

void oneshot_all_reduce(WorkArea work, const std::vector<int>& peers, int me, const Block& data,
                        uint64_t scratch_offset, WindowedSends& sends) {
  const int s = static_cast<int>(peers.size());
  if (s == 1) return;
  for (int d = 1; d < s; ++d)
    for (const Span& span : data) sends.send(peers[mod(me + d, s)], work.at(span));
  gather_and_reduce(work, peers, me, data, {work.builder, scratch_offset, element_count(data)});
}

void direct_reduce_to(WorkArea work, const std::vector<int>& peers, int me, int target, const Block& data,
                      uint64_t scratch_offset, WindowedSends& sends) {
  if (peers.size() == 1) return;
  if (me != target) {
    for (const Span& span : data) sends.send(peers[target], work.at(span));
    return;
  }
  gather_and_reduce(work, peers, me, data, {work.builder, scratch_offset, element_count(data)});
}

}  // namespace strata::collectives
