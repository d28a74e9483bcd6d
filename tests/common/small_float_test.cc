#include <gtest/gtest.h>

#include <cmath>

#include "common/small_float.h"

namespace strata {
namespace {

TEST(SmallFloatTest, HalfKnownEncodings) {
  EXPECT_EQ(Half::from_float(1.0f).bits, 0x3c00);
  EXPECT_EQ(Half::from_float(-2.0f).bits, 0xc000);
  EXPECT_EQ(Half::from_float(65504.0f).bits, 0x7bff);
  EXPECT_EQ(Half::from_float(1e6f).bits, 0x7c00);             // overflow -> inf
  EXPECT_EQ(Half::from_float(5.9604645e-8f).bits, 0x0001);    // smallest subnormal
  EXPECT_EQ(Half::from_float(1.0f + 1.0f / 2048).bits, 0x3c00);  // tie rounds to even
  EXPECT_TRUE(std::isnan(Half{0x7e00}.to_float()));
}

TEST(SmallFloatTest, BFloat16KnownEncodings) {
  EXPECT_EQ(BFloat16::from_float(1.0f).bits, 0x3f80);
  EXPECT_EQ(BFloat16::from_float(-3.0f).bits, 0xc040);
  EXPECT_EQ(BFloat16{0x4049}.to_float(), 3.140625f);
  EXPECT_TRUE(std::isnan(BFloat16::from_float(NAN).to_float()));
}

TEST(SmallFloatTest, Float8E4M3SaturatesAndHasNoInfinity) {
  EXPECT_EQ(Float8E4M3::from_float(1.0f).bits, 0x38);
  EXPECT_EQ(Float8E4M3::from_float(448.0f).bits, 0x7e);
  EXPECT_EQ(Float8E4M3::from_float(1e9f).bits, 0x7e);  // saturates to the largest finite
  EXPECT_EQ(Float8E4M3::from_float(-1e9f).bits, 0xfe);
  EXPECT_TRUE(std::isnan(Float8E4M3{0x7f}.to_float()));
  EXPECT_EQ(Float8E4M3{0x01}.to_float(), std::ldexp(1.0f, -9));  // smallest subnormal
}

TEST(SmallFloatTest, Float8E5M2KnownEncodings) {
  EXPECT_EQ(Float8E5M2::from_float(1.0f).bits, 0x3c);
  EXPECT_EQ(Float8E5M2::from_float(57344.0f).bits, 0x7b);
  EXPECT_EQ(Float8E5M2::from_float(1e9f).bits, 0x7b);  // saturating conversion
  EXPECT_TRUE(std::isinf(Float8E5M2{0x7c}.to_float()));
}

// Every encoding that is a finite number decodes and re-encodes to itself.
template <typename T, int kBits>
void expect_round_trip() {
  for (uint32_t code = 0; code < (1u << kBits); ++code) {
    T value;
    if constexpr (kBits == 8) value.bits = static_cast<uint8_t>(code);
    else value.bits = static_cast<uint16_t>(code);
    const float decoded = value.to_float();
    if (!std::isfinite(decoded)) continue;
    ASSERT_EQ(T::from_float(decoded).bits, value.bits) << "code " << code << " value " << decoded;
  }
}

TEST(SmallFloatTest, RoundTripsEveryFiniteEncoding) {
  expect_round_trip<Half, 16>();
  expect_round_trip<BFloat16, 16>();
  expect_round_trip<Float8E4M3, 8>();
  expect_round_trip<Float8E5M2, 8>();
}

}  // namespace
}  // namespace strata
