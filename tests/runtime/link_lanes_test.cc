// Per-peer lane counts from the probed links (STRATA_LANES=0).
#include "runtime/probe/link_lanes.h"

#include <gtest/gtest.h>

namespace strata::runtime {
namespace {

topology::LinkDistance measured(double rtt_s, double gbit_per_s) {
  return {.rtt_s = rtt_s, .bandwidth_bytes_per_s = gbit_per_s * 1e9 / 8, .rtt_measured = true,
          .bandwidth_measured = true};
}

TEST(LinkLanes, EachPeerGetsWhatItsOwnLinkNeeds) {
  // Ranks 0, 1 on host a; 2 on b (20 ms); 3 on c (80 ms); 4 on d (not measured both ways).
  auto topology = topology::Topology::from_host_ids({"a", "a", "b", "c", "d"});
  topology.node_links.assign(4, std::vector<topology::LinkDistance>(4));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) topology.node_links[i][j] = measured(0.0002, 10);  // inside a site
  topology.node_links[0][1] = topology.node_links[1][0] = measured(0.020, 1);
  topology.node_links[0][2] = topology.node_links[2][0] = measured(0.080, 1);
  topology.node_links[0][3].bandwidth_measured = false;
  constexpr uint64_t kLinuxDefaultCap = 6 << 20;

  const std::vector<int> lanes = lanes_per_peer(topology, 0, kLinuxDefaultCap);
  ASSERT_EQ(lanes.size(), 5u);
  EXPECT_EQ(lanes[0], 0) << "itself";
  EXPECT_EQ(lanes[1], 0) << "same host: shared memory, or the uniform count";
  EXPECT_EQ(lanes[2], 1) << "20 ms x 1 Gbit/s fits one connection's window";
  EXPECT_EQ(lanes[3], 4) << "80 ms x 1 Gbit/s needs four";
  EXPECT_EQ(lanes[4], 0) << "not measured both ways: keep the uniform count";

  // The far end computes the same count for the pair.
  EXPECT_EQ(lanes_per_peer(topology, 3, kLinuxDefaultCap)[0], 4);
  EXPECT_EQ(lanes_per_peer(topology, 3, kLinuxDefaultCap)[1], 4);
  EXPECT_EQ(lanes_per_peer(topology, 2, kLinuxDefaultCap)[3], 1) << "b-c inside a site";
}

TEST(LinkLanes, AsymmetricMeasurementsAgreeOnTheLarger) {
  auto topology = topology::Topology::from_host_ids({"a", "b"});
  topology.node_links.assign(2, std::vector<topology::LinkDistance>(2));
  topology.node_links[0][1] = measured(0.080, 1);
  topology.node_links[1][0] = measured(0.080, 0.25);
  EXPECT_EQ(lanes_per_peer(topology, 0, 6 << 20)[1], lanes_per_peer(topology, 1, 6 << 20)[0]);
  EXPECT_EQ(lanes_per_peer(topology, 0, 6 << 20)[1], 4);
}

TEST(LinkLanes, WithoutAProbeEveryPeerKeepsTheUniformCount) {
  const auto topology = topology::Topology::from_host_ids({"a", "b", "c"});
  EXPECT_EQ(lanes_per_peer(topology, 0, 6 << 20), std::vector<int>(3, 0));
}

}  // namespace
}  // namespace strata::runtime
