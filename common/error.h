// One error type for the whole runtime. It carries enough context (rank, peer,
// operation) for a user to act on it; the NCCL C boundary maps it to
// ncclResult_t in one place (nccl/api_guard.h).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace strata {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something wrong (ncclInvalidArgument)
  kInvalidUsage,     // a call in the wrong state (ncclInvalidUsage)
  kSystem,           // the OS or a library failed (ncclSystemError)
  kInternal,         // a bug in Strata (ncclInternalError)
  kRemote,           // a peer failed or went away (ncclRemoteError)
  kTimeout,          // a wait ran past STRATA_TIMEOUT (ncclRemoteError)
  kAborted,          // the communicator was aborted (ncclInvalidUsage)
  kCuda,             // a CUDA call failed (ncclUnhandledCudaError)
};

const char* error_code_name(ErrorCode code);

struct ErrorContext {
  int rank = -1;
  int peer = -1;
  std::string operation;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, ErrorContext context = {});

  ErrorCode code() const { return code_; }
  const ErrorContext& context() const { return context_; }

 private:
  ErrorCode code_;
  ErrorContext context_;
};

// Throws Error(code) with a formatted message.
template <typename... Args>
[[noreturn]] void fail(ErrorCode code, ErrorContext context, fmt::format_string<Args...> format,
                       Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...), std::move(context));
}

}  // namespace strata
