// Hierarchical Broadcast, Reduce, AllGather and ReduceScatter. Like the
// AllReduce (hier_allreduce.cc) they move data inside sites first and let
// every rail carry a share across the WAN at once, so each byte crosses
// each site pair once per direction at most.
#include "collectives/algorithms.h"
#include "collectives/hier_plan.h"
#include "collectives/site_phases.h"

namespace strata::collectives {
namespace {

class HierAlgorithm : public Algorithm {
 public:
  std::string_view name() const override { return "hier"; }
  std::optional<std::string> unsupported_on(const CollectiveRequest& request, const Network& network) const override {
    if (auto why = hier_unsupported(request, network)) return why;
    return std::nullopt;
  }
  double predict_seconds(const CollectiveRequest& request, const Network& network) const override {
    const SiteLayout layout = SiteLayout::of(network, request.nranks, 0);
    const WanShape wan = wan_shape(network, layout);
    const double m = layout.largest_site(), s = layout.site_count();
    return predict(static_cast<double>(request.bytes_per_block()), m, s, wan);
  }

 protected:
  virtual double predict(double bytes, double members, double sites, const WanShape& wan) const = 0;
  static double hop(const LinkCost& link, double bytes) { return link.latency_s + bytes / link.bandwidth_bytes_per_s; }
  static double wan_hop(const WanShape& wan, double bytes) { return wan.crossing(bytes); }
};

// Root's site: the root hands shard l to rail l; rail l sends it to rail l
// of every other site; each site all-gathers its rails' shards.
class HierBroadcast final : public HierAlgorithm {
 public:
  std::string_view description() const override {
    return "hierarchical: root scatters to its site's rails, rails cross the WAN in parallel, sites all-gather";
  }
  Collective collective() const override { return Collective::kBroadcast; }
  double predict(double bytes, double m, double, const WanShape& wan) const override {
    return hop(wan.local, bytes) + wan_hop(wan, bytes) + (m - 1) * hop(wan.local, bytes / m);
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override {
    DataflowBuilder b(request, rank);
    const SiteLayout layout = SiteLayout::of(network, request.nranks, rank);
    const WorkArea work{b, kRecvBuffer};
    const Span all{0, request.count};
    const int rails = choose_rails(layout, request.bytes_per_block(), request.count);
    int root_index = 0;
    const int root_site = layout.locate(request.root, &root_index);
    if (rank == request.root && !request.in_place) b.copy(work.at(all), b.region(kSendBuffer, 0, request.count));
    const std::vector<Block> shards = rail_shards(request.count, rails, network.rail_weights);
    const std::vector<Block> local = segmented(shards, local_segment_elements(request));
    if (rank == request.root) {  // hand each rail of the root's site its shard
      for (int l = 0; l < rails; ++l)
        if (layout.members[root_site][l] != rank)
          for (const Span& span : local[l]) b.send(layout.members[root_site][l], work.at(span));
    }
    if (layout.my_index >= rails) {
      if (rank != request.root) b.recv(layout.my_members()[layout.my_index % rails], work.at(all));
      return b.take();
    }
    const WanPipelining pipelining = wan_pipelining(request, network, layout, rails);
    const Block wan_shard = segmented(shards[layout.my_index], wan_chunk_elements(request, pipelining));
    const std::vector<int> peers = layout.rail(layout.my_index);
    if (layout.my_site == root_site) {
      if (rank != request.root)
        for (const Span& span : local[layout.my_index]) b.recv(request.root, work.at(span));
      WindowedSends sends(b, pipelining, layout);
      for (int s = 0; s < layout.site_count(); ++s)
        if (s != root_site)
          for (const Span& span : wan_shard) sends.send(peers[s], work.at(span));
    } else {
      for (const Span& span : wan_shard) b.recv(peers[root_site], work.at(span));
    }
    site_all_gather(work, network, layout.my_rails(rails), layout.my_index, local);
    for (int extra : layout.extras_of(layout.my_index, rails))
      if (extra != request.root) b.send(extra, work.at(all));
    return b.take();
  }
};

// Sites reduce-scatter over their rails; rail l of every site sends its
// shard to rail l of the root's site, which reduces in site order; the
// root's site gathers the shards at the root.
class HierReduce final : public HierAlgorithm {
 public:
  std::string_view description() const override {
    return "hierarchical: sites reduce-scatter, rails reduce across the WAN into the root's site, root gathers";
  }
  Collective collective() const override { return Collective::kReduce; }
  double predict(double bytes, double m, double s, const WanShape& wan) const override {
    return 2 * (m - 1) * hop(wan.local, bytes / m) + wan_hop(wan, bytes) + s * bytes / m / wan.local.reduce_bytes_per_s;
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override {
    DataflowBuilder b(request, rank);
    const SiteLayout layout = SiteLayout::of(network, request.nranks, rank);
    const bool is_root = rank == request.root;
    // Only the root has a receive buffer; everyone else works in scratch.
    const uint64_t n = request.count;
    const WorkArea work{b, is_root ? kRecvBuffer : kScratchBuffer};
    const uint64_t slots = is_root ? 0 : n;  // scratch offset of the WAN receive slots
    if (!is_root) b.reserve_scratch(n);
    const Span all{0, n};
    if (!(is_root && request.in_place)) b.copy(work.at(all), b.region(kSendBuffer, 0, n));
    const int rails = choose_rails(layout, request.bytes_per_block(), n);
    int root_index = 0;
    const int root_site = layout.locate(request.root, &root_index);
    const std::vector<Block> shards = rail_shards(n, rails, network.rail_weights);
    const std::vector<Block> local = segmented(shards, local_segment_elements(request));
    if (layout.my_index >= rails) {
      b.send(layout.my_members()[layout.my_index % rails], work.at(all));
      if (is_root) gather_at_root(b, layout, rails, local, work);
      if (is_root) b.finish(work.at(all));
      return b.take();
    }
    for (int extra : layout.extras_of(layout.my_index, rails)) b.recv_reduce(extra, work.at(all), work.at(all));
    site_reduce_scatter(work, network, layout.my_rails(rails), layout.my_index, local);
    const WanPipelining pipelining = wan_pipelining(request, network, layout, rails);
    const Block wan_shard = segmented(shards[layout.my_index], wan_chunk_elements(request, pipelining));
    WindowedSends sends(b, pipelining, layout);
    if (layout.my_site == root_site) b.reserve_scratch(slots + layout.site_count() * shards[layout.my_index][0].count);
    direct_reduce_to(work, layout.rail(layout.my_index), layout.my_site, root_site, wan_shard, slots, sends);
    if (layout.my_site == root_site && !is_root)
      for (const Span& span : local[layout.my_index]) b.send(request.root, work.at(span));
    if (is_root) {
      gather_at_root(b, layout, rails, local, work);
      b.finish(work.at(all));
    }
    return b.take();
  }

 private:
  static void gather_at_root(DataflowBuilder& b, const SiteLayout& layout, int rails, const std::vector<Block>& local,
                             WorkArea work) {
    for (int l = 0; l < rails; ++l)
      if (l != layout.my_index)
        for (const Span& span : local[l]) b.recv(layout.my_members()[l], work.at(span));
  }
};

// What member j of my site handles inside the site ("column" j), in site
// order: its own block, and the blocks of the ranks of other sites whose
// counterpart here it is. With equal sites, the blocks of the ranks at
// index j of every site.
std::vector<Block> columns(const SiteLayout& layout, uint64_t count) {
  std::vector<Block> out(layout.my_members().size());
  for (int s = 0; s < layout.site_count(); ++s) {
    for (size_t i = 0; i < layout.members[s].size(); ++i) {
      const int rank = layout.members[s][i];
      const int j = s == layout.my_site ? static_cast<int>(i) : static_cast<int>(i % out.size());
      out[j].push_back({static_cast<uint64_t>(rank) * count, count});
    }
  }
  return out;
}

// Who exchanges blocks across the WAN in AllGather and ReduceScatter: each
// rank with its counterpart in every other site. A rank of a smaller site
// is the counterpart of several ranks of a bigger one.
struct CounterpartExchange {
  std::vector<int> peers;               // per site: my counterpart there (me in my site)
  std::vector<std::vector<int>> served;  // per site: its ranks whose counterpart here I am
  uint64_t chunk = 1;                   // WAN chunk, elements
  WanPipelining pipelining;

