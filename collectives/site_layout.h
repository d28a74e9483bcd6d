// How hierarchical algorithms see a group: its sites, each site's members
// ordered by node (so that rings inside a site cross node boundaries as
// rarely as possible), and the rails. Rail r is the r-th member of every
// site; the rails carry the inter-site traffic side by side, so every NIC
// takes part. Members beyond the rail count ("extras", when sites have
// unequal rank counts) fold their data into rail (index mod rails) first
// and get the result back from it at the end.
#pragma once

#include <utility>
#include <vector>

#include <cstdint>

#include "collectives/network.h"
#include "collectives/request.h"

namespace strata::collectives {

struct SiteLayout {
  std::vector<std::vector<int>> members;  // per non-empty site, in site order
  int my_site = 0;
  int my_index = 0;  // position of this rank in members[my_site]
  std::vector<std::pair<int, int>> place_of;  // per rank: (site, index in members[site])

  static SiteLayout of(const Network& network, int nranks, int rank);

  int site_count() const { return static_cast<int>(members.size()); }
  int smallest_site() const;
  int largest_site() const;
  const std::vector<int>& my_members() const { return members[my_site]; }
  // Ranks of rail `rail` in every site, in site order.
  std::vector<int> rail(int rail) const;
  // The first `rails` members of my site: the rails of my site.
  std::vector<int> my_rails(int rails) const;
  // The site of `rank` (and its index there in `*index`), or -1.
  int locate(int rank, int* index) const;
  // The member of `site` that stands for `rank` (of any site) there: the
  // one at rank's index in its own site, modulo the size of `site`. With
  // equal sites, rank's rail in `site`; with unequal ones every member of a
  // bigger site still has exactly one counterpart in each smaller site.
  int counterpart(int site, int rank) const;
  // Members of my site at indices >= rails that fold into rail `rail`.
  std::vector<int> extras_of(int rail, int rails) const;
};

// How the members of one site (ordered by node, as SiteLayout orders them)
// fill their nodes: `nodes` nodes of `per_node` members each when every node
// holds the same number, otherwise one level of members.size(). Member
// q * per_node + j is the j-th member on node q.
struct NodeGrid {
  int nodes = 1;
  int per_node = 1;
  // Worth a node-level phase before the site-level one: several nodes, each
  // with several members.
  bool two_level() const { return nodes > 1 && per_node > 1; }
};
NodeGrid node_grid(const Network& network, const std::vector<int>& members);

// Inter-site link figures a hierarchical algorithm sizes itself on.
struct WanShape {
  double latency_s = 0;       // highest one-way latency between two sites
  double min_bandwidth = 0;   // lowest site-pair bandwidth, bytes/s
  LinkCost local{};           // slowest link inside a site
  std::vector<LinkCost> site_pairs;  // the link of every pair of sites

  // Time for every site pair to carry `bytes` at once: the pair that takes
  // longest, its own latency plus bytes over its own bandwidth (the longest
  // link need not be the thinnest).
  double crossing(double bytes) const;
};
WanShape wan_shape(const Network& network, const SiteLayout& layout);

// Pipelining for transfers between sites: each of `flows` flows sharing a
// site-pair link should keep about twice its share of the link's
// bandwidth-delay product in flight, in chunks that are neither tiny (per
// message cost) nor above what transports send eagerly (1 MiB). STRATA_CHUNK and
// STRATA_WINDOW (request.segment_bytes / request.window) override.
struct WanPipelining {
  uint64_t chunk_bytes = 0;
  uint32_t window = 0;  // sends in flight per peer, sized on the longest and thinnest link
  // Sends in flight to a peer in site s (by layout index; 0 for this rank's
  // own site): sized on that site pair's own link, so a short link does not
  // queue a long link's window and a long one gets its whole BDP.
  std::vector<uint32_t> window_to_site;
};
// The chunk (the same for every pair, so that both ends of every transfer
// cut it alike) and `window` from the WAN's shape.
WanPipelining wan_pipelining(const CollectiveRequest& request, const WanShape& wan, int flows);
// The same, plus window_to_site from each pair's link between this rank's site and the others.
WanPipelining wan_pipelining(const CollectiveRequest& request, const Network& network, const SiteLayout& layout,
                             int flows);
// The same chunk in elements of the request's datatype.
uint64_t wan_chunk_elements(const CollectiveRequest& request, const WanPipelining& pipelining);
// Pipelining unit inside a site, in elements: STRATA_CHUNK or the default.
uint64_t local_segment_elements(const CollectiveRequest& request);

}  // namespace strata::collectives
