// libFuzzer target for the node hardware record a host's leader sends every
// rank at creation (JSON): any text must parse or throw Error, never crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "topology/node_discovery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto hardware = strata::topology::node_hardware_from_json(text, "fuzz peer");
    // What parsed must survive the trip the sender made.
    strata::topology::node_hardware_from_json(strata::topology::node_hardware_to_json(hardware), "round trip");
  } catch (const strata::Error&) {
  }
  return 0;
}
