// libFuzzer target for the compressed-message decoder, the one parser that
// reads bytes a peer sent: any input must decode or throw Error(kRemote),
// never crash or read out of bounds (AddressSanitizer watches). The first
// byte picks the format and the next two the value count; the rest is the
// message. Every 16th input is also used as float data: encoded, decoded,
// and checked to come back the same length.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "compression/codec.h"

using strata::compression::Format;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const auto format = static_cast<Format>(1 + data[0] % (strata::compression::kFormatCount - 1));
  const uint64_t count = (static_cast<uint64_t>(data[1]) << 8 | data[2]) % 2048;
  std::vector<std::byte> message(reinterpret_cast<const std::byte*>(data + 3),
                                 reinterpret_cast<const std::byte*>(data + size));
  std::vector<float> out(count);
  try {
    strata::compression::decode(format, message.data(), message.size(), out.data(), count);
  } catch (const strata::Error& error) {
    if (error.code() != strata::ErrorCode::kRemote) __builtin_trap();
  }
  if (data[0] % 16 == 0 && message.size() >= sizeof(float)) {
    const uint64_t n = message.size() / sizeof(float);
    std::vector<float> values(n), residual(n, 0.0f), back(n);
    std::memcpy(values.data(), message.data(), n * sizeof(float));
    std::vector<std::byte> encoded(strata::compression::max_encoded_bytes(format, n));
    const size_t bytes = strata::compression::encode(format, values.data(), n, residual.data(), encoded.data());
    if (bytes > encoded.size()) __builtin_trap();
    strata::compression::decode(format, encoded.data(), bytes, back.data(), n);  // must not throw
  }
  return 0;
}
