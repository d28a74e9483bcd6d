#include "collectives/site_layout.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "collectives/algorithms.h"
#include "collectives/schedule.h"
#include "common/message_limits.h"

namespace strata::collectives {

SiteLayout SiteLayout::of(const Network& network, int nranks, int rank) {
  std::map<int, std::vector<int>> by_site;
  for (int r = 0; r < nranks; ++r) by_site[network.site_of(r)].push_back(r);
  SiteLayout layout;
  layout.place_of.resize(static_cast<size_t>(std::max(nranks, 0)));
  for (auto& [site, ranks] : by_site) {
    std::stable_sort(ranks.begin(), ranks.end(),
                     [&](int a, int b) { return network.node_of(a) < network.node_of(b); });
    for (size_t i = 0; i < ranks.size(); ++i)
      layout.place_of[ranks[i]] = {static_cast<int>(layout.members.size()), static_cast<int>(i)};
    layout.members.push_back(std::move(ranks));
  }
  if (rank >= 0 && rank < nranks) std::tie(layout.my_site, layout.my_index) = layout.place_of[rank];
  return layout;
}

int SiteLayout::smallest_site() const {
  size_t smallest = members.empty() ? 0 : members.front().size();
  for (const auto& site : members) smallest = std::min(smallest, site.size());
  return static_cast<int>(smallest);
}

int SiteLayout::largest_site() const {
  size_t largest = 0;
  for (const auto& site : members) largest = std::max(largest, site.size());
  return static_cast<int>(largest);
}

std::vector<int> SiteLayout::rail(int rail) const {
  std::vector<int> ranks;
  for (const auto& site : members) ranks.push_back(site[rail]);
  return ranks;
}

std::vector<int> SiteLayout::my_rails(int rails) const {
  return {my_members().begin(), my_members().begin() + rails};
}

int SiteLayout::locate(int rank, int* index) const {
  if (rank < 0 || static_cast<size_t>(rank) >= place_of.size()) return -1;
  *index = place_of[rank].second;
  return place_of[rank].first;
}

int SiteLayout::counterpart(int site, int rank) const {
  int index = 0;
  locate(rank, &index);
  return members[site][static_cast<size_t>(index) % members[site].size()];
}

std::vector<int> SiteLayout::extras_of(int rail, int rails) const {
  std::vector<int> extras;
  const auto& mine = my_members();
  for (size_t i = static_cast<size_t>(rails); i < mine.size(); ++i)
    if (static_cast<int>(i) % rails == rail) extras.push_back(mine[i]);
  return extras;
}

NodeGrid node_grid(const Network& network, const std::vector<int>& members) {
  std::vector<int> run_lengths;
  for (size_t i = 0; i < members.size(); ++i) {
    if (i == 0 || network.node_of(members[i]) != network.node_of(members[i - 1])) run_lengths.push_back(0);
    ++run_lengths.back();
  }
  const bool even = !run_lengths.empty() && std::all_of(run_lengths.begin(), run_lengths.end(),
                                                        [&](int length) { return length == run_lengths[0]; });
  if (!even) return {1, static_cast<int>(members.size())};
  return {static_cast<int>(run_lengths.size()), run_lengths[0]};
}

WanShape wan_shape(const Network& network, const SiteLayout& layout) {
  WanShape wan;
  for (int a = 0; a < layout.site_count(); ++a) {
    for (int b = 0; b < layout.site_count(); ++b) {
      if (a == b) continue;
      const LinkCost& link = network.link(layout.members[a][0], layout.members[b][0]);
      wan.site_pairs.push_back(link);
      wan.latency_s = std::max(wan.latency_s, link.latency_s);
      wan.min_bandwidth = wan.min_bandwidth == 0 ? link.bandwidth_bytes_per_s
                                                 : std::min(wan.min_bandwidth, link.bandwidth_bytes_per_s);
    }
  }
  wan.local = network.intra_node;
  for (const auto& site : layout.members)
    for (size_t i = 1; i < site.size(); ++i)
      if (network.node_of(site[i]) != network.node_of(site[0])) wan.local = network.intra_site;
  if (wan.min_bandwidth == 0) wan.min_bandwidth = wan.local.bandwidth_bytes_per_s;
  return wan;
}

double WanShape::crossing(double bytes) const {
  double slowest = site_pairs.empty() ? local.latency_s + bytes / local.bandwidth_bytes_per_s : 0;
  for (const LinkCost& link : site_pairs)
    slowest = std::max(slowest, link.latency_s + bytes / link.bandwidth_bytes_per_s);
  return slowest;
}

namespace {

// Twice a flow's share of the link's bandwidth-delay product, in chunks.
uint32_t window_for(double bandwidth, double latency_s, int flows, uint64_t chunk_bytes) {
  const double flow_bdp = bandwidth * 2 * latency_s / std::max(flows, 1);
  return static_cast<uint32_t>(std::max(2.0, std::ceil(2 * flow_bdp / static_cast<double>(chunk_bytes))));
}

}  // namespace

WanPipelining wan_pipelining(const CollectiveRequest& request, const WanShape& wan, int flows) {
  // At most what transports send eagerly: one WAN crossing per chunk.
  constexpr uint64_t kMinChunk = uint64_t{256} << 10, kMaxChunk = kEagerMessageBytes;
  const double flow_bdp = wan.min_bandwidth * 2 * wan.latency_s / std::max(flows, 1);
  WanPipelining pipelining;
  if (request.segment_bytes) {
    pipelining.chunk_bytes = request.segment_bytes;
  } else {
    // The largest power of two at most a quarter of the flow's BDP.
    uint64_t chunk = kMinChunk;
    while (chunk * 2 <= kMaxChunk && static_cast<double>(chunk * 2) <= flow_bdp / 4) chunk *= 2;
    pipelining.chunk_bytes = chunk;
  }
  pipelining.window = request.window ? request.window
                                     : window_for(wan.min_bandwidth, wan.latency_s, flows, pipelining.chunk_bytes);
  return pipelining;
}

WanPipelining wan_pipelining(const CollectiveRequest& request, const Network& network, const SiteLayout& layout,
                             int flows) {
  WanPipelining pipelining = wan_pipelining(request, wan_shape(network, layout), flows);
  const int me = layout.my_members().front();
  for (int s = 0; s < layout.site_count(); ++s) {
    const LinkCost& link = network.link(me, layout.members[s].front());
    const bool own = s == layout.my_site;
    pipelining.window_to_site.push_back(
        own ? 0
            : request.window ? request.window
                             : window_for(link.bandwidth_bytes_per_s, link.latency_s, flows, pipelining.chunk_bytes));
  }
  return pipelining;
}

namespace {

// The smallest piece, in elements, that keeps every pair's message count in
// one operation well under kMaxMessagesPerPair: no phase sends a peer more
// than about the whole work buffer in pieces, and at most a few phases share
// a peer. Below it a tiny STRATA_CHUNK is raised, as the flat algorithms do.
uint64_t smallest_piece(const CollectiveRequest& request, uint64_t elements) {
  // The larger buffer: n blocks for AllGather, ReduceScatter and AlltoAll.
  const uint64_t work =
      std::max(request.send_buffer_bytes(), request.recv_buffer_bytes(0)) / datatype_size(request.dtype);
  constexpr uint64_t kPhasesPerPeer = 4;
  const uint64_t floor = (work * kPhasesPerPeer + kMaxMessagesPerPair - 1) / kMaxMessagesPerPair;
  return std::max<uint64_t>({1, floor, elements});
}

}  // namespace

uint64_t wan_chunk_elements(const CollectiveRequest& request, const WanPipelining& pipelining) {
  return smallest_piece(request, pipelining.chunk_bytes / datatype_size(request.dtype));
}

uint64_t local_segment_elements(const CollectiveRequest& request) {
  const uint64_t bytes = request.segment_bytes ? request.segment_bytes : kDefaultSegmentBytes;
  return smallest_piece(request, bytes / datatype_size(request.dtype));
}

}  // namespace strata::collectives
