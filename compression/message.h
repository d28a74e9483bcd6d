// The framing every encoded message shares, and the helpers the format
// implementations use to write and check it. Internal to compression/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "compression/codec.h"

namespace strata::compression::detail {

inline constexpr uint32_t kMagic = 0x31435453;  // "STC1"
inline constexpr uint8_t kStoredRaw = 1;        // lossless: the data did not shrink, stored as is

struct Header {
  uint32_t magic = kMagic;
  uint8_t format = 0;
  uint8_t flags = 0;
  uint16_t reserved = 0;
  uint64_t elements = 0;
  uint64_t bytes = 0;  // the whole message, header included
};
inline constexpr size_t kHeaderBytes = 24;
static_assert(sizeof(Header) == kHeaderBytes);

inline void write_header(std::byte* out, Format format, uint8_t flags, uint64_t elements, uint64_t bytes) {
  const Header header{kMagic, static_cast<uint8_t>(format), flags, 0, elements, bytes};
  std::memcpy(out, &header, sizeof header);
}

template <typename... Args>
[[noreturn]] void malformed(fmt::format_string<Args...> format, Args&&... args) {
  fail(ErrorCode::kRemote, {-1, -1, "decode"}, "compressed message rejected: {}",
       fmt::format(format, std::forward<Args>(args)...));
}

// Reads a message's payload front to back, failing instead of running past its end.
class Reader {
 public:
  Reader(const std::byte* at, size_t bytes) : at_(at), end_(at + bytes) {}
  const std::byte* take(size_t bytes) {
    if (static_cast<size_t>(end_ - at_) < bytes) malformed("it ends {} bytes early", bytes - (end_ - at_));
    const std::byte* start = at_;
    at_ += bytes;
    return start;
  }
  size_t left() const { return static_cast<size_t>(end_ - at_); }

 private:
  const std::byte* at_;
  const std::byte* end_;
};

// Per-format payload coders (block_formats.cc, lossless.cc). Encoders
// return the payload's length; decoders read exactly the payload.
size_t encode_blocks(Format format, const float* src, uint64_t count, float* residual, std::byte* out);
void decode_blocks(Format format, Reader& payload, float* dst, uint64_t count);
size_t encode_bf16(const float* src, uint64_t count, float* residual, std::byte* out);
void decode_bf16(Reader& payload, float* dst, uint64_t count);
// Lossless: returns the payload length and sets `flags` (kStoredRaw).
size_t encode_lossless(Format format, const float* src, uint64_t count, float* residual, std::byte* out,
                       uint8_t& flags);
void decode_lossless(Format format, uint8_t flags, Reader& payload, float* dst, uint64_t count);
size_t max_lossless_payload(Format format, uint64_t count);

}  // namespace strata::compression::detail
