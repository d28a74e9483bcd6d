#include "collectives/hier_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "collectives/compressed_exchange.h"
#include "common/message_limits.h"

namespace strata::collectives {

std::string_view wan_method_name(WanMethod method) {
  static constexpr std::array<std::string_view, 4> kNames{"auto", "direct", "ring", "oneshot"};
  return kNames[static_cast<int>(method)];
}

int choose_rails(const SiteLayout& layout, uint64_t bytes, uint64_t count) {
  const int sites = layout.site_count();
  const int cap = std::max(1, kMaxWanFlowsPerSite / std::max(1, sites - 1));
  const int most = std::min(layout.smallest_site(), cap);
  const uint64_t by_size = std::max<uint64_t>(1, bytes / kMinRailBytes);
  return static_cast<int>(std::clamp<uint64_t>(std::min<uint64_t>(by_size, std::max<uint64_t>(count, 1)), 1, most));
}

namespace {

double wan_seconds(WanMethod method, double bytes, int sites, int rails, const WanShape& wan, double reduce_bps) {
  const double s = sites, per_site_share = bytes / s;
  switch (method) {
    case WanMethod::kRing: return 2 * (s - 1) * wan.crossing(per_site_share);
    case WanMethod::kOneShot: return wan.crossing(bytes) + (s - 1) * bytes / rails / reduce_bps;
    default: return 2 * wan.crossing(per_site_share);
  }
}

double ring_seconds(int members, const LinkCost& link, double bytes) {
  return (members - 1) * (link.latency_s + bytes / members / link.bandwidth_bytes_per_s);
}

}  // namespace

double site_ring_seconds(const Network& network, const SiteLayout& layout, int rails, double bytes) {
  double slowest = 0;
  for (const auto& site : layout.members) {
    const std::vector<int> site_rails(site.begin(), site.begin() + std::min<size_t>(rails, site.size()));
    const NodeGrid grid = node_grid(network, site_rails);
    double seconds = 0;
    if (grid.two_level()) {
      seconds = ring_seconds(grid.per_node, network.intra_node, bytes) +
                ring_seconds(grid.nodes, network.intra_site, bytes / grid.per_node);
    } else {
      const bool one_node = network.node_of(site_rails.front()) == network.node_of(site_rails.back());
      seconds = ring_seconds(static_cast<int>(site_rails.size()), one_node ? network.intra_node : network.intra_site,
                             bytes);
    }
    slowest = std::max(slowest, seconds);
  }
  return slowest;
}

HierPlan plan_hier_allreduce(const CollectiveRequest& request, const Network& network, const SiteLayout& layout,
                             WanMethod method) {
  const double bytes = static_cast<double>(request.bytes_per_block());
  // An encoded WAN leg moves fewer bytes and never goes round the ring of sites.
  const bool compressed = wan_compressed(request);
  const double wan_bytes = compressed ? bytes / compression::nominal_ratio(request.wan_format) : bytes;
  if (compressed && method == WanMethod::kRing) method = WanMethod::kDirect;
  const WanShape wan = wan_shape(network, layout);
  HierPlan plan;
  plan.rails = choose_rails(layout, request.bytes_per_block(), request.count);
  const double r = plan.rails;
  const LinkCost& local = wan.local;
  // Extras fold in and get the result back: one whole-buffer message each way.
  const double extras_per_rail = std::ceil((layout.largest_site() - r) / r);
  const double fold = extras_per_rail * 2 * (local.latency_s + bytes / local.bandwidth_bytes_per_s);
  const double fixed = fold + 2 * site_ring_seconds(network, layout, plan.rails, bytes) +
                       bytes / local.reduce_bytes_per_s;
  if (method != WanMethod::kAuto) {
    plan.method = method;
    plan.seconds = fixed + wan_seconds(method, wan_bytes, layout.site_count(), plan.rails, wan, local.reduce_bytes_per_s);
    return plan;
  }
  plan.seconds = INFINITY;
  for (WanMethod candidate : {WanMethod::kDirect, WanMethod::kOneShot, WanMethod::kRing}) {
    if (compressed && candidate == WanMethod::kRing) continue;
    const double seconds =
        fixed + wan_seconds(candidate, wan_bytes, layout.site_count(), plan.rails, wan, local.reduce_bytes_per_s);
    if (seconds < plan.seconds) plan = {plan.rails, candidate, seconds};
  }
  return plan;
}

double predict_alltoall(const CollectiveRequest& request, const Network& network, AllToAllRouting routing) {
  const double bytes = static_cast<double>(request.bytes_per_block());
  const SiteLayout layout = SiteLayout::of(network, request.nranks, 0);
  const LinkCost local = network.spans_sites() ? wan_shape(network, layout).local : network.flat_cost();
  const double k = layout.largest_site(), n = request.nranks;
  const double inside = (k - 1) * (local.latency_s + bytes / local.bandwidth_bytes_per_s);
  double wan = 0;
  for (int s = 0; s < layout.site_count(); ++s) {
    for (int t = 0; t < layout.site_count(); ++t) {
      if (s == t) continue;
      const LinkCost& link = network.link(layout.members[s][0], layout.members[t][0]);
      const double pairs = static_cast<double>(layout.members[s].size() * layout.members[t].size());
      double seconds = link.latency_s + pairs * bytes / link.bandwidth_bytes_per_s;
      if (routing == AllToAllRouting::kPairwise) {
        if (request.bytes_per_block() > kEagerMessageBytes) seconds += 2 * link.latency_s;
        const double bdp = 2 * link.latency_s * link.bandwidth_bytes_per_s;
        if (pairs * bytes > bdp) seconds += kBurstLossRecoverySeconds;
      }
      wan = std::max(wan, seconds);
    }
  }
  if (routing == AllToAllRouting::kPairwise) return std::max(inside, wan);
  // Each forwarder collects (k - 1) blocks for each of its (n - k) / k destinations.
  const double hand_off = local.latency_s + (n - k) * (k - 1) / k * bytes / local.bandwidth_bytes_per_s;
  return std::max(inside, hand_off + wan);
}

std::optional<std::string> hier_unsupported(const CollectiveRequest& request, const Network& network) {
  if (!network.spans_sites()) return "the group is inside one site";
  if (network.site_of_rank.size() != static_cast<size_t>(request.nranks))
    return fmt::format("the network describes {} ranks, the call has {}", network.site_of_rank.size(),
                       request.nranks);
  return std::nullopt;
}

}  // namespace strata::collectives
