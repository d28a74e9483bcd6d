// libFuzzer target for the environment parser: the input is lines of
// NAME=VALUE (names may be any STRATA_*/NCCL_* variable or none); every
// configuration must parse or throw Error(kInvalidArgument) naming the
// variable, never crash.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/error.h"
#include "runtime/config/config.h"

namespace {

std::map<std::string, std::string> g_environment;

const char* lookup(const char* name) {
  auto found = g_environment.find(name);
  return found == g_environment.end() ? nullptr : found->second.c_str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_environment.clear();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    g_environment[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
  }
  try {
    strata::runtime::parse_config(lookup);
  } catch (const strata::Error& error) {
    if (error.code() != strata::ErrorCode::kInvalidArgument) __builtin_trap();
    if (std::string_view(error.what()).find("STRATA_") == std::string_view::npos &&
        std::string_view(error.what()).find("NCCL_") == std::string_view::npos) {
      __builtin_trap();  // an error that does not name its variable
    }
  }
  return 0;
}
