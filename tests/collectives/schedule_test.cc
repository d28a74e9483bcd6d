#include <gtest/gtest.h>

#include "collectives/algorithms.h"
#include "collectives/network.h"
#include "collectives/schedule.h"
#include "collectives/tree.h"
#include "common/error.h"

namespace strata::collectives {
namespace {

CollectiveRequest float_request(int nranks, uint64_t count) {
  CollectiveRequest request;
  request.nranks = nranks;
  request.count = count;
  request.dtype = DataType::kFloat32;
  return request;
}

TEST(ScheduleTest, FinalizeBuildsDependentsAndMessageIndices) {
  ScheduleBuilder b(float_request(3, 8), 0);
  const StepId first = b.send(1, b.send_region(0, 4));
  const StepId second = b.send(1, b.send_region(4, 4), {first});
  const StepId third = b.recv_reduce(2, b.recv_region(0, 4), b.send_region(0, 4), {first});
  RankSchedule schedule = b.take();
  EXPECT_EQ(schedule.steps[first].message_index, 0u);
  EXPECT_EQ(schedule.steps[second].message_index, 1u);
  EXPECT_EQ(schedule.steps[third].message_index, 0u);  // counted per peer and direction
  EXPECT_EQ(schedule.dependency_counts, (std::vector<uint32_t>{0, 1, 1}));
  EXPECT_EQ(schedule.dependents_offsets, (std::vector<uint32_t>{0, 2, 2, 2}));
  EXPECT_EQ(schedule.staging_bytes, 64u);  // 16 bytes rounded up to a cache line
}

// A recv_reduce that depends on an earlier one lands in that one's staging
// area; each area passes to one successor only.
TEST(ScheduleTest, WindowedReceivesReuseStagingAreas) {
  ScheduleBuilder b(float_request(2, 64), 0);
  WindowedRecvReduce receives(b, 2);
  std::vector<StepId> ids;
  for (uint64_t k = 0; k < 6; ++k)
    ids.push_back(receives.recv_reduce(1, b.recv_region(k * 8, 8), b.send_region(k * 8, 8)));
  const StepId unchained = b.recv_reduce(1, b.recv_region(48, 8), b.send_region(48, 8), {ids[5]});
  RankSchedule schedule = b.take();
  EXPECT_EQ(schedule.steps[ids[2]].deps, (std::vector<StepId>{ids[0]}));
  for (uint64_t k = 2; k < 6; ++k)
    EXPECT_EQ(schedule.steps[ids[k]].staging_offset, schedule.steps[ids[k - 2]].staging_offset) << k;
  EXPECT_NE(schedule.steps[ids[0]].staging_offset, schedule.steps[ids[1]].staging_offset);
  // ids[5]'s area went on to ids[5]'s successor in the window: none; so `unchained` takes it.
  EXPECT_EQ(schedule.steps[unchained].staging_offset, schedule.steps[ids[5]].staging_offset);
  EXPECT_EQ(schedule.staging_bytes, 2 * 64u);
}

TEST(ScheduleTest, LargerReceiveDoesNotReuseASmallerArea) {
  ScheduleBuilder b(float_request(2, 64), 0);
  const StepId small = b.recv_reduce(1, b.recv_region(0, 4), b.send_region(0, 4));
  const StepId large = b.recv_reduce(1, b.recv_region(4, 32), b.send_region(4, 32), {small});
  RankSchedule schedule = b.take();
  EXPECT_NE(schedule.steps[large].staging_offset, schedule.steps[small].staging_offset);
  EXPECT_EQ(schedule.staging_bytes, 64u + 128u);
}

// The ring's reduce-scatter keeps a few segments' staging, not (n-1)/n of the data.
TEST(ScheduleTest, RingAllReduceStagingIsAFewSegments) {
  CollectiveRequest request = float_request(2, uint64_t{16} << 20);  // 64 MiB
  request.collective = Collective::kAllReduce;
  const RankSchedule schedule = allreduce_ring().build(request, Network::uniform(), 0);
  EXPECT_EQ(schedule.staging_bytes, 4 * kDefaultSegmentBytes);
}

// Across nodes (here two sites) the ring posts every receive at once: over
// a long link it needs the link's bandwidth-delay product in flight.
TEST(ScheduleTest, RingAcrossNodesDoesNotWindowItsReceives) {
  const Network one_node = Network::uniform();
  const Network two_sites = Network::with_sites({0, 0, 1, 1}, LinkCost{40e-3, 125e6, 4e9});
  EXPECT_EQ(FlatAlgorithm::receive_window_on(one_node), kReceiveWindow);
  EXPECT_EQ(FlatAlgorithm::receive_window_on(two_sites), 0u);
  CollectiveRequest request = float_request(4, (64 << 20) / 4);
  request.collective = Collective::kAllReduce;
  const RankSchedule schedule = allreduce_ring().build(request, two_sites, 1);
  EXPECT_GT(schedule.staging_bytes, 8 * kDefaultSegmentBytes);  // every reduce-scatter receive has its own area
}

TEST(ScheduleTest, RejectsScratchBeyondReservation) {
  ScheduleBuilder b(float_request(2, 8), 0);
  b.reserve_scratch(4);
  b.copy(b.scratch_region(2, 4), b.send_region(0, 4));
  EXPECT_THROW(b.take(), Error);
}

TEST(ScheduleTest, RejectsPeerOutOfRange) {
  ScheduleBuilder b(float_request(2, 8), 0);
  b.send(2, b.send_region(0, 1));
  EXPECT_THROW(b.take(), Error);
}

// The wire tag holds the message index in 18 bits: more messages between
// one pair would alias tags, so the schedule is refused with an error that
// names the ranks and the setting to change, instead of corrupting data.
TEST(ScheduleTest, RejectsMoreMessagesPerPairThanTheTagHolds) {
  ScheduleBuilder b(float_request(2, 1), 0);
  for (uint64_t i = 0; i <= kMaxMessagesPerPair; ++i) b.send(1, b.send_region(0, 1));
  try {
    b.take();
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(error.what()).find("STRATA_CHUNK"), std::string::npos) << error.what();
  }
}

TEST(ScheduleTest, BlockSplitCoversCountExactly) {
  for (uint64_t count : {0, 1, 7, 100}) {
    for (uint64_t parts : {1, 3, 8}) {
      const BlockSplit split{count, parts};
      uint64_t total = 0;
      for (uint64_t i = 0; i < parts; ++i) {
        EXPECT_EQ(split.block_offset(i), total);
        total += split.block_count(i);
      }
      EXPECT_EQ(total, count);
    }
  }
}

TEST(ScheduleTest, SegmentCountIsCapped) {
  EXPECT_EQ(segment_count(0, 1024, 10), 1u);
  EXPECT_EQ(segment_count(4096, 1024, 10), 4u);
  EXPECT_EQ(segment_count(1 << 20, 1024, 10), 10u);
}

TEST(BinomialTreeTest, EveryRankHasOneParentAndTheTreeIsConnected) {
  for (int n : {1, 2, 3, 5, 8, 13}) {
    for (int root = 0; root < n; ++root) {
      std::vector<int> parents(n, -2);
      for (int rank = 0; rank < n; ++rank) {
        const BinomialTree tree = BinomialTree::of(rank, root, n);
        for (int child : tree.children) {
          EXPECT_EQ(BinomialTree::of(child, root, n).parent, rank);
          parents[child] = rank;
        }
        if (rank == root) EXPECT_EQ(tree.parent, -1);
      }
      for (int rank = 0; rank < n; ++rank)
        if (rank != root) EXPECT_GE(parents[rank], 0) << "n=" << n << " root=" << root << " rank=" << rank;
    }
  }
}

}  // namespace
}  // namespace strata::collectives
