#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/host_reduce.h"
#include "common/small_float.h"

namespace strata {
namespace {

TEST(HostReduceTest, IntegerOperatorsWrapInTheirWidth) {
  std::vector<int8_t> a{100, -5, 3, 7}, b{100, 9, -3, 7}, out(4);
  host_reduce(DataType::kInt8, ReduceOp::kSum, out.data(), a.data(), b.data(), 4);
  EXPECT_EQ(out, (std::vector<int8_t>{-56, 4, 0, 14}));
  host_reduce(DataType::kInt8, ReduceOp::kMax, out.data(), a.data(), b.data(), 4);
  EXPECT_EQ(out, (std::vector<int8_t>{100, 9, 3, 7}));
  host_reduce(DataType::kInt8, ReduceOp::kMin, out.data(), a.data(), b.data(), 4);
  EXPECT_EQ(out, (std::vector<int8_t>{100, -5, -3, 7}));
  host_reduce(DataType::kInt8, ReduceOp::kProd, out.data(), a.data(), b.data(), 4);
  EXPECT_EQ(out, (std::vector<int8_t>{16, -45, -9, 49}));
}

TEST(HostReduceTest, DestinationMayAliasAnOperand) {
  std::vector<float> a{1, 2, 3}, b{10, 20, 30};
  host_reduce(DataType::kFloat32, ReduceOp::kSum, a.data(), a.data(), b.data(), 3);
  EXPECT_EQ(a, (std::vector<float>{11, 22, 33}));
}

TEST(HostReduceTest, HalfSumRoundsOnceFromFloat) {
  const Half a = Half::from_float(1.0f), b = Half::from_float(1.0f / 4096);
  Half out{};
  host_reduce(DataType::kFloat16, ReduceOp::kSum, &out, &a, &b, 1);
  EXPECT_EQ(out.bits, a.bits);  // below half an ulp: rounds back to 1
  const BFloat16 c = BFloat16::from_float(2.5f), d = BFloat16::from_float(-0.5f);
  BFloat16 bf{};
  host_reduce(DataType::kBFloat16, ReduceOp::kMax, &bf, &c, &d, 1);
  EXPECT_EQ(bf.to_float(), 2.5f);
}

TEST(HostReduceTest, FinishDividesIntegersAndScalesFloats) {
  std::vector<int32_t> ints{7, -7, 8};
  host_finish(DataType::kInt32, {FinishKind::kDivide, 2}, ints.data(), 3);
  EXPECT_EQ(ints, (std::vector<int32_t>{3, -3, 4}));
  std::vector<double> doubles{3, 6};
  Finish scale{FinishKind::kMultiply};
  const double half = 0.5;
  std::memcpy(scale.scalar, &half, sizeof half);
  host_finish(DataType::kFloat64, scale, doubles.data(), 2);
  EXPECT_EQ(doubles, (std::vector<double>{1.5, 3}));
}

}  // namespace
}  // namespace strata
