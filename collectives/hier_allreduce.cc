// Hierarchical AllReduce: reduce-scatter inside each site over the rails,
// an inter-site allreduce of each rail's shard with the same rail of the
// other sites (all rails at once), then all-gather inside each site. Only
// (S-1)/S of the data crosses each site pair per direction and the WAN sits
// on the critical path 1, 2 or 2(S-1) times depending on the method.
#include <fmt/format.h>

#include "collectives/algorithms.h"
#include "collectives/compressed_exchange.h"
#include "collectives/hier_plan.h"
#include "collectives/site_phases.h"

namespace strata::collectives {
namespace {

class HierAllReduce final : public Algorithm {
 public:
  HierAllReduce(WanMethod method, std::string_view name) : method_(method), name_(name) {}
  std::string_view name() const override { return name_; }
  std::string_view description() const override {
    switch (method_) {
      case WanMethod::kDirect: return "hierarchical; sites exchange shards directly (2 WAN crossings)";
      case WanMethod::kRing: return "hierarchical; shards go around a ring of sites (2(S-1) WAN crossings)";
      case WanMethod::kOneShot: return "hierarchical; every site sends its shards to every other once (1 crossing)";
      default: return "hierarchical: site reduce-scatter, multi-rail inter-site exchange, site all-gather";
    }
  }
  Collective collective() const override { return Collective::kAllReduce; }
  std::optional<std::string> unsupported_on(const CollectiveRequest& request, const Network& network) const override {
    return hier_unsupported(request, network);
  }
  double predict_seconds(const CollectiveRequest& request, const Network& network) const override {
    return plan_hier_allreduce(request, network, SiteLayout::of(network, request.nranks, 0), method_).seconds;
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override;

 private:
  void exchange_between_sites(WorkArea work, const SiteLayout& layout, const HierPlan& plan, Span shard,
                              const WanPipelining& pipelining) const;
  WanMethod method_;
  std::string_view name_;
};

RankSchedule HierAllReduce::build(const CollectiveRequest& request, const Network& network, int rank) const {
  DataflowBuilder b(request, rank);
  const SiteLayout layout = SiteLayout::of(network, request.nranks, rank);
  const HierPlan plan = plan_hier_allreduce(request, network, layout, method_);
  const WorkArea work{b, kRecvBuffer};
  const Span all{0, request.count};
  if (!request.in_place) b.copy(work.at(all), b.region(kSendBuffer, 0, request.count));
  const int rails = plan.rails;
  if (layout.my_index >= rails) {  // an extra: fold into its rail, get the result back
    const int rail = layout.my_members()[layout.my_index % rails];
    b.send(rail, work.at(all));
    b.recv(rail, work.at(all));
    b.finish(work.at(all));
    return b.take();
  }
  const std::vector<int> extras = layout.extras_of(layout.my_index, rails);
  for (int extra : extras) b.recv_reduce(extra, work.at(all), work.at(all));

  const std::vector<int> site_rails = layout.my_rails(rails);
  const std::vector<Block> shards = rail_shards(request.count, rails, network.rail_weights);
  const std::vector<Block> local_blocks = segmented(shards, local_segment_elements(request));
  site_reduce_scatter(work, network, site_rails, layout.my_index, local_blocks);
  const WanPipelining pipelining = wan_pipelining(request, network, layout, rails);
  exchange_between_sites(work, layout, plan, shards[layout.my_index][0], pipelining);
  site_all_gather(work, network, site_rails, layout.my_index, local_blocks);

  for (int extra : extras) b.send(extra, work.at(all));
  b.finish(work.at(all));
  return b.take();
}

void HierAllReduce::exchange_between_sites(WorkArea work, const SiteLayout& layout, const HierPlan& plan, Span shard,
                                           const WanPipelining& pipelining) const {
  DataflowBuilder& b = work.builder;
  const std::vector<int> peers = layout.rail(layout.my_index);
  const int sites = layout.site_count(), me = layout.my_site;
  const uint64_t chunk = wan_chunk_elements(b.request(), pipelining);
  WindowedSends sends(b, pipelining, layout);
  if (wan_compressed(b.request())) {  // plan_hier_allreduce never picks the ring: it re-encodes at every hop
    if (plan.method == WanMethod::kOneShot)
      compressed_oneshot_all_reduce(work, peers, me, segmented(shard, chunk), 0, sends);
    else
      compressed_direct_all_reduce(work, peers, me, segmented(split_blocks(shard.offset, shard.count, sites), chunk),
                                   0, sends);
    return;
  }
  if (plan.method == WanMethod::kOneShot) {
    const Block data = segmented(shard, chunk);
    b.reserve_scratch(sites * shard.count);
    oneshot_all_reduce(work, peers, me, data, 0, sends);
    return;
  }
  const std::vector<Block> pieces = segmented(split_blocks(shard.offset, shard.count, sites), chunk);
  if (plan.method == WanMethod::kRing) {
    ring_reduce_scatter(work, peers, me, pieces, &sends);
    ring_all_gather(work, peers, me, pieces, &sends);
    return;
  }
  b.reserve_scratch(sites * element_count(pieces[me]));
  direct_reduce_scatter(work, peers, me, pieces, 0, sends);
  direct_all_gather(work, peers, me, pieces, sends);
}

}  // namespace

const Algorithm& allreduce_hier() {
  static const HierAllReduce instance(WanMethod::kAuto, "hier");
  return instance;
}
const Algorithm& allreduce_hier_direct() {
  static const HierAllReduce instance(WanMethod::kDirect, "hier_direct");
  return instance;
}
const Algorithm& allreduce_hier_ring() {
  static const HierAllReduce instance(WanMethod::kRing, "hier_ring");
  return instance;
}
const Algorithm& allreduce_hier_oneshot() {
  static const HierAllReduce instance(WanMethod::kOneShot, "hier_oneshot");
  return instance;
}

}  // namespace strata::collectives
