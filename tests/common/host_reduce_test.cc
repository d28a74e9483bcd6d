#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
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

// host_reduce.cc is built with -O3 so that these loops vectorise (they ran
// scalar at -O2). Counts around the vector widths, operands off the vector
// alignment, dst aliasing either operand, every operator, against one
// element at a time.
template <typename T>
void check_against_elementwise(DataType type) {
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin}) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{3}, size_t{15}, size_t{16}, size_t{17}, size_t{63}, size_t{1027}}) {
      for (size_t shift : {size_t{0}, size_t{1}}) {
        std::vector<T> a(count + shift), b(count + shift), expected(count);
        for (size_t i = 0; i < count + shift; ++i) {
          a[i] = static_cast<T>((i * 7) % 11) - static_cast<T>(5);
          b[i] = static_cast<T>((i * 5) % 13) - static_cast<T>(6);
        }
        if constexpr (std::is_floating_point_v<T>) {
          if (count > 2) a[shift + 2] = std::numeric_limits<T>::quiet_NaN();  // max/min keep a's NaN
        }
        T element{};
        for (size_t i = 0; i < count; ++i) {
          host_reduce(type, op, &element, &a[shift + i], &b[shift + i], 1);
          expected[i] = element;
        }
        auto same = [&](const std::vector<T>& got, size_t from) {
          for (size_t i = 0; i < count; ++i)
            if (std::memcmp(&got[from + i], &expected[i], sizeof(T)) != 0) return false;
          return true;
        };
        std::vector<T> out(count + shift);
        host_reduce(type, op, out.data() + shift, a.data() + shift, b.data() + shift, count);
        EXPECT_TRUE(same(out, shift)) << "op " << int(op) << " count " << count << " shift " << shift;
        std::vector<T> into_a = a, into_b = b;
        host_reduce(type, op, into_a.data() + shift, into_a.data() + shift, b.data() + shift, count);
        EXPECT_TRUE(same(into_a, shift)) << "dst = a, op " << int(op) << " count " << count;
        host_reduce(type, op, into_b.data() + shift, a.data() + shift, into_b.data() + shift, count);
        EXPECT_TRUE(same(into_b, shift)) << "dst = b, op " << int(op) << " count " << count;
      }
    }
  }
}

TEST(HostReduceTest, VectorisedLoopsMatchElementwise) {
  check_against_elementwise<float>(DataType::kFloat32);
  check_against_elementwise<double>(DataType::kFloat64);
  check_against_elementwise<int32_t>(DataType::kInt32);
  check_against_elementwise<int8_t>(DataType::kInt8);
  check_against_elementwise<uint64_t>(DataType::kUint64);
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
