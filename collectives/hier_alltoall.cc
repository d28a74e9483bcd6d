// Hierarchical AllToAll, routed per site pair. A flat AllToAll opens a WAN
// flow between every pair of ranks in different sites (k_s × k_t per site
// pair), each carrying one block; a block above the eager size also pays a
// rendezvous round trip on the WAN. Here the ranks of a site first hand
// each block bound for another site to one forwarder in their own site;
// the forwarder sends everything its site has for a destination rank as
// one stream, in chunks sized to the link and with a window in flight, so
// every destination receives exactly one stream per other site and no
// scatter is needed on arrival. Blocks between ranks of one site go
// directly. The WAN carries the same bytes as the flat exchange.
#include "collectives/algorithms.h"
#include "collectives/hier_plan.h"
#include "collectives/site_phases.h"

namespace strata::collectives {

namespace {

// Hands out consecutive scratch slots.
class ScratchSlots {
 public:
  uint64_t take(uint64_t elements) {
    const uint64_t offset = used_;
    used_ += elements;
    return offset;
  }
  uint64_t used() const { return used_; }

 private:
  uint64_t used_ = 0;
};

class AllToAllSchedule {
 public:
  AllToAllSchedule(const CollectiveRequest& request, const Network& network, int rank)
      : b_(request, rank), layout_(SiteLayout::of(network, request.nranks, rank)), count_(request.count),
        rank_(rank), in_place_(request.in_place) {
    // Both ends of a stream must cut it alike: size the chunks on the
    // biggest site's flow count, which every rank computes the same.
    pipelining_ = wan_pipelining(request, network, layout_, request.nranks - layout_.largest_site());
    chunk_ = wan_chunk_elements(request, pipelining_);
  }

  RankSchedule build() {
    if (count_ == 0) return b_.take();
    WindowedSends wan_sends(b_, pipelining_, layout_);
    if (!in_place_) b_.copy(recv_block(rank_), send_block(rank_));
    exchange_inside_site();
    for (int t = 0; t < layout_.site_count(); ++t)
      if (t != layout_.my_site) forward_to_site(t, wan_sends);
    for (int s = 0; s < layout_.site_count(); ++s)
      if (s != layout_.my_site) receive_from_site(s);
    b_.reserve_scratch(scratch_.used());
    return b_.take();
  }

 private:
  Region send_block(int peer) const { return b_.region(kSendBuffer, peer * count_, count_); }
  Region recv_block(int peer) const { return b_.region(kRecvBuffer, peer * count_, count_); }
  Region scratch(uint64_t offset, uint64_t elements) const { return b_.region(kScratchBuffer, offset, elements); }

  // In place, a block is both what goes to a peer and where that peer's
  // block lands: receive into scratch and copy over after the send (the
  // dataflow orders the copy after the send that reads those bytes).
  void exchange_inside_site() {
    for (int member : layout_.my_members())
      if (member != rank_) b_.send(member, send_block(member));
    for (int member : layout_.my_members()) {
      if (member == rank_) continue;
      if (!in_place_) {
        b_.recv(member, recv_block(member));
        continue;
      }
      const Region slot = scratch(scratch_.take(count_), count_);
      b_.recv(member, slot);
      b_.copy(recv_block(member), slot);
    }
  }

  // My blocks for site t go to their forwarders; for the destinations I
  // forward, I collect my site's blocks in member order and stream them.
  void forward_to_site(int t, WindowedSends& wan_sends) {
    const std::vector<int>& mine = layout_.my_members();
    for (int destination : layout_.members[t]) {
      const int forwarder = layout_.counterpart(layout_.my_site, destination);
      if (forwarder != rank_) {
        b_.send(forwarder, send_block(destination));
        continue;
      }
      const uint64_t stream = scratch_.take(mine.size() * count_);
      for (size_t m = 0; m < mine.size(); ++m) {
        const Region slot = scratch(stream + m * count_, count_);
        if (mine[m] == rank_)
          b_.copy(slot, send_block(destination));
        else
          b_.recv(mine[m], slot);
      }
      for (const Span& span : chunks(stream, mine.size() * count_))
        wan_sends.send(destination, scratch(span.offset, span.count));
    }
  }

  // Site s's blocks for me arrive as one stream from my forwarder there, in
  // site s's member order: straight into place when those ranks are
  // consecutive, otherwise through scratch.
  void receive_from_site(int s) {
    const std::vector<int>& theirs = layout_.members[s];
    const int forwarder = layout_.counterpart(s, rank_);
    const uint64_t elements = theirs.size() * count_;
    if (!in_place_ && consecutive(theirs)) {
      const uint64_t start = static_cast<uint64_t>(theirs.front()) * count_;
      for (const Span& span : chunks(start, elements))
        b_.recv(forwarder, b_.region(kRecvBuffer, span.offset, span.count));
      return;
    }
    const uint64_t stream = scratch_.take(elements);
    for (const Span& span : chunks(stream, elements))
      b_.recv(forwarder, scratch(span.offset, span.count));
    for (size_t m = 0; m < theirs.size(); ++m) b_.copy(recv_block(theirs[m]), scratch(stream + m * count_, count_));
  }

  // A WAN stream cut into the chunks both of its ends agree on.
  Block chunks(uint64_t offset, uint64_t elements) const {
    return segmented(Span{offset, elements}, chunk_);
  }

  static bool consecutive(const std::vector<int>& ranks) {
    for (size_t i = 1; i < ranks.size(); ++i)
      if (ranks[i] != ranks[0] + static_cast<int>(i)) return false;
    return true;
  }

  DataflowBuilder b_;
  SiteLayout layout_;
  uint64_t count_;
  int rank_;
  bool in_place_;
  WanPipelining pipelining_;
  uint64_t chunk_ = 1;
  ScratchSlots scratch_;
};

class HierAllToAll final : public Algorithm {
 public:
  std::string_view name() const override { return "hier"; }
  std::string_view description() const override {
    return "hierarchical: blocks gather at one forwarder per destination, one pipelined WAN stream per site pair "
           "and destination";
  }
  Collective collective() const override { return Collective::kAllToAll; }
  std::optional<std::string> unsupported_on(const CollectiveRequest& request, const Network& network) const override {
    return hier_unsupported(request, network);
  }
  double predict_seconds(const CollectiveRequest& request, const Network& network) const override {
    return predict_alltoall(request, network, AllToAllRouting::kPerSitePair);
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override {
    return AllToAllSchedule(request, network, rank).build();
  }
};

}  // namespace

const Algorithm& alltoall_hier() {
  static const HierAllToAll instance;
  return instance;
}

}  // namespace strata::collectives
