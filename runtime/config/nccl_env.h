// NCCL_* environment variables that programs written for NCCL already set.
// A few are honoured, as the value of the STRATA_* variable they mean, when
// that one is not set; the rest are reported as ignored (strata-info, and a
// warning when set), never silently dropped.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::runtime {

struct NcclVariable {
  std::string_view name;
  std::string_view strata_name;  // the STRATA_* variable it stands in for; "" = ignored
  std::string_view treatment;    // what Strata does with it, for strata-info and warnings
};

std::span<const NcclVariable> nccl_variables();

// The value the NCCL variable gives `strata_name`, when the STRATA_* variable
// is unset: NCCL_DEBUG maps onto STRATA_DEBUG's levels (VERSION and WARN to
// WARN), NCCL_SOCKET_IFNAME passes through, NCCL_ALGO=Ring forces ring.
// nullopt when no NCCL variable applies or its value has no Strata meaning.
std::optional<std::string> nccl_stand_in(std::string_view strata_name, const char* (*lookup)(const char* name));

// One line per NCCL_* variable that is set and not fully honoured, for a
// warning at start-up.
std::vector<std::string> ignored_nccl_settings(const char* (*lookup)(const char* name));

}  // namespace strata::runtime
