#include "runtime/config/nccl_env.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace strata::runtime {
namespace {

constexpr std::array kNcclVariables{
    NcclVariable{"NCCL_DEBUG", "STRATA_DEBUG",
                 "honoured when STRATA_DEBUG is unset: VERSION and WARN log warnings, INFO and TRACE as in Strata"},
    NcclVariable{"NCCL_SOCKET_IFNAME", "STRATA_SOCKET_IFNAME",
                 "honoured when STRATA_SOCKET_IFNAME is unset (same list syntax: prefixes, =exact, ^exclude)"},
    NcclVariable{"NCCL_ALGO", "STRATA_ALGO",
                 "Ring is honoured (forces ring where a collective has one) when STRATA_ALGO is unset; other "
                 "values are ignored: Strata's algorithms differ from NCCL's (see strata-info)"},
    NcclVariable{"NCCL_PROTO", "", "ignored: Strata has no LL/LL128/Simple protocols (STRATA_CHUNK sets the segment)"},
    NcclVariable{"NCCL_COMM_ID", "",
                 "ignored: ncclGetUniqueId always starts its own rendezvous (STRATA_SOCKET_IFNAME picks its "
                 "address)"},
    NcclVariable{"NCCL_TIMEOUT", "", "ignored: STRATA_TIMEOUT bounds every wait"},
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<std::string> debug_level(std::string_view value) {
  const std::string level = lower(value);
  if (level == "version" || level == "warn") return "WARN";
  if (level == "info") return "INFO";
  if (level == "trace") return "TRACE";
  return std::nullopt;
}

const NcclVariable* for_strata(std::string_view strata_name) {
  for (const NcclVariable& var : kNcclVariables)
    if (var.strata_name == strata_name) return &var;
  return nullptr;
}

std::optional<std::string> translate(const NcclVariable& var, std::string_view value) {
  if (var.name == "NCCL_DEBUG") return debug_level(value);
  if (var.name == "NCCL_SOCKET_IFNAME") return std::string(value);
  if (var.name == "NCCL_ALGO" && lower(value) == "ring") return "ring";
  return std::nullopt;
}

}  // namespace

std::span<const NcclVariable> nccl_variables() { return kNcclVariables; }

std::optional<std::string> nccl_stand_in(std::string_view strata_name, const char* (*lookup)(const char* name)) {
  const NcclVariable* var = for_strata(strata_name);
  if (var == nullptr) return std::nullopt;
  const char* value = lookup(std::string(var->name).c_str());
  if (value == nullptr) return std::nullopt;
  return translate(*var, value);
}

std::vector<std::string> ignored_nccl_settings(const char* (*lookup)(const char* name)) {
  std::vector<std::string> lines;
  for (const NcclVariable& var : kNcclVariables) {
    const char* value = lookup(std::string(var.name).c_str());
    if (value == nullptr) continue;
    const bool overridden = !var.strata_name.empty() && lookup(std::string(var.strata_name).c_str()) != nullptr;
    if (!var.strata_name.empty() && !overridden && translate(var, value)) continue;  // honoured
    lines.push_back(overridden ? fmt::format("{}={} is ignored: {} is set", var.name, value, var.strata_name)
                               : fmt::format("{}={} is ignored ({})", var.name, value, var.treatment));
  }
  return lines;
}

}  // namespace strata::runtime
