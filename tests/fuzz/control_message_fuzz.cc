// libFuzzer target for the UCX transport's control messages (goodbyes,
// failure notices, pings), which any process that reaches a UCX port can
// send: the first two bytes pick the world size, the rest is the message.
// What parses must name a rank in range and a reason within its buffer.
#include <cstddef>
#include <cstdint>

#include "runtime/transport/ucx/ucx_control.h"

using strata::runtime::parse_control_message;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const int world_size = (data[0] << 8 | data[1]) % 4096;
  auto message = parse_control_message({reinterpret_cast<const std::byte*>(data + 2), size - 2}, world_size);
  if (!message) return 0;
  if (message->subject < 0 || message->subject >= world_size) __builtin_trap();
  volatile size_t sum = 0;
  for (char c : message->reason()) sum = sum + static_cast<unsigned char>(c);  // ASan checks the bound
  return 0;
}
