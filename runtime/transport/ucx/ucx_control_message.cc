// The control messages' bytes, apart from the transport so that the parser
// builds (and is fuzzed, tests/fuzz) without UCX.
#include <algorithm>
#include <cstring>

#include "runtime/transport/ucx/ucx_control.h"

namespace strata::runtime {

ControlMessage make_control_message(ControlKind kind, int subject, std::string_view text) {
  ControlMessage message;
  message.kind = kind;
  message.subject = subject;
  message.text_bytes = static_cast<uint32_t>(std::min(text.size(), kControlTextBytes));
  std::memcpy(message.text, text.data(), message.text_bytes);
  return message;
}

std::optional<ControlMessage> parse_control_message(std::span<const std::byte> bytes, int world_size) {
  ControlMessage message;
  if (bytes.size() != sizeof(message)) return std::nullopt;
  std::memcpy(&message, bytes.data(), sizeof(message));
  const auto kind = static_cast<uint8_t>(message.kind);
  if (message.magic != kControlMagic || kind < 1 || kind > 5) return std::nullopt;
  if (message.subject < 0 || message.subject >= world_size) return std::nullopt;
  if (message.text_bytes > kControlTextBytes) return std::nullopt;
  return message;
}

}  // namespace strata::runtime
