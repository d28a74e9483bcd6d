#include "compression/codec.h"

#include <array>

#include "compression/message.h"

namespace strata::compression {

using namespace detail;

namespace {

constexpr std::array<std::string_view, kFormatCount> kNames{"none", "bf16", "int8", "fp8-e4m3",
                                                            "int4", "zstd", "bf16+zstd"};

uint64_t blocks_of(Format format, uint64_t count) {
  const uint64_t per = block_values(format);
  return (count + per - 1) / per;
}

}  // namespace

std::string_view format_name(Format format) {
  const auto index = static_cast<size_t>(format);
  return index < kNames.size() ? kNames[index] : "unknown";
}

std::optional<Format> parse_format(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (name == kNames[i]) return static_cast<Format>(i);
  if (name == "fp8") return Format::kFp8E4M3;
  if (name == "lossless") return Format::kZstd;
  if (name.empty() || name == "off") return Format::kNone;
  return std::nullopt;
}

uint32_t block_values(Format format) {
  switch (format) {
    case Format::kInt8:
    case Format::kFp8E4M3: return 256;
    case Format::kInt4: return 128;
    default: return 0;
  }
}

double nominal_ratio(Format format) {
  switch (format) {
    case Format::kBf16:
    case Format::kBf16Zstd: return 2.0;
    case Format::kInt8:
    case Format::kFp8E4M3: return 32.0 / (8.0 + 32.0 / 256);
    case Format::kInt4: return 32.0 / (4.0 + 32.0 / 128);
    default: return 1.0;
  }
}

size_t max_encoded_bytes(Format format, uint64_t elements) {
  switch (format) {
    case Format::kNone: return elements * sizeof(float);
    case Format::kBf16: return kHeaderBytes + elements * 2;
    case Format::kZstd:
    case Format::kBf16Zstd: return kHeaderBytes + max_lossless_payload(format, elements);
    default: return kHeaderBytes + blocks_of(format, elements) * sizeof(float) + elements * sizeof(float);
  }
}

size_t encode(Format format, const float* src, uint64_t count, float* residual, std::byte* out) {
  if (format == Format::kNone) fail(ErrorCode::kInternal, {}, "encode called for format none");
  uint8_t flags = 0;
  size_t payload = 0;
  std::byte* body = out + kHeaderBytes;
  switch (format) {
    case Format::kBf16: payload = encode_bf16(src, count, residual, body); break;
    case Format::kZstd:
    case Format::kBf16Zstd: payload = encode_lossless(format, src, count, residual, body, flags); break;
    default: payload = encode_blocks(format, src, count, residual, body); break;
  }
  write_header(out, format, flags, count, kHeaderBytes + payload);
  return kHeaderBytes + payload;
}

size_t message_bytes(const std::byte* message, size_t available) {
  if (available < kHeaderBytes) malformed("{} bytes is shorter than its {}-byte header", available, kHeaderBytes);
  Header header;
  std::memcpy(&header, message, sizeof header);
  if (header.magic != kMagic) malformed("bad magic {:#x} (not a Strata compressed message)", header.magic);
  if (header.bytes < kHeaderBytes || header.bytes > available)
    malformed("it claims {} bytes where {} are available", header.bytes, available);
  return header.bytes;
}

void decode(Format format, const std::byte* message, size_t bytes, float* dst, uint64_t count) {
  if (message_bytes(message, bytes) != bytes) malformed("it claims {} bytes but {} arrived", message_bytes(message, bytes), bytes);
  Header header;
  std::memcpy(&header, message, sizeof header);
  if (header.format != static_cast<uint8_t>(format))
    malformed("it is in format {} where this rank expects {} (do all ranks set the same STRATA_COMPRESSION?)",
              format_name(static_cast<Format>(header.format)), format_name(format));
  if (header.elements != count) malformed("it holds {} values where {} are expected", header.elements, count);
  if (format == Format::kNone) fail(ErrorCode::kInternal, {}, "decode called for format none");
  Reader payload(message + kHeaderBytes, bytes - kHeaderBytes);
  switch (format) {
    case Format::kBf16: decode_bf16(payload, dst, count); break;
    case Format::kZstd:
    case Format::kBf16Zstd: decode_lossless(format, header.flags, payload, dst, count); break;
    default: decode_blocks(format, payload, dst, count); break;
  }
  if (payload.left() != 0) malformed("{} bytes are left over after the last value", payload.left());
}

}  // namespace strata::compression
