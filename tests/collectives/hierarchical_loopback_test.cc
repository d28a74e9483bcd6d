// Hierarchical algorithms × site shapes (equal, unequal, interleaved ranks,
// many sites) × sizes × datatypes × operators, run on the loopback executor
// and checked against the reference; plus what only they promise: every
// rank ends with the same bits, and the planner prefers them across sites.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "collectives/algorithm.h"
#include "collectives/algorithms.h"
#include "collectives/hier_plan.h"
#include "collectives/planner.h"
#include "common/error.h"
#include "tests/collectives/loopback_harness.h"

namespace strata::testing {
namespace {

using collectives::Algorithm;
using collectives::Collective;
using collectives::CollectiveRequest;
using collectives::LinkCost;
using collectives::Network;

const LinkCost kWan{10e-3, 125e6, 4e9};  // 20 ms RTT, 1 Gbit/s

struct Shape {
  const char* name;
  std::vector<int> site_of_rank;
  std::vector<int> node_of_rank = {};  // empty: every rank its own node

  Network network() const {
    Network network = Network::with_sites(site_of_rank, kWan);
    if (!node_of_rank.empty()) network.node_of_rank = node_of_rank;
    return network;
  }
};

const Shape kShapes[] = {
    {"2x1", {0, 1}},
    {"2x2", {0, 0, 1, 1}},
    {"2x2_interleaved", {0, 1, 0, 1}},
    {"2x4", {0, 0, 0, 0, 1, 1, 1, 1}},
    {"3x2", {0, 0, 1, 1, 2, 2}},
    {"3_2_unequal", {0, 0, 0, 1, 1}},
    {"1_3_2_unequal", {1, 0, 1, 1, 2, 2}},
    {"5x1", {0, 1, 2, 3, 4}},
    {"2_4_1_unequal", {0, 0, 1, 1, 1, 1, 2}},
    // Sites of several nodes with several ranks each: node level first.
    {"2x2x2_nodes", {0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 2, 2, 3, 3}},
    {"2x3x2_nodes_interleaved", {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, {0, 3, 0, 3, 1, 4, 1, 4, 2, 5, 2, 5}},
    {"3x2x2_nodes", {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}, {0, 1, 0, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
    // Uneven nodes (3 + 1) in one site, two nodes of two in the other.
    {"2x4_uneven_nodes", {0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, 1, 2, 2, 3, 3}},
};

using Param = std::tuple<const Algorithm*, int>;

class HierarchicalLoopbackTest : public ::testing::TestWithParam<Param> {
 protected:
  const Algorithm& algorithm() const { return *std::get<0>(GetParam()); }
  const Shape& shape() const { return kShapes[std::get<1>(GetParam())]; }
  Network network() const { return shape().network(); }
  CollectiveRequest request(uint64_t count, DataType type) const {
    CollectiveRequest request;
    request.collective = algorithm().collective();
    request.nranks = static_cast<int>(shape().site_of_rank.size());
    request.count = count;
    request.dtype = type;
    request.root = request.nranks > 2 ? request.nranks - 2 : 0;
    return request;
  }
  void check(const CollectiveRequest& request, bool in_place) const {
    const auto inputs = make_inputs(request);
    const auto expected = expected_outputs(request, inputs);
    const RunResult result = run_on_loopback(algorithm(), request, inputs, in_place, network());
    const std::string mismatch = compare_outputs(request, expected, result);
    ASSERT_TRUE(mismatch.empty()) << algorithm().name() << " on " << shape().name << " count=" << request.count
                                  << " " << datatype_name(request.dtype) << " op=" << reduce_op_name(request.op)
                                  << " finish=" << static_cast<int>(request.finish.kind)
                                  << (in_place ? " in-place" : "") << ": " << mismatch;
  }
};

bool reduces(Collective collective) {
  return collective == Collective::kAllReduce || collective == Collective::kReduce ||
         collective == Collective::kReduceScatter;
}

TEST_P(HierarchicalLoopbackTest, EveryDatatypeAndOperatorSmallCounts) {
  for (uint64_t count : {0, 1, 37}) {
    for (int type = 0; type < kDataTypeCount; ++type) {
      for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin}) {
        if (!reduces(algorithm().collective()) && op != ReduceOp::kSum) continue;
        CollectiveRequest r = request(count, static_cast<DataType>(type));
        r.op = op;
        check(r, false);
        check(r, true);
      }
    }
  }
}

TEST_P(HierarchicalLoopbackTest, AverageAndPreMulSum) {
  if (!reduces(algorithm().collective())) GTEST_SKIP() << "not a reduction";
  for (FinishKind kind : {FinishKind::kDivide, FinishKind::kMultiply}) {
    CollectiveRequest r = request(1001, DataType::kFloat32);
    r.finish.kind = kind;
    r.finish.divisor = static_cast<uint64_t>(r.nranks);
    if (kind == FinishKind::kMultiply) encode_scalar(3.0, r.dtype, r.finish.scalar);
    check(r, false);
    check(r, true);
  }
}

// Several rails, WAN chunks and a small in-flight window so that pipelining,
// windows and extras all take part; odd counts make blocks uneven. 1 MiB in
// 32 KiB segments gives more segments than 3 MiB in 128 KiB did, at a third
// of the bytes (this family was half of CI's test time).
TEST_P(HierarchicalLoopbackTest, AMebibytePipelinedWithAWindow) {
  const bool per_block = algorithm().collective() == Collective::kAllGather ||
                         algorithm().collective() == Collective::kReduceScatter ||
                         algorithm().collective() == Collective::kAllToAll;
  const int n = static_cast<int>(shape().site_of_rank.size());
  const uint64_t count = ((1u << 20) / 4 / (per_block ? n : 1)) | 1;
  for (DataType type : {DataType::kFloat32, DataType::kInt64}) {
    CollectiveRequest r = request(count, type);
    r.segment_bytes = 32 << 10;
    r.window = 2;
    check(r, false);
    check(r, true);
  }
}

std::vector<Param> hierarchical_params() {
  std::vector<Param> params;
  for (const Algorithm* algorithm : collectives::all_algorithms()) {
    if (algorithm->name().substr(0, 4) != "hier") continue;
    for (int shape = 0; shape < static_cast<int>(std::size(kShapes)); ++shape) {
      // Shapes an algorithm refuses (AllGather/ReduceScatter need equal sites) are not instantiated.
      CollectiveRequest probe;
      probe.collective = algorithm->collective();
      probe.nranks = static_cast<int>(kShapes[shape].site_of_rank.size());
      probe.count = 1;
      if (!algorithm->unsupported_on(probe, kShapes[shape].network()))
        params.emplace_back(algorithm, shape);
    }
  }
  return params;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const Algorithm& algorithm = *std::get<0>(info.param);
  return std::string(collectives::collective_name(algorithm.collective())) + "_" + std::string(algorithm.name()) +
         "_" + kShapes[std::get<1>(info.param)].name;
}

INSTANTIATE_TEST_SUITE_P(All, HierarchicalLoopbackTest, ::testing::ValuesIn(hierarchical_params()), param_name);

// Floating-point sums of inexact values: every rank must still hold the same
// bits, whichever site reduced which piece, and whatever arrived first.
TEST(HierarchicalAllReduce, EveryRankGetsIdenticalBits) {
  const Network network = Network::with_sites({0, 0, 0, 1, 1, 1, 2, 2, 2}, kWan);
  for (const char* name : {"hier_direct", "hier_ring", "hier_oneshot"}) {
    const Algorithm* algorithm = collectives::find_algorithm(Collective::kAllReduce, name);
    ASSERT_NE(algorithm, nullptr) << name;
    CollectiveRequest r;
    r.nranks = 9;
    r.count = 300001;
    r.segment_bytes = 64 << 10;
    std::vector<Bytes> inputs(r.nranks, Bytes(r.count * sizeof(float)));
    for (int rank = 0; rank < r.nranks; ++rank) {
      float* values = reinterpret_cast<float*>(inputs[rank].data());
      for (uint64_t i = 0; i < r.count; ++i) values[i] = 0.1f * static_cast<float>(i % 977) / (rank + 3.0f);
    }
    const RunResult result = run_on_loopback(*algorithm, r, inputs, false, network);
    EXPECT_EQ(result.damage, "") << name;
    for (int rank = 1; rank < r.nranks; ++rank)
      EXPECT_EQ(std::memcmp(result.outputs[0].data(), result.outputs[rank].data(), r.count * sizeof(float)), 0)
          << name << ": rank " << rank << " differs from rank 0";
  }
}

// Rails with unequal shares (rail balancing, collectives/rail_balance.h):
// the shards move, the results must not, for every shape (rails fewer than
// the weights use their prefix; more rails than weights fall back to equal).
TEST(HierarchicalRailWeights, UnequalShardsGiveTheSameResults) {
  for (const Shape& shape : kShapes) {
    Network network = shape.network();
    network.rail_weights = {2.0, 0.25, 1.0, 0.5};
    for (const char* name : {"hier_direct", "hier_ring", "hier_oneshot"}) {
      for (Collective collective : {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce}) {
        const Algorithm* algorithm =
            collectives::find_algorithm(collective, collective == Collective::kAllReduce ? name : "hier");
        ASSERT_NE(algorithm, nullptr) << name;
        CollectiveRequest r;
        r.collective = collective;
        r.nranks = static_cast<int>(shape.site_of_rank.size());
        r.count = 200003;
        r.dtype = DataType::kInt32;
        r.root = r.nranks - 1;
        r.segment_bytes = 64 << 10;
        const auto inputs = make_inputs(r);
        const RunResult result = run_on_loopback(*algorithm, r, inputs, false, network);
        EXPECT_EQ(compare_outputs(r, expected_outputs(r, inputs), result), "")
            << algorithm->name() << " on " << shape.name;
      }
    }
  }
}

// The weights do move the bytes: with 3:1, rail 0 sends three times what
// rail 1 sends across sites, and the two add up to the equal split's.
TEST(HierarchicalRailWeights, ARailsShareOfTheWanBytesFollowsItsWeight) {
  Network network = Network::with_sites({0, 0, 1, 1}, kWan);  // rail 0: ranks 0, 2; rail 1: ranks 1, 3
  CollectiveRequest r;
  r.collective = Collective::kAllReduce;
  r.nranks = 4;
  r.count = 1 << 20;
  auto wan_bytes = [&](int rank) {
    uint64_t bytes = 0;
    for (const auto& step : collectives::allreduce_hier_direct().build(r, network, rank).steps)
      if (step.kind == collectives::StepKind::kSend && network.site_of(step.peer) != network.site_of(rank))
        bytes += step.src.bytes;
    return bytes;
  };
  const uint64_t equal = wan_bytes(0);
  EXPECT_EQ(wan_bytes(1), equal);
  network.rail_weights = {3.0, 1.0};
  EXPECT_EQ(wan_bytes(0), 3 * wan_bytes(1));
  EXPECT_EQ(wan_bytes(0) + wan_bytes(1), 2 * equal);
}

// Two sites of two nodes with two ranks each: inside a site the node-mates
// reduce first, so every member (not just the one at the node boundary, as a
// single ring over the site would have it) carries an equal share across the
// site network, and each talks to two site peers only.
TEST(HierarchicalSitePhases, NodeLevelFirstSpreadsTheSiteNetworkOverEveryMember) {
  const Shape shape{"2x2x2", {0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 2, 2, 3, 3}};
  const Network network = shape.network();
  const Algorithm* algorithm = collectives::find_algorithm(Collective::kAllReduce, "hier_direct");
  ASSERT_NE(algorithm, nullptr);
  CollectiveRequest r;
  r.nranks = 8;
  r.count = 1 << 20;
  const uint64_t bytes = r.count * sizeof(float);
  for (int rank = 0; rank < 4; ++rank) {
    const collectives::RankSchedule schedule = algorithm->build(r, network, rank);
    uint64_t across_nodes = 0;
    std::set<int> site_peers;
    for (const collectives::Step& step : schedule.steps) {
      if (step.kind != collectives::StepKind::kSend || network.site_of(step.peer) != 0) continue;
      site_peers.insert(step.peer);
      if (network.node_of(step.peer) != network.node_of(rank)) across_nodes += step.src.bytes;
    }
    // Across nodes, the reduce-scatter and the all-gather each move one
    // quarter of the data: the shard of the member at this position on the
    // other node. A ring over the site would move 3/4 each way, all of it
    // through one member per node.
    EXPECT_EQ(across_nodes, 2 * bytes / 4) << "rank " << rank;
    EXPECT_EQ(site_peers.size(), 2u) << "rank " << rank;
  }
}

TEST(HierarchicalSitePhases, NodeGridNeedsEqualNodes) {
  Network network = Network::with_sites({0, 0, 0, 0, 0, 0}, kWan);
  network.node_of_rank = {0, 0, 0, 1, 1, 1};
  const auto grid = collectives::node_grid(network, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(grid.nodes, 2);
  EXPECT_EQ(grid.per_node, 3);
  EXPECT_TRUE(grid.two_level());
  EXPECT_FALSE(collectives::node_grid(network, {0, 1, 2, 3}).two_level());  // 3 + 1
  EXPECT_FALSE(collectives::node_grid(network, {0, 1, 2}).two_level());     // one node
  network.node_of_rank = {0, 1, 2, 3, 4, 5};
  EXPECT_FALSE(collectives::node_grid(network, {0, 1, 2, 3, 4, 5}).two_level());  // one rank per node
}

// The planner prices a site phase as it runs: with a fast node and a slower
// site network, two levels cost less than one ring across the site.
TEST(HierarchicalSitePhases, PlannerPricesTheNodeLevel) {
  Network network = Network::with_sites({0, 0, 0, 0, 1, 1, 1, 1}, kWan);
  network.intra_node = {1e-6, 20e9, 8e9};
  network.intra_site = {20e-6, 1.25e9, 8e9};
  network.node_of_rank = {0, 0, 1, 1, 2, 2, 3, 3};
  const double bytes = 64 << 20;
  const double two_level = collectives::site_ring_seconds(network, collectives::SiteLayout::of(network, 8, 0), 4, bytes);
  EXPECT_NEAR(two_level, (1e-6 + bytes / 2 / 20e9) + (20e-6 + bytes / 4 / 1.25e9), 1e-9);
  network.node_of_rank = {0, 0, 0, 1, 2, 2, 2, 3};
  const double one_ring = collectives::site_ring_seconds(network, collectives::SiteLayout::of(network, 8, 0), 4, bytes);
  EXPECT_NEAR(one_ring, 3 * (20e-6 + bytes / 4 / 1.25e9), 1e-9);
}

// A tiny STRATA_CHUNK would cut a big buffer into more messages per pair
// than the wire tag counts; like the flat algorithms, the hierarchical ones
// raise the piece size instead of refusing the call.
TEST(HierarchicalSitePhases, TinyChunkIsRaisedToFitTheMessageCap) {
  const Network network = Network::with_sites({0, 0, 1, 1}, kWan);
  for (const Algorithm* algorithm : collectives::all_algorithms()) {
    if (algorithm->name().substr(0, 4) != "hier") continue;
    CollectiveRequest r;
    r.collective = algorithm->collective();
    r.nranks = 4;
    r.count = 1 << 19;
    r.segment_bytes = 4;  // 2^19 pieces of one float each, uncapped
    for (int rank : {0, 3})
      EXPECT_NO_THROW(algorithm->build(r, network, rank))
          << collectives::collective_name(r.collective) << " " << algorithm->name() << " rank " << rank;
  }
}

TEST(HierarchicalPlanner, AcrossSitesHierBeatsFlatAndOneSiteHasNoHier) {
  CollectiveRequest r;
  r.nranks = 8;
  const Network sites = Network::with_sites({0, 0, 0, 0, 1, 1, 1, 1}, kWan);
  for (uint64_t bytes : {uint64_t{8}, uint64_t{64} << 10, uint64_t{64} << 20}) {
    r.count = bytes / 4;
    const auto plan = collectives::choose_algorithm(r, sites, "");
    EXPECT_EQ(plan.algorithm->name().substr(0, 4), "hier") << bytes << " B: " << plan.reason;
  }
  for (const auto& candidate : collectives::rank_candidates(r, Network::uniform()))
    EXPECT_NE(candidate.algorithm->name().substr(0, 4), "hier");
  EXPECT_THROW(collectives::choose_algorithm(r, Network::uniform(), "hier"), Error);
}

TEST(HierarchicalPlanner, SmallMessagesCrossTheWanOnceLargeOnesMoveFewestBytes) {
  CollectiveRequest r;
  r.nranks = 6;
  const Network sites = Network::with_sites({0, 0, 1, 1, 2, 2}, kWan);
  const auto layout = collectives::SiteLayout::of(sites, r.nranks, 0);
  r.count = 2;
  EXPECT_EQ(collectives::plan_hier_allreduce(r, sites, layout, collectives::WanMethod::kAuto).method,
            collectives::WanMethod::kOneShot);
  r.count = 64 << 20;
  const auto large = collectives::plan_hier_allreduce(r, sites, layout, collectives::WanMethod::kAuto);
  EXPECT_EQ(large.method, collectives::WanMethod::kDirect);
  EXPECT_EQ(large.rails, 2);
}

// Setup C: the longest link (0-2, 50 ms) is not the thinnest (1-2,
// 500 Mbit/s). Each method is costed on the pair it waits for longest, so
// the switch from one crossing to two falls where it was measured (one-shot
// faster at 1 MiB, direct at 4 MiB; docs/performance.md).
TEST(HierarchicalPlanner, EachSitePairIsCostedOnItsOwnLink) {
  Network network = Network::with_sites({0, 0, 1, 1, 2, 2}, kWan);
  const LinkCost near{5e-3, 125e6, 4e9}, thin{15e-3, 62.5e6, 4e9}, far{25e-3, 125e6, 4e9};
  network.site_links = {{}, near, far, near, {}, thin, far, thin, {}};
  const auto layout = collectives::SiteLayout::of(network, 6, 0);
  CollectiveRequest r;
  r.nranks = 6;
  r.count = (1 << 20) / 4;
  EXPECT_EQ(collectives::plan_hier_allreduce(r, network, layout, collectives::WanMethod::kAuto).method,
            collectives::WanMethod::kOneShot);
  r.count = (4 << 20) / 4;
  EXPECT_EQ(collectives::plan_hier_allreduce(r, network, layout, collectives::WanMethod::kAuto).method,
            collectives::WanMethod::kDirect);
}

// Setup C's links: the chunk is common (both ends cut alike), the window
// toward each site follows that pair's own bandwidth-delay product; a
// forced STRATA_WINDOW applies to every peer.
TEST(HierarchicalPlanner, WindowsFollowEachSitePairsBdp) {
  Network network = Network::with_sites({0, 0, 1, 1, 2, 2}, kWan);
  const LinkCost near{5e-3, 125e6, 4e9}, thin{15e-3, 62.5e6, 4e9}, far{25e-3, 125e6, 4e9};
  network.site_links = {{}, near, far, near, {}, thin, far, thin, {}};
  CollectiveRequest r;
  r.nranks = 6;
  r.count = (64 << 20) / 4;
  const auto site0 = collectives::wan_pipelining(r, network, collectives::SiteLayout::of(network, 6, 0), 2);
  const double chunk = static_cast<double>(site0.chunk_bytes);
  EXPECT_EQ(site0.window_to_site[0], 0u);
  EXPECT_EQ(site0.window_to_site[1], static_cast<uint32_t>(std::ceil(2 * 125e6 * 10e-3 / 2 / chunk)));
  EXPECT_EQ(site0.window_to_site[2], static_cast<uint32_t>(std::ceil(2 * 125e6 * 50e-3 / 2 / chunk)));
  EXPECT_LT(site0.window_to_site[1], site0.window_to_site[2]);
  const auto site1 = collectives::wan_pipelining(r, network, collectives::SiteLayout::of(network, 6, 2), 2);
  EXPECT_EQ(site1.chunk_bytes, site0.chunk_bytes);
  EXPECT_EQ(site1.window_to_site[2], static_cast<uint32_t>(std::ceil(2 * 62.5e6 * 30e-3 / 2 / chunk)));
  // The schedule holds the window: rank 0's send w to a peer waits for its send 0.
  const Algorithm* direct = collectives::find_algorithm(Collective::kAllReduce, "hier_direct");
  ASSERT_NE(direct, nullptr);
  const collectives::RankSchedule schedule = direct->build(r, network, 0);
  for (int site : {1, 2}) {
    const int peer = 2 * site;  // rail 0 of that site
    std::vector<collectives::StepId> sends;
    for (collectives::StepId id = 0; id < schedule.steps.size(); ++id)
      if (schedule.steps[id].kind == collectives::StepKind::kSend && schedule.steps[id].peer == peer)
        sends.push_back(id);
    const uint32_t window = site0.window_to_site[site];
    ASSERT_GT(sends.size(), window) << "site " << site;
    const auto& deps = schedule.steps[sends[window]].deps;
    EXPECT_NE(std::find(deps.begin(), deps.end(), sends[0]), deps.end()) << "site " << site;
  }
  r.window = 3;
  for (uint32_t window : collectives::wan_pipelining(r, network, collectives::SiteLayout::of(network, 6, 4), 2).window_to_site)
    EXPECT_TRUE(window == 0 || window == 3);
}

// Sent pairwise, 16 flows burst into the 20 ms x 1 Gbit/s link at once:
// beyond its BDP (2.5 MB) that costs loss recovery, so the paced
// per-site-pair routing wins; below it, pairwise skips the hand-off.
TEST(HierarchicalPlanner, AllToAllRoutesPerSitePairWhenPairwiseWouldBurstPastTheBdp) {
  CollectiveRequest r;
  r.collective = Collective::kAllToAll;
  r.nranks = 8;
  const Network sites = Network::with_sites({0, 0, 0, 0, 1, 1, 1, 1}, kWan);
  r.count = 1024;
  EXPECT_EQ(collectives::choose_algorithm(r, sites, "").algorithm->name(), "pairwise");
  r.count = (128 << 10) / 4;  // 16 x 128 KiB = 2 MiB in flight
  EXPECT_EQ(collectives::choose_algorithm(r, sites, "").algorithm->name(), "pairwise");
  r.count = (512 << 10) / 4;  // 8 MiB
  EXPECT_EQ(collectives::choose_algorithm(r, sites, "").algorithm->name(), "hier");
  r.count = (4 << 20) / 4;
  EXPECT_EQ(collectives::choose_algorithm(r, sites, "").algorithm->name(), "hier");
  EXPECT_EQ(collectives::choose_algorithm(r, Network::uniform(), "").algorithm->name(), "pairwise");
}

TEST(SiteLayoutTest, CounterpartIsTheRanksIndexModuloTheSiteSize) {
  const Network network = Network::with_sites({1, 0, 1, 1, 2, 2}, kWan);
  const auto layout = collectives::SiteLayout::of(network, 6, 0);
  // Sites in order: {1}, {0, 2, 3}, {4, 5}.
  EXPECT_EQ(layout.counterpart(0, 3), 1);
  EXPECT_EQ(layout.counterpart(1, 5), 2);
  EXPECT_EQ(layout.counterpart(2, 3), 4);
  EXPECT_EQ(layout.counterpart(2, 2), 5);
}

}  // namespace
}  // namespace strata::testing
