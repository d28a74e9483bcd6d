// libFuzzer target for every bootstrap decoder that reads bytes off the
// network or from a user: unique ids, the root's challenge, a rank's hello,
// and key material. Any input must decode or be refused, never crash; what
// decodes must encode back to the same fields.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/error.h"
#include "runtime/bootstrap/join_auth.h"
#include "runtime/bootstrap/tcp_bootstrap_wire.h"

namespace wire = strata::runtime::wire;
using strata::runtime::UniqueId;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  UniqueId id{};
  std::memcpy(id.bytes.data(), data, std::min(size, id.bytes.size()));
  if (auto root = wire::decode_unique_id(id)) {
    auto again = wire::decode_unique_id(wire::encode_unique_id(*root));
    if (!again || again->port != root->port || again->session_key != root->session_key || again->mode != root->mode ||
        again->secret != root->secret) {
      __builtin_trap();
    }
  } else if (wire::unique_id_problem(id) == nullptr) {
    __builtin_trap();
  }
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  if (size >= wire::kChallengeBytes) wire::decode_challenge(bytes);
  if (size >= wire::kHelloBytes) {
    wire::Hello hello = wire::decode_hello(bytes);
    std::byte out[wire::kHelloBytes];
    wire::encode_hello(hello, out);
    if (std::memcmp(out, bytes, wire::kHelloBytes) != 0) __builtin_trap();
  }
  try {
    strata::runtime::job_secret_from_key({bytes, size}, "fuzz input");
  } catch (const strata::Error& error) {
    if (error.code() != strata::ErrorCode::kInvalidArgument) __builtin_trap();
  }
  return 0;
}
