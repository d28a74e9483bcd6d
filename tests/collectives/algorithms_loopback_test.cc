// Every algorithm × rank count × size × datatype × operator, all ranks run in
// this process on the in-process transport and checked against a reference.
#include <gtest/gtest.h>

#include <cstring>

#include "collectives/algorithm.h"
#include "tests/collectives/loopback_harness.h"

namespace strata::testing {
namespace {

using collectives::Algorithm;
using collectives::Collective;
using collectives::CollectiveRequest;

struct OpCase {
  ReduceOp op;
  FinishKind finish;
  const char* name;
};

constexpr OpCase kOps[] = {{ReduceOp::kSum, FinishKind::kNone, "sum"},   {ReduceOp::kProd, FinishKind::kNone, "prod"},
                           {ReduceOp::kMax, FinishKind::kNone, "max"},   {ReduceOp::kMin, FinishKind::kNone, "min"},
                           {ReduceOp::kSum, FinishKind::kDivide, "avg"}, {ReduceOp::kSum, FinishKind::kMultiply, "premulsum"}};

bool reduces(Collective collective) {
  return collective == Collective::kAllReduce || collective == Collective::kReduce ||
         collective == Collective::kReduceScatter;
}

void set_finish(CollectiveRequest& request, const OpCase& op) {
  request.op = op.op;
  request.finish = {};
  request.finish.kind = op.finish;
  request.finish.divisor = static_cast<uint64_t>(request.nranks);
  if (op.finish == FinishKind::kMultiply) encode_scalar(3.0, request.dtype, request.finish.scalar);
}

void check(const Algorithm& algorithm, const CollectiveRequest& request, bool in_place) {
  const auto inputs = make_inputs(request);
  const auto expected = expected_outputs(request, inputs);
  const RunResult result = run_on_loopback(algorithm, request, inputs, in_place);
  const std::string mismatch = compare_outputs(request, expected, result);
  ASSERT_TRUE(mismatch.empty()) << algorithm.name() << " " << collectives::collective_name(request.collective)
                                << " n=" << request.nranks << " count=" << request.count << " "
                                << datatype_name(request.dtype) << " op=" << reduce_op_name(request.op)
                                << " finish=" << static_cast<int>(request.finish.kind) << " root=" << request.root
                                << (in_place ? " in-place" : "") << ": " << mismatch;
}

using Param = std::tuple<const Algorithm*, int>;

class AlgorithmLoopbackTest : public ::testing::TestWithParam<Param> {
 protected:
  CollectiveRequest request(uint64_t count, DataType type) const {
    CollectiveRequest request;
    request.collective = std::get<0>(GetParam())->collective();
    request.nranks = std::get<1>(GetParam());
    request.count = count;
    request.dtype = type;
    // A rank other than 0 as root catches algorithms that assume root 0.
    request.root = request.nranks > 2 ? request.nranks - 2 : 0;
    if (request.collective == Collective::kSend || request.collective == Collective::kRecv) request.root = 0;
    return request;
  }
};

TEST_P(AlgorithmLoopbackTest, EveryDatatypeAndOperatorSmallCounts) {
  const Algorithm& algorithm = *std::get<0>(GetParam());
  for (uint64_t count : {0, 1, 37}) {
    for (int type = 0; type < kDataTypeCount; ++type) {
      CollectiveRequest base = request(count, static_cast<DataType>(type));
      for (const OpCase& op : kOps) {
        if (!reduces(base.collective) && op.op != ReduceOp::kSum) continue;
        if (!reduces(base.collective) && op.finish != FinishKind::kNone) continue;
        CollectiveRequest r = base;
        set_finish(r, op);
        check(algorithm, r, false);
        check(algorithm, r, true);
      }
    }
  }
}

TEST_P(AlgorithmLoopbackTest, SeveralMebibytesWithPipelining) {
  const Algorithm& algorithm = *std::get<0>(GetParam());
  const int n = std::get<1>(GetParam());
  // About 3 MiB per buffer, an odd count so blocks and segments are uneven;
  // 256 KiB segments so pipelining really cuts blocks.
  const bool per_block = algorithm.collective() != Collective::kAllReduce &&
                         algorithm.collective() != Collective::kBroadcast &&
                         algorithm.collective() != Collective::kReduce;
  const uint64_t count = ((3u << 20) / 4 / (per_block ? n : 1)) | 1;
  // Integers once more at small rank counts: wrap-around and exactness.
  for (DataType type : {DataType::kFloat32, DataType::kInt64}) {
    if (type == DataType::kInt64 && n > 4) continue;
    CollectiveRequest r = request(count, type);
    r.segment_bytes = 256 << 10;
    check(algorithm, r, false);
    check(algorithm, r, true);
  }
}

std::vector<Param> all_params() {
  std::vector<Param> params;
  for (const Algorithm* algorithm : collectives::all_algorithms()) {
    // Send and Recv only make sense as a pair: tests/runtime covers them.
    if (algorithm->collective() == Collective::kSend || algorithm->collective() == Collective::kRecv) continue;
    // Hierarchical algorithms need sites: hierarchical_loopback_test.cc.
    CollectiveRequest probe;
    probe.collective = algorithm->collective();
    probe.nranks = 2;
    if (algorithm->unsupported_on(probe, collectives::Network::uniform())) continue;
    for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 16}) params.emplace_back(algorithm, n);
  }
  return params;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const Algorithm& algorithm = *std::get<0>(info.param);
  return std::string(collectives::collective_name(algorithm.collective())) + "_" + std::string(algorithm.name()) +
         "_n" + std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(All, AlgorithmLoopbackTest, ::testing::ValuesIn(all_params()), param_name);

}  // namespace
}  // namespace strata::testing
