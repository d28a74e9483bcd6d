// Measuring the network at communicator creation: node leaders probe each
// other over the communicator's own transport, every rank learns the same
// results, and the topology layer turns them into sites and distances.
#pragma once

#include <span>
#include <vector>

#include "topology/link_prober.h"
#include "topology/topology.h"

namespace strata::runtime {

class Bootstrap;
class Transport;

// topology::LinkProber over a Transport: ping-pongs (RTT) and one timed bulk
// transfer (bandwidth) to every peer at once. Uses its own tag space, and
// must finish before the communicator carries any other traffic.
class TransportLinkProber final : public topology::LinkProber {
 public:
  TransportLinkProber(Transport& transport, double timeout_s) : transport_(transport), timeout_s_(timeout_s) {}
  std::vector<topology::LinkDistance> probe(std::span<const int> peers, const topology::ProbeOptions& options) override;

 private:
  Transport& transport_;
  double timeout_s_;
};

// Collective over `bootstrap` (transport ranks = bootstrap ranks): reads
// STRATA_SITE, STRATA_TOPO_FILE, STRATA_PROBE and STRATA_PROBE_MS, probes
// between node leaders, and fills the sites and distances of `topology`
// identically on every rank. Any rank's error (a bad file, ranks that
// disagree) is thrown on every rank.
void discover_sites_and_distances(Bootstrap& bootstrap, Transport& transport, topology::Topology& topology);

// Collective over `bootstrap`: each node's leader asks hwloc what the node
// holds (topology/node_discovery.h) and every rank receives every node's
// answer in topology.hardware_of_node. Once per node, not per rank: ranks of
// one host would only find the same hardware again.
void share_node_hardware(Bootstrap& bootstrap, topology::Topology& topology);

}  // namespace strata::runtime
