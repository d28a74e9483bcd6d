#include "nccl/comm_config.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace strata::nccl {
namespace {

constexpr unsigned kConfigMagic = 0xcafebeef;
// ncclConfig_t appeared in NCCL 2.14 with `blocking` as its first setting.
constexpr unsigned kFirstConfigVersion = 21400;
constexpr size_t kSmallestConfig = offsetof(ncclConfig_t, blocking) + sizeof(int);
// Newer NCCLs append fields; a size beyond this is garbage, not a new version.
constexpr size_t kLargestConfig = 4096;
constexpr size_t kMaxNameBytes = 256;

void check_header(const ncclConfig_t& config, const ErrorContext& context) {
  if (config.magic != kConfigMagic) {
    fail(ErrorCode::kInvalidArgument, context,
         "config was not initialized with NCCL_CONFIG_INITIALIZER (magic {:#x}, expected {:#x})", config.magic,
         kConfigMagic);
  }
  if (config.size < kSmallestConfig || config.size > kLargestConfig) {
    fail(ErrorCode::kInvalidArgument, context, "config->size {} is not the size of any ncclConfig_t", config.size);
  }
  if (config.version < kFirstConfigVersion) {
    fail(ErrorCode::kInvalidArgument, context, "config->version {} predates ncclConfig_t (NCCL 2.14)",
         config.version);
  }
}

}  // namespace

CommSettings read_config(const ncclConfig_t* config, const ErrorContext& context) {
  CommSettings settings;
  if (config == nullptr) return settings;
  check_header(*config, context);
  // Start from the defaults, then take only the bytes the caller's version has.
  ncclConfig_t known = NCCL_CONFIG_INITIALIZER;
  std::memcpy(&known, config, std::min(config->size, sizeof(known)));
  if (known.blocking != NCCL_CONFIG_UNDEF_INT && known.blocking != 0 && known.blocking != 1) {
    fail(ErrorCode::kInvalidArgument, context, "config->blocking is {} (expected 0, 1 or NCCL_CONFIG_UNDEF_INT)",
         known.blocking);
  }
  settings.blocking = known.blocking != 0;
  if (known.commName != nullptr) settings.name.assign(known.commName, strnlen(known.commName, kMaxNameBytes));
  return settings;
}

}  // namespace strata::nccl
