// NCCL 2.28 entry points Strata does not implement yet. They exist so that
// any program built against NCCL 2.28 links and loads; each fails with
// ncclInvalidUsage and a message saying what is missing.
#include "nccl/api_guard.h"
#include "nccl/profiling_alias.h"

using namespace strata;
using namespace strata::nccl;

namespace {

[[noreturn]] void unsupported(const char* function, const char* what) {
  fail(ErrorCode::kInvalidUsage, {-1, -1, function}, "{} is not supported by Strata yet", what);
}

}  // namespace

ncclResult_t ncclCommWindowRegister(ncclComm_t, void*, size_t, ncclWindow_t* win, int) {
  return guard("ncclCommWindowRegister", [&] {
    if (win != nullptr) *win = nullptr;
    unsupported("ncclCommWindowRegister", "symmetric memory windows");
  });
}

ncclResult_t ncclCommWindowDeregister(ncclComm_t, ncclWindow_t) {
  return guard("ncclCommWindowDeregister",
               [] { unsupported("ncclCommWindowDeregister", "symmetric memory windows"); });
}

STRATA_NCCL_PROFILING_ALIAS(ncclCommWindowRegister)
STRATA_NCCL_PROFILING_ALIAS(ncclCommWindowDeregister)
