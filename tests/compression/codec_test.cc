// The wire codecs: error bounds per format, lossless round trips, raw
// blocks for Inf/NaN, error feedback, and hostile messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/error.h"
#include "compression/codec.h"

namespace strata::compression {
namespace {

std::vector<float> gradient_like(uint64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-6.0f, 3.0f);
  std::vector<float> data(count);
  for (uint64_t i = 0; i < count; ++i) data[i] = value(rng) * std::exp2(exponent(rng) * ((i / 512) % 3 == 0));
  return data;
}

struct Coded {
  std::vector<std::byte> message;
  std::vector<float> decoded;
};

Coded round_trip(Format format, const std::vector<float>& data, float* residual = nullptr) {
  Coded coded;
  coded.message.resize(max_encoded_bytes(format, data.size()));
  const size_t bytes = encode(format, data.data(), data.size(), residual, coded.message.data());
  EXPECT_LE(bytes, coded.message.size());
  coded.message.resize(bytes);
  EXPECT_EQ(message_bytes(coded.message.data(), bytes), bytes);
  coded.decoded.resize(data.size());
  decode(format, coded.message.data(), bytes, coded.decoded.data(), data.size());
  return coded;
}

float block_max(const std::vector<float>& data, uint64_t i, uint32_t per_block) {
  const uint64_t start = i / per_block * per_block;
  float largest = 0;
  for (uint64_t j = start; j < std::min<uint64_t>(start + per_block, data.size()); ++j)
    largest = std::max(largest, std::fabs(data[j]));
  return largest;
}

// The documented bound of one value's error (docs/compression.md).
float error_bound(Format format, const std::vector<float>& data, uint64_t i) {
  const float slop = 1e-6f * block_max(data, i, 256);
  switch (format) {
    case Format::kBf16:
    case Format::kBf16Zstd: return std::fabs(data[i]) * std::exp2(-8.0f);
    case Format::kInt8: return block_max(data, i, 256) / 254 * 1.0001f + slop;
    case Format::kInt4: return block_max(data, i, 128) / 14 * 1.0001f + slop;
    case Format::kFp8E4M3: {
      const float scale = block_max(data, i, 256) / 448;
      return std::max(std::fabs(data[i]) * 0.0625f, scale * std::exp2(-10.0f)) * 1.0001f + slop;
    }
    default: return 0;
  }
}

class LossyFormat : public testing::TestWithParam<Format> {};

TEST_P(LossyFormat, EveryValueWithinItsBound) {
  const Format format = GetParam();
  const std::vector<float> data = gradient_like(10'007, 7);  // a short last block
  const Coded coded = round_trip(format, data);
  for (uint64_t i = 0; i < data.size(); ++i)
    ASSERT_LE(std::fabs(coded.decoded[i] - data[i]), error_bound(format, data, i))
        << format_name(format) << " value " << i << " = " << data[i] << " decoded " << coded.decoded[i];
}

TEST_P(LossyFormat, ShrinksByItsNominalRatio) {
  const Format format = GetParam();
  const std::vector<float> data = gradient_like(1 << 16, 3);
  const double ratio = static_cast<double>(data.size() * 4) / round_trip(format, data).message.size();
  EXPECT_GE(ratio, nominal_ratio(format) * 0.99) << format_name(format);
}

TEST_P(LossyFormat, BlocksWithInfOrNanArriveRaw) {
  const Format format = GetParam();
  std::vector<float> data = gradient_like(1024, 5);
  data[300] = std::numeric_limits<float>::infinity();
  data[301] = 1.2345678f;
  data[700] = std::numeric_limits<float>::quiet_NaN();
  const Coded coded = round_trip(format, data);
  EXPECT_TRUE(std::isinf(coded.decoded[300]) && coded.decoded[300] > 0);
  EXPECT_TRUE(std::isnan(coded.decoded[700]));
  if (block_values(format) > 0) {
    EXPECT_EQ(coded.decoded[301], data[301]) << "the rest of an Inf block travels exactly";
    EXPECT_NE(coded.decoded[5], data[5]) << "finite blocks are still compressed";
  }
}

TEST_P(LossyFormat, ErrorFeedbackIsUnbiasedOverRepeats) {
  const Format format = GetParam();
  const std::vector<float> data = gradient_like(4096, 11);
  std::vector<float> residual(data.size(), 0.0f), with(data.size(), 0.0f), without(data.size(), 0.0f);
  constexpr int kRepeats = 100;
  for (int r = 0; r < kRepeats; ++r) {
    const Coded fed = round_trip(format, data, residual.data());
    const Coded plain = round_trip(format, data);
    for (size_t i = 0; i < data.size(); ++i) with[i] += fed.decoded[i], without[i] += plain.decoded[i];
  }
  double biased = 0, fed = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    // With feedback the sum of what was sent differs from the sum of the data
    // by the last residual only: one encoding's error of data + residual,
    // whose block maximum is up to one error bound larger.
    const float bound = error_bound(format, data, i) * 1.1f + std::fabs(data[i]) * 1e-5f * kRepeats;
    ASSERT_LE(std::fabs(with[i] - kRepeats * data[i]), bound) << format_name(format) << " value " << i;
    fed += std::fabs(with[i] / kRepeats - data[i]);
    biased += std::fabs(without[i] / kRepeats - data[i]);
  }
  EXPECT_LT(fed * 20, biased) << "feedback should cut the mean error of " << format_name(format) << " twenty-fold";
}

INSTANTIATE_TEST_SUITE_P(Formats, LossyFormat,
                         testing::Values(Format::kBf16, Format::kInt8, Format::kFp8E4M3, Format::kInt4, Format::kBf16Zstd),
                         [](const auto& info) {
                           std::string name(format_name(info.param));
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(Lossless, RoundTripsEveryBitAndShrinksSmoothData) {
  std::vector<float> data(1 << 16);
  for (size_t i = 0; i < data.size(); ++i) data[i] = 1.0f + 1e-3f * static_cast<float>(i % 97);
  data[17] = std::numeric_limits<float>::quiet_NaN();
  data[18] = -0.0f;
  const Coded coded = round_trip(Format::kZstd, data);
  EXPECT_EQ(std::memcmp(coded.decoded.data(), data.data(), data.size() * 4), 0);
  EXPECT_LT(coded.message.size() * 2, data.size() * 4);
}

TEST(Lossless, IncompressibleDataIsStoredAsIs) {
  std::mt19937 rng(1);
  std::vector<float> data(4096);
  for (float& v : data) {
    const uint32_t bits = rng() & 0x7f7fffffu;  // finite, every byte random
    std::memcpy(&v, &bits, 4);
  }
  const Coded coded = round_trip(Format::kZstd, data);
  EXPECT_EQ(std::memcmp(coded.decoded.data(), data.data(), data.size() * 4), 0);
  EXPECT_LE(coded.message.size(), max_encoded_bytes(Format::kZstd, data.size()));
}

TEST(Parse, NamesAndAliases) {
  EXPECT_EQ(parse_format("int8"), Format::kInt8);
  EXPECT_EQ(parse_format("fp8"), Format::kFp8E4M3);
  EXPECT_EQ(parse_format("bf16+zstd"), Format::kBf16Zstd);
  EXPECT_EQ(parse_format("lossless"), Format::kZstd);
  EXPECT_EQ(parse_format("none"), Format::kNone);
  EXPECT_FALSE(parse_format("int3").has_value());
  for (int f = 0; f < kFormatCount; ++f) EXPECT_EQ(parse_format(format_name(static_cast<Format>(f))), static_cast<Format>(f));
}

void expect_rejected(Format format, const std::vector<std::byte>& message, uint64_t count, const char* what) {
  std::vector<float> out(count);
  try {
    decode(format, message.data(), message.size(), out.data(), count);
    ADD_FAILURE() << what << ": decoded";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kRemote) << what;
    EXPECT_NE(std::string(error.what()).find("compressed message rejected"), std::string::npos) << error.what();
  }
}

TEST(Hostile, WrongSettingsAndTruncationAreErrors) {
  const std::vector<float> data = gradient_like(1000, 2);
  const Coded coded = round_trip(Format::kInt8, data);
  expect_rejected(Format::kInt4, coded.message, data.size(), "other format");
  expect_rejected(Format::kInt8, coded.message, data.size() + 1, "other count");
  std::vector<std::byte> shorter(coded.message.begin(), coded.message.end() - 1);
  expect_rejected(Format::kInt8, shorter, data.size(), "truncated");
  std::vector<std::byte> bad_magic = coded.message;
  bad_magic[0] ^= std::byte{1};
  expect_rejected(Format::kInt8, bad_magic, data.size(), "bad magic");
  expect_rejected(Format::kInt8, std::vector<std::byte>(10), data.size(), "shorter than a header");
}

TEST(Hostile, RandomCorruptionNeverCrashes) {
  const std::vector<float> data = gradient_like(3000, 4);
  std::mt19937 rng(9);
  for (Format format : {Format::kBf16, Format::kInt8, Format::kFp8E4M3, Format::kInt4, Format::kZstd, Format::kBf16Zstd}) {
    const Coded coded = round_trip(format, data);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<std::byte> message = coded.message;
      for (int flips = 1 + trial % 8; flips > 0; --flips) message[rng() % message.size()] ^= std::byte(1 + rng() % 255);
      if (trial % 5 == 0) message.resize(rng() % message.size());
      std::vector<float> out(data.size());
      try {
        decode(format, message.data(), message.size(), out.data(), data.size());
      } catch (const Error& error) {
        ASSERT_EQ(error.code(), ErrorCode::kRemote) << error.what();
      }
    }
  }
}

}  // namespace
}  // namespace strata::compression
