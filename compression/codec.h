// Wire codecs for the inter-site leg: float32 data in, a self-describing
// message out. Lossy formats scale each block of values to its largest
// magnitude; a block holding Inf or NaN travels raw, so that overflow
// detection downstream still sees it. Decoding checks every length and
// field before it touches memory: a message from a misconfigured or hostile
// peer is an Error, never a read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace strata::compression {

enum class Format : uint8_t {
  kNone = 0,
  kBf16 = 1,      // bfloat16, round to nearest even: relative error <= 2^-9
  kInt8 = 2,      // symmetric int8 per 256-value block, fp32 scale
  kFp8E4M3 = 3,   // OCP E4M3 per 256-value block, scaled so the block's max maps to 448
  kInt4 = 4,      // symmetric int4 per 128-value block, fp32 scale
  kZstd = 5,      // lossless: byte planes split, then zstd
  kBf16Zstd = 6,  // bfloat16, then the lossless path
};
inline constexpr int kFormatCount = 7;

std::string_view format_name(Format format);
// "none", "bf16", "int8", "fp8-e4m3" (or "fp8"), "int4", "zstd" (or
// "lossless"), "bf16+zstd"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view name);
inline bool is_lossy(Format format) { return format != Format::kNone && format != Format::kZstd; }
// Values per scale block (0 for formats without blocks).
uint32_t block_values(Format format);
// Nominal size of fp32 data over encoded data, finite blocks, no zstd gain:
// what the planner assumes (zstd formats: 1 and 2, the gain is data-dependent).
double nominal_ratio(Format format);

// The most bytes encode() writes for `elements` values (every block raw).
size_t max_encoded_bytes(Format format, uint64_t elements);

// Encodes `count` values of `src` into `out` (max_encoded_bytes capacity);
// returns the message's length. With `residual` (count values, the caller's
// error-feedback state), encodes src + residual and leaves in residual what
// that encoding lost, so that the error is carried to the next call instead
// of dropped; raw blocks and lossless formats leave residual at zero.
size_t encode(Format format, const float* src, uint64_t count, float* residual, std::byte* out);

// The length a message says it has, after checking its header fits in
// `available` bytes. Throws Error(kRemote) for a malformed header.
size_t message_bytes(const std::byte* message, size_t available);

// Decodes a message of `bytes` bytes into `count` values of `dst`. Throws
// Error(kRemote) naming what is wrong when it was not made by encode() with
// this format and count (a peer with other settings, or corrupted data).
void decode(Format format, const std::byte* message, size_t bytes, float* dst, uint64_t count);

}  // namespace strata::compression
