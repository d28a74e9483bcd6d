// libFuzzer target for the site file (STRATA_TOPO_FILE): any text must parse
// or throw Error(kInvalidArgument) naming what is wrong, never crash; what
// parses names sites and links that exist.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "topology/topology_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto file = strata::topology::parse_topology_file(text, "fuzz.json");
    const int sites = static_cast<int>(file.sites.size());
    for (const auto& link : file.links) {
      if (link.site_a < 0 || link.site_a >= sites || link.site_b < 0 || link.site_b >= sites) __builtin_trap();
    }
  } catch (const strata::Error& error) {
    if (error.code() != strata::ErrorCode::kInvalidArgument) __builtin_trap();
  }
  return 0;
}
