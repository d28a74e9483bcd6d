#include <gtest/gtest.h>

#include "collectives/planner.h"
#include "common/error.h"

namespace strata::collectives {
namespace {

CollectiveRequest allreduce(int nranks, uint64_t bytes) {
  CollectiveRequest request;
  request.nranks = nranks;
  request.count = bytes / 4;
  request.dtype = DataType::kFloat32;
  return request;
}

TEST(PlannerTest, SmallAllReducePrefersFewRoundsLargePrefersRing) {
  const Network cost = Network::uniform();
  EXPECT_EQ(choose_algorithm(allreduce(8, 8), cost, "").algorithm->name(), "recursive_doubling");
  EXPECT_EQ(choose_algorithm(allreduce(8, 64 << 20), cost, "").algorithm->name(), "ring");
}

TEST(PlannerTest, ForcedAlgorithmWinsAndUnknownIsAnError) {
  const Network cost = Network::uniform();
  const Plan plan = choose_algorithm(allreduce(8, 8), cost, "ring");
  EXPECT_EQ(plan.algorithm->name(), "ring");
  EXPECT_EQ(plan.reason, "forced");
  EXPECT_THROW(choose_algorithm(allreduce(8, 8), cost, "no_such"), Error);
}

TEST(PlannerTest, CandidatesAreSortedByPrediction) {
  const auto candidates = rank_candidates(allreduce(4, 1 << 20), Network::uniform());
  ASSERT_EQ(candidates.size(), 2u);
  EXPECT_LE(candidates[0].predicted_seconds, candidates[1].predicted_seconds);
}

TEST(PlannerTest, AlgoSpecAppliesByNameOrPerCollective) {
  EXPECT_EQ(forced_algorithm_for("ring", Collective::kAllReduce), "ring");
  EXPECT_EQ(forced_algorithm_for("ring", Collective::kBroadcast), "");  // broadcast has no ring
  EXPECT_EQ(forced_algorithm_for("allreduce=recursive_doubling,broadcast=chain", Collective::kBroadcast), "chain");
  EXPECT_EQ(forced_algorithm_for("allreduce=recursive_doubling", Collective::kReduce), "");
  EXPECT_THROW(forced_algorithm_for("allreduc=ring", Collective::kAllReduce), Error);
  EXPECT_THROW(forced_algorithm_for("rnig", Collective::kAllReduce), Error);  // a typo is not "no preference"
  EXPECT_THROW(forced_algorithm_for("rnig", Collective::kBroadcast), Error);
}

}  // namespace
}  // namespace strata::collectives
