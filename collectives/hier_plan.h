// What hierarchical algorithms decide before emitting steps: how many rails
// carry inter-site traffic and how the rails of different sites exchange
// (direct, ring over sites, or one-shot), from an α–β model of each phase.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "collectives/site_layout.h"

namespace strata::collectives {

enum class WanMethod {
  kAuto,     // the cheapest of the others by the cost model
  kDirect,   // reduce-scatter + all-gather with every other site at once: 2 crossings
  kRing,     // ring over sites: 2(S-1) crossings, one peer per rail
  kOneShot,  // everything to everyone once: 1 crossing, (S-1)x the bytes
};
std::string_view wan_method_name(WanMethod method);

// Above this many inter-site flows per site, more rails only add incast.
inline constexpr int kMaxWanFlowsPerSite = 16;
// A rail is worth its per-message costs only when it carries this much.
inline constexpr uint64_t kMinRailBytes = uint64_t{64} << 10;

struct HierPlan {
  int rails = 1;
  WanMethod method = WanMethod::kDirect;
  double seconds = 0;
};

// Rails for `bytes` of data on `layout`: one per member of the smallest
// site, fewer when the data is small or the flows would exceed the cap.
int choose_rails(const SiteLayout& layout, uint64_t bytes, uint64_t count);

// Predicted time of one ring phase (reduce-scatter or all-gather of
// `bytes`) over the first `rails` members of every site, node level first
// where site_reduce_scatter() does so: the slowest site's.
double site_ring_seconds(const Network& network, const SiteLayout& layout, int rails, double bytes);

// Predicted time of an AllReduce-shaped exchange (intra-site reduce-scatter,
// inter-site allreduce of each rail's shard, intra-site all-gather), and the
// method when `method` is kAuto.
HierPlan plan_hier_allreduce(const CollectiveRequest& request, const Network& network, const SiteLayout& layout,
                             WanMethod method);

// How an AllToAll crosses the WAN: a flow per pair of ranks (pairwise), or
// one stream per destination from a forwarder in each other site.
enum class AllToAllRouting { kPairwise, kPerSitePair };
// What a flat exchange pays when it bursts more than a link's
// bandwidth-delay product into it at once: the bottleneck queue drops and
// TCP recovers, about one minimum retransmission timeout (Linux: 200 ms).
// Measured on setup A (docs/performance.md): pairwise AllToAll with
// 512 KiB blocks took 137-202 ms where the paced per-site-pair routing took
// 77 ms.
inline constexpr double kBurstLossRecoverySeconds = 0.2;
// Predicted AllToAll time: all exchanges are posted at once, so the busiest
// site-pair link (its rank pairs × block bytes) sets the time. Pairwise
// blocks above the eager size add a rendezvous round trip, and a pairwise
// burst above the link's BDP adds loss recovery; per-site-pair routing is
// paced (chunks and a window) but adds the hand-off to the forwarders.
double predict_alltoall(const CollectiveRequest& request, const Network& network, AllToAllRouting routing);

// Why a hierarchical algorithm cannot run on `network`, or nullopt.
std::optional<std::string> hier_unsupported(const CollectiveRequest& request, const Network& network);

}  // namespace strata::collectives
