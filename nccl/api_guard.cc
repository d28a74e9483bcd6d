#include "nccl/api_guard.h"

#include <new>

#include "common/log.h"
#include "nccl/group_context.h"
#include "runtime/communicator/communicator.h"

namespace strata::nccl {
namespace {

// Per thread, like NCCL's own last-error text: a thread that did not fail
// never sees another thread's message.
thread_local std::string t_last_error;

}  // namespace

ncclResult_t to_nccl_result(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return ncclInvalidArgument;
    case ErrorCode::kInvalidUsage: return ncclInvalidUsage;
    case ErrorCode::kAborted: return ncclInvalidUsage;
    case ErrorCode::kSystem: return ncclSystemError;
    case ErrorCode::kInternal: return ncclInternalError;
    case ErrorCode::kRemote: return ncclRemoteError;
    case ErrorCode::kTimeout: return ncclRemoteError;
    case ErrorCode::kCuda: return ncclUnhandledCudaError;
  }
  return ncclInternalError;
}

ncclResult_t record_error(ncclResult_t result, const std::string& message) {
  // An error inside a group is returned by the call and again by the
  // outermost ncclGroupEnd, as NCCL does, because programs often check only
  // the latter.
  if (runtime::group_depth() > 0 && this_thread_group().first_error == ncclSuccess)
    this_thread_group().first_error = result;
  try {
    t_last_error = message;
    // Info, not Warn: the code that threw already logged what it decided,
    // and programs that probe with bad arguments should not spam stderr.
    log(LogLevel::kInfo, "{}", message);
  } catch (...) {
    // Out of memory while keeping the text: the code still reaches the caller.
  }
  return result;
}

namespace {

ncclResult_t classify_current_exception(const char* function) {
  try {
    throw;
  } catch (const Error& error) {
    return record_error(to_nccl_result(error.code()), error.what());
  } catch (const std::bad_alloc&) {
    return record_error(ncclSystemError, std::string("strata: out of memory in ") + function);
  } catch (const std::exception& error) {
    return record_error(ncclInternalError,
                        std::string("strata: internal error in ") + function + ": " + error.what());
  } catch (...) {
    return record_error(ncclInternalError, std::string("strata: unknown exception in ") + function);
  }
}

}  // namespace

ncclResult_t record_current_exception(const char* function) noexcept {
  try {
    return classify_current_exception(function);
  } catch (...) {
    // Building the message itself failed, which only running out of memory does.
    return ncclSystemError;
  }
}

const char* last_error_text() { return t_last_error.c_str(); }

void set_last_error_text(const std::string& message) { t_last_error = message; }

ncclResult_t take_group_error() {
  const ncclResult_t result = this_thread_group().first_error;
  this_thread_group().first_error = ncclSuccess;
  return result;
}

void clear_group_error() { this_thread_group().first_error = ncclSuccess; }

}  // namespace strata::nccl
