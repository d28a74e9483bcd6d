#include "topology/distance_model.h"

#include "common/error.h"

namespace strata::topology {

double LinkDistance::transfer_seconds(double bytes) const {
  return latency_s() + (bandwidth_bytes_per_s > 0 ? bytes / bandwidth_bytes_per_s : 0.0);
}

const char* link_class_name(LinkClass link_class) {
  switch (link_class) {
    case LinkClass::kIntraNode: return "intra-node";
    case LinkClass::kIntraSite: return "intra-site";
    case LinkClass::kInterSite: return "inter-site";
  }
  return "?";
}

DistanceModel::DistanceModel(int site_count) {
  if (site_count < 1) fail(ErrorCode::kInvalidArgument, {}, "distance model needs at least one site, got {}", site_count);
  intra_node = {.rtt_s = 2e-6, .bandwidth_bytes_per_s = 10e9};
  intra_site = {.rtt_s = 50e-6, .bandwidth_bytes_per_s = 10e9};
  const LinkDistance wan{.rtt_s = 20e-3, .bandwidth_bytes_per_s = 1e9 / 8};
  inter_site_.assign(site_count, std::vector<LinkDistance>(site_count, wan));
}

const LinkDistance& DistanceModel::between_sites(int a, int b) const {
  if (a < 0 || b < 0 || a >= site_count() || b >= site_count())
    fail(ErrorCode::kInvalidArgument, {}, "site pair ({}, {}) outside 0..{}", a, b, site_count() - 1);
  return a == b ? intra_site : inter_site_[a][b];
}

void DistanceModel::set_between_sites(int a, int b, const LinkDistance& distance) {
  if (a == b) {
    intra_site = distance;
    return;
  }
  (void)between_sites(a, b);  // range check
  inter_site_[a][b] = inter_site_[b][a] = distance;
}

}  // namespace strata::topology