  Block chunks(int rank, uint64_t count) const {
    return segmented(Span{static_cast<uint64_t>(rank) * count, count}, chunk);
  }
};

CounterpartExchange counterpart_exchange(const CollectiveRequest& request, const Network& network,
                                         const SiteLayout& layout, int rank) {
  const WanPipelining pipelining = wan_pipelining(request, network, layout, layout.largest_site());
  CounterpartExchange exchange;
  exchange.chunk = wan_chunk_elements(request, pipelining);
  exchange.pipelining = pipelining;
  exchange.served.resize(layout.site_count());
  for (int s = 0; s < layout.site_count(); ++s) {
    exchange.peers.push_back(s == layout.my_site ? rank : layout.counterpart(s, rank));
    if (s == layout.my_site) continue;
    for (int other : layout.members[s])
      if (layout.counterpart(layout.my_site, other) == rank) exchange.served[s].push_back(other);
  }
  return exchange;
}

// Sites in the order each rank walks them: starting after its own, so that
// not every rank sends to the same site first.
std::vector<int> other_sites(const SiteLayout& layout) {
  std::vector<int> order;
  for (int d = 1; d < layout.site_count(); ++d) order.push_back((layout.my_site + d) % layout.site_count());
  return order;
}

// Each rank's block crosses the WAN once, to its counterpart in every other
// site; then sites all-gather by column.
class HierAllGather final : public HierAlgorithm {
 public:
  std::string_view description() const override {
    return "hierarchical: every rank sends its block to its counterpart in each other site, then sites all-gather";
  }
  Collective collective() const override { return Collective::kAllGather; }
  double predict(double bytes, double m, double s, const WanShape& wan) const override {
    return wan_hop(wan, m * bytes) + (m - 1) * hop(wan.local, s * bytes);
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override {
    DataflowBuilder b(request, rank);
    const SiteLayout layout = SiteLayout::of(network, request.nranks, rank);
    const uint64_t count = request.count;
    const WorkArea work{b, kRecvBuffer};
    const Span mine{static_cast<uint64_t>(rank) * count, count};
    if (!request.in_place) b.copy(work.at(mine), b.region(kSendBuffer, 0, count));
    const CounterpartExchange wan = counterpart_exchange(request, network, layout, rank);
    WindowedSends sends(b, wan.pipelining, layout);
    for (int s : other_sites(layout))
      for (const Span& span : wan.chunks(rank, count)) sends.send(wan.peers[s], work.at(span));
    for (int s : other_sites(layout))
      for (int other : wan.served[s])
        for (const Span& span : wan.chunks(other, count)) b.recv(other, work.at(span));
    site_all_gather(work, network, layout.my_members(), layout.my_index,
                    segmented(columns(layout, count), local_segment_elements(request)));
    return b.take();
  }
};

// Sites reduce-scatter by column; every rank then sends the partial sums it
// holds for ranks of other sites to them, and reduces the partials of its
// own block in site order.
class HierReduceScatter final : public HierAlgorithm {
 public:
  std::string_view description() const override {
    return "hierarchical: sites reduce-scatter by column, partial sums cross the WAN to their owners";
  }
  Collective collective() const override { return Collective::kReduceScatter; }
  double predict(double bytes, double m, double s, const WanShape& wan) const override {
    return (m - 1) * hop(wan.local, s * bytes) + wan_hop(wan, m * bytes) + s * bytes / wan.local.reduce_bytes_per_s;
  }
  RankSchedule build(const CollectiveRequest& request, const Network& network, int rank) const override {
    DataflowBuilder b(request, rank);
    const SiteLayout layout = SiteLayout::of(network, request.nranks, rank);
    const uint64_t count = request.count, total = count * static_cast<uint64_t>(request.nranks);
    const WorkArea work{b, kScratchBuffer};  // the send buffer is the caller's: reduce in a copy
    b.reserve_scratch(total + layout.site_count() * count);
    b.copy(work.at({0, total}), b.region(kSendBuffer, 0, total));
    site_reduce_scatter(work, network, layout.my_members(), layout.my_index,
                        segmented(columns(layout, count), local_segment_elements(request)));
    const CounterpartExchange wan = counterpart_exchange(request, network, layout, rank);
    WindowedSends sends(b, wan.pipelining, layout);
    for (int s : other_sites(layout))
      for (int other : wan.served[s])
        for (const Span& span : wan.chunks(other, count)) sends.send(other, work.at(span));
    direct_reduce_to(work, wan.peers, layout.my_site, layout.my_site, wan.chunks(rank, count), total, sends);
    const Region result = b.region(kRecvBuffer, 0, count);
    b.copy(result, work.at({static_cast<uint64_t>(rank) * count, count}));
    b.finish(result);
    return b.take();
  }
};

}  // namespace

const Algorithm& broadcast_hier() {
  static const HierBroadcast instance;
  return instance;
}
const Algorithm& reduce_hier() {
  static const HierReduce instance;
  return instance;
}
const Algorithm& allgather_hier() {
  static const HierAllGather instance;
  return instance;
}
const Algorithm& reduce_scatter_hier() {
  static const HierReduceScatter instance;
  return instance;
}

}  // namespace strata::collectives
