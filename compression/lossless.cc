// Lossless formats: the values' bytes split into planes (all first bytes,
// then all second bytes, ...) so that the slowly varying sign and exponent
// bytes sit together, then zstd at its fastest level. bf16+zstd runs the
// same path over the bfloat16 codes. Data that does not shrink is stored as is.
#include <zstd.h>

#include <memory>

#include "common/small_float.h"
#include "compression/message.h"

namespace strata::compression::detail {
namespace {

constexpr int kZstdLevel = 1;

size_t value_bytes(Format format) { return format == Format::kBf16Zstd ? 2 : 4; }

// Per-thread working memory: a collective encodes on the thread that drives it.
struct Scratch {
  std::vector<std::byte> values, planes;
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> compress{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> decompress{ZSTD_createDCtx(), ZSTD_freeDCtx};
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The values as bytes of `width`: float32 as is, or bfloat16 codes.
const std::byte* value_bytes_of(Format format, const float* src, uint64_t count, float* residual,
                                std::vector<std::byte>& storage) {
  if (format == Format::kZstd) return reinterpret_cast<const std::byte*>(src);
  storage.resize(count * 2);
  encode_bf16(src, count, residual, storage.data());
  return storage.data();
}

void split_planes(const std::byte* in, uint64_t count, size_t width, std::byte* out) {
  for (uint64_t i = 0; i < count; ++i)
    for (size_t b = 0; b < width; ++b) out[b * count + i] = in[i * width + b];
}

void join_planes(const std::byte* in, uint64_t count, size_t width, std::byte* out) {
  for (uint64_t i = 0; i < count; ++i)
    for (size_t b = 0; b < width; ++b) out[i * width + b] = in[b * count + i];
}

void values_to_floats(Format format, const std::byte* values, uint64_t count, float* dst) {
  if (format == Format::kZstd) {
    std::memcpy(dst, values, count * sizeof(float));
    return;
  }
  Reader codes(values, count * 2);
  decode_bf16(codes, dst, count);
}

}  // namespace

size_t max_lossless_payload(Format format, uint64_t count) {
  const size_t raw = count * value_bytes(format);
  return std::max(raw, ZSTD_compressBound(raw));
}

size_t encode_lossless(Format format, const float* src, uint64_t count, float* residual, std::byte* out,
                       uint8_t& flags) {
  Scratch& s = scratch();
  const size_t width = value_bytes(format), raw = count * width;
  // Lossless float32 loses nothing, so its residual stays zero; bf16 keeps what rounding lost.
  if (format == Format::kZstd && residual) std::fill(residual, residual + count, 0.0f);
  const std::byte* values = value_bytes_of(format, src, count, residual, s.values);
  s.planes.resize(raw);
  split_planes(values, count, width, s.planes.data());
  const size_t packed = ZSTD_compressCCtx(s.compress.get(), out, ZSTD_compressBound(raw), s.planes.data(), raw,
                                          kZstdLevel);
  if (ZSTD_isError(packed)) fail(ErrorCode::kInternal, {}, "zstd compression failed: {}", ZSTD_getErrorName(packed));
  if (packed < raw) return packed;
  flags = kStoredRaw;
  std::memcpy(out, values, raw);
  return raw;
}

void decode_lossless(Format format, uint8_t flags, Reader& payload, float* dst, uint64_t count) {
  Scratch& s = scratch();
  const size_t width = value_bytes(format), raw = count * width;
  if (flags & ~kStoredRaw) malformed("unknown flags {:#x}", flags);
  if (flags & kStoredRaw) return values_to_floats(format, payload.take(raw), count, dst);
  const size_t packed = payload.left();
  const std::byte* frame = payload.take(packed);
  const unsigned long long content = ZSTD_getFrameContentSize(frame, packed);
  if (content != raw) malformed("its zstd frame holds {} bytes where {} are expected", content, raw);
  s.planes.resize(raw);
  const size_t got = ZSTD_decompressDCtx(s.decompress.get(), s.planes.data(), raw, frame, packed);
  if (ZSTD_isError(got) || got != raw) malformed("zstd could not decode it ({})", ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
  s.values.resize(raw);
  join_planes(s.planes.data(), count, width, s.values.data());
  values_to_floats(format, s.values.data(), count, dst);
}

}  // namespace strata::compression::detail
