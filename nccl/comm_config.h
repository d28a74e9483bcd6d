// The parts of a caller's ncclConfig_t that Strata uses.
#pragma once

#include <string>

#include "common/error.h"
#include "nccl.h"

namespace strata::nccl {

struct CommSettings {
  // blocking = 0 is accepted, but creation still finishes before the call
  // returns (and ncclSuccess, not ncclInProgress, is returned): a program
  // that polls ncclCommGetAsyncError sees ncclSuccess at once.
  bool blocking = true;
  std::string name;  // config->commName, for logs
};

// Reads `config` (NULL: defaults). A struct from an older or newer NCCL is
// read up to its own `size`. Throws kInvalidArgument naming `config` when it
// was not made with NCCL_CONFIG_INITIALIZER or holds an impossible value.
// GPU tuning fields (CTAs, cgaClusterSize, netName, ...) are ignored.
CommSettings read_config(const ncclConfig_t* config, const ErrorContext& context);

}  // namespace strata::nccl
