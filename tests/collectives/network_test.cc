// The planner's Network (what flat algorithms are costed on, how a topology
// becomes one) and the DataflowBuilder (dependencies from byte ranges).
#include <gtest/gtest.h>

#include <algorithm>

#include "collectives/dataflow.h"
#include "collectives/network.h"
#include "topology/topology.h"

namespace strata::collectives {
namespace {

TEST(NetworkTest, FlatCostIsTheSlowestLinkTheGroupUses) {
  const LinkCost slow{25e-3, 62.5e6, 4e9}, fast{5e-3, 125e6, 4e9};
  Network network = Network::with_sites({0, 0, 1, 2}, fast);
  network.site_links[1 * 3 + 2] = network.site_links[2 * 3 + 1] = slow;
  const LinkCost flat = network.flat_cost();
  EXPECT_EQ(flat.latency_s, slow.latency_s);
  EXPECT_EQ(flat.bandwidth_bytes_per_s, slow.bandwidth_bytes_per_s);
  // One site, every rank on its own node: the intra-site link.
  const LinkCost site{50e-6, 10e9, 4e9};
  Network one_site = Network::with_sites({0, 0, 0}, fast, site);
  one_site.intra_node = LinkCost{};
  EXPECT_EQ(one_site.flat_cost().latency_s, site.latency_s);
  EXPECT_FALSE(one_site.spans_sites());
  EXPECT_EQ(Network::uniform().flat_cost().latency_s, LinkCost{}.latency_s);
}

TEST(NetworkTest, FromTopologyKeepsMeasuredLinksAndCompactsSites) {
  topology::Topology topology = topology::Topology::from_host_ids({"a", "a", "b", "c"});
  topology.site_of_node = {0, 1, 2};
  topology.site_count = 3;
  topology.distances = topology::DistanceModel(3);
  topology.distances.set_between_sites(0, 2, {.rtt_s = 0.05, .bandwidth_bytes_per_s = 62.5e6,
                                              .rtt_measured = true, .bandwidth_measured = true});
  // Ranks 0, 1 (site 0) and 3 (site 2): site 1 has nobody, so sites become 0 and 1.
  const Network network = network_from_topology(topology.subset({0, 1, 3}));
  EXPECT_EQ(network.site_count(), 2);
  EXPECT_EQ(network.site_of(2), 1);
  EXPECT_EQ(network.node_of(0), network.node_of(1));
  EXPECT_DOUBLE_EQ(network.link(0, 2).latency_s, 0.025);
  EXPECT_DOUBLE_EQ(network.link(0, 2).bandwidth_bytes_per_s, 62.5e6);
  EXPECT_EQ(network.link(0, 1).latency_s, network.intra_node.latency_s);
}

bool depends_on(const RankSchedule& schedule, StepId step, StepId on) {
  const auto& deps = schedule.steps[step].deps;
  return std::find(deps.begin(), deps.end(), on) != deps.end();
}

TEST(DataflowTest, ReadsWaitForWritersAndWritesWaitForReaders) {
  CollectiveRequest request;
  request.nranks = 2;
  request.count = 100;
  DataflowBuilder b(request, 0);
  const StepId copy = b.copy(b.region(kRecvBuffer, 0, 100), b.region(kSendBuffer, 0, 100));
  const StepId send_low = b.send(1, b.region(kRecvBuffer, 0, 50));
  const StepId send_high = b.send(1, b.region(kRecvBuffer, 50, 50));
  const StepId recv_mid = b.recv(1, b.region(kRecvBuffer, 40, 20));  // overlaps both sends
  const StepId recv_other = b.recv(1, b.region(kRecvBuffer, 0, 10));
  const RankSchedule schedule = b.take();
  EXPECT_TRUE(depends_on(schedule, send_low, copy));
  EXPECT_TRUE(depends_on(schedule, send_high, copy));
  EXPECT_TRUE(depends_on(schedule, recv_mid, send_low));
  EXPECT_TRUE(depends_on(schedule, recv_mid, send_high));
  EXPECT_TRUE(depends_on(schedule, recv_other, send_low));
  EXPECT_FALSE(depends_on(schedule, recv_other, recv_mid));  // disjoint bytes
}

// Collectives whose in-place form passes one buffer as both send and receive.
TEST(DataflowTest, InPlaceTracksSendAndReceiveAsOneBuffer) {
  for (Collective collective :
       {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce, Collective::kAllToAll}) {
    CollectiveRequest request;
    request.collective = collective;
    request.nranks = 2;
    request.count = 10;
    request.in_place = true;
    DataflowBuilder b(request, 0);
    const StepId send = b.send(1, b.region(kSendBuffer, 0, 10));
    const StepId recv = b.recv(1, b.region(kRecvBuffer, 0, 10));
    EXPECT_TRUE(depends_on(b.take(), recv, send)) << collective_name(collective);
  }
}

}  // namespace
}  // namespace strata::collectives
