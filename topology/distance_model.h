// How far apart ranks are, per link class: intra-node, intra-site, and one
// entry per pair of sites. Each entry is an α–β description (latency,
// bandwidth) plus the bandwidth-delay product the scheduler sizes its
// in-flight window on. Entries say whether they were measured or assumed.
#pragma once

#include <string>
#include <vector>

namespace strata::topology {

struct LinkDistance {
  double rtt_s = 0;                  // round trip of a small message
  double bandwidth_bytes_per_s = 0;  // one bulk flow; 0 = unknown
  bool rtt_measured = false;
  bool bandwidth_measured = false;

  double latency_s() const { return rtt_s / 2; }  // α: one-way latency
  // Bytes that must be in flight to keep the link busy (bandwidth × RTT).
  double bdp_bytes() const { return bandwidth_bytes_per_s * rtt_s; }
  // α + bytes / β.
  double transfer_seconds(double bytes) const;
};

enum class LinkClass { kIntraNode, kIntraSite, kInterSite };
const char* link_class_name(LinkClass link_class);

class DistanceModel {
 public:
  // Assumed until measured: intra-node 2 µs RTT / 10 GB/s, intra-site 50 µs /
  // 10 GB/s (order of magnitude of a 100 Gbit/s data-centre network), and
  // between sites 20 ms / 1 Gbit/s (the testbed's default link).
  explicit DistanceModel(int site_count = 1);

  int site_count() const { return static_cast<int>(inter_site_.size()); }
  LinkDistance intra_node;
  LinkDistance intra_site;

  // Between two sites; intra_site when a == b.
  const LinkDistance& between_sites(int a, int b) const;
  void set_between_sites(int a, int b, const LinkDistance& distance);  // both directions

  static LinkClass classify(bool same_node, bool same_site) {
    return same_node ? LinkClass::kIntraNode : same_site ? LinkClass::kIntraSite : LinkClass::kInterSite;
  }

 private:
  std::vector<std::vector<LinkDistance>> inter_site_;
};

}  // namespace strata::topology
