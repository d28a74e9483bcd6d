// The UCX transport's own messages, beside the communicators' traffic:
// a goodbye at orderly teardown (so that a peer's exit is not taken for a
// death), a failure notice (so that ranks which never talked to a dead rank
// learn of it), and a ping/pong for liveness (STRATA_PEER_TIMEOUT). They
// travel under tags whose communicator field is 0, which no communicator is
// ever given (comm_ids.h), and are parsed by parse_control_message, which
// takes any bytes (they come off the network).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace strata::runtime {

enum class ControlKind : uint8_t {
  kGoodbye = 1,  // the sender destroys its transport in order; its exit is not a failure
  kFailed = 2,   // the sender found `subject` gone; `text` says why
  kPing = 3,     // the sender waits on this rank and has heard nothing for a while
  kPong = 4,     // the answer to a ping
  kReset = 5,    // the sender closes its connections to this rank to abandon a send; it is alive
};

inline constexpr uint32_t kControlMagic = 0x53544331;  // "STC1"
inline constexpr size_t kControlTextBytes = 240;

struct ControlMessage {
  uint32_t magic = kControlMagic;
  ControlKind kind = ControlKind::kPing;
  uint8_t reserved[3] = {};
  int32_t subject = -1;  // the rank a failure notice is about; the sender otherwise
  uint32_t text_bytes = 0;
  char text[kControlTextBytes] = {};

  std::string_view reason() const { return {text, text_bytes}; }
};
static_assert(sizeof(ControlMessage) == 256);

// A message with `text` cut to kControlTextBytes.
ControlMessage make_control_message(ControlKind kind, int subject, std::string_view text = {});

// The message in `bytes` if it is one a sender in a world of `world_size`
// ranks could have made (exact length, magic, known kind, subject in range,
// text length within bounds); nullopt otherwise.
std::optional<ControlMessage> parse_control_message(std::span<const std::byte> bytes, int world_size);

// Tags: [63:52] 0, [51:32] sender, [31:0] kControlTagLow.
inline constexpr uint64_t kControlTagLow = 0x0c0a7000;
inline constexpr uint64_t control_tag(int sender) {
  return (uint64_t{static_cast<uint32_t>(sender) & 0xfffff} << 32) | kControlTagLow;
}
inline constexpr uint64_t kControlTagMask = (uint64_t{0xfff} << 52) | 0xffffffffu;  // any sender
inline constexpr int control_sender(uint64_t tag) { return static_cast<int>((tag >> 32) & 0xfffff); }

}  // namespace strata::runtime
